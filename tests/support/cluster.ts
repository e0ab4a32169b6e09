// A whole remote cluster as real processes for the actor-plane tests: one
// runtime under Deno on a SQLite file, N workers under Bun pinned to the
// printed CA, each registering the sample `counter` actor type. Helpers call
// the workers' control servers, poll for conditions, read the SQLite file the
// runtime writes, and restart the runtime on the same file and port.
import { afterAll, beforeAll } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { printCA, type RuntimeProcess, startRuntimeProcess } from "./runtime_process.ts";
import { tempDir } from "./tmp.ts";
import { startWorker, type WorkerProcess } from "./worker_process.ts";

// bun:test hooks take a timeout (starting processes outlasts the 5 s default);
// the Deno shim's hooks take none and ignore it.
type Hook = (fn: () => Promise<void>, timeoutMs?: number) => void;
/** beforeAll with a timeout. */
export const before = beforeAll as Hook;
/** afterAll with a timeout. */
export const after = afterAll as Hook;
/** The timeout of tests and hooks that start, stop or wait for processes. */
export const SLOW = 30_000;

export const RUNTIME_PSK = "actors-e2e-runtime-psk-0000000000000000001";
export const HOST_PSK = "actors-e2e-host-psk-000001";
/** The runtime's SPIFFE ID (the default runtime ID). */
export const RUNTIME_SPIFFE_ID = "spiffe://francis/runtime/main";

/** The runtime settings of these tests, fast enough for a test's patience. */
export const TIMING = {
  healthCheckDeadlineMs: 2_000,
  alarmsPollIntervalMs: 200,
  alarmsLeaseDurationMs: 3_000,
} as const;

/** What to start. */
export interface ClusterOptions {
  /** How many workers (default 2). */
  workers?: number;
  /** Extra worker flags (e.g. `--idle-timeout 1s`, `--log-level debug`). */
  workerFlags?: string[];
}

/** A running cluster. */
export interface Cluster {
  readonly dir: string;
  /** The runtime's SQLite file. */
  readonly dbPath: string;
  /** The current runtime process (replaced by restartRuntime). */
  readonly runtime: RuntimeProcess;
  readonly workers: readonly WorkerProcess[];
  /** The host ID of each worker, in the same order. */
  readonly hostIds: readonly string[];
  /** SIGTERMs the runtime (expecting exit 0), waits `gapMs`, starts a new one on the same file and port. */
  restartRuntime(gapMs?: number): Promise<void>;
  /** Stops the runtime (SIGTERM, expecting exit 0) without starting another. */
  stopRuntime(): Promise<void>;
  /** Starts the runtime again on the same file and port (after stopRuntime). */
  startRuntime(): Promise<void>;
  /** Resolves once every live worker's health report reached the runtime after `since` (ms). */
  waitForHealthReports(since: number, timeoutMs?: number): Promise<void>;
  /** SIGKILLs every process that is still running. */
  close(): Promise<void>;
}

function runtimeConfig(dbPath: string): Record<string, unknown> {
  return {
    runtimePSKs: [RUNTIME_PSK],
    bootstrap: { method: "psk", hostPSK: HOST_PSK },
    provider: { connectionString: dbPath },
    healthCheckDeadline: `${TIMING.healthCheckDeadlineMs}ms`,
    alarmsPollInterval: `${TIMING.alarmsPollIntervalMs}ms`,
    alarmsLeaseDuration: `${TIMING.alarmsLeaseDurationMs}ms`,
    shutdownGracePeriod: "1s",
  };
}

