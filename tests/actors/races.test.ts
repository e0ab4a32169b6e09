// Regression tests for two races of the actor plane, as real processes (a
// runtime under Deno on a SQLite file, two workers under Bun), each on a
// cluster of its own because each needs its own health deadline:
//
// 1. An alarm delivery the runtime gave up on (it waits half the alarm lease)
//    still ran on the host, and the runtime's retry ran it a second time. Each
//    delivery now carries `version.firing`, and the host runs each at most once.
// 2. A worker paused (SIGSTOP) for longer than the health deadline lost its
//    actors to the other worker, but once resumed it ran the calls waiting for
//    it, trusting its cached placement, side by side with the new owner. A host
//    now runs actors only while its last health report is recent enough.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  actorOn,
  after,
  type Answer,
  before,
  call,
  type CounterView,
  type ErrorAnswer,
  get,
  HOST_PSK,
  openDb,
  RUNTIME_PSK,
  sleep,
  SLOW,
  storedCount,
  waitFor,
} from "../support/cluster.ts";
import { printCA, type RuntimeProcess, startRuntimeProcess } from "../support/runtime_process.ts";
import { tempDir } from "../support/tmp.ts";
import { controlRequest, startWorker, type WorkerProcess } from "../support/worker_process.ts";

/** A runtime with `timing` and two workers, on a fresh SQLite file. */
interface RaceCluster {
  dbPath: string;
  runtime: RuntimeProcess;
  a: WorkerProcess;
  b: WorkerProcess;
  hostA: string;
  hostB: string;
  close(): Promise<void>;
}

async function startRaceCluster(timing: {
  healthCheckDeadline: string;
  alarmsPollInterval: string;
  alarmsLeaseDuration: string;
}): Promise<RaceCluster> {
  const dir = tempDir("francis-races-");
  const dbPath = join(dir, "francis.sqlite");
  const runtime = await startRuntimeProcess({
    config: {
      runtimePSKs: [RUNTIME_PSK],
      bootstrap: { method: "psk", hostPSK: HOST_PSK },
      provider: { connectionString: dbPath },
      shutdownGracePeriod: "1s",
      ...timing,
    },
    dir,
  });
  const caPath = join(dir, "ca.pem");
  writeFileSync(caPath, printCA(runtime.configPath));
  const started = await Promise.allSettled([0, 1].map(() =>
    startWorker({
      flags: ["--runtime-address", runtime.address, "--pinned-ca", caPath],
      env: { FRANCIS_HOST_BOOTSTRAP_PSK: HOST_PSK },
    })
  ));
  const workers = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const close = async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await runtime.kill();
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await close();
    throw (failed as PromiseRejectedResult).reason;
  }
  const [a, b] = workers;
  const [hostA, hostB] = await Promise.all(workers.map(async (w) => (await w.status()).hostId));
  return { dbPath, runtime, a, b, hostA, hostB, close };
}

/**
 * `POST /invoke/counter/:id/increment` on `worker`'s control server over
 * node:http on a connection of its own: Bun's fetch sends at most 256 requests
 * at once, and this test needs all of them queued at the worker together.
 */
