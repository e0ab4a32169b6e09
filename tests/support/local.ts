// Local-topology hosts as real processes for end-to-end tests: `worker/main.ts
// --topology local` under Bun, on one SQLite file, with the runtime PSKs in
// FRANCIS_RUNTIME_PSKS. There is no runtime: every host derives the CAs, issues
// its own certificate and runs placement, alarms and the health sweep over the
// shared file. Helpers read what the hosts log and what they keep in the file.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import type { TlsIdentity } from "../../lib/transport/server.ts";
import { splitAddress } from "../../lib/transport/client.ts";
import { openDb } from "./cluster.ts";
import { printCA } from "./runtime_process.ts";
import { startWorker, type WorkerProcess } from "./worker_process.ts";

/** The cluster's runtime PSKs, primary first (a rotation in progress: both CAs are trusted). */
export const CLUSTER_PSKS = [
  "local-e2e-runtime-psk-primary-00000000000000001",
  "local-e2e-runtime-psk-previous-0000000000000001",
] as const;
/** Another cluster's PSK: a host started with it against the same file is an outsider. */
export const OUTSIDER_PSKS = ["local-e2e-runtime-psk-outsider-0000000000000001"] as const;
/** The health deadline the hosts of these tests run with (ms); alarms poll every 1.5 s. */
export const LOCAL_DEADLINE_MS = 2_000;
/** The alarm poll interval of a local host (not settable from the worker CLI). */
export const LOCAL_ALARM_POLL_MS = 1_500;

/** A running local host: a worker process, its host ID and the namespace it logged. */
export interface LocalHostProcess extends WorkerProcess {
  readonly hostId: string;
  /** The store namespace of its cluster, from its "local host started" log line. */
  readonly namespace: string;
  /** The primary CA fingerprint it logged. */
  readonly caFingerprint: string;
}

/** What to start. */
export interface LocalHostProcessOptions {
  /** The SQLite file the hosts share. */
  dbPath: string;
  /** The runtime PSKs (default CLUSTER_PSKS). */
  psks?: readonly string[];
  /** Extra flags (default: `--health-check-deadline 2s`). */
  flags?: string[];
}

/** Starts one local host on `dbPath` and resolves once its control server answers. */
export async function startLocalHost(options: LocalHostProcessOptions): Promise<LocalHostProcess> {
  const w = await startWorker({
    flags: [
      "--topology",
      "local",
      "--connection-string",
      options.dbPath,
      ...(options.flags ?? ["--health-check-deadline", `${LOCAL_DEADLINE_MS}ms`]),
    ],
    env: { FRANCIS_RUNTIME_PSKS: (options.psks ?? CLUSTER_PSKS).join(",") },
  });
  try {
    const { hostId } = await w.status();
    const started = await w.waitForLine(/local host started/, 5_000);
    const field = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(started)?.[1] ?? "";
    return Object.assign(Object.create(w) as WorkerProcess, {
      hostId,
      namespace: field("namespace"),
      caFingerprint: field("caFingerprint"),
    }) as LocalHostProcess;
  } catch (err) {
    await w.kill();
    throw err;
  }
}

/** Starts `count` local hosts of one cluster on `dbPath` in parallel (all or none). */
export async function startLocalHosts(
  count: number,
  options: LocalHostProcessOptions,
): Promise<LocalHostProcess[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, () => startLocalHost(options)),
  );
  const hosts = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(hosts.map((h) => h.kill()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return hosts;
}

/** The stored `count` of a counter in a local cluster's namespace (undefined when unset). */
export function storedLocalCount(
  dbPath: string,
  namespace: string,
  actorId: string,
): number | undefined {
  const db = openDb(dbPath);
  try {
    const row = db.prepare(
      "SELECT value FROM actor_state WHERE actor_type = ? AND actor_id = ? AND name = 'count'",
    ).get(`${namespace}/counter`, actorId) as { value?: string } | undefined;
    return row?.value === undefined ? undefined : JSON.parse(row.value);
  } finally {
    db.close();
  }
}

/** Every stored row about `actorId` (any namespace): [table, actor_type] pairs. */
export function rowsAbout(dbPath: string, actorId: string): string[] {
  const db = openDb(dbPath);
  try {
    return ["placements", "actor_state", "alarms"].flatMap((table) =>
      (db.prepare(`SELECT actor_type FROM ${table} WHERE actor_id = ?`).all(actorId) as {
        actor_type: string;
      }[]).map((r) => `${table} ${r.actor_type}`)
    );
  } finally {
    db.close();
  }
}

/** The alarms stored for `actorId`, as `actor_type name`. */
export function storedAlarms(dbPath: string, actorId: string): string[] {
  const db = openDb(dbPath);
  try {
    return (db.prepare("SELECT actor_type, name FROM alarms WHERE actor_id = ?").all(actorId) as {
      actor_type: string;
      name: string;
    }[]).map((r) => `${r.actor_type} ${r.name}`).sort();
  } finally {
    db.close();
  }
}

/**
 * `runtime/main.ts print-ca` (under Deno) for a configuration whose runtime PSKs
 * are `psks`, written to `dir`.
 */
export function printCAFor(dir: string, psks: readonly string[]): string {
  const configPath = join(dir, "print-ca.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      runtimePSKs: psks,
      bootstrap: { method: "psk", hostPSK: "local-e2e-host-psk-0001" },
    }),
    { mode: 0o600 },
  );
  return printCA(configPath);
}

/**
 * The DER of the certificate the peer server at `address` presents, read with
 * node:tls (`getPeerCertificate(true).raw`) without checking it: a client
 * certificate is presented (peer ports require one), the server's is not verified.
 */
export function presentedCertificate(address: string, identity: TlsIdentity): Promise<Uint8Array> {
  const { hostname, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: hostname,
      port,
      servername: "",
      cert: identity.certPem,
      key: identity.keyPem,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    }, () => {
      const raw = socket.getPeerCertificate(true)?.raw;
      socket.destroy();
      if (!raw || raw.length === 0) reject(new Error(`${address} presented no certificate`));
      else resolve(new Uint8Array(raw));
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no TLS handshake with ${address}`)));
    socket.on("error", reject);
  });
}