/** Starts a runtime and `options.workers` workers (in parallel) on a fresh SQLite file. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = tempDir("francis-actors-");
  const dbPath = join(dir, "francis.sqlite");
  let runtime = await startRuntimeProcess({ config: runtimeConfig(dbPath), dir });
  const port = runtime.port;
  const caPath = join(dir, "ca.pem");
  writeFileSync(caPath, printCA(runtime.configPath));
  const started = await Promise.allSettled(
    Array.from({ length: options.workers ?? 2 }, () =>
      startWorker({
        flags: [
          "--runtime-address",
          runtime.address,
          "--pinned-ca",
          caPath,
          ...(options.workerFlags ?? []),
        ],
        env: { FRANCIS_HOST_BOOTSTRAP_PSK: HOST_PSK },
      })),
  );
  const workers = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(workers.map((w) => w.kill()));
    await runtime.kill();
    throw (failed as PromiseRejectedResult).reason;
  }
  const hostIds = await Promise.all(workers.map(async (w) => (await w.status()).hostId));

  const lastSeen = (hostId: string): number => {
    const db = openDb(dbPath);
    try {
      const row = db.prepare("SELECT last_seen_at FROM hosts WHERE host_id = ?").get(hostId);
      return Number((row as { last_seen_at?: number } | undefined)?.last_seen_at ?? NaN);
    } finally {
      db.close();
    }
  };

  const cluster: Cluster = {
    dir,
    dbPath,
    get runtime() {
      return runtime;
    },
    workers,
    hostIds,
    async stopRuntime() {
      const exit = await runtime.stop(10_000);
      if (exit.code !== 0) throw new Error(`runtime exited ${JSON.stringify(exit)} on SIGTERM`);
    },
    async startRuntime() {
      runtime = await startRuntimeProcess({ config: runtimeConfig(dbPath), port, dir });
    },
    async restartRuntime(gapMs = 0) {
      await cluster.stopRuntime();
      if (gapMs > 0) await sleep(gapMs);
      await cluster.startRuntime();
    },
    async waitForHealthReports(since, timeoutMs = 10_000) {
      const live = hostIds.filter((_, i) => !workers[i].exited);
      await waitFor(
        "every live worker's health report to reach the runtime",
        () => live.every((h) => lastSeen(h) > since),
        timeoutMs,
      );
    },
    async close() {
      await Promise.all(workers.map((w) => w.kill()));
      await runtime.kill();
    },
  };
  return cluster;
}

/** A connection to the runtime's SQLite file (WAL; waits for the runtime's write lock). */
export function openDb(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 5000");
  return db;
}

/** The stored `count` state of a counter, read from the SQLite file (undefined when unset). */
export function storedCount(dbPath: string, actorId: string): number | undefined {
  const db = openDb(dbPath);
  try {
    const row = db.prepare(
      "SELECT value FROM actor_state WHERE actor_type = 'counter' AND actor_id = ? AND name = 'count'",
    ).get(actorId) as { value?: string } | undefined;
    return row?.value === undefined ? undefined : JSON.parse(row.value);
  } finally {
    db.close();
  }
}

/** An answer of a control server. */
export interface Answer<T = unknown> {
  status: number;
  body: T;
}

/** An error body's code and message. */
export interface ErrorAnswer {
  error: { code: string; message: string };
}

/** `POST /invoke/:type/:id/:method` on `worker`'s control server. */
export async function invoke<T = Record<string, unknown>>(
  worker: WorkerProcess,
  actorType: string,
  actorId: string,
  method: string,
  data?: unknown,
): Promise<Answer<T>> {
  const res = await fetch(
    `http://${worker.controlAddress}/invoke/${actorType}/${actorId}/${method}`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: data === undefined ? "" : JSON.stringify(data),
      signal: AbortSignal.timeout(20_000),
    },
  );
  const text = await res.text();
  return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
}

/** `invoke` that throws unless the answer is 200; resolves with the actor's result. */
export async function call<T = Record<string, unknown>>(
  worker: WorkerProcess,
  actorId: string,
  method: string,
  data?: unknown,
): Promise<T> {
  const r = await invoke<T>(worker, "counter", actorId, method, data);
  if (r.status !== 200) {
    throw new Error(`counter/${actorId}.${method} answered ${r.status}: ${JSON.stringify(r.body)}`);
  }
  return r.body;
}

/** A counter's `get`: its count and the host it runs on. */
export function get(worker: WorkerProcess, actorId: string): Promise<CounterView> {
  return call<CounterView>(worker, actorId, "get");
}

/** What `get` answers. */
export interface CounterView {
  count: number;
  hostId: string;
}

/** `POST /halt/:type/:id` on `worker`'s control server. */
export async function halt(
  worker: WorkerProcess,
  actorType: string,
  actorId: string,
): Promise<Answer> {
  const res = await fetch(`http://${worker.controlAddress}/halt/${actorType}/${actorId}`, {
    method: "POST",
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

/**
 * A fresh counter ID (`<prefix>-<n>`) that placement put on `hostId`, found by
 * calling `get` through `via` on new IDs until one lands there. Placement puts
 * a new actor on the least loaded host, so with two workers about every other
 * ID lands on each; the IDs that landed elsewhere stay placed (and idle) there.
 */
export async function actorOn(
  via: WorkerProcess,
  hostId: string,
  prefix: string,
): Promise<string> {
  for (let n = 0; n < 50; n++) {
    const id = `${prefix}-${n}`;
    if ((await get(via, id)).hostId === hostId) return id;
  }
  throw new Error(`no ${prefix}-<n> was placed on ${hostId} in 50 tries`);
}

/** The log lines of `worker` saying it activated (or deactivated) `actorId` (needs debug logs). */
export function lifecycleLines(
  worker: WorkerProcess,
  what: "activated" | "deactivated",
  actorId: string,
): string[] {
  const pattern = new RegExp(`Actor ${what} actorType=counter actorId=${actorId}(\\s|$)`);
  return worker.lines.filter((l) => pattern.test(l));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `predicate` every `intervalMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
