/**
 * The cluster-wide `ActorService`: invocations go to the owning host, over
 * pooled mTLS where the caller checks that the peer's certificate names
 * exactly the host placement returned; state and alarms go to the coordinator.
 *
 * @module
 */
import { toBase64 } from "../bytes.ts";
import { type ErrorCode, FrancisError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { PeerRoutes } from "../protocol/wire.ts";
import type { MtlsClient } from "../transport/client.ts";
import type { ActorOwner, Coordinator } from "./coordinator.ts";
import type { ActorRuntime } from "./host.ts";
import {
  type ActorService,
  type AlarmInfo,
  type AlarmSpec,
  resolveActorTypeOptions,
  type StateOptions,
  validateActorName,
} from "./types.ts";

/** How long a host trusts a placement answer before asking again. */
export const PLACEMENT_CACHE_MS = 5_000;

/** What the service needs from its host. */
export interface ClusterServiceOptions {
  /** This host's ID (its certificate's). */
  selfId: () => string;
  /** Placement, state and alarms (asked each time: hosts set it up when they start). */
  coordinator: () => Coordinator;
  /** The local activation table. */
  local: () => ActorRuntime;
  /** False while this host must not run actors (it cannot confirm its standing). */
  serving: () => boolean;
  /** The host's pooled mTLS client. */
  peers: () => MtlsClient;
  logger: Logger;
  /** Placement cache lifetime (default 5 s). */
  placementCacheMs?: number;
}

// Failures that mean "the owner moved or is gone": re-resolve placement and retry once.
// A timeout is not among them: the call may have run, and the owner may not have changed.
const STALE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "ERR_NOT_OWNER",
  "ERR_UNREACHABLE",
  "ERR_HOST_STOPPED",
  "ERR_CERT_WRONG_IDENTITY",
]);

function requestId(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16))).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
}

/** The actor service of one host in a cluster. */
export class ClusterService implements ActorService {
  readonly #o: ClusterServiceOptions;
  #cache = new Map<string, { owner: ActorOwner; until: number }>();

  /** A service for the host described by `options`. */
  constructor(options: ClusterServiceOptions) {
    this.#o = options;
  }

  /** The actor's owner, from the cache when fresh enough (or always fresh with `fresh`). */
  async owner(actorType: string, actorId: string, fresh = false): Promise<ActorOwner> {
    const key = JSON.stringify([actorType, actorId]);
    const hit = this.#cache.get(key);
    if (!fresh && hit && hit.until > Date.now()) return hit.owner;
    const owner = await this.#o.coordinator().resolve(actorType, actorId);
    if (this.#cache.size > 100_000) this.#cache.clear();
    this.#cache.set(key, {
      owner,
      until: Date.now() + (this.#o.placementCacheMs ?? PLACEMENT_CACHE_MS),
    });
    return owner;
  }

  /** Forgets every cached placement (e.g. after this host lost its placements). */
  forgetPlacements(): void {
    this.#cache.clear();
  }

