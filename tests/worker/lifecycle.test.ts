// A joined worker over time, as real processes (runtime under Deno, worker
// under Bun): its peer port admits cluster members only, its certificate is
// renewed in place, and it re-attaches to a restarted runtime without a new
// bootstrap.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { type ClusterCA, deriveCA } from "../../lib/pki/ca.ts";
import { TrustStore } from "../../lib/pki/verify.ts";
import { parseCertificate } from "../../lib/pki/x509.ts";
import type { ClientOptions } from "../../lib/transport/client.ts";
import { setup, SLOW, teardown } from "../support/hooks.ts";
import { mintIdentity } from "../support/pki.ts";
import {
  printCA,
  requestOnce,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";
import { tempDir } from "../support/tmp.ts";
import { startWorker, type WorkerProcess } from "../support/worker_process.ts";

const RUNTIME_PSK = "worker-e2e-lifecycle-runtime-psk-00000001";
const HOST_PSK = "worker-e2e-lifecycle-host-psk";
const PING = "/v1/peer/ping";
const dir = tempDir("francis-worker-lifecycle-");
const pskEnv = { FRANCIS_HOST_BOOTSTRAP_PSK: HOST_PSK };

function config(connectionString: string) {
  return {
    runtimePSKs: [RUNTIME_PSK],
    bootstrap: { method: "psk", hostPSK: HOST_PSK },
    provider: { connectionString },
    workloadCertTTL: "10s",
    healthCheckDeadline: "2s",
    shutdownGracePeriod: "1s",
  };
}

function pinnedCAFile(rt: RuntimeProcess): string {
  const path = join(dir, `ca-${rt.port}.pem`);
  writeFileSync(path, printCA(rt.configPath));
  return path;
}

async function stopped(w: WorkerProcess): Promise<void> {
  expect(await w.stop()).toEqual({ code: 0, signal: null });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => new Error("expected a rejection"), (err) => err);
}

describe("a joined worker", () => {
  let rt: RuntimeProcess;
  let w: WorkerProcess;
  let hostId: string;
  let clusterCA: ClusterCA;
  let trust: TrustStore;

  setup(async () => {
    rt = await startRuntimeProcess({ config: config("memory"), dir });
    w = await startWorker({
      flags: ["--runtime-address", rt.address, "--pinned-ca", pinnedCAFile(rt)],
      env: pskEnv,
    });
    hostId = (await w.status()).hostId;
    // Derived from the same runtime PSK: the same CA the runtime signs with.
    clusterCA = await deriveCA(RUNTIME_PSK);
    trust = await TrustStore.fromCAs([clusterCA]);
  }, SLOW);

  teardown(async () => {
    await w?.kill();
    await rt?.kill();
  }, SLOW);

  /** GET /v1/peer/ping on a fresh client, expecting the worker to be `expectHost`. */
  function ping(client: ClientOptions, expectHost = hostId) {
    return requestOnce(w.peerAddress, client, {
      method: "GET",
      path: PING,
      expect: { kind: "host", id: expectHost },
    });
  }

  describe("peer server", () => {
    test(
      "answers a cluster member with its host ID and the caller's verified identity",
      async () => {
        for (const caller of ["spiffe://francis/host/peer-test", "spiffe://francis/runtime/main"]) {
          const identity = await mintIdentity(clusterCA, caller);
          const r = await ping({ identity, trust, timeoutMs: 5_000 });
          expect(r.status).toBe(200);
          expect(r.body).toEqual({ hostId, caller });
        }
      },
      SLOW,
    );

    test("refuses a client without a certificate at the TLS layer", async () => {
      const err = await rejection(ping({ trust, timeoutMs: 5_000 }));
      expect(err).toMatchObject({ code: "ERR_UNREACHABLE" });
    }, SLOW);

    test("refuses a client whose certificate is from a foreign CA at the TLS layer", async () => {
      const foreign = await deriveCA("worker-e2e-lifecycle-FOREIGN-psk-0000001");
      const identity = await mintIdentity(foreign, "spiffe://francis/host/intruder");
      const err = await rejection(ping({ identity, trust, timeoutMs: 5_000 }));
      expect(err).toMatchObject({ code: "ERR_UNREACHABLE" });
    }, SLOW);

    test("is not mistaken for another host by a client expecting one", async () => {
      const identity = await mintIdentity(clusterCA, "spiffe://francis/host/peer-test");
      const err = await rejection(ping({ identity, trust, timeoutMs: 5_000 }, "h-someone-else"));
      expect(err).toMatchObject({ code: "ERR_CERT_WRONG_IDENTITY" });
    }, SLOW);
  });

  test("renews its certificate before it expires, keeping its host ID", async () => {
    const first = await w.status();
    const renewed = await w.waitForStatus((s) => s.certNotAfter > first.certNotAfter, 12_000);
    expect(renewed.hostId).toBe(hostId);
    expect(renewed.spiffeId).toBe(first.spiffeId);
    // Renewed, not bootstrapped again: one registration, at least one renewal, same process.
    await rt.waitForLine(new RegExp(`certificate renewed .*hostId=${hostId}\\b`));
    expect(rt.lines.filter((l) => /host registered/.test(l))).toHaveLength(1);
    expect(w.lines.some((l) => /bootstrapping again/.test(l))).toBe(false);
    expect(w.exited).toBe(false);
    // The peer server now presents the renewed certificate to new connections.
    const identity = await mintIdentity(clusterCA, "spiffe://francis/host/peer-test");
    const r = await ping({ identity, trust, timeoutMs: 5_000 });
    expect(r.status).toBe(200);
    const presented = parseCertificate(r.serverCertDer).notAfter.getTime();
    expect(presented).toBeGreaterThanOrEqual(Date.parse(renewed.certNotAfter));
    expect(presented).toBe(Date.parse((await w.status()).certNotAfter));
  }, SLOW);

  test("stops with exit 0 on SIGTERM", async () => {
    await stopped(w);
  }, SLOW);
});

