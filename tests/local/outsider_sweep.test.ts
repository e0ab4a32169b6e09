// An outsider (another PSK on the same SQLite file) whose health deadline is
// shorter than the cluster's must not take the cluster's actors away. Every
// local host sweeps the store for hosts that missed *its own* deadline; the
// sweep must stay inside its own namespace, as placement, state and alarms do.
//
// A regression test: before 0a58b70, `Placement.sweep` walked every host in the
// store, so the outsider below (300 ms deadline) took the placements of the
// cluster's hosts (6 s deadline, reporting every 2 s), bumped their generation
// and made them fence themselves, dropping their activations.
import { describe, expect, test } from "bun:test";
import { actorOn, after, before, call, get, sleep, SLOW } from "../support/cluster.ts";
import {
  LOCAL_ALARM_POLL_MS,
  type LocalHostProcess,
  OUTSIDER_PSKS,
  rowsAbout,
  startLocalHost,
  startLocalHosts,
} from "../support/local.ts";
import { tempDir } from "../support/tmp.ts";

describe("an outsider with a shorter health deadline", () => {
  let dbPath: string;
  let a: LocalHostProcess;
  let b: LocalHostProcess;
  let outsider: LocalHostProcess | undefined;

  before(async () => {
    dbPath = `${tempDir("francis-local-sweep-")}/francis.sqlite`;
    // The cluster reports health every 2 s (a third of 6 s).
    [a, b] = await startLocalHosts(2, { dbPath, flags: ["--health-check-deadline", "6s"] });
  }, SLOW);

  after(async () => {
    await Promise.all([a?.kill(), b?.kill(), outsider?.kill()]);
  }, SLOW);

  test("does not sweep the cluster's hosts or move their actors", async () => {
    const id = await actorOn(a, b.hostId, "swept");
    for (let i = 1; i <= 3; i++) expect(await call(a, id, "increment")).toEqual({ count: i });
    outsider = await startLocalHost({
      dbPath,
      psks: OUTSIDER_PSKS,
      flags: ["--health-check-deadline", "300ms"],
    });
    // Several of the outsider's sweeps, and a cluster health round after them.
    await sleep(3 * LOCAL_ALARM_POLL_MS + 2_000);
    expect(outsider.lines.filter((l) => /its actors move/.test(l))).toEqual([]);
    for (const h of [a, b]) {
      expect(h.lines.filter((l) => /not serving actors/.test(l))).toEqual([]);
    }
    expect(rowsAbout(dbPath, id)).toContain(`placements ${a.namespace}/counter`);
    expect(await get(a, id)).toEqual({ count: 3, hostId: b.hostId });
  }, SLOW);
});
