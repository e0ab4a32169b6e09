/**
 * The `memory` provider: state lives as long as the process.
 *
 * @module
 */
import type { HostRegistration, Store } from "./types.ts";

/** A store in process memory. */
export class MemoryStore implements Store {
  #hosts = new Map<string, HostRegistration>();
  #jtis = new Map<string, number>();

  putHost(host: HostRegistration): Promise<void> {
    this.#hosts.set(host.hostId, structuredClone(host));
    return Promise.resolve();
  }

  getHost(hostId: string): Promise<HostRegistration | undefined> {
    const host = this.#hosts.get(hostId);
    return Promise.resolve(host && structuredClone(host));
  }

  touchHost(hostId: string, at: Date, actorTypes?: string[]): Promise<boolean> {
    const host = this.#hosts.get(hostId);
    if (host) {
      host.lastSeenAt = at;
      if (actorTypes) host.actorTypes = [...actorTypes];
    }
    return Promise.resolve(host !== undefined);
  }

  recordCertificate(hostId: string, notAfter: Date, serial: string, at: Date): Promise<boolean> {
    const host = this.#hosts.get(hostId);
    if (host) Object.assign(host, { certNotAfter: notAfter, certSerial: serial, lastSeenAt: at });
    return Promise.resolve(host !== undefined);
  }

  deleteHost(hostId: string): Promise<boolean> {
    return Promise.resolve(this.#hosts.delete(hostId));
  }

  listHosts(): Promise<HostRegistration[]> {
    return Promise.resolve([...this.#hosts.values()].map((h) => structuredClone(h)));
  }

  consumeJti(jti: string, expiresAt: Date, now: Date = new Date()): Promise<boolean> {
    for (const [id, exp] of this.#jtis) if (exp <= now.getTime()) this.#jtis.delete(id);
    if (this.#jtis.has(jti)) return Promise.resolve(false);
    this.#jtis.set(jti, expiresAt.getTime());
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
