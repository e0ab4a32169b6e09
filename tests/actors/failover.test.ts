// Durability and failover end to end: actor state outlives the runtime
// process (it lives in the SQLite file), and a worker killed with SIGKILL
// loses its actors, with their state and pending alarms, to the survivor once
// it misses the runtime's health deadline (2 s here).
import { describe, expect, test } from "bun:test";
import {
  actorOn,
  after,
  before,
  call,
  type Cluster,
  get,
  invoke,
  sleep,
  SLOW,
  startCluster,
  storedCount,
  TIMING,
} from "../support/cluster.ts";
import type { WorkerProcess } from "../support/worker_process.ts";

describe("durability and failover", () => {
  let cluster: Cluster;
  let a: WorkerProcess;
  let b: WorkerProcess;
  let hostA: string;
  let hostB: string;

  before(async () => {
    cluster = await startCluster();
    [a, b] = cluster.workers;
    [hostA, hostB] = cluster.hostIds;
  }, SLOW);

  after(async () => {
    await cluster?.close();
  }, SLOW);

  test("actor state survives a runtime restart on the same SQLite file", async () => {
    const onA = await actorOn(b, hostA, "durable-a");
    const onB = await actorOn(a, hostB, "durable-b");
    for (let i = 1; i <= 3; i++) expect(await call(b, onA, "increment")).toEqual({ count: i });
    for (let i = 1; i <= 2; i++) expect(await call(a, onB, "increment")).toEqual({ count: i });

    await cluster.restartRuntime(); // SIGTERM (exit 0 checked), then a new process
    expect(cluster.runtime.exited).toBe(false);
    // Two rounds of health reports reach the new process: the first may tell a
    // worker that its actors were moved (it then drops its activations).
    await cluster.waitForHealthReports(Date.now());
    await cluster.waitForHealthReports(Date.now());

    // Through either worker, whichever host they run on now.
    for (const via of [a, b]) {
      expect((await get(via, onA)).count).toBe(3);
      expect((await get(via, onB)).count).toBe(2);
    }
    expect(await call(a, onA, "increment")).toEqual({ count: 4 });
    expect(await call(b, onB, "increment")).toEqual({ count: 3 });
  }, SLOW);

  test(
    "SIGKILL of the owning worker moves its actor, with its state and alarm, to the other",
    async () => {
      const id = await actorOn(a, hostB, "mover");
      for (let i = 1; i <= 3; i++) expect(await call(a, id, "increment")).toEqual({ count: i });
      // An actor with an alarm that comes due while its host is dead.
      const withAlarm = await actorOn(a, hostB, "mover-alarm");
      await call(a, withAlarm, "schedule", { name: "wake", dueInMs: 500 });

      expect(await b.kill()).toEqual({ code: null, signal: "SIGKILL" });
      const killedAt = Date.now();
      const failures = new Set<string>();
      let view: { count: number; hostId: string } | undefined;
      while (Date.now() - killedAt < TIMING.healthCheckDeadlineMs + 8_000) {
        const r = await invoke<{ count: number; hostId: string }>(a, "counter", id, "get");
        if (r.status === 200 && r.body.hostId === hostA) {
          view = r.body;
          break;
        }
        failures.add(`${r.status} ${(r.body as { error?: { code?: string } })?.error?.code}`);
        await sleep(100);
      }
      const movedAfter = Date.now() - killedAt;
      expect(view).toEqual({ count: 3, hostId: hostA });
      // Within the health deadline plus a few seconds (poll, placement cache).
      expect(movedAfter).toBeLessThan(TIMING.healthCheckDeadlineMs + 4_000);
      // Until then the calls failed as unreachable (the dead host), never as a wrong answer.
      for (const f of failures) expect(f).toMatch(/^503 ERR_UNREACHABLE$/);
      await cluster.runtime.waitForLine(
        new RegExp(`host missed its health deadline; its actors move hostId=${hostB}\\b`),
        1_000,
      );
      expect(await call(a, id, "increment")).toEqual({ count: 4 });
      expect(storedCount(cluster.dbPath, id)).toBe(4);

      // The alarm reaches the survivor once (retried after the failed delivery to the dead host).
      const until = Date.now() + 10_000;
      while (storedCount(cluster.dbPath, withAlarm) === undefined && Date.now() < until) {
        await sleep(100);
      }
      await sleep(6 * TIMING.alarmsPollIntervalMs);
      expect(await get(a, withAlarm)).toEqual({ count: 1, hostId: hostA });
    },
    SLOW,
  );
});
