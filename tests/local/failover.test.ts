// Host loss in the local topology, as real processes: two hosts under Bun on one
// SQLite file with a 2 s health deadline. There is no runtime to notice a dead
// host: the survivor's own sweep over the shared file takes the dead host's
// actors, which move with their state (and pending alarms) at their next call.
import { describe, expect, test } from "bun:test";
import {
  actorOn,
  after,
  before,
  call,
  type CounterView,
  get,
  invoke,
  sleep,
  SLOW,
  waitFor,
} from "../support/cluster.ts";
import {
  LOCAL_ALARM_POLL_MS,
  LOCAL_DEADLINE_MS,
  type LocalHostProcess,
  rowsAbout,
  startLocalHosts,
  storedAlarms,
  storedLocalCount,
} from "../support/local.ts";
import { tempDir } from "../support/tmp.ts";

describe("a local host killed with SIGKILL", () => {
  let dbPath: string;
  let survivor: LocalHostProcess;
  let victim: LocalHostProcess;

  before(async () => {
    dbPath = `${tempDir("francis-local-failover-")}/francis.sqlite`;
    [survivor, victim] = await startLocalHosts(2, { dbPath });
  }, SLOW);

  after(async () => {
    await Promise.all([survivor?.kill(), victim?.kill()]);
  }, SLOW);

  test(
    "gives its actors, with their state and alarm, to the other within the health deadline plus a few seconds",
    async () => {
      const id = await actorOn(survivor, victim.hostId, "mover");
      for (let i = 1; i <= 3; i++) {
        expect(await call(i % 2 ? survivor : victim, id, "increment")).toEqual({ count: i });
      }
      expect(await get(survivor, id)).toEqual({ count: 3, hostId: victim.hostId });
      // An actor with an alarm that comes due while its host is dead.
      const withAlarm = await actorOn(survivor, victim.hostId, "mover-alarm");
      await call(survivor, withAlarm, "schedule", { name: "wake", dueInMs: 500 });
      // And one nobody calls again: only the sweep takes it off the dead host.
      const idle = await actorOn(survivor, victim.hostId, "idle");

      expect(await victim.kill()).toEqual({ code: null, signal: "SIGKILL" });
      const killedAt = Date.now();
      const failures = new Set<string>();
      let view: CounterView | undefined;
      while (Date.now() - killedAt < LOCAL_DEADLINE_MS + 8_000) {
        const r = await invoke<CounterView>(survivor, "counter", id, "get");
        if (r.status === 200 && r.body.hostId === survivor.hostId) {
          view = r.body;
          break;
        }
        failures.add(`${r.status} ${(r.body as { error?: { code?: string } })?.error?.code}`);
        await sleep(100);
      }
      const movedAfter = Date.now() - killedAt;
      expect(view).toEqual({ count: 3, hostId: survivor.hostId });
      // The deadline, plus up to one sweep (it runs with the alarm poll) and a margin.
      expect(movedAfter).toBeLessThan(LOCAL_DEADLINE_MS + LOCAL_ALARM_POLL_MS + 2_500);
      // Until then the calls failed as unreachable (the dead host), never as a wrong answer.
      for (const f of failures) expect(f).toMatch(/^503 ERR_UNREACHABLE$/);
      expect(await call(survivor, id, "increment")).toEqual({ count: 4 });
      expect(storedLocalCount(dbPath, survivor.namespace, id)).toBe(4);

      // The alarm reaches the survivor, once (after the failed delivery to the dead host).
      await waitFor(
        "the alarm to fire on the survivor",
        () => storedLocalCount(dbPath, survivor.namespace, withAlarm) !== undefined,
        12_000,
        100,
      );
      await waitFor(
        "the alarm to leave the store",
        () => storedAlarms(dbPath, withAlarm).length === 0,
        5_000,
      );
      await sleep(2 * LOCAL_ALARM_POLL_MS);
      // The survivor's own sweep (there is no runtime) took the dead host's placements.
      await survivor.waitForLine(
        new RegExp(`host missed its health deadline; its actors move hostId=${victim.hostId}\\b`),
        1_000,
      );
      expect(rowsAbout(dbPath, idle)).toEqual([]);
      expect(await get(survivor, withAlarm)).toEqual({ count: 1, hostId: survivor.hostId });
      expect(storedLocalCount(dbPath, survivor.namespace, withAlarm)).toBe(1);
    },
    SLOW,
  );
});
