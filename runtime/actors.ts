/**
 * The runtime's actor-plane routes: placement, state and alarms, on behalf of
 * hosts (every route needs a verified host certificate: the app's host
 * middleware). The work itself is the StoreCoordinator's.
 *
 * @module
 */
import type { Hono } from "../lib/deps.ts";
import {
  type AlarmGetResponse,
  AlarmKeyRequest,
  AlarmSetRequest,
  type Input,
  MAX_PEER_BODY_BYTES,
  parseWire,
  PlacementRequest,
  readJsonBody,
  Routes,
  StateKeyRequest,
  StateSetRequest,
} from "../lib/protocol/mod.ts";
import { FrancisError } from "../lib/errors.ts";
import type { RequestContext } from "../lib/transport/server.ts";
import type { StoreCoordinator } from "./coordination.ts";

/** Alarm delivery defaults when the setter does not give its type's options. */
export const ALARM_DEFAULTS = { maxAttempts: 3, retryDelayMs: 2_000 } as const;

type Env = { Bindings: RequestContext; Variables: { hostId: string } };

/** Adds the actor-plane routes to `app`. */
export function mountActorRoutes(app: Hono<Env>, coordinator: StoreCoordinator): void {
  const body = (c: { req: { raw: Request } }) => readJsonBody(c.req.raw, MAX_PEER_BODY_BYTES);

  app.post(Routes.placement, async (c) => {
    const { actorType, actorId } = parseWire(PlacementRequest, await body(c), "placement request");
    return c.json(await coordinator.resolve(actorType, actorId));
  });

  app.post(Routes.stateGet, async (c) => {
    const { actorType, actorId, key } = parseWire(StateKeyRequest, await body(c), "state request");
    const value = await coordinator.getState(actorType, actorId, key);
    return c.json(value === undefined ? { found: false } : { found: true, value });
  });

  app.post(Routes.stateSet, async (c) => {
    const { actorType, actorId, key, value, ttlMs } = parseWire(
      StateSetRequest,
      await body(c),
      "state",
    );
    if (value === undefined) {
      throw new FrancisError("ERR_BAD_REQUEST", "Invalid state: value is required");
    }
    await coordinator.setState(actorType, actorId, key, value, { ttlMs });
    return c.body(null, 204);
  });

  app.post(Routes.stateDelete, async (c) => {
    const { actorType, actorId, key } = parseWire(StateKeyRequest, await body(c), "state request");
    await coordinator.deleteState(actorType, actorId, key);
    return c.body(null, 204);
  });

  app.post(Routes.alarmSet, async (c) => {
    const a = parseWire(AlarmSetRequest, await body(c), "alarm");
    await coordinator.setAlarm(a.actorType, a.actorId, a.name, {
      dueTime: new Date(a.dueTime),
      intervalMs: a.intervalMs,
      expiresAt: a.expiresAt === undefined ? undefined : new Date(a.expiresAt),
      data: a.data,
      maxAttempts: a.maxAttempts ?? ALARM_DEFAULTS.maxAttempts,
      retryDelayMs: a.retryDelayMs ?? ALARM_DEFAULTS.retryDelayMs,
    });
    return c.body(null, 204);
  });

  app.post(Routes.alarmGet, async (c) => {
    const { actorType, actorId, name } = parseWire(AlarmKeyRequest, await body(c), "alarm request");
    const a = await coordinator.getAlarm(actorType, actorId, name);
    const answer: Input<typeof AlarmGetResponse> = {
      alarm: a
        ? {
          name: a.name,
          dueTime: a.dueTime.toISOString(),
          intervalMs: a.interval,
          expiresAt: a.expiresAt?.toISOString(),
          data: a.data,
        }
        : null,
    };
    return c.json(answer);
  });

  app.post(Routes.alarmDelete, async (c) => {
    const { actorType, actorId, name } = parseWire(AlarmKeyRequest, await body(c), "alarm request");
    await coordinator.deleteAlarm(actorType, actorId, name);
    return c.body(null, 204);
  });
}
