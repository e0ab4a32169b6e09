// The same actor code in both topologies: `worker/main.ts` registers the one
// sample `counter` factory whichever topology it starts, and one scenario runs
// unchanged against a local pair (two hosts under Bun on a SQLite file, no
// runtime) and a remote cluster (a runtime under Deno, two workers under Bun),
// at the same time, with identical results.
import { describe, expect, test } from "bun:test";
import {
  after,
  before,
  call,
  type Cluster,
  type CounterView,
  get,
  SLOW,
  startCluster,
  waitFor,
} from "../support/cluster.ts";
import { LOCAL_ALARM_POLL_MS, startLocalHosts } from "../support/local.ts";
import { tempDir } from "../support/tmp.ts";
import type { WorkerProcess } from "../support/worker_process.ts";

/** A topology under test: its two hosts, by host ID. */
interface Pair {
  hosts: readonly [WorkerProcess, WorkerProcess];
  hostIds: readonly string[];
}

/** What a step answered, with the host ID replaced by whether it is one of the pair's. */
type Step = [string, unknown];

/**
 * The scenario: three increments (through alternating hosts), a one-shot
 * alarm, its firing, then `get` through both hosts.
 */
async function scenario({ hosts: [x, y], hostIds }: Pair, id: string): Promise<Step[]> {
  const steps: Step[] = [];
  const view = (v: CounterView) => ({
    count: v.count,
    onAHostOfThePair: hostIds.includes(v.hostId),
  });
  steps.push(["increment", await call(x, id, "increment")]);
  steps.push(["increment", await call(y, id, "increment")]);
  steps.push(["increment", await call(x, id, "increment")]);
  steps.push(["schedule", await call(y, id, "schedule", { name: "once", dueInMs: 300 })]);
  await waitFor("the alarm to fire", async () => (await get(x, id)).count >= 4, 10_000, 100);
  // Long enough for a wrongly repeated delivery to show, in either topology.
  await new Promise((r) => setTimeout(r, 2 * LOCAL_ALARM_POLL_MS));
  const [viaX, viaY] = [await get(x, id), await get(y, id)];
  steps.push(["get", view(viaX)]);
  steps.push(["get", view(viaY)]);
  steps.push(["one activation", viaX.hostId === viaY.hostId]);
  return steps;
}

describe("the counter actor in both topologies", () => {
  let local: Pair;
  let cluster: Cluster;
  let remote: Pair;

  before(async () => {
    const dbPath = `${tempDir("francis-local-both-")}/francis.sqlite`;
    const [hosts, started] = await Promise.allSettled([
      startLocalHosts(2, { dbPath }),
      startCluster({ workers: 2 }),
    ]);
    if (hosts.status === "fulfilled") {
      local = {
        hosts: [hosts.value[0], hosts.value[1]],
        hostIds: hosts.value.map((h) => h.hostId),
      };
    }
    if (started.status === "fulfilled") {
      cluster = started.value;
      remote = { hosts: [cluster.workers[0], cluster.workers[1]], hostIds: cluster.hostIds };
    }
    for (const s of [hosts, started]) if (s.status === "rejected") throw s.reason;
  }, SLOW);

  after(async () => {
    await Promise.all([...(local?.hosts ?? []).map((h) => h.kill()), cluster?.close()]);
  }, SLOW);

  test(
    "increment ×3, a one-shot alarm, get: identical results, local and remote",
    async () => {
      // It is the local topology on one side, the remote on the other.
      for (const h of local.hosts) expect((await h.status()).runtime).toBe("local");
      for (const h of remote.hosts) {
        expect((await h.status()).runtime).toBe(cluster.runtime.address);
      }

      const [onLocal, onRemote] = await Promise.all([
        scenario(local, "same-code"),
        scenario(remote, "same-code"),
      ]);
      expect(onLocal).toEqual(onRemote);
      expect(onLocal).toEqual([
        ["increment", { count: 1 }],
        ["increment", { count: 2 }],
        ["increment", { count: 3 }],
        ["schedule", { scheduled: "once" }],
        ["get", { count: 4, onAHostOfThePair: true }],
        ["get", { count: 4, onAHostOfThePair: true }],
        ["one activation", true],
      ]);
    },
    SLOW,
  );
});
