// Durable alarms end to end: a runtime under Deno (polling every 200 ms, on a
// SQLite file) delivers them to the owning worker under Bun, where each firing
// of the sample counter's alarm adds 1 to its count.
import { describe, expect, test } from "bun:test";
import {
  actorOn,
  after,
  before,
  call,
  type Cluster,
  get,
  openDb,
  sleep,
  SLOW,
  startCluster,
  storedCount,
  TIMING,
  waitFor,
} from "../support/cluster.ts";
import type { WorkerProcess } from "../support/worker_process.ts";

/** A few poll intervals: long enough for the scheduler to deliver anything due again. */
const QUIET_MS = 6 * TIMING.alarmsPollIntervalMs;

describe("alarms", () => {
  let cluster: Cluster;
  let a: WorkerProcess;
  let b: WorkerProcess;
  let hostB: string;

  before(async () => {
    cluster = await startCluster();
    [a, b] = cluster.workers;
    hostB = cluster.hostIds[1];
  }, SLOW);

  after(async () => {
    await cluster?.close();
  }, SLOW);

  /** Whether the alarm is still in the runtime's store. */
  function alarmStored(actorId: string, name: string): boolean {
    const db = openDb(cluster.dbPath);
    try {
      return db.prepare(
        "SELECT 1 FROM alarms WHERE actor_type = 'counter' AND actor_id = ? AND name = ?",
      ).get(actorId, name) !== undefined;
    } finally {
      db.close();
    }
  }

  /** Polls the counter's `get` through `via` until its count reaches `count`. */
  async function countReaches(via: WorkerProcess, actorId: string, count: number, ms = 5_000) {
    await waitFor(
      `counter ${actorId} to reach ${count}`,
      async () => (await get(via, actorId)).count >= count,
      ms,
    );
  }

  test("a one-shot alarm fires exactly once", async () => {
    // Set through A on an actor placed on B: the delivery goes to B.
    const id = await actorOn(a, hostB, "once");
    expect(await call(a, id, "schedule", { name: "tick", dueInMs: 300 })).toEqual({
      scheduled: "tick",
    });
    expect(alarmStored(id, "tick")).toBe(true);
    await countReaches(a, id, 1);
    await sleep(QUIET_MS);
    expect(await get(a, id)).toEqual({ count: 1, hostId: hostB });
    expect(alarmStored(id, "tick")).toBe(false);
  }, SLOW);

  test("a repeating alarm fires several times, then stops at its TTL", async () => {
    const id = await actorOn(a, hostB, "repeat");
    const setAt = Date.now();
    await call(b, id, "schedule", { name: "beat", dueInMs: 300, intervalMs: 300, ttlMs: 1_500 });
    // Due at +300, +600, +900, +1200 and +1500 ms; the TTL ends it after that.
    await countReaches(a, id, 2);
    await waitFor("the expired alarm to leave the store", () => !alarmStored(id, "beat"), 5_000);
    const doneAfter = Date.now() - setAt;
    const { count } = await get(a, id);
    // Several firings, never more than the TTL allows (a late delivery skips
    // the periods that already passed rather than bunching them up).
    expect(count).toBeGreaterThanOrEqual(3);
    expect(count).toBeLessThanOrEqual(5);
    expect(doneAfter).toBeGreaterThanOrEqual(1_500);
    expect(doneAfter).toBeLessThan(1_500 + 2_000);
    // And it stays stopped.
    await sleep(3 * 300 + QUIET_MS);
    expect(await get(a, id)).toEqual({ count, hostId: hostB });
  }, SLOW);

  test("a deleted alarm never fires", async () => {
    const id = await actorOn(a, hostB, "deleted");
    await call(a, id, "schedule", { name: "never", dueInMs: 600 });
    expect(alarmStored(id, "never")).toBe(true);
    expect(await call(b, id, "unschedule", { name: "never" })).toEqual({ unscheduled: "never" });
    expect(alarmStored(id, "never")).toBe(false);
    await sleep(600 + QUIET_MS);
    expect(await get(a, id)).toEqual({ count: 0, hostId: hostB });
    expect(storedCount(cluster.dbPath, id)).toBeUndefined();
  }, SLOW);

  test(
    "an alarm that comes due while the runtime is down fires exactly once after the restart",
    async () => {
      const id = await actorOn(a, hostB, "down");
      const dueInMs = 1_500;
      const dueAt = Date.now() + dueInMs;
      await call(a, id, "schedule", { name: "late", dueInMs });
      await cluster.stopRuntime();
      // Stopped before it came due: it has not fired, and it is in the file.
      expect(Date.now()).toBeLessThan(dueAt);
      expect(storedCount(cluster.dbPath, id)).toBeUndefined();
      expect(alarmStored(id, "late")).toBe(true);
      // The runtime stays down past the due time.
      await sleep(dueAt - Date.now() + 500);
      expect(storedCount(cluster.dbPath, id)).toBeUndefined();
      await cluster.startRuntime();
      // It fires once the workers are back in standing (a delivery to a worker
      // that has not reported health yet fails and is retried after 2 s).
      await waitFor("the late alarm to fire", () => storedCount(cluster.dbPath, id) === 1, 10_000);
      await waitFor("the late alarm to leave the store", () => !alarmStored(id, "late"), 5_000);
      // Long enough for a wrongly repeated delivery, or a retry of a delivery
      // that had in fact run (2 s backoff), to show.
      await sleep(2_000 + QUIET_MS);
      expect(storedCount(cluster.dbPath, id)).toBe(1);
      const view = await get(a, id);
      expect(view.count).toBe(1);
      expect(cluster.hostIds).toContain(view.hostId);
    },
    SLOW,
  );
});