function increment(worker: WorkerProcess, actorId: string): Promise<Answer<{ count: number }>> {
  return controlRequest(
    worker.controlAddress,
    "POST",
    `/invoke/counter/${actorId}/increment`,
    undefined,
    20_000,
  ) as Promise<Answer<{ count: number }>>;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

const codeOf = (r: Answer): string =>
  `${r.status} ${(r.body as Partial<ErrorAnswer> | undefined)?.error?.code ?? ""}`.trim();

/** Whether an alarm of the counter is still in the runtime's store. */
function alarmStored(dbPath: string, actorId: string, name: string): boolean {
  const db = openDb(dbPath);
  try {
    return db.prepare(
      "SELECT 1 FROM alarms WHERE actor_type = 'counter' AND actor_id = ? AND name = ?",
    ).get(actorId, name) !== undefined;
  } finally {
    db.close();
  }
}

/** Polls the count (from the store) until it has not changed for `quietMs`; resolves with it. */
async function settledCount(dbPath: string, actorId: string, quietMs: number): Promise<number> {
  let last = storedCount(dbPath, actorId);
  let since = Date.now();
  const until = Date.now() + quietMs + 10_000;
  while (Date.now() - since < quietMs) {
    if (Date.now() > until) throw new Error(`the count of ${actorId} never settled`);
    await sleep(100);
    const now = storedCount(dbPath, actorId);
    if (now !== last) [last, since] = [now, Date.now()];
  }
  return last ?? 0;
}

describe("an alarm whose delivery the runtime gave up on", () => {
  // The runtime waits half the lease (1.5 s) for a delivery, then retries it
  // (after the counter's retry delay, 2 s). The health deadline is generous so
  // that a worker busy with hundreds of calls keeps its standing.
  let c: RaceCluster;

  before(async () => {
    c = await startRaceCluster({
      healthCheckDeadline: "10s",
      alarmsPollInterval: "200ms",
      alarmsLeaseDuration: "3s",
    });
  }, SLOW);

  after(async () => {
    await c?.close();
  }, SLOW);

  test("runs once per firing though the host ran it after the runtime's timeout", async () => {
    const { a, b, hostB, dbPath, runtime } = c;
    const retried = (id: string) =>
      runtime.lines.some((l) =>
        new RegExp(`alarm delivery failed, will retry .*actorId=${id}(\\s|$)`).test(l)
      );
    // The alarm comes due while B's turn queue for the actor holds hundreds of
    // increments (a few milliseconds each: the counter waits 3 ms between
    // reading and writing its state at the runtime), so its delivery waits
    // there past the runtime's timeout, then runs; the runtime retries it 2 s
    // after the timeout. On a machine fast enough to drain the queue within the
    // timeout, a second round queues twice as many.
    for (const increments of [400, 800]) {
      const id = await actorOn(a, hostB, `alarm-race-${increments}`);
      await call(b, id, "schedule", { name: "t", dueInMs: 300 });
      const answers = await Promise.all(range(increments).map(() => increment(b, id)));
      expect(answers.filter((r) => r.status !== 200).map(codeOf)).toEqual([]);
      // Done: delivered, and the one-shot alarm deleted from the store.
      await waitFor("the alarm to be done", () => !alarmStored(dbPath, id, "t"), 15_000);
      // Every increment, and exactly one firing of the alarm.
      expect(await settledCount(dbPath, id, 1_000)).toBe(increments + 1);
      expect(await get(a, id)).toEqual({ count: increments + 1, hostId: hostB });
      // The runtime gave up on a delivery and retried it: the race was run.
      if (retried(id)) return;
    }
    throw new Error("the runtime never gave up on a delivery: the race did not happen");
  }, SLOW);
});

describe("a worker paused past the health deadline", () => {
  let c: RaceCluster;
  let pausedPid: number | undefined;

  before(async () => {
    c = await startRaceCluster({
      healthCheckDeadline: "2s",
      alarmsPollInterval: "200ms",
      alarmsLeaseDuration: "3s",
    });
  }, SLOW);

  after(async () => {
    if (pausedPid !== undefined) {
      try {
        process.kill(pausedPid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await c?.close();
  }, SLOW);

  test("does not run calls for an actor that moved meanwhile", async () => {
    const { a, b, hostA, hostB, dbPath, runtime } = c;
    const id = await actorOn(a, hostB, "paused");
    expect(await call(a, id, "increment")).toEqual({ count: 1 });
    // Past every placement cache (5 s), then B looks the actor up afresh: its
    // cache says "mine" for the next 5 s, through the pause below.
    await sleep(5_300);
    expect(await get(b, id)).toEqual({ count: 1, hostId: hostB });

    const pid = b.pid;
    process.kill(pid, "SIGSTOP");
    pausedPid = pid;
    await sleep(2_600);
    await runtime.waitForLine(
      new RegExp(`host missed its health deadline; its actors move hostId=${hostB}\\b`),
      3_000,
    );
    // The actor moves to A.
    expect(await call(a, id, "increment")).toEqual({ count: 2 });

    // Calls reach the paused B and wait in its socket backlog; B resumes with
    // them (its cache still says "mine") while A serves calls of its own. B
    // must not run them itself: it refuses them (ERR_NOT_OWNER, it cannot
    // confirm its standing), resolves again and forwards them to A, so they
    // usually answer 200; any that fails must not have counted.
    const viaB = range(10).map(() => increment(b, id));
    await sleep(50);
    process.kill(pid, "SIGCONT");
    pausedPid = undefined;
    const viaA = range(10).map(() => increment(a, id));
    const fromB = await Promise.all(viaB);
    const fromA = await Promise.all(viaA);

    const ok = [...fromB, ...fromA].filter((r) => r.status === 200);
    const final = await settledCount(dbPath, id, 1_000);
    expect(fromA.filter((r) => r.status !== 200).map(codeOf)).toEqual([]);
    // One turn at a time wherever it ran: no two calls saw the same count, none was lost.
    const counts = ok.map((r) => r.body.count);
    expect(new Set(counts).size).toBe(counts.length);
    expect(final).toBe(2 + ok.length);
    expect(counts.sort((x, y) => x - y)).toEqual(range(ok.length).map((n) => n + 2));
    // And the actor stays on A.
    const view: CounterView = await get(a, id);
    expect(view).toEqual({ count: final, hostId: hostA });
  }, SLOW);
});
