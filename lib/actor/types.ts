/**
 * The public actor API: what an actor is, the service it calls, the options of
 * an actor type with their defaults, and the one rule for actor names.
 *
 * @module
 */
import { FrancisError } from "../errors.ts";

/**
 * A virtual actor: an object with any of these methods. The host calls them one
 * at a time per actor (a FIFO turn lock shared by invocations and alarms), so an
 * actor never needs its own locking.
 *
 * @example A counter that keeps its count in state
 * ```ts
 * import type { Actor, ActorService } from "./types.ts";
 *
 * function counter(actorId: string, service: ActorService): Actor {
 *   return {
 *     async invoke(method) {
 *       if (method !== "increment") throw new Error(`Unknown method ${method}`);
 *       const count = (await service.getState<number>("counter", actorId, "count")) ?? 0;
 *       await service.setState("counter", actorId, "count", count + 1);
 *       return { count: count + 1 };
 *     },
 *   };
 * }
 * ```
 */
export interface Actor {
  /**
   * Handles an invocation. What it throws reaches the caller as a
   * {@linkcode FrancisError} `ERR_ACTOR_FAILED` with the same message.
   *
   * @param method the method name the caller asked for
   * @param data the caller's JSON data
   * @returns the JSON result for the caller
   */
  invoke?(method: string, data: unknown): unknown | Promise<unknown>;
  /**
   * Handles a due alarm. Throwing makes the scheduler retry it.
   *
   * @param name the alarm's name
   * @param data the data set with the alarm
   */
  alarm?(name: string, data: unknown): void | Promise<void>;
  /**
   * Runs once before the activation is dropped (idle timeout, halt or shutdown),
   * bounded by the type's `deactivationTimeoutMs`. State stays in the store.
   */
  deactivate?(): void | Promise<void>;
}

/**
 * Creates the activation of one actor; called on its first invocation or alarm,
 * and again after each deactivation.
 *
 * @param actorId the actor's ID
 * @param service the cluster's actor service, for state, alarms and calls to other actors
 * @returns the actor
 */
export type ActorFactory = (actorId: string, service: ActorService) => Actor;

/** Options of one actor type on one host; every field has a default. */
export interface ActorTypeOptions {
  /** Deactivate an actor after this long without a turn (default 5 min). */
  idleTimeoutMs?: number;
  /** How long `deactivate()` may run before the activation is dropped anyway (default 5 s). */
  deactivationTimeoutMs?: number;
  /** How many times an alarm is delivered before it is given up (default 3). */
  alarmMaxAttempts?: number;
  /** The first retry delay of a failed alarm, doubling after each attempt (default 2 s). */
  alarmInitialRetryDelayMs?: number;
  /**
   * The most invocations and alarms of this type running at once on this host
   * (default unlimited). Excess calls wait in FIFO order.
   */
  concurrency?: number;
}

/** When and how often an alarm fires. */
export interface AlarmSpec {
  /** The first firing: milliseconds from now, or a point in time. */
  dueTime: number | Date;
  /** Milliseconds between repeated firings; without it the alarm fires once. */
  interval?: number;
  /** Milliseconds from now after which a repeating alarm stops. */
  ttl?: number;
  /** JSON data passed to the actor's `alarm` method. */
  data?: unknown;
}

/** A stored alarm, as `getAlarm` returns it. */
export interface AlarmInfo {
  /** The alarm's name, unique per actor. */
  name: string;
  /** The next firing. */
  dueTime: Date;
  /** Milliseconds between firings, for a repeating alarm. */
  interval?: number;
  /** When a repeating alarm stops. */
  expiresAt?: Date;
  /** The data passed to the actor. */
  data?: unknown;
}

/** Options of one state write. */
export interface StateOptions {
  /** Drop the value this many milliseconds after the write. */
  ttlMs?: number;
}

