/**
 * The activation table of one host: which actors are active here, their turn
 * locks, idle deactivation, and the per-type concurrency limit. No networking:
 * placement and forwarding live above it.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { FrancisError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { Semaphore } from "./semaphore.ts";
import { TurnLock } from "./turn_lock.ts";
import {
  type Actor,
  type ActorFactory,
  type ActorService,
  type ActorTypeOptions,
  DEFAULT_MAX_QUEUED_PER_TYPE,
  resolveActorTypeOptions,
  validateActorName,
} from "./types.ts";

/** Options of an {@linkcode ActorRuntime}. */
export interface ActorRuntimeOptions {
  /** The service handed to every actor factory. */
  service: ActorService;
  /** Where deactivation failures and activations are logged (default: nowhere). */
  logger?: Logger;
  /**
   * How many calls of one actor type may wait (for their actor's turn or for a
   * concurrency permit) before new ones are refused with `ERR_ACTOR_OVERLOADED`
   * (default {@linkcode DEFAULT_MAX_QUEUED_PER_TYPE}).
   */
  maxQueuedPerType?: number;
  /**
   * Asked at the start of every turn: false refuses the turn with
   * `ERR_NOT_OWNER` (the host may have lost its actors; see HostCore.serving).
   */
  admit?: () => boolean;
}

interface ActorTypeEntry {
  readonly name: string;
  readonly factory: ActorFactory;
  readonly options: Readonly<Required<ActorTypeOptions>>;
  readonly permits: Semaphore;
  readonly activations: Map<string, Activation>;
  /** Calls admitted and not yet running. */
  waiting: number;
}

// One entry per actor that is active or has turns queued; it outlives its
// instances, so turns queued behind a deactivation get a fresh instance.
interface Activation {
  readonly id: string;
  readonly lock: TurnLock;
  actor: Actor | undefined;
  lastTurnEnd: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The caller's view of what an actor (or its factory) threw: its message, and the original as cause. */
function actorFailed(err: unknown): FrancisError {
  const message = messageOf(err) || "The actor failed without a message";
  return new FrancisError("ERR_ACTOR_FAILED", message, { cause: err });
}

function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  (timer as unknown as { unref?: () => void }).unref?.();
}

// Which actor's turn the current async call chain is running, if any.
const insideTurn = new AsyncLocalStorage<{
  runtime: ActorRuntime;
  actorType: string;
  actorId: string;
  running: boolean;
}>();

/**
 * The actors active on one host. Each actor runs one turn at a time in FIFO
 * order (invocations and alarms share the lock), is activated on its first
 * call, and is deactivated after its idle timeout, on halt, or on close.
 *
 * @example Register a type and invoke an actor
 * ```ts
 * import { ActorRuntime } from "./host.ts";
 * import type { ActorService } from "./types.ts";
 *
 * declare const service: ActorService;
 * const runtime = new ActorRuntime({ service });
 * let count = 0;
 * runtime.registerActor("counter", () => ({
 *   invoke: (method) => method === "increment" ? ++count : count,
 * }), { idleTimeoutMs: 60_000 });
 * await runtime.invoke("counter", "c1", "increment");
 * await runtime.close();
 * ```
 */
export class ActorRuntime {
  readonly #service: ActorService;
  readonly #logger: Logger;
  readonly #maxQueuedPerType: number;
  readonly #types = new Map<string, ActorTypeEntry>();
  #closed = false;

  /**
   * Creates an empty activation table.
   *
   * @param options the service for actor factories, a logger, the queue bound
   * @throws {RangeError} when `maxQueuedPerType` is not a non-negative integer
   */
  readonly #admit: () => boolean;

  constructor(options: ActorRuntimeOptions) {
    const maxQueued = options.maxQueuedPerType ?? DEFAULT_MAX_QUEUED_PER_TYPE;
    if (!Number.isInteger(maxQueued) || maxQueued < 0) {
      throw new RangeError(`maxQueuedPerType must be a non-negative integer, got ${maxQueued}`);
    }
    this.#service = options.service;
    this.#logger = options.logger ?? silentLogger;
    this.#maxQueuedPerType = maxQueued;
    this.#admit = options.admit ?? (() => true);
  }

