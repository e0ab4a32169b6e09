/**
 * What a host needs from the coordination layer: placement, state and alarms.
 * The remote topology implements it with calls to the runtime; the local
 * topology with the store itself.
 *
 * @module
 */
import type { AlarmInfo, StateOptions } from "./types.ts";

/** Where an actor runs. */
export interface ActorOwner {
  /** The owning host's ID. */
  hostId: string;
  /** Its peer address, `host:port`. */
  address: string;
}

/** An alarm as the coordinator stores it. */
export interface AlarmRequest {
  dueTime: Date;
  intervalMs?: number;
  expiresAt?: Date;
  data?: unknown;
  maxAttempts: number;
  retryDelayMs: number;
}

/** Placement, state and alarms, as seen from a host. */
export interface Coordinator {
  /** The actor's owner, placing it if needed. */
  resolve(actorType: string, actorId: string): Promise<ActorOwner>;
  /** A state value, or undefined. */
  getState(actorType: string, actorId: string, key: string): Promise<unknown>;
  /** Stores a state value. */
  setState(
    actorType: string,
    actorId: string,
    key: string,
    value: unknown,
    options?: StateOptions,
  ): Promise<void>;
  /** Deletes a state value. */
  deleteState(actorType: string, actorId: string, key: string): Promise<void>;
  /** Creates or replaces an alarm. */
  setAlarm(actorType: string, actorId: string, name: string, alarm: AlarmRequest): Promise<void>;
  /** An alarm, or undefined. */
  getAlarm(actorType: string, actorId: string, name: string): Promise<AlarmInfo | undefined>;
  /** Deletes an alarm. */
  deleteAlarm(actorType: string, actorId: string, name: string): Promise<void>;
}