  /** Invokes `method` on the actor wherever it is placed; at most once per call. */
  async invoke<T = unknown>(
    actorType: string,
    actorId: string,
    method: string,
    data?: unknown,
  ): Promise<T> {
    validateActorName("type", actorType);
    validateActorName("id", actorId);
    validateActorName("method", method);
    const id = requestId();
    let owner = await this.owner(actorType, actorId);
    for (let attempt = 0;; attempt++) {
      try {
        if (owner.hostId === this.#o.selfId()) {
          if (!this.#o.serving()) {
            throw new FrancisError(
              "ERR_NOT_OWNER",
              `Host ${owner.hostId} cannot confirm its standing; not running ${actorType}/${actorId}`,
            );
          }
          return await this.#o.local().invoke(actorType, actorId, method, data) as T;
        }
        return await this.#forward(owner, { requestId: id, actorType, actorId, method, data }) as T;
      } catch (err) {
        if (attempt > 0 || !(err instanceof FrancisError) || !STALE.has(err.code)) throw err;
        this.#o.logger.debug("placement stale; resolving again", {
          actorType,
          actorId,
          owner: owner.hostId,
          code: err.code,
        });
        owner = await this.owner(actorType, actorId, true);
      }
    }
  }

  async #forward(owner: ActorOwner, body: Record<string, unknown>): Promise<unknown> {
    const res = await this.#o.peers().request(owner.address, {
      method: "POST",
      path: PeerRoutes.invoke,
      body,
      expect: { kind: "host", id: owner.hostId },
    });
    return resultOf(owner, res.status, res.body);
  }

  /** A state value of the actor, or undefined. */
  getState<T = unknown>(actorType: string, actorId: string, key: string): Promise<T | undefined> {
    return this.#o.coordinator().getState(actorType, actorId, key) as Promise<T | undefined>;
  }

  /** Stores a state value of the actor. */
  setState(
    actorType: string,
    actorId: string,
    key: string,
    value: unknown,
    options?: StateOptions,
  ): Promise<void> {
    if (value === undefined) throw new TypeError("State values must be JSON values, not undefined");
    return this.#o.coordinator().setState(actorType, actorId, key, value, options);
  }

  /** Deletes a state value of the actor. */
  deleteState(actorType: string, actorId: string, key: string): Promise<void> {
    return this.#o.coordinator().deleteState(actorType, actorId, key);
  }

  /** Creates or replaces an alarm of the actor. */
  setAlarm(actorType: string, actorId: string, name: string, spec: AlarmSpec): Promise<void> {
    validateActorName("alarm name", name);
    const now = Date.now();
    const dueTime = spec.dueTime instanceof Date ? spec.dueTime : new Date(now + spec.dueTime);
    if (Number.isNaN(dueTime.getTime())) throw new RangeError("Alarm dueTime is not a valid time");
    const typeOptions = this.#o.local().typeOptions(actorType) ?? resolveActorTypeOptions();
    return this.#o.coordinator().setAlarm(actorType, actorId, name, {
      dueTime,
      intervalMs: spec.interval,
      expiresAt: spec.ttl === undefined ? undefined : new Date(now + spec.ttl),
      data: spec.data,
      maxAttempts: typeOptions.alarmMaxAttempts,
      retryDelayMs: typeOptions.alarmInitialRetryDelayMs,
    });
  }

  /** An alarm of the actor, or undefined. */
  getAlarm(actorType: string, actorId: string, name: string): Promise<AlarmInfo | undefined> {
    return this.#o.coordinator().getAlarm(actorType, actorId, name);
  }

  /** Deletes an alarm of the actor. */
  deleteAlarm(actorType: string, actorId: string, name: string): Promise<void> {
    return this.#o.coordinator().deleteAlarm(actorType, actorId, name);
  }

  /** Deactivates the actor where it runs (its state stays). */
  async halt(actorType: string, actorId: string): Promise<void> {
    const owner = await this.owner(actorType, actorId);
    if (owner.hostId === this.#o.selfId()) {
      await this.#o.local().deactivate(actorType, actorId);
      return;
    }
    const res = await this.#o.peers().request(owner.address, {
      method: "POST",
      path: PeerRoutes.halt,
      body: { actorType, actorId },
      expect: { kind: "host", id: owner.hostId },
    });
    resultOf(owner, res.status, res.body);
  }
}

function resultOf(owner: ActorOwner, status: number, body: unknown): unknown {
  if (status === 200) return (body as { result?: unknown } | undefined)?.result;
  if (status === 204) return undefined;
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code as ErrorCode : "ERR_BAD_RESPONSE";
  const message = typeof error?.message === "string"
    ? error.message
    : `Host ${owner.hostId} answered HTTP ${status}`;
  throw new FrancisError(code, message);
}
