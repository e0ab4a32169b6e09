/**
 * What the runtime keeps: host registrations, used token IDs, actor
 * placements, actor state and alarms. One interface, two implementations
 * (memory, SQLite); every multi-step change is atomic in both.
 *
 * @module
 */
import { toHex } from "../../lib/bytes.ts";

/** A fresh cluster namespace ID (see `Store.clusterNamespace`): 8 random bytes, hex. */
export function newNamespace(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(8)));
}

/** A registered host. */
export interface HostRegistration {
  hostId: string;
  /** The peer address other hosts reach it at, if it serves actors. */
  address: string | null;
  actorTypes: string[];
  registeredAt: Date;
  /** The last successful health check (or registration / renewal). */
  lastSeenAt: Date;
  /** notAfter of the newest certificate issued to it. */
  certNotAfter: Date;
  /** Serial (hex) of the newest certificate issued to it. */
  certSerial: string;
  /**
   * Bumped each time the runtime takes the host's placements away (it missed its
   * health deadline): a host that sees it change must drop its activations.
   */
  generation: number;
}

/** An actor's address in the store. */
export interface ActorKey {
  actorType: string;
  actorId: string;
}

/** A stored alarm. */
export interface AlarmRecord extends ActorKey {
  name: string;
  /** When it is next due (ms since the epoch). */
  dueAt: number;
  /** Repeat period (ms), or null for one-shot. */
  intervalMs: number | null;
  /** No repeats after this (ms since the epoch), or null. */
  expiresAt: number | null;
  /** JSON text of the alarm's data. */
  data: string;
  maxAttempts: number;
  retryDelayMs: number;
  /** Failed deliveries of the current firing. */
  attempts: number;
  /** Bumped by every put: a delivery may only complete the version it leased. */
  version: number;
  /**
   * Which firing of this version is due (0 for the first; repeats count up;
   * retries keep it): with the version, it names a delivery for deduplication.
   */
  firing: number;
}

/** The runtime's durable state. */
export interface Store {
  /** Inserts or replaces a registration. */
  putHost(host: HostRegistration): Promise<void>;
  /** The registration of `hostId`, if any. */
  getHost(hostId: string): Promise<HostRegistration | undefined>;
  /** Records a health check; false when the host is not registered. */
  touchHost(hostId: string, at: Date, actorTypes?: string[]): Promise<boolean>;
  /** Records a renewed certificate; false when the host is not registered. */
  recordCertificate(hostId: string, notAfter: Date, serial: string, at: Date): Promise<boolean>;
  /** Removes a registration; false when there was none. */
  deleteHost(hostId: string): Promise<boolean>;
  /** Every registration. */
  listHosts(): Promise<HostRegistration[]>;
  /**
   * Marks a token ID used until `expiresAt`; true on first use, false if it was
   * already used. Expired entries are forgotten.
   */
  consumeJti(jti: string, expiresAt: Date, now?: Date): Promise<boolean>;

  /** The host an actor is placed on, if any. */
  getPlacement(key: ActorKey): Promise<string | undefined>;
  /**
   * Places the actor on `hostId` unless it is already placed on a host other
   * than `replacing`; returns the owner after the call (one winner, atomically).
   */
  placeActor(key: ActorKey, hostId: string, replacing?: string): Promise<string>;
  /** Removes a placement if it is on `hostId`. */
  removePlacement(key: ActorKey, hostId: string): Promise<void>;
  /** Number of placements per host. */
  placementCounts(): Promise<Map<string, number>>;
  /** Drops every placement of `hostId` and bumps its generation; returns how many were dropped. */
  revokeHost(hostId: string): Promise<number>;

  /** JSON text of a state value, unless absent or expired at `now`. */
  getState(key: ActorKey, name: string, now: number): Promise<string | undefined>;
  /** Stores JSON text under a state key, expiring at `expiresAt` (ms) if given. */
  setState(key: ActorKey, name: string, json: string, expiresAt: number | null): Promise<void>;
  /** Deletes a state key. */
  deleteState(key: ActorKey, name: string): Promise<void>;
  /** Deletes expired state; returns how many rows. */
  purgeExpiredState(now: number): Promise<number>;

  /** Creates or replaces an alarm (attempts reset, version bumped). */
  putAlarm(alarm: Omit<AlarmRecord, "attempts" | "version" | "firing">): Promise<void>;
  /** An alarm, if set. */
  getAlarm(key: ActorKey, name: string): Promise<AlarmRecord | undefined>;
  /** Deletes an alarm; false if there was none. */
  deleteAlarm(key: ActorKey, name: string): Promise<boolean>;
  /**
   * Claims up to `limit` alarms due at `now` that nobody holds a lease on,
   * leasing them to `owner` until `leaseUntil`; with `actorTypePrefix`, only
   * alarms of actor types that start with it.
   */
  leaseDueAlarms(
    now: number,
    owner: string,
    leaseUntil: number,
    limit: number,
    actorTypePrefix?: string,
  ): Promise<AlarmRecord[]>;
  /**
   * Finishes a delivery of `alarm` (the leased version): reschedules it at `nextDueAt`
   * as the next firing, with attempts reset and no lease, or deletes it when `nextDueAt` is null. A
   * version that changed meanwhile (set again or deleted) is left alone.
   */
  completeAlarm(alarm: AlarmRecord, nextDueAt: number | null): Promise<void>;
  /** Records a failed delivery: retry at `retryAt` with attempts+1, or delete when null. */
  failAlarm(alarm: AlarmRecord, retryAt: number | null): Promise<void>;

  /**
   * The namespace of the cluster whose CAs have these fingerprints (local
   * topology). The first fingerprint already known names it, and every other
   * one is linked to it (that is how a rotation keeps the namespace); when none
   * is known, a new namespace is created. Atomic.
   */
  clusterNamespace(caFingerprints: readonly string[]): Promise<string>;

  /** Releases the store. */
  close(): Promise<void>;
}
