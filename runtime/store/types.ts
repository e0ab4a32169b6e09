/**
 * What the runtime keeps: host registrations and used token IDs. One
 * interface, two implementations (memory, SQLite); the actor plane extends it.
 *
 * @module
 */

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
  /** Releases the store. */
  close(): Promise<void>;
}