  /**
   * Registers an actor type on this host.
   *
   * @param actorType the type's name, as {@linkcode validateActorName} checks it
   * @param factory creates an actor of this type for an ID
   * @param options idle and deactivation timeouts, alarm retries, concurrency
   * @throws {TypeError} for an invalid or already registered type, a factory that
   *   is not a function, or an unknown option
   * @throws {RangeError} for an option out of range
   */
  registerActor(actorType: string, factory: ActorFactory, options?: ActorTypeOptions): void {
    try {
      validateActorName("type", actorType);
    } catch (err) {
      throw new TypeError((err as Error).message, { cause: err });
    }
    if (this.#types.has(actorType)) {
      throw new TypeError(`Actor type ${JSON.stringify(actorType)} is already registered`);
    }
    if (typeof factory !== "function") {
      throw new TypeError(
        `The factory of actor type ${JSON.stringify(actorType)} is not a function`,
      );
    }
    const resolved = Object.freeze(resolveActorTypeOptions(options));
    this.#types.set(actorType, {
      name: actorType,
      factory,
      options: resolved,
      permits: new Semaphore(resolved.concurrency),
      activations: new Map(),
      waiting: 0,
    });
  }

  /** The registered actor types, in registration order. */
  get actorTypes(): string[] {
    return [...this.#types.keys()];
  }

  /**
   * The options of a registered type, defaults applied.
   *
   * @param actorType the type's name
   * @returns its options, or `undefined` when the type is not registered here
   */
  typeOptions(actorType: string): Required<ActorTypeOptions> | undefined {
    const options = this.#types.get(actorType)?.options;
    return options && { ...options };
  }

  /**
   * Invokes a method of an actor on this host, activating it first if needed.
   * The call waits for the actor's turn, then for a permit of its type.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param method the method name passed to the actor's `invoke`
   * @param data the data passed to the actor
   * @returns what the actor's `invoke` returned
   * @throws {FrancisError} `ERR_ACTOR_TYPE_UNKNOWN` for a type not registered here,
   *   `ERR_ACTOR_METHOD_UNKNOWN` for an actor without `invoke`, `ERR_ACTOR_FAILED`
   *   with the actor's message when its factory or `invoke` throws,
   *   `ERR_ACTOR_OVERLOADED` when too many calls of the type wait, `ERR_HOST_STOPPED`
   *   after {@linkcode ActorRuntime.close}, `ERR_BAD_REQUEST` for an invalid name
   */
  invoke(actorType: string, actorId: string, method: string, data?: unknown): Promise<unknown> {
    return this.#turn(
      actorType,
      actorId,
      "invoke",
      method,
      (actor) => actor.invoke?.(method, data),
    );
  }

  /**
   * Delivers a due alarm to an actor on this host, activating it first if
   * needed. Alarms take turns with invocations on the same lock.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param name the alarm's name
   * @param data the alarm's data
   * @returns when the actor's `alarm` has finished
   * @throws {FrancisError} as {@linkcode ActorRuntime.invoke} does, with
   *   `ERR_ACTOR_METHOD_UNKNOWN` for an actor without `alarm`
   */
  async alarm(actorType: string, actorId: string, name: string, data?: unknown): Promise<void> {
    await this.#turn(actorType, actorId, "alarm", name, (actor) => actor.alarm?.(name, data));
  }

  /**
   * Halts an actor: waits for the turns queued before this call, runs its
   * `deactivate` (bounded by the type's `deactivationTimeoutMs`; a failure is
   * logged) and drops the activation. Calls queued after it get a fresh instance.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @returns true when the actor was active here and is now deactivated
   */
  async deactivate(actorType: string, actorId: string): Promise<boolean> {
    this.#refuseReentry(actorType, actorId, "halt");
    const type = this.#types.get(actorType);
    const activation = type?.activations.get(actorId);
    if (!type || !activation?.actor) return false;
    return await this.#deactivateTurn(type, activation);
  }

  /**
   * Deactivates every actor on this host, each after its queued turns, as
   * {@linkcode ActorRuntime.deactivate} does; for shutdown or lost placements.
   *
   * @returns when every actor active at the call is deactivated
   */
  async deactivateAll(): Promise<void> {
    const turns: Promise<boolean>[] = [];
    for (const type of this.#types.values()) {
      for (const activation of type.activations.values()) {
        turns.push(this.#deactivateTurn(type, activation));
      }
    }
    await Promise.all(turns);
  }

  /**
   * Whether an actor has a live instance on this host.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @returns true while it is active here
   */
  isActive(actorType: string, actorId: string): boolean {
    return this.#types.get(actorType)?.activations.get(actorId)?.actor !== undefined;
  }

  /** How many actors have a live instance on this host. */
  get activeCount(): number {
    let count = 0;
    for (const type of this.#types.values()) {
      for (const activation of type.activations.values()) {
        if (activation.actor) count++;
      }
    }
    return count;
  }

  /**
   * Stops this host's actors: new calls are refused with `ERR_HOST_STOPPED` at
   * once, calls already queued still run, then every actor is deactivated.
   *
   * @returns when every actor is deactivated
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.deactivateAll();
  }

  // Admission is synchronous up to the turn lock, so no entry is ever dropped
  // between looking it up and queueing on it.
  async #turn<T>(
    actorType: string,
    actorId: string,
    handler: "invoke" | "alarm",
    name: string,
    call: (actor: Actor) => T | Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new FrancisError("ERR_HOST_STOPPED", "The actor host is stopped");
    const type = this.#types.get(actorType);
    if (!type) {
      throw new FrancisError(
        "ERR_ACTOR_TYPE_UNKNOWN",
        `Actor type ${JSON.stringify(actorType)} is not registered on this host`,
      );
    }
    validateActorName("id", actorId);
    validateActorName(handler === "invoke" ? "method" : "alarm name", name);
    this.#refuseReentry(actorType, actorId, handler);
    if (type.waiting >= this.#maxQueuedPerType) {
      const limit = this.#maxQueuedPerType;
      const what = `actor type ${JSON.stringify(type.name)}`;
      throw new FrancisError(
        "ERR_ACTOR_OVERLOADED",
        `Too many calls wait for ${what} on this host (limit ${limit})`,
      );
    }
    const activation: Activation = type.activations.get(actorId) ?? {
      id: actorId,
      lock: new TurnLock(),
      actor: undefined,
      lastTurnEnd: 0,
      idleTimer: undefined,
    };
    type.activations.set(actorId, activation);
    type.waiting++;
    try {
      return await activation.lock.run(() =>
        type.permits.run(async () => {
          type.waiting--;
          try {
            // Checked when the turn starts, not when the call was queued: a host that
            // lost its standing meanwhile must not run turns queued before that.
            if (!this.#admit()) {
              throw new FrancisError(
                "ERR_NOT_OWNER",
                `This host is not serving actors now; ${type.name}/${actorId} was not run`,
              );
            }
            const actor = this.#instanceOf(type, activation);
            if (typeof actor[handler] !== "function") {
              throw new FrancisError(
                "ERR_ACTOR_METHOD_UNKNOWN",
                `Actors of type ${JSON.stringify(type.name)} do not implement ${handler}`,
              );
            }
            // Whatever the actor throws, even a FrancisError from a nested call,
            // is its failure: the caller must not mistake it for a routing error.
            try {
              const turn = { runtime: this, actorType: type.name, actorId, running: true };
              try {
                return await insideTurn.run(turn, () => call(actor));
              } finally {
                turn.running = false; // later work it started is not inside the turn
              }
            } catch (err) {
              throw actorFailed(err);
            }
          } finally {
            this.#afterTurn(type, activation);
          }
        })
      );
    } finally {
      this.#forgetIfUnused(type, activation);
    }
  }

  // A turn that calls its own actor on this host would wait for itself forever:
  // refuse it at once instead.
  #refuseReentry(actorType: string, actorId: string, what: string): void {
    const turn = insideTurn.getStore();
    if (
      turn?.running && turn.runtime === this && turn.actorType === actorType &&
      turn.actorId === actorId
    ) {
      throw new FrancisError(
        "ERR_ACTOR_REENTRANT",
        `${actorType}/${actorId} cannot ${what} itself from inside its own turn (it would wait for itself)`,
      );
    }
  }

  #instanceOf(type: ActorTypeEntry, activation: Activation): Actor {
    if (activation.actor) return activation.actor;
    let actor: Actor;
    try {
      actor = type.factory(activation.id, this.#service);
    } catch (err) {
      throw actorFailed(err);
    }
    if (typeof actor !== "object" || actor === null) {
      throw new FrancisError(
        "ERR_ACTOR_FAILED",
        `The factory of actor type ${JSON.stringify(type.name)} returned no actor`,
      );
    }
    activation.actor = actor;
    this.#logger.debug("Actor activated", { actorType: type.name, actorId: activation.id });
    return actor;
  }

  // The idle timer is armed once and re-armed from the last turn's end when it
  // fires early, rather than reset on every turn.
  #afterTurn(type: ActorTypeEntry, activation: Activation): void {
    if (!activation.actor) return;
    activation.lastTurnEnd = performance.now();
    if (activation.idleTimer === undefined) {
      this.#armIdleTimer(type, activation, type.options.idleTimeoutMs);
    }
  }

  #armIdleTimer(type: ActorTypeEntry, activation: Activation, delayMs: number): void {
    activation.idleTimer = setTimeout(() => {
      activation.idleTimer = undefined;
      // A running or queued turn re-arms the timer when it ends.
      if (!activation.actor || activation.lock.busy) return;
      const remaining = activation.lastTurnEnd + type.options.idleTimeoutMs - performance.now();
      if (remaining > 0) this.#armIdleTimer(type, activation, remaining);
      else void this.#deactivateTurn(type, activation);
    }, delayMs);
    unrefTimer(activation.idleTimer);
  }

  async #deactivateTurn(type: ActorTypeEntry, activation: Activation): Promise<boolean> {
    try {
      return await activation.lock.run(async () => {
        const actor = activation.actor;
        if (!actor) return false;
        clearTimeout(activation.idleTimer);
        activation.idleTimer = undefined;
        activation.actor = undefined;
        await this.#runDeactivate(type, activation.id, actor);
        this.#logger.debug("Actor deactivated", { actorType: type.name, actorId: activation.id });
        return true;
      });
    } finally {
      this.#forgetIfUnused(type, activation);
    }
  }

  // A slow or failing deactivate never keeps an actor from going away: it is
  // logged, and the next instance may start while a timed-out one still runs.
  async #runDeactivate(type: ActorTypeEntry, actorId: string, actor: Actor): Promise<void> {
    if (!actor.deactivate) return;
    const fields = { actorType: type.name, actorId };
    const limitMs = type.options.deactivationTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), limitMs);
      unrefTimer(timer);
    });
    try {
      const deactivated = Promise.resolve().then(() => actor.deactivate?.()).then(() => false);
      if (await Promise.race([deactivated, timedOut])) {
        this.#logger.warn("Actor deactivate timed out; activation dropped", { ...fields, limitMs });
      }
    } catch (err) {
      this.#logger.warn("Actor deactivate failed; activation dropped", {
        ...fields,
        error: messageOf(err),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  #forgetIfUnused(type: ActorTypeEntry, activation: Activation): void {
    if (
      !activation.actor && !activation.lock.busy &&
      type.activations.get(activation.id) === activation
    ) {
      type.activations.delete(activation.id);
    }
  }
}
