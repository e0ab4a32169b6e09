/**
 * Coordination over the store: placement, state and alarms, as a
 * `Coordinator`. The runtime's routes call it on behalf of hosts; a local host
 * calls it directly. A namespace keeps clusters that share one store apart
 * (the local topology: see `Store.clusterNamespace`).
 *
 * @module
 */
import type { AlarmRequest, Coordinator } from "../lib/actor/coordinator.ts";
import type { AlarmInfo, StateOptions } from "../lib/actor/types.ts";
import type { Placement } from "./placement.ts";
import type { Store } from "./store/mod.ts";

/** The stored actor type for `actorType` in `namespace` ("" for none). */
export function namespaced(namespace: string, actorType: string): string {
  return namespace === "" ? actorType : `${namespace}/${actorType}`;
}

/** A coordinator over `store`. */
export class StoreCoordinator implements Coordinator {
  readonly #store: Store;
  readonly #placement: Placement;
  readonly #namespace: string;
  readonly #now: () => number;

  /** Coordination in `namespace` ("" in the remote topology: one cluster per store). */
  constructor(store: Store, placement: Placement, namespace = "", now: () => number = Date.now) {
    this.#store = store;
    this.#placement = placement;
    this.#namespace = namespace;
    this.#now = now;
  }

  #key(actorType: string, actorId: string) {
    return { actorType: namespaced(this.#namespace, actorType), actorId };
  }

  /** The actor's owner, placing it if needed. */
  resolve(actorType: string, actorId: string): Promise<{ hostId: string; address: string }> {
    return this.#placement.resolve(this.#key(actorType, actorId));
  }

  /** A state value, or undefined. */
  async getState(actorType: string, actorId: string, key: string): Promise<unknown> {
    const json = await this.#store.getState(this.#key(actorType, actorId), key, this.#now());
    return json === undefined ? undefined : JSON.parse(json);
  }

  /** Stores a state value (JSON). */
  async setState(
    actorType: string,
    actorId: string,
    key: string,
    value: unknown,
    options?: StateOptions,
  ): Promise<void> {
    const expiresAt = options?.ttlMs === undefined ? null : this.#now() + options.ttlMs;
    await this.#store.setState(
      this.#key(actorType, actorId),
      key,
      JSON.stringify(value),
      expiresAt,
    );
  }

  /** Deletes a state value. */
  async deleteState(actorType: string, actorId: string, key: string): Promise<void> {
    await this.#store.deleteState(this.#key(actorType, actorId), key);
  }

  /** Creates or replaces an alarm. */
  async setAlarm(
    actorType: string,
    actorId: string,
    name: string,
    alarm: AlarmRequest,
  ): Promise<void> {
    await this.#store.putAlarm({
      ...this.#key(actorType, actorId),
      name,
      dueAt: alarm.dueTime.getTime(),
      intervalMs: alarm.intervalMs ?? null,
      expiresAt: alarm.expiresAt?.getTime() ?? null,
      data: JSON.stringify(alarm.data ?? null),
      maxAttempts: alarm.maxAttempts,
      retryDelayMs: alarm.retryDelayMs,
    });
  }

  /** An alarm, or undefined. */
  async getAlarm(actorType: string, actorId: string, name: string): Promise<AlarmInfo | undefined> {
    const a = await this.#store.getAlarm(this.#key(actorType, actorId), name);
    if (!a) return undefined;
    return {
      name: a.name,
      dueTime: new Date(a.dueAt),
      interval: a.intervalMs ?? undefined,
      expiresAt: a.expiresAt === null ? undefined : new Date(a.expiresAt),
      data: JSON.parse(a.data),
    };
  }

  /** Deletes an alarm. */
  async deleteAlarm(actorType: string, actorId: string, name: string): Promise<void> {
    await this.#store.deleteAlarm(this.#key(actorType, actorId), name);
  }
}
