// With the SQLite provider, registrations outlive the runtime process: a
// worker re-attaches with the certificate it has, without a new bootstrap.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { toBase64 } from "../../lib/bytes.ts";
import { createCSR } from "../../lib/pki/csr.ts";
import { generateEd25519KeyPair } from "../../lib/pki/ed25519.ts";
import { TrustStore, verifyPeerChain } from "../../lib/pki/verify.ts";
import { HostRecord, type Output, parseWire, Routes } from "../../lib/protocol/mod.ts";
import type { TlsIdentity } from "../../lib/transport/server.ts";
import {
  freePort,
  getSelf,
  printCA,
  pskBootstrap,
  requestOnce,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";
import { tempDir } from "../support/tmp.ts";

const RUNTIME_PSK = "restart-e2e-runtime-psk-0000000000001";
const HOST_PSK = "restart-e2e-host-psk-000001";
const RUNTIME = { kind: "runtime" as const, id: "main" };

describe("registrations survive runtime restarts (SQLite)", () => {
  const dir = tempDir("francis-restart-");
  const database = join(dir, "francis.sqlite");
  const config = {
    runtimePSKs: [RUNTIME_PSK],
    bootstrap: { hostPSK: HOST_PSK },
    provider: { connectionString: database },
    shutdownGracePeriod: "2s",
  };
  let port: number;
  let rt: RuntimeProcess | undefined;
  let trust: TrustStore;
  let identity: TlsIdentity;
  let registration: Output<typeof HostRecord>;
  const serverCerts: Uint8Array[] = [];

  const start = async () => {
    rt = await startRuntimeProcess({ config, port, dir });
    return rt;
  };

  /** GET /v1/hosts/self with a fresh client (a worker reconnecting after the restart). */
  const self = (address: string) => getSelf(address, identity, trust, RUNTIME);

  afterAll(async () => {
    await rt?.kill();
  });

  test("a worker joins and its registration is written to the database", async () => {
    port = await freePort();
    const first = await start();
    trust = await TrustStore.fromPem(printCA(first.configPath));
    const joined = await pskBootstrap(first.address, {
      hostPSK: HOST_PSK,
      trust,
      expect: RUNTIME,
      register: { address: "10.9.8.7:9443", actorTypes: ["ledger"] },
    });
    serverCerts.push(joined.challenge.serverCertDer);
    identity = joined.identity;
    const r = await self(first.address);
    expect(r.status).toBe(200);
    registration = parseWire(HostRecord, r.body, "record");
    expect(registration.hostId).toBe(joined.grant.hostId);
    expect(existsSync(database)).toBe(true);
  });

  test("SIGTERM stops the runtime with exit status 0", async () => {
    expect(await rt!.stop()).toEqual({ code: 0, signal: null });
    expect(rt!.lines.at(-1)).toMatch(/runtime stopped/);
  });

  test("after a restart on the same file, the old certificate re-attaches", async () => {
    const second = await start();
    const r = await self(second.address);
    expect(r.status).toBe(200);
    expect(parseWire(HostRecord, r.body, "record")).toEqual(registration);
    expect(second.lines.filter((l) => l.includes("host registered"))).toEqual([]);
  });

  test("after a crash (SIGKILL), it is still there, and renewal works", async () => {
    expect(await rt!.kill()).toEqual({ code: null, signal: "SIGKILL" });
    const third = await start();
    const r = await self(third.address);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ hostId: registration.hostId, actorTypes: ["ledger"] });

    const keys = await generateEd25519KeyPair(true);
    const renewed = await requestOnce(third.address, { identity, trust }, {
      method: "POST",
      path: Routes.renew,
      body: { csr: toBase64(await createCSR(keys)) },
      expect: RUNTIME,
    });
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ hostId: registration.hostId });
    serverCerts.push(renewed.serverCertDer);
    // Each process minted its own server certificate, all under the one derived CA.
    for (const der of serverCerts) await verifyPeerChain([der], trust, RUNTIME);
    expect(serverCerts[0]).not.toEqual(serverCerts[1]);
    expect(await third.stop()).toEqual({ code: 0, signal: null });
  });
});