/**
 * The cluster seen from one host: calls to any actor wherever it is placed, and
 * its durable state and alarms. Actors receive it from their factory.
 *
 * @example Call an actor and read its state
 * ```ts
 * import type { ActorService } from "./types.ts";
 *
 * async function incrementTwice(service: ActorService): Promise<number | undefined> {
 *   await service.invoke("counter", "c1", "increment");
 *   await service.invoke("counter", "c1", "increment");
 *   return await service.getState<number>("counter", "c1", "count");
 * }
 * ```
 */
export interface ActorService {
  /**
   * Invokes a method of an actor, activating it where placement puts it.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param method the method name passed to the actor's `invoke`
   * @param data JSON data passed to the actor
   * @returns the actor's JSON result
   */
  invoke<T = unknown>(
    actorType: string,
    actorId: string,
    method: string,
    data?: unknown,
  ): Promise<T>;
  /**
   * Reads one state value of an actor.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param key the state key
   * @returns the value, or `undefined` when it is unset or expired
   */
  getState<T = unknown>(actorType: string, actorId: string, key: string): Promise<T | undefined>;
  /**
   * Writes one state value of an actor.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param key the state key
   * @param value the JSON value
   * @param options an optional time to live
   * @returns when the value is stored
   */
  setState(
    actorType: string,
    actorId: string,
    key: string,
    value: unknown,
    options?: StateOptions,
  ): Promise<void>;
  /**
   * Deletes one state value of an actor; deleting an unset key is not an error.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param key the state key
   * @returns when the value is gone
   */
  deleteState(actorType: string, actorId: string, key: string): Promise<void>;
  /**
   * Creates or replaces a durable alarm of an actor.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param name the alarm's name, unique per actor
   * @param spec when and how often it fires, and its data
   * @returns when the alarm is stored
   */
  setAlarm(actorType: string, actorId: string, name: string, spec: AlarmSpec): Promise<void>;
  /**
   * Reads an alarm of an actor.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param name the alarm's name
   * @returns the alarm, or `undefined` when there is none
   */
  getAlarm(actorType: string, actorId: string, name: string): Promise<AlarmInfo | undefined>;
  /**
   * Deletes an alarm of an actor so it never fires again.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @param name the alarm's name
   * @returns when the alarm is gone
   */
  deleteAlarm(actorType: string, actorId: string, name: string): Promise<void>;
  /**
   * Deactivates an actor wherever it runs, after its queued turns; its state is kept.
   *
   * @param actorType the actor's type
   * @param actorId the actor's ID
   * @returns when the actor is deactivated
   */
  halt(actorType: string, actorId: string): Promise<void>;
}

/** Default `idleTimeoutMs`: 5 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Default `deactivationTimeoutMs`: 5 seconds. */
export const DEFAULT_DEACTIVATION_TIMEOUT_MS = 5_000;
/** Default `alarmMaxAttempts`. */
export const DEFAULT_ALARM_MAX_ATTEMPTS = 3;
/** Default `alarmInitialRetryDelayMs`: 2 seconds. */
export const DEFAULT_ALARM_INITIAL_RETRY_DELAY_MS = 2_000;
/** Default `concurrency`: unlimited. */
export const DEFAULT_ACTOR_CONCURRENCY: number = Infinity;
/** How many calls of one actor type may wait on one host before new ones are refused. */
export const DEFAULT_MAX_QUEUED_PER_TYPE = 10_000;

// The longest delay that setTimeout honours; longer ones fire at once.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * What actor types, IDs, method names, alarm names and state keys may contain:
 * 1 to 128 of `A-Z a-z 0-9 . _ : -`.
 */
export const ACTOR_NAME_PATTERN: RegExp = /^[A-Za-z0-9._:-]{1,128}$/;

/** The kinds of names that {@linkcode validateActorName} checks, as its messages name them. */
export type ActorNameKind = "type" | "id" | "method" | "alarm name" | "state key";

