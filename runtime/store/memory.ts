/**
 * The `memory` provider: state lives as long as the process.
 *
 * @module
 */
import {
  type ActorKey,
  type AlarmRecord,
  type HostRegistration,
  newNamespace,
  type Store,
} from "./types.ts";

const k = (key: ActorKey) => JSON.stringify([key.actorType, key.actorId]);
const sk = (key: ActorKey, name: string) => JSON.stringify([key.actorType, key.actorId, name]);

interface Lease {
  owner: string;
  until: number;
}

/** A store in process memory. */
export class MemoryStore implements Store {
  #hosts = new Map<string, HostRegistration>();
  #jtis = new Map<string, number>();
  #placements = new Map<string, string>();
  #state = new Map<string, { json: string; expiresAt: number | null }>();
  #alarms = new Map<string, AlarmRecord & { lease?: Lease }>();
  #alarmVersion = 0;
  #namespaces = new Map<string, string>();

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
      host.lastSeenAt = new Date(at);
      if (actorTypes) host.actorTypes = [...actorTypes];
    }
    return Promise.resolve(host !== undefined);
  }

  recordCertificate(hostId: string, notAfter: Date, serial: string, at: Date): Promise<boolean> {
    const host = this.#hosts.get(hostId);
    if (host) {
      Object.assign(host, {
        certNotAfter: new Date(notAfter),
        certSerial: serial,
        lastSeenAt: new Date(at),
      });
    }
    return Promise.resolve(host !== undefined);
  }

  async deleteHost(hostId: string): Promise<boolean> {
    await this.revokeHost(hostId);
    return this.#hosts.delete(hostId);
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

  getPlacement(key: ActorKey): Promise<string | undefined> {
    return Promise.resolve(this.#placements.get(k(key)));
  }

  placeActor(key: ActorKey, hostId: string, replacing?: string): Promise<string> {
    const current = this.#placements.get(k(key));
    if (current === undefined || current === replacing) this.#placements.set(k(key), hostId);
    return Promise.resolve(this.#placements.get(k(key))!);
  }

  removePlacement(key: ActorKey, hostId: string): Promise<void> {
    if (this.#placements.get(k(key)) === hostId) this.#placements.delete(k(key));
    return Promise.resolve();
  }

  placementCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const host of this.#placements.values()) counts.set(host, (counts.get(host) ?? 0) + 1);
    return Promise.resolve(counts);
  }

  revokeHost(hostId: string): Promise<number> {
    let n = 0;
    for (const [key, host] of this.#placements) {
      if (host === hostId) {
        this.#placements.delete(key);
        n++;
      }
    }
    const host = this.#hosts.get(hostId);
    if (host) host.generation++;
    return Promise.resolve(n);
  }

  getState(key: ActorKey, name: string, now: number): Promise<string | undefined> {
    const entry = this.#state.get(sk(key, name));
    return Promise.resolve(
      entry && (entry.expiresAt === null || entry.expiresAt > now) ? entry.json : undefined,
    );
  }

  setState(key: ActorKey, name: string, json: string, expiresAt: number | null): Promise<void> {
    this.#state.set(sk(key, name), { json, expiresAt });
    return Promise.resolve();
  }

  deleteState(key: ActorKey, name: string): Promise<void> {
    this.#state.delete(sk(key, name));
    return Promise.resolve();
  }

  purgeExpiredState(now: number): Promise<number> {
    let n = 0;
    for (const [key, entry] of this.#state) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) {
        this.#state.delete(key);
        n++;
      }
    }
    return Promise.resolve(n);
  }

  putAlarm(alarm: Omit<AlarmRecord, "attempts" | "version" | "firing">): Promise<void> {
    // Store-wide, never repeating: see SqliteStore.putAlarm.
    this.#alarms.set(sk(alarm, alarm.name), {
      ...alarm,
      attempts: 0,
      version: ++this.#alarmVersion,
      firing: 0,
    });
    return Promise.resolve();
  }

  getAlarm(key: ActorKey, name: string): Promise<AlarmRecord | undefined> {
    const alarm = this.#alarms.get(sk(key, name));
    if (!alarm) return Promise.resolve(undefined);
    const { lease: _lease, ...record } = alarm;
    return Promise.resolve({ ...record });
  }

  deleteAlarm(key: ActorKey, name: string): Promise<boolean> {
    return Promise.resolve(this.#alarms.delete(sk(key, name)));
  }

  leaseDueAlarms(
    now: number,
    owner: string,
    leaseUntil: number,
    limit: number,
    actorTypePrefix = "",
  ): Promise<AlarmRecord[]> {
    const due = [...this.#alarms.values()]
      .filter((a) =>
        a.dueAt <= now && (!a.lease || a.lease.until <= now) &&
        a.actorType.startsWith(actorTypePrefix)
      )
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, limit);
    for (const a of due) a.lease = { owner, until: leaseUntil };
    return Promise.resolve(due.map(({ lease: _lease, ...record }) => ({ ...record })));
  }

  completeAlarm(alarm: AlarmRecord, nextDueAt: number | null): Promise<void> {
    const id = sk(alarm, alarm.name);
    const current = this.#alarms.get(id);
    if (current?.version === alarm.version) {
      if (nextDueAt === null) this.#alarms.delete(id);
      else {
        Object.assign(current, {
          dueAt: nextDueAt,
          attempts: 0,
          firing: alarm.firing + 1,
          lease: undefined,
        });
      }
    }
    return Promise.resolve();
  }

  failAlarm(alarm: AlarmRecord, retryAt: number | null): Promise<void> {
    const id = sk(alarm, alarm.name);
    const current = this.#alarms.get(id);
    if (current?.version === alarm.version) {
      if (retryAt === null) this.#alarms.delete(id);
      else {
        Object.assign(current, {
          dueAt: retryAt,
          attempts: alarm.attempts + 1,
          lease: undefined,
        });
      }
    }
    return Promise.resolve();
  }

  clusterNamespace(caFingerprints: readonly string[]): Promise<string> {
    const known = caFingerprints.map((f) => this.#namespaces.get(f)).find((n) => n !== undefined);
    const namespace = known ?? newNamespace();
    for (const f of caFingerprints) {
      if (!this.#namespaces.has(f)) this.#namespaces.set(f, namespace);
    }
    return Promise.resolve(namespace);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
