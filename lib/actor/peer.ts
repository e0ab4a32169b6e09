/**
 * A host's peer surface (mTLS-only at the TLS layer): invocations from other
 * hosts, alarm deliveries from the coordinator, halts. The caller's identity
 * comes from its verified certificate; a retried invocation with the same
 * request ID runs at most once.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "../deps.ts";
import { FrancisError } from "../errors.ts";
import { errorBody, errorResponseOf } from "../protocol/errors.ts";
import { readJsonBody } from "../protocol/body.ts";
import {
  MAX_PEER_BODY_BYTES,
  parseWire,
  PeerAlarmRequest,
  PeerHaltRequest,
  PeerInvokeRequest,
  PeerRoutes,
} from "../protocol/wire.ts";
import type { IdentityKind } from "../pki/spiffe.ts";
import type { RequestContext } from "../transport/server.ts";
import type { ActorRuntime } from "./host.ts";

/** What the peer surface needs from its host. */
export interface PeerSurfaceOptions {
  selfId: () => string;
  local: () => ActorRuntime;
  /** True when this host owns the actor now (a fresh check when the cache disagrees). */
  owns: (actorType: string, actorId: string) => Promise<boolean>;
  /** True while the host must not serve actors (it lost its standing with the coordinator). */
  fenced: () => boolean;
  /** Who may deliver alarms: the runtime (remote topology) or hosts (local topology). */
  alarmCallers: readonly IdentityKind[];
}

/** Remembered outcomes of recent invocations and alarm deliveries, by ID. */
const DEDUPE_MS = 5 * 60_000;
const DEDUPE_MAX = 100_000;

type Env = { Bindings: RequestContext; Variables: { caller: IdentityKind } };

/** Builds the peer app; serve it with `clientCerts: "required"`. */
export function createPeerApp(options: PeerSurfaceOptions): Hono<Env> {
  const app = new Hono<Env>();
  const recent = new Map<string, { result: Promise<unknown>; until: number }>();

  app.onError((err, c) => {
    const { status, body } = errorResponseOf(err);
    return c.json(body, status as 400);
  });
  app.notFound((c) =>
    c.json(errorBody("ERR_NOT_FOUND", `No route ${c.req.method} ${c.req.path}`), 404)
  );

  const allow = (kinds: readonly IdentityKind[]): MiddlewareHandler<Env> => async (c, next) => {
    const { peer, peerError } = c.env;
    if (peerError) throw peerError;
    if (!peer) throw new FrancisError("ERR_UNAUTHENTICATED", "A cluster certificate is required");
    if (!kinds.includes(peer.kind)) {
      throw new FrancisError("ERR_FORBIDDEN", `${peer.spiffeId} may not call ${c.req.path}`);
    }
    c.set("caller", peer.kind);
    await next();
  };
  const serving = async (actorType: string, actorId: string) => {
    if (options.fenced() || !await options.owns(actorType, actorId)) {
      throw new FrancisError(
        "ERR_NOT_OWNER",
        `Host ${options.selfId()} does not own ${actorType}/${actorId}`,
      );
    }
  };
  const body = (c: { req: { raw: Request } }) => readJsonBody(c.req.raw, MAX_PEER_BODY_BYTES);

  app.get(
    PeerRoutes.ping,
    allow(["host", "runtime"]),
    (c) => c.json({ hostId: options.selfId(), caller: c.env.peer!.spiffeId }),
  );

  // At most once: a retry with the same ID gets the first call's outcome. A call
  // that was refused before it ran, or (`retryFailures`) any failure, is forgotten
  // so that a retry runs it.
  const once = (
    id: string | undefined,
    run: () => Promise<unknown>,
    retryFailures: boolean,
  ): Promise<unknown> => {
    if (id === undefined) return run();
    const now = Date.now();
    let entry = recent.get(id);
    if (!entry || entry.until < now) {
      const result = run();
      entry = { result, until: now + DEDUPE_MS };
      result.catch((err) => {
        const notRun = err instanceof FrancisError &&
          (err.code === "ERR_NOT_OWNER" || err.code === "ERR_HOST_STOPPED");
        if ((notRun || retryFailures) && recent.get(id)?.result === result) recent.delete(id);
      });
      if (recent.size >= DEDUPE_MAX) {
        for (const [key, e] of recent) {
          if (e.until < now || recent.size >= DEDUPE_MAX) recent.delete(key);
        }
      }
      recent.set(id, entry);
    }
    return entry.result;
  };

  app.post(PeerRoutes.invoke, allow(["host"]), async (c) => {
    const call = parseWire(PeerInvokeRequest, await body(c), "invocation");
    const result = await once(`invoke:${call.requestId}`, async () => {
      await serving(call.actorType, call.actorId);
      return await options.local().invoke(call.actorType, call.actorId, call.method, call.data);
    }, false);
    return c.json({ result: result ?? null });
  });

  app.post(PeerRoutes.alarm, allow(options.alarmCallers), async (c) => {
    const alarm = parseWire(PeerAlarmRequest, await body(c), "alarm delivery");
    const id = alarm.deliveryId === undefined
      ? undefined
      : `alarm:${JSON.stringify([alarm.actorType, alarm.actorId, alarm.name, alarm.deliveryId])}`;
    await once(id, async () => {
      if (options.fenced()) {
        throw new FrancisError("ERR_NOT_OWNER", `Host ${options.selfId()} is not serving actors`);
      }
      await options.local().alarm(alarm.actorType, alarm.actorId, alarm.name, alarm.data);
    }, true);
    return c.body(null, 204);
  });

  app.post(PeerRoutes.halt, allow(["host"]), async (c) => {
    const { actorType, actorId } = parseWire(PeerHaltRequest, await body(c), "halt");
    await options.local().deactivate(actorType, actorId);
    return c.body(null, 204);
  });

  return app;
}