/**
 * Checks a name against {@linkcode ACTOR_NAME_PATTERN}.
 *
 * @param kind what the name is, for the error message
 * @param value the name to check
 * @returns the name, now known to be a string
 * @throws {FrancisError} `ERR_BAD_REQUEST` when it is not a valid name
 *
 * @example Validate a caller's actor ID
 * ```ts
 * import { validateActorName } from "./types.ts";
 *
 * validateActorName("id", "user:42"); // "user:42"
 * validateActorName("id", "a/b"); // throws ERR_BAD_REQUEST
 * ```
 */
export function validateActorName(kind: ActorNameKind, value: unknown): string {
  if (typeof value === "string" && ACTOR_NAME_PATTERN.test(value)) return value;
  const shown = typeof value === "string"
    ? JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value)
    : `of type ${value === null ? "null" : typeof value}`;
  throw new FrancisError(
    "ERR_BAD_REQUEST",
    `Invalid actor ${kind} ${shown}: expected 1 to 128 characters of A-Z a-z 0-9 . _ : -`,
  );
}

const OPTION_RULES: Record<
  keyof ActorTypeOptions,
  { fallback: number; valid: (n: number) => boolean; rule: string }
> = {
  idleTimeoutMs: {
    fallback: DEFAULT_IDLE_TIMEOUT_MS,
    valid: (n) => n > 0 && n <= MAX_TIMER_MS,
    rule: `a number of milliseconds from 1 to ${MAX_TIMER_MS}`,
  },
  deactivationTimeoutMs: {
    fallback: DEFAULT_DEACTIVATION_TIMEOUT_MS,
    valid: (n) => n > 0 && n <= MAX_TIMER_MS,
    rule: `a number of milliseconds from 1 to ${MAX_TIMER_MS}`,
  },
  alarmMaxAttempts: {
    fallback: DEFAULT_ALARM_MAX_ATTEMPTS,
    valid: (n) => Number.isInteger(n) && n >= 1,
    rule: "an integer of at least 1",
  },
  alarmInitialRetryDelayMs: {
    fallback: DEFAULT_ALARM_INITIAL_RETRY_DELAY_MS,
    valid: (n) => n >= 0 && n <= MAX_TIMER_MS,
    rule: `a number of milliseconds from 0 to ${MAX_TIMER_MS}`,
  },
  concurrency: {
    fallback: DEFAULT_ACTOR_CONCURRENCY,
    valid: (n) => n === Infinity || (Number.isInteger(n) && n >= 1),
    rule: "an integer of at least 1, or Infinity",
  },
};

/**
 * Fills in the defaults of actor type options and checks every value.
 *
 * @param options the options as registered
 * @returns every option, defaults applied
 * @throws {TypeError} for an unknown option or a value that is not a number
 * @throws {RangeError} for a number out of range
 *
 * @example Apply the defaults
 * ```ts
 * import { resolveActorTypeOptions } from "./types.ts";
 *
 * resolveActorTypeOptions({ concurrency: 4 }).idleTimeoutMs; // 300_000
 * ```
 */
export function resolveActorTypeOptions(
  options: ActorTypeOptions = {},
): Required<ActorTypeOptions> {
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(OPTION_RULES, key)) {
      throw new TypeError(`Unknown actor type option ${JSON.stringify(key)}`);
    }
  }
  const resolved = {} as Required<ActorTypeOptions>;
  for (const [key, { fallback, valid, rule }] of Object.entries(OPTION_RULES)) {
    const value: unknown = options[key as keyof ActorTypeOptions] ?? fallback;
    if (typeof value !== "number") throw new TypeError(`Actor type option ${key} must be ${rule}`);
    if (Number.isNaN(value) || !valid(value)) {
      throw new RangeError(`Actor type option ${key} must be ${rule}, got ${value}`);
    }
    resolved[key as keyof ActorTypeOptions] = value;
  }
  return resolved;
}
