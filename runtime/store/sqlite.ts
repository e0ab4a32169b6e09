/**
 * The SQLite provider, through `node:sqlite` (on both Deno and Bun). WAL mode,
 * so readers do not block the writer; every statement is prepared once.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type ActorKey,
  type AlarmRecord,
  type HostRegistration,
  newNamespace,
  type Store,
} from "./types.ts";

const SCHEMA = `
PRAGMA busy_timeout = 5000;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS hosts (
  host_id TEXT PRIMARY KEY,
  address TEXT,
  actor_types TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  cert_not_after INTEGER NOT NULL,
  cert_serial TEXT NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS used_jtis (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS placements (
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  host_id TEXT NOT NULL,
  PRIMARY KEY (actor_type, actor_id)
);
CREATE INDEX IF NOT EXISTS placements_by_host ON placements (host_id);
CREATE TABLE IF NOT EXISTS actor_state (
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (actor_type, actor_id, name)
);
CREATE TABLE IF NOT EXISTS alarms (
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  name TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  interval_ms INTEGER,
  expires_at INTEGER,
  data TEXT NOT NULL,
  max_attempts INTEGER NOT NULL,
  retry_delay_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL,
  firing INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until INTEGER,
  PRIMARY KEY (actor_type, actor_id, name)
);
CREATE INDEX IF NOT EXISTS alarms_due ON alarms (due_at);
CREATE TABLE IF NOT EXISTS cluster_cas (
  fingerprint TEXT PRIMARY KEY,
  namespace TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

// Switching a fresh file to WAL needs a moment alone with it, and SQLite does not
// wait (busy_timeout) for that: when several runtimes open the file at once, the
// losers retry for up to two seconds.
function whileLocked(step: () => void): void {
  for (let attempt = 0;; attempt++) {
    try {
      return step();
    } catch (err) {
      if (attempt >= 100 || !/locked|busy/i.test(String(err))) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5 + Math.random() * 30);
    }
  }
}

// Files written by earlier versions lack columns added since: add them in place,
// under the write lock, since several runtimes may open the same file at once.
const ADDED_COLUMNS = [
  ["hosts", "generation", "INTEGER NOT NULL DEFAULT 0"],
  ["alarms", "firing", "INTEGER NOT NULL DEFAULT 0"],
] as const;

function migrate(db: DatabaseSync): void {
  const missing = () =>
    ADDED_COLUMNS.filter(([table, column]) =>
      !(db.prepare(`PRAGMA table_info(${table})`).all() as unknown as { name: string }[])
        .some((c) => c.name === column)
    );
  if (missing().length === 0) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const [table, column, type] of missing()) {
      db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

interface HostRow {
  host_id: string;
  address: string | null;
  actor_types: string;
  registered_at: number;
  last_seen_at: number;
  cert_not_after: number;
  cert_serial: string;
  generation: number;
}

interface AlarmRow {
  actor_type: string;
  actor_id: string;
  name: string;
  due_at: number;
  interval_ms: number | null;
  expires_at: number | null;
  data: string;
  max_attempts: number;
  retry_delay_ms: number;
  attempts: number;
  version: number;
  firing: number;
}

function alarmFromRow(r: AlarmRow): AlarmRecord {
  return {
    actorType: r.actor_type,
    actorId: r.actor_id,
    name: r.name,
    dueAt: r.due_at,
    intervalMs: r.interval_ms,
    expiresAt: r.expires_at,
    data: r.data,
    maxAttempts: r.max_attempts,
    retryDelayMs: r.retry_delay_ms,
    attempts: r.attempts,
    version: r.version,
    firing: r.firing,
  };
}

function fromRow(row: HostRow): HostRegistration {
  return {
    hostId: row.host_id,
    address: row.address,
    actorTypes: JSON.parse(row.actor_types),
    registeredAt: new Date(row.registered_at),
    lastSeenAt: new Date(row.last_seen_at),
    certNotAfter: new Date(row.cert_not_after),
    certSerial: row.cert_serial,
    generation: row.generation,
  };
}

/** A store in one SQLite file. */
export class SqliteStore implements Store {
  #db: DatabaseSync;
  #sql: Record<string, StatementSync>;

