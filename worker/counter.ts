/**
 * The sample actor type `counter`, registered by the worker app:
 *
 * - `increment`: reads its count, waits a few milliseconds, writes count + 1 and
 *   returns `{count}` (so a missing turn lock would show up as lost updates);
 * - `get`: returns `{count, hostId}`, with the ID of the host it runs on;
 * - `schedule` with `{name, dueInMs, intervalMs?, ttlMs?}`: sets an alarm whose
 *   every firing adds 1 to the count.
 *
 * @module
 */
import type { ActorFactory } from "../lib/actor/types.ts";
import { FrancisError } from "../lib/errors.ts";

/** The actor type name. */
export const COUNTER = "counter";

/** The counter factory for a host whose ID `hostId()` returns. */
export function counterActor(hostId: () => string): ActorFactory {
  return (actorId, service) => {
    const read = async () => (await service.getState<number>(COUNTER, actorId, "count")) ?? 0;
    const add = async () => {
      const count = await read();
      await new Promise((r) => setTimeout(r, 3));
      await service.setState(COUNTER, actorId, "count", count + 1);
      return count + 1;
    };
    return {
      async invoke(method, data) {
        switch (method) {
          case "increment":
            return { count: await add() };
          case "get":
            return { count: await read(), hostId: hostId() };
          case "schedule": {
            const { name, dueInMs, intervalMs, ttlMs } = (data ?? {}) as Record<string, unknown>;
            if (typeof name !== "string" || typeof dueInMs !== "number") {
              throw new FrancisError("ERR_BAD_REQUEST", "schedule needs {name, dueInMs}");
            }
            await service.setAlarm(COUNTER, actorId, name, {
              dueTime: dueInMs,
              interval: typeof intervalMs === "number" ? intervalMs : undefined,
              ttl: typeof ttlMs === "number" ? ttlMs : undefined,
            });
            return { scheduled: name };
          }
          case "unschedule": {
            const { name } = (data ?? {}) as Record<string, unknown>;
            await service.deleteAlarm(COUNTER, actorId, String(name));
            return { unscheduled: name };
          }
          case "fail":
            throw new Error(`counter ${actorId} was asked to fail`);
          default:
            throw new FrancisError("ERR_ACTOR_METHOD_UNKNOWN", `counter has no method ${method}`);
        }
      },
      async alarm() {
        await add();
      },
    };
  };
}