describe("a worker whose runtime restarts", () => {
  const dbPath = join(dir, "francis.sqlite");
  let rt: RuntimeProcess;
  let w: WorkerProcess;

  teardown(async () => {
    await w?.kill();
    await rt?.kill();
  }, SLOW);

  /** When the runtime last heard a health report from `hostId`, read from its SQLite file. */
  function lastSeen(hostId: string): number {
    const db = new DatabaseSync(dbPath, { readOnly: true });
    try {
      const row = db.prepare("SELECT last_seen_at FROM hosts WHERE host_id = ?").get(hostId);
      return Number((row as { last_seen_at?: number } | undefined)?.last_seen_at ?? NaN);
    } finally {
      db.close();
    }
  }

  test("re-attaches with its certificate: no new bootstrap, health reports resume", async () => {
    rt = await startRuntimeProcess({ config: config(dbPath), dir });
    w = await startWorker({
      flags: ["--runtime-address", rt.address, "--pinned-ca", pinnedCAFile(rt)],
      env: pskEnv,
    });
    const { hostId } = await w.status();
    await rt.waitForLine(new RegExp(`host registered .*hostId=${hostId}\\b`));

    expect(await rt.stop()).toEqual({ code: 0, signal: null });
    await w.waitForLine(/health check failed/, 5_000);
    const restartedAt = Date.now();
    rt = await startRuntimeProcess({ config: config(dbPath), port: rt.port, dir });

    // Health reports reach the new runtime process (it records them in the shared file).
    const until = Date.now() + 8_000;
    while (!(lastSeen(hostId) > restartedAt) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(lastSeen(hostId)).toBeGreaterThan(restartedAt);
    // And so does the next renewal, over mTLS with the certificate it already had.
    await rt.waitForLine(new RegExp(`certificate renewed .*hostId=${hostId}\\b`), 10_000);

    expect((await w.status()).hostId).toBe(hostId);
    expect(rt.lines.some((l) => /host registered|bootstrap refused/.test(l))).toBe(false);
    expect(w.lines.some((l) => /bootstrapping again/.test(l))).toBe(false);
    expect(w.lines.filter((l) => / bootstrapped /.test(l))).toHaveLength(1);
    await stopped(w);
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
  }, SLOW);
});
