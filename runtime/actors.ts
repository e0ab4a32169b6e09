/**
 * The runtime's actor-plane routes: placement, state and alarms. Every route
 * needs a verified host certificate (the app's host middleware).
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
import type { Placement } from "./placement.ts";
import type { Store } from "./store/mod.ts";

/** Alarm delivery defaults when the setter does not give its type's options. */
export const ALARM_DEFAULTS = { maxAttempts: 3, retryDelayMs: 2_000 } as const;

type Env = { Bindings: RequestContext; Variables: { hostId: string } };

/** Adds the actor-plane routes to `app`. */
export function mountActorRoutes(
  app: Hono<Env>,
  deps: { store: Store; placement: Placement; now: () => Date },
): void {
  const { store, placement } = deps;
  const body = (c: { req: { raw: Request } }) => readJsonBody(c.req.raw, MAX_PEER_BODY_BYTES);

  app.post(Routes.placement, async (c) => {
    const key = parseWire(PlacementRequest, await body(c), "placement request");
    return c.json(await placement.resolve(key));
  });

  app.post(Routes.stateGet, async (c) => {
    const { key, ...actor } = parseWire(StateKeyRequest, await body(c), "state request");
    const json = await store.getState(actor, key, deps.now().getTime());
    return c.json(json === undefined ? { found: false } : { found: true, value: JSON.parse(json) });
  });

  app.post(Routes.stateSet, async (c) => {
    const { key, value, ttlMs, ...actor } = parseWire(StateSetRequest, await body(c), "state");
    if (value === undefined) {
      throw new FrancisError("ERR_BAD_REQUEST", "Invalid state: value is required");
    }
    const expiresAt = ttlMs === undefined ? null : deps.now().getTime() + ttlMs;
    await store.setState(actor, key, JSON.stringify(value), expiresAt);
    return c.body(null, 204);
  });

  app.post(Routes.stateDelete, async (c) => {
    const { key, ...actor } = parseWire(StateKeyRequest, await body(c), "state request");
    await store.deleteState(actor, key);
    return c.body(null, 204);
  });

  app.post(Routes.alarmSet, async (c) => {
    const a = parseWire(AlarmSetRequest, await body(c), "alarm");
    await store.putAlarm({
      actorType: a.actorType,
      actorId: a.actorId,
      name: a.name,
      dueAt: Date.parse(a.dueTime),
      intervalMs: a.intervalMs ?? null,
      expiresAt: a.expiresAt === undefined ? null : Date.parse(a.expiresAt),
      data: JSON.stringify(a.data ?? null),
      maxAttempts: a.maxAttempts ?? ALARM_DEFAULTS.maxAttempts,
      retryDelayMs: a.retryDelayMs ?? ALARM_DEFAULTS.retryDelayMs,
    });
    return c.body(null, 204);
  });

  app.post(Routes.alarmGet, async (c) => {
    const { name, ...actor } = parseWire(AlarmKeyRequest, await body(c), "alarm request");
    const a = await store.getAlarm(actor, name);
    const answer: Input<typeof AlarmGetResponse> = {
      alarm: a
        ? {
          name: a.name,
          dueTime: new Date(a.dueAt).toISOString(),
          intervalMs: a.intervalMs ?? undefined,
          expiresAt: a.expiresAt === null ? undefined : new Date(a.expiresAt).toISOString(),
          data: JSON.parse(a.data),
        }
        : null,
    };
    return c.json(answer);
  });

  app.post(Routes.alarmDelete, async (c) => {
    const { name, ...actor } = parseWire(AlarmKeyRequest, await body(c), "alarm request");
    await store.deleteAlarm(actor, name);
    return c.body(null, 204);
  });
}
