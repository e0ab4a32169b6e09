/**
 * The portable actor plane of one host: the actor API, the FIFO turn lock and
 * the activation table. Placement, forwarding, state and alarms live in the
 * runtime and the worker, behind {@linkcode ActorService}.
 *
 * @example Run a counter actor on a local activation table
 * ```ts
 * import { ActorRuntime, type ActorService } from "./mod.ts";
 *
 * declare const service: ActorService;
 * const runtime = new ActorRuntime({ service });
 * runtime.registerActor("counter", (actorId) => {
 *   let count = 0;
 *   return { invoke: () => ({ actorId, count: ++count }) };
 * });
 * console.log(await runtime.invoke("counter", "c1", "increment")); // { actorId: "c1", count: 1 }
 * await runtime.close();
 * ```
 *
 * @module
 */
export { ActorRuntime, type ActorRuntimeOptions } from "./host.ts";
export { Semaphore } from "./semaphore.ts";
export { TurnLock } from "./turn_lock.ts";
export {
  type Actor,
  ACTOR_NAME_PATTERN,
  type ActorFactory,
  type ActorNameKind,
  type ActorService,
  type ActorTypeOptions,
  type AlarmInfo,
  type AlarmSpec,
  DEFAULT_ACTOR_CONCURRENCY,
  DEFAULT_ALARM_INITIAL_RETRY_DELAY_MS,
  DEFAULT_ALARM_MAX_ATTEMPTS,
  DEFAULT_DEACTIVATION_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_PER_TYPE,
  resolveActorTypeOptions,
  type StateOptions,
  validateActorName,
} from "./types.ts";
