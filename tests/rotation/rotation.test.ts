// The whole PSK rotation procedure of DESIGN.md section 5, with real processes
// (runtime under Deno, worker under Bun) and short certificate lifetimes:
//   1. runtimePSKs [old]: a worker bootstraps, pinned to the old CA.
//   2. runtimePSKs [new, old]: the runtime signs with the new CA and trusts both;
//      the worker keeps working on its old-CA certificate, picks up the new
//      trust bundle, and moves to the new CA at its next renewal.
//   3. runtimePSKs [new]: old-CA certificates are refused; the worker, already
//      renewed, carries on with the same host ID.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { deriveCA } from "../../lib/pki/ca.ts";
import { TrustStore } from "../../lib/pki/verify.ts";
import { isFrancisError } from "../../lib/errors.ts";
import { mintIdentity } from "../support/pki.ts";
import {
  codeOf,
  freePort,
  getSelf,
  printCA,
  requestOnce,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";
import { startWorker, type WorkerProcess } from "../support/worker_process.ts";
import { tempDir } from "../support/tmp.ts";

const OLD = "rotation-test-OLD-runtime-psk-0000000001";
const NEW = "rotation-test-NEW-runtime-psk-0000000002";
const HOST_PSK = "rotation-test-host-psk-01";
const oldCA = await deriveCA(OLD);
const newCA = await deriveCA(NEW);
const dir = tempDir("francis-rotation-");
const port = await freePort();

function config(psks: string[]) {
  return {
    runtimeId: "rot",
    runtimePSKs: psks,
    bootstrap: { method: "psk", hostPSK: HOST_PSK },
    provider: { connectionString: join(dir, "francis.sqlite") },
    workloadCertTTL: "12s",
    healthCheckDeadline: "1500ms",
  };
}

let runtime: RuntimeProcess | undefined;
let worker: WorkerProcess | undefined;
afterAll(async () => {
  await worker?.kill();
  await runtime?.kill();
});

async function restartRuntime(psks: string[]): Promise<RuntimeProcess> {
  await runtime?.stop();
  runtime = await startRuntimeProcess({ config: config(psks), port, dir });
  return runtime;
}

/** Calls the worker's peer port as a host of `ca`, trusting only `trustCAs`. */
async function pingWorker(ca: typeof oldCA, trustCAs: (typeof oldCA)[]): Promise<string> {
  const status = await worker!.status();
  const probe = {
    identity: await mintIdentity(ca, "spiffe://francis/host/probe"),
    trust: await TrustStore.fromCAs(trustCAs),
  };
  try {
    const r = await requestOnce(worker!.peerAddress, probe, {
      method: "GET",
      path: "/v1/peer/ping",
      expect: { kind: "host", id: status.hostId },
    });
    return `${r.status}`;
  } catch (err) {
    if (isFrancisError(err)) return err.code;
    throw err;
  }
}

/** GET /v1/hosts/self at the runtime with an old-CA host certificate. */
async function selfWith(ca: typeof oldCA): Promise<string> {
  const r = await getSelf(
    runtime!.address,
    await mintIdentity(ca, "spiffe://francis/host/outsider"),
    await TrustStore.fromCAs([newCA, oldCA]),
    { kind: "runtime" },
  );
  return `${r.status} ${codeOf(r.body) ?? ""}`.trim();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("PSK rotation, end to end", () => {
  let hostId = "";

  test(
    "1. with [old] a worker pinned to the old CA bootstraps on an old-CA certificate",
    async () => {
      await restartRuntime([OLD]);
      const pin = join(dir, "old-ca.pem");
      writeFileSync(pin, printCA(runtime!.configPath));
      worker = await startWorker({
        flags: ["--runtime-address", runtime!.address, "--pinned-ca", pin],
        env: { FRANCIS_HOST_BOOTSTRAP_PSK: HOST_PSK },
      });
      hostId = (await worker.status()).hostId;
      expect(await pingWorker(oldCA, [oldCA])).toBe("200");
      expect(await pingWorker(oldCA, [newCA])).toBe("ERR_CERT_UNTRUSTED_CA");
    },
    60_000,
  );

  test("2. with [new, old] the worker keeps working, then renews onto the new CA", async () => {
    await restartRuntime([NEW, OLD]);
    expect(printCA(runtime!.configPath)).toBe(newCA.certPem + oldCA.certPem);
    // old-CA certificates are still trusted by the runtime...
    expect(await selfWith(oldCA)).toBe("404 ERR_HOST_NOT_REGISTERED");
    // ...the worker learns the new bundle from its health reports and trusts new-CA peers...
    await until(
      "the worker to trust the new CA",
      async () => (await pingWorker(newCA, [oldCA])) === "200",
      15_000,
    );
    // ...and its next renewal comes from the new CA, for the same host.
    await until(
      "the worker to present a new-CA certificate",
      async () => (await pingWorker(newCA, [newCA])) === "200",
      20_000,
    );
    expect((await worker!.status()).hostId).toBe(hostId);
  }, 60_000);

  test("3. with [new] old-CA certificates are refused and the worker carries on", async () => {
    await restartRuntime([NEW]);
    expect(await selfWith(oldCA)).toBe("401 ERR_CERT_UNTRUSTED_CA");
    expect(await selfWith(newCA)).toBe("404 ERR_HOST_NOT_REGISTERED");
    // the worker's peer server stops trusting the old CA once the bundle reaches it
    await until(
      "the worker to drop the old CA",
      async () => (await pingWorker(oldCA, [newCA])) === "ERR_UNREACHABLE",
      15_000,
    );
    expect(await pingWorker(newCA, [newCA])).toBe("200");
    const status = await worker!.status();
    expect(status.hostId).toBe(hostId);
    expect(runtime!.lines.some((l) => l.includes("host registered"))).toBe(false);
  }, 60_000);
});