  /** Opens (creating if needed) the database at `path`. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    const db = this.#db;
    whileLocked(() => db.exec(SCHEMA));
    whileLocked(() => migrate(db));
    const prepare = (sql: string) => this.#db.prepare(sql);
    this.#sql = {
      putHost: prepare(
        `INSERT OR REPLACE INTO hosts (host_id, address, actor_types, registered_at, last_seen_at,
         cert_not_after, cert_serial, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getHost: prepare("SELECT * FROM hosts WHERE host_id = ?"),
      touch: prepare("UPDATE hosts SET last_seen_at = ? WHERE host_id = ?"),
      touchTypes: prepare("UPDATE hosts SET last_seen_at = ?, actor_types = ? WHERE host_id = ?"),
      recordCert: prepare(
        "UPDATE hosts SET cert_not_after = ?, cert_serial = ?, last_seen_at = ? WHERE host_id = ?",
      ),
      deleteHost: prepare("DELETE FROM hosts WHERE host_id = ?"),
      listHosts: prepare("SELECT * FROM hosts ORDER BY registered_at"),
      purgeJtis: prepare("DELETE FROM used_jtis WHERE expires_at <= ?"),
      insertJti: prepare("INSERT OR IGNORE INTO used_jtis (jti, expires_at) VALUES (?, ?)"),
      getPlacement: prepare("SELECT host_id FROM placements WHERE actor_type = ? AND actor_id = ?"),
      insertPlacement: prepare(
        "INSERT OR IGNORE INTO placements (actor_type, actor_id, host_id) VALUES (?, ?, ?)",
      ),
      replacePlacement: prepare(
        "UPDATE placements SET host_id = ? WHERE actor_type = ? AND actor_id = ? AND host_id = ?",
      ),
      removePlacement: prepare(
        "DELETE FROM placements WHERE actor_type = ? AND actor_id = ? AND host_id = ?",
      ),
      placementCounts: prepare("SELECT host_id, count(*) AS n FROM placements GROUP BY host_id"),
      revokePlacements: prepare("DELETE FROM placements WHERE host_id = ?"),
      bumpGeneration: prepare("UPDATE hosts SET generation = generation + 1 WHERE host_id = ?"),
      getState: prepare(
        `SELECT value FROM actor_state WHERE actor_type = ? AND actor_id = ? AND name = ?
         AND (expires_at IS NULL OR expires_at > ?)`,
      ),
      setState: prepare(
        `INSERT OR REPLACE INTO actor_state (actor_type, actor_id, name, value, expires_at)
         VALUES (?, ?, ?, ?, ?)`,
      ),
      deleteState: prepare(
        "DELETE FROM actor_state WHERE actor_type = ? AND actor_id = ? AND name = ?",
      ),
      purgeState: prepare(
        "DELETE FROM actor_state WHERE expires_at IS NOT NULL AND expires_at <= ?",
      ),
      nextVersion: prepare(
        `INSERT INTO counters (name, value) VALUES ('alarm_version', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
      ),
      putAlarm: prepare(
        `INSERT OR REPLACE INTO alarms (actor_type, actor_id, name, due_at, interval_ms, expires_at,
         data, max_attempts, retry_delay_ms, attempts, version, lease_owner, lease_until)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, NULL)`,
      ),
      getAlarm: prepare("SELECT * FROM alarms WHERE actor_type = ? AND actor_id = ? AND name = ?"),
      deleteAlarm: prepare("DELETE FROM alarms WHERE actor_type = ? AND actor_id = ? AND name = ?"),
      dueAlarms: prepare(
        `SELECT * FROM alarms WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
         AND substr(actor_type, 1, ?) = ? ORDER BY due_at LIMIT ?`,
      ),
      namespaceOf: prepare("SELECT namespace FROM cluster_cas WHERE fingerprint = ?"),
      linkNamespace: prepare(
        "INSERT OR IGNORE INTO cluster_cas (fingerprint, namespace) VALUES (?, ?)",
      ),
      leaseAlarm: prepare(
        `UPDATE alarms SET lease_owner = ?, lease_until = ? WHERE actor_type = ? AND actor_id = ?
         AND name = ? AND version = ? AND (lease_until IS NULL OR lease_until <= ?)`,
      ),
      rescheduleAlarm: prepare(
        `UPDATE alarms SET due_at = ?, attempts = ?, firing = ?, lease_owner = NULL,
         lease_until = NULL WHERE actor_type = ? AND actor_id = ? AND name = ? AND version = ?`,
      ),
      deleteAlarmVersion: prepare(
        "DELETE FROM alarms WHERE actor_type = ? AND actor_id = ? AND name = ? AND version = ?",
      ),
    };
  }

  putHost(h: HostRegistration): Promise<void> {
    this.#sql.putHost.run(
      h.hostId,
      h.address,
      JSON.stringify(h.actorTypes),
      h.registeredAt.getTime(),
      h.lastSeenAt.getTime(),
      h.certNotAfter.getTime(),
      h.certSerial,
      h.generation,
    );
    return Promise.resolve();
  }

  getHost(hostId: string): Promise<HostRegistration | undefined> {
    const row = this.#sql.getHost.get(hostId) as HostRow | undefined;
    return Promise.resolve(row && fromRow(row));
  }

  touchHost(hostId: string, at: Date, actorTypes?: string[]): Promise<boolean> {
    const r = actorTypes
      ? this.#sql.touchTypes.run(at.getTime(), JSON.stringify(actorTypes), hostId)
      : this.#sql.touch.run(at.getTime(), hostId);
    return Promise.resolve(Number(r.changes) > 0);
  }

  recordCertificate(hostId: string, notAfter: Date, serial: string, at: Date): Promise<boolean> {
    const r = this.#sql.recordCert.run(notAfter.getTime(), serial, at.getTime(), hostId);
    return Promise.resolve(Number(r.changes) > 0);
  }

  deleteHost(hostId: string): Promise<boolean> {
    return Promise.resolve(this.#transaction(() => {
      this.#sql.revokePlacements.run(hostId);
      return Number(this.#sql.deleteHost.run(hostId).changes) > 0;
    }));
  }

  listHosts(): Promise<HostRegistration[]> {
    return Promise.resolve((this.#sql.listHosts.all() as unknown as HostRow[]).map(fromRow));
  }

  // INSERT OR IGNORE makes check-and-record one atomic step, also across processes sharing the file.
  consumeJti(jti: string, expiresAt: Date, now: Date = new Date()): Promise<boolean> {
    this.#sql.purgeJtis.run(now.getTime());
    const r = this.#sql.insertJti.run(jti, expiresAt.getTime());
    return Promise.resolve(Number(r.changes) > 0);
  }

  // BEGIN IMMEDIATE takes the write lock up front, so read-then-write steps are
  // atomic also across runtimes sharing the file.
  #transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  getPlacement(key: ActorKey): Promise<string | undefined> {
    const row = this.#sql.getPlacement.get(key.actorType, key.actorId) as
      | { host_id: string }
      | undefined;
    return Promise.resolve(row?.host_id);
  }

  placeActor(key: ActorKey, hostId: string, replacing?: string): Promise<string> {
    return Promise.resolve(this.#transaction(() => {
      if (replacing !== undefined) {
        this.#sql.replacePlacement.run(hostId, key.actorType, key.actorId, replacing);
      }
      this.#sql.insertPlacement.run(key.actorType, key.actorId, hostId);
      const row = this.#sql.getPlacement.get(key.actorType, key.actorId) as { host_id: string };
      return row.host_id;
    }));
  }

  removePlacement(key: ActorKey, hostId: string): Promise<void> {
    this.#sql.removePlacement.run(key.actorType, key.actorId, hostId);
    return Promise.resolve();
  }

  placementCounts(): Promise<Map<string, number>> {
    const rows = this.#sql.placementCounts.all() as unknown as { host_id: string; n: number }[];
    return Promise.resolve(new Map(rows.map((r) => [r.host_id, Number(r.n)])));
  }

  revokeHost(hostId: string): Promise<number> {
    return Promise.resolve(this.#transaction(() => {
      const n = Number(this.#sql.revokePlacements.run(hostId).changes);
      this.#sql.bumpGeneration.run(hostId);
      return n;
    }));
  }

  getState(key: ActorKey, name: string, now: number): Promise<string | undefined> {
    const row = this.#sql.getState.get(key.actorType, key.actorId, name, now) as
      | { value: string }
      | undefined;
    return Promise.resolve(row?.value);
  }

  setState(key: ActorKey, name: string, json: string, expiresAt: number | null): Promise<void> {
    this.#sql.setState.run(key.actorType, key.actorId, name, json, expiresAt);
    return Promise.resolve();
  }

  deleteState(key: ActorKey, name: string): Promise<void> {
    this.#sql.deleteState.run(key.actorType, key.actorId, name);
    return Promise.resolve();
  }

  purgeExpiredState(now: number): Promise<number> {
    return Promise.resolve(Number(this.#sql.purgeState.run(now).changes));
  }

  putAlarm(a: Omit<AlarmRecord, "attempts" | "version" | "firing">): Promise<void> {
    this.#transaction(() => {
      // Versions come from one store-wide counter, so they never repeat, even for an
      // alarm deleted and set again while a delivery of the old one is in flight.
      const { value } = this.#sql.nextVersion.get() as { value: number };
      this.#sql.putAlarm.run(
        a.actorType,
        a.actorId,
        a.name,
        a.dueAt,
        a.intervalMs,
        a.expiresAt,
        a.data,
        a.maxAttempts,
        a.retryDelayMs,
        value,
      );
    });
    return Promise.resolve();
  }

  getAlarm(key: ActorKey, name: string): Promise<AlarmRecord | undefined> {
    const row = this.#sql.getAlarm.get(key.actorType, key.actorId, name) as AlarmRow | undefined;
    return Promise.resolve(row && alarmFromRow(row));
  }

  deleteAlarm(key: ActorKey, name: string): Promise<boolean> {
    const r = this.#sql.deleteAlarm.run(key.actorType, key.actorId, name);
    return Promise.resolve(Number(r.changes) > 0);
  }

  leaseDueAlarms(
    now: number,
    owner: string,
    leaseUntil: number,
    limit: number,
    actorTypePrefix = "",
  ): Promise<AlarmRecord[]> {
    return Promise.resolve(this.#transaction(() => {
      const rows = this.#sql.dueAlarms.all(
        now,
        now,
        actorTypePrefix.length,
        actorTypePrefix,
        limit,
      ) as unknown as AlarmRow[];
      return rows.filter((r) =>
        Number(
          this.#sql.leaseAlarm.run(
            owner,
            leaseUntil,
            r.actor_type,
            r.actor_id,
            r.name,
            r.version,
            now,
          ).changes,
        ) > 0
      ).map(alarmFromRow);
    }));
  }

  completeAlarm(a: AlarmRecord, nextDueAt: number | null): Promise<void> {
    if (nextDueAt === null) {
      this.#sql.deleteAlarmVersion.run(a.actorType, a.actorId, a.name, a.version);
    } else {
      this.#sql.rescheduleAlarm.run(
        nextDueAt,
        0,
        a.firing + 1,
        a.actorType,
        a.actorId,
        a.name,
        a.version,
      );
    }
    return Promise.resolve();
  }

  failAlarm(a: AlarmRecord, retryAt: number | null): Promise<void> {
    if (retryAt === null) {
      this.#sql.deleteAlarmVersion.run(a.actorType, a.actorId, a.name, a.version);
    } else {
      this.#sql.rescheduleAlarm.run(
        retryAt,
        a.attempts + 1,
        a.firing,
        a.actorType,
        a.actorId,
        a.name,
        a.version,
      );
    }
    return Promise.resolve();
  }

  clusterNamespace(caFingerprints: readonly string[]): Promise<string> {
    return Promise.resolve(this.#transaction(() => {
      const known = caFingerprints
        .map((f) => (this.#sql.namespaceOf.get(f) as { namespace: string } | undefined)?.namespace)
        .find((n) => n !== undefined);
      const namespace = known ?? newNamespace();
      for (const f of caFingerprints) this.#sql.linkNamespace.run(f, namespace);
      return namespace;
    }));
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}
