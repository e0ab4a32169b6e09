/**
 * The SQLite provider, through `node:sqlite` (on both Deno and Bun). WAL mode,
 * so readers do not block the writer; every statement is prepared once.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { HostRegistration, Store } from "./types.ts";

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
CREATE TABLE IF NOT EXISTS hosts (
  host_id TEXT PRIMARY KEY,
  address TEXT,
  actor_types TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  cert_not_after INTEGER NOT NULL,
  cert_serial TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS used_jtis (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
`;

interface HostRow {
  host_id: string;
  address: string | null;
  actor_types: string;
  registered_at: number;
  last_seen_at: number;
  cert_not_after: number;
  cert_serial: string;
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
  };
}

/** A store in one SQLite file. */
export class SqliteStore implements Store {
  #db: DatabaseSync;
  #sql: Record<string, StatementSync>;

  /** Opens (creating if needed) the database at `path`. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(SCHEMA);
    const prepare = (sql: string) => this.#db.prepare(sql);
    this.#sql = {
      putHost: prepare(
        `INSERT OR REPLACE INTO hosts (host_id, address, actor_types, registered_at, last_seen_at,
         cert_not_after, cert_serial) VALUES (?, ?, ?, ?, ?, ?, ?)`,
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
    return Promise.resolve(Number(this.#sql.deleteHost.run(hostId).changes) > 0);
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

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}
