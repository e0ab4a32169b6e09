// The worker CLI joining a real cluster: runtime processes under Deno, worker
// processes under Bun. Every way to join, every refusal, relays that terminate
// TLS, failover and a runtime that comes up late.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClusterCA, deriveCA } from "../../lib/pki/ca.ts";
import { setup, SLOW, teardown } from "../support/hooks.ts";
import { type IssuerKey, issuerKey, jwksOf, mintToken } from "../support/jwt.ts";
import { mintIdentity } from "../support/pki.ts";
import { ROOT } from "../support/processes.ts";
import { type Relay, startRelay } from "../support/relay.ts";
import {
  freePort,
  printCA,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";
import { tempDir } from "../support/tmp.ts";
import { runToExit, startWorker, type WorkerProcess } from "../support/worker_process.ts";

const RUNTIME_PSK = "worker-e2e-bootstrap-runtime-psk-00000001";
const HOST_PSK = "worker-e2e-host-psk-0001";
const TTL_S = 60;
const KAT_PEM = `${ROOT}tests/fixtures/ca-kat.pem`;
const dir = tempDir("francis-worker-bootstrap-");

const pskConfig = {
  runtimeId: "boot",
  runtimePSKs: [RUNTIME_PSK],
  bootstrap: { method: "psk", hostPSK: HOST_PSK },
  provider: { connectionString: "memory" },
  workloadCertTTL: `${TTL_S}s`,
  healthCheckDeadline: "2s",
  shutdownGracePeriod: "1s",
};

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

const pskEnv = { FRANCIS_HOST_BOOTSTRAP_PSK: HOST_PSK };
const workers = new Set<WorkerProcess>();

async function worker(flags: string[], env: Record<string, string> = pskEnv) {
  const w = await startWorker({ flags, env });
  workers.add(w);
  return w;
}

async function stopped(w: WorkerProcess): Promise<void> {
  workers.delete(w);
  expect(await w.stop()).toEqual({ code: 0, signal: null });
}

async function killWorkers(): Promise<void> {
  await Promise.all([...workers].map((w) => w.kill()));
  workers.clear();
}

const registered = (rt: RuntimeProcess) => rt.lines.filter((l) => /host registered/.test(l));

describe("worker PSK bootstrap", () => {
  let rt: RuntimeProcess;
  let caFile: string;
  const relays: Relay[] = [];

  setup(async () => {
    rt = await startRuntimeProcess({ config: pskConfig, dir });
    // Pin exactly what the operator would: the output of `runtime print-ca`.
    caFile = file("ca.pem", printCA(rt.configPath));
  }, SLOW);

  teardown(async () => {
    await killWorkers();
    await Promise.all(relays.map((r) => r.close()));
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
  }, SLOW);

  test("joins with a pinned CA and reports its identity on /status", async () => {
    const before = Date.now();
    const w = await worker(["--runtime-address", rt.address, "--pinned-ca", caFile]);
    const status = await w.status();
    expect(Object.keys(status).sort()).toEqual(["certNotAfter", "hostId", "runtime", "spiffeId"]);
    expect(status.hostId).toMatch(/^h-[0-9a-f]{16}$/);
    expect(status.spiffeId).toBe(`spiffe://francis/host/${status.hostId}`);
    expect(status.runtime).toBe(rt.address);
    // X.509 times have whole seconds.
    const notAfter = Date.parse(status.certNotAfter);
    expect(notAfter).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + TTL_S * 1000);
    expect(notAfter).toBeLessThanOrEqual(Date.now() + TTL_S * 1000);
    const audit = await rt.waitForLine(new RegExp(`host registered .*hostId=${status.hostId}\\b`));
    expect(audit).toContain("method=psk");
    expect(audit).toContain("audit=true");
    expect(w.lines.some((l) => /unsafeNoPinnedCA/.test(l))).toBe(false);
    await stopped(w);
  }, SLOW);

  test("joins unpinned with the PSK from a file, warning about the risk", async () => {
    const pskFile = file("host.psk", `${HOST_PSK}\n`);
    const w = await worker(
      ["--runtime-address", rt.address, "--unsafe-no-pinned-ca", "--host-psk-file", pskFile],
      {},
    );
    const status = await w.status();
    expect(status.spiffeId).toBe(`spiffe://francis/host/${status.hostId}`);
    const warning = w.lines.find((l) => /unsafeNoPinnedCA/.test(l));
    expect(warning).toMatch(/ WARN /);
    expect(warning).toContain("not authenticated");
    expect(warning).toContain("Development only");
    await rt.waitForLine(new RegExp(`host registered .*hostId=${status.hostId}\\b`));
    await stopped(w);
  }, SLOW);

  test("a wrong host PSK exits 1 naming ERR_BOOTSTRAP_BAD_SERVER_PROOF", async () => {
    const before = registered(rt).length;
    const r = await runToExit(["--runtime-address", rt.address, "--pinned-ca", caFile], {
      FRANCIS_HOST_BOOTSTRAP_PSK: "worker-e2e-WRONG-host-psk",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^francis worker: .*\[ERR_BOOTSTRAP_BAD_SERVER_PROOF\]$/m);
    expect(registered(rt)).toHaveLength(before);
  }, SLOW);

  test("a runtime outside the pinned CA exits 1 naming ERR_PINNED_CA_MISMATCH", async () => {
    const r = await runToExit(["--runtime-address", rt.address, "--pinned-ca", KAT_PEM], pskEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^francis worker: .*\[ERR_PINNED_CA_MISMATCH\]$/m);
    expect(r.stderr).toContain(`The runtime at ${rt.address} is not certified by the pinned CA`);
  }, SLOW);

  test("fails over to the next runtime address when the first is closed", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const w = await worker([
      "--runtime-address",
      closed,
      "--runtime-address",
      rt.address,
      "--pinned-ca",
      caFile,
    ]);
    const status = await w.status();
    expect(status.runtime).toBe(rt.address);
    await rt.waitForLine(new RegExp(`host registered .*hostId=${status.hostId}\\b`));
    expect(w.lines.some((l) => l.includes("bootstrap failed, will retry") && l.includes(closed)))
      .toBe(true);
    await stopped(w);
  }, SLOW);

  describe("through a TLS-terminating relay", () => {
    let hostsBefore: number;
    let clusterCA: ClusterCA;

    setup(async () => {
      hostsBefore = registered(rt).length;
      clusterCA = await deriveCA(RUNTIME_PSK);
    });

    async function relay(ca: ClusterCA, id: string): Promise<Relay> {
      const r = await startRelay(rt.address, await mintIdentity(ca, id));
      relays.push(r);
      return r;
    }

    test(
      "a pinned worker refuses a relay whose certificate is foreign (ERR_PINNED_CA_MISMATCH)",
      async () => {
        const foreign = await deriveCA("worker-e2e-FOREIGN-runtime-psk-000000001");
        const r = await relay(foreign, "spiffe://francis/runtime/boot");
        const out = await runToExit(
          ["--runtime-address", r.address, "--pinned-ca", caFile],
          pskEnv,
        );
        expect(out.code).toBe(1);
        expect(out.stderr).toMatch(/\[ERR_PINNED_CA_MISMATCH\]$/m);
        // Refused at the handshake: not one byte of a request went through.
        expect(r.bytesToTarget).toBe(0);
      },
      SLOW,
    );

    test("channel binding stops a relay whose certificate chains to the cluster CA", async () => {
      // TLS and the identity kind both pass here: only the proof bound to the
      // certificate the worker saw can tell the relay from the runtime.
      const r = await relay(clusterCA, "spiffe://francis/runtime/evil");
      const out = await runToExit(["--runtime-address", r.address, "--pinned-ca", caFile], pskEnv);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(/^francis worker: .*\[ERR_BOOTSTRAP_BAD_SERVER_PROOF\]$/m);
      // The challenge did reach the real runtime and its answer came back.
      expect(r.upstream).toBeGreaterThan(0);
      expect(r.bytesToClient).toBeGreaterThan(0);
    }, SLOW);

    test(
      "an unpinned worker refuses the relayed proof (ERR_BOOTSTRAP_BAD_SERVER_PROOF)",
      async () => {
        const foreign = await deriveCA("worker-e2e-FOREIGN-runtime-psk-000000002");
        const r = await relay(foreign, "spiffe://francis/runtime/boot");
        const out = await runToExit(
          ["--runtime-address", r.address, "--unsafe-no-pinned-ca"],
          pskEnv,
        );
        expect(out.code).toBe(1);
        expect(out.stderr).toMatch(/^francis worker: .*\[ERR_BOOTSTRAP_BAD_SERVER_PROOF\]$/m);
        expect(r.bytesToClient).toBeGreaterThan(0);
      },
      SLOW,
    );

    test("the runtime registered no host through any relay", () => {
      expect(registered(rt)).toHaveLength(hostsBefore);
      expect(rt.lines.some((l) => /bootstrap refused/.test(l))).toBe(false);
    });
  });
});

describe("worker bootstrap against a runtime that starts late", () => {
  let rt: RuntimeProcess | undefined;

  teardown(async () => {
    await killWorkers();
    if (rt) expect(await rt.stop()).toEqual({ code: 0, signal: null });
  }, SLOW);

  test("retries until the runtime answers, then joins", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const caFile = file("late-ca.pem", (await deriveCA(RUNTIME_PSK)).certPem);
    const joining = worker(["--runtime-address", address, "--pinned-ca", caFile]);
    await new Promise((r) => setTimeout(r, 2_000));
    rt = await startRuntimeProcess({ config: pskConfig, port, dir });
    const w = await joining;
    expect(w.exited).toBe(false);
    expect(w.lines.some((l) => /bootstrap failed, will retry/.test(l))).toBe(true);
    const status = await w.status();
    expect(status.runtime).toBe(address);
    await rt.waitForLine(new RegExp(`host registered .*hostId=${status.hostId}\\b`));
    await stopped(w);
  }, SLOW);
});

describe("worker JWT bootstrap", () => {
  const ISSUER = "https://issuer.worker-e2e.test";
  const AUDIENCE = "francis-worker-e2e";
  let rt: RuntimeProcess;
  let caFile: string;
  let key: IssuerKey;
  let first: WorkerProcess;
  let tokenFile: string;

  const jwtConfig = (jwks: unknown) => ({
    runtimeId: "jwt",
    runtimePSKs: [RUNTIME_PSK],
    bootstrap: { method: "jwt", jwt: { issuer: ISSUER, audience: AUDIENCE, staticJWKS: jwks } },
    provider: { connectionString: "memory" },
    workloadCertTTL: "60s",
    healthCheckDeadline: "2s",
    shutdownGracePeriod: "1s",
  });

  const token = (k: IssuerKey, jti: string, expIn = 600) => {
    const now = Math.floor(Date.now() / 1000);
    return mintToken(k, {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "worker",
      iat: now,
      exp: now + expIn,
      jti,
    });
  };

  setup(async () => {
    key = await issuerKey("EdDSA", "k1");
    rt = await startRuntimeProcess({ config: jwtConfig(jwksOf(key)), dir });
    caFile = file("jwt-ca.pem", printCA(rt.configPath));
    tokenFile = file("token.jwt", `${await token(key, "jti-first")}\n`);
  }, SLOW);

  teardown(async () => {
    await killWorkers();
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
  }, SLOW);

  test("joins with a token from --jwt-file", async () => {
    first = await worker([
      "--runtime-address",
      rt.address,
      "--pinned-ca",
      caFile,
      "--jwt-file",
      tokenFile,
    ], {});
    const status = await first.status();
    expect(status.spiffeId).toBe(`spiffe://francis/host/${status.hostId}`);
    const audit = await rt.waitForLine(new RegExp(`host registered .*hostId=${status.hostId}\\b`));
    expect(audit).toContain("method=jwt");
  }, SLOW);

  test("a replayed jti exits 1 naming ERR_TOKEN_REPLAYED", async () => {
    const r = await runToExit(
      ["--runtime-address", rt.address, "--pinned-ca", caFile, "--jwt-file", tokenFile],
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^francis worker: .*\[ERR_TOKEN_REPLAYED\]$/m);
    await rt.waitForLine(/bootstrap refused .*reason=ERR_TOKEN_REPLAYED/);
  }, SLOW);

  test("an expired token exits 1 naming ERR_TOKEN_INVALID", async () => {
    const expired = file("expired.jwt", await token(key, "jti-expired", -600));
    const r = await runToExit(
      ["--runtime-address", rt.address, "--pinned-ca", caFile, "--jwt-file", expired],
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^francis worker: .*\[ERR_TOKEN_INVALID\]$/m);
  }, SLOW);

  test("re-reads the token file when it has to bootstrap again", async () => {
    const { hostId } = await first.status();
    // A new runtime on the same port forgets every host (memory store) and trusts
    // only a new issuer key: the worker's next health report is refused and it must
    // bootstrap again, which only the token now in the file can do.
    const next = await issuerKey("EdDSA", "k2");
    writeFileSync(tokenFile, await token(next, "jti-second"));
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
    rt = await startRuntimeProcess({ config: jwtConfig(jwksOf(next)), port: rt.port, dir });
    const audit = await rt.waitForLine(/host registered /, 10_000);
    expect(audit).toContain("method=jwt");
    const status = await first.waitForStatus((s) => s.hostId !== hostId, 5_000);
    expect(audit).toContain(`hostId=${status.hostId}`);
    expect(
      first.lines.some((l) =>
        /bootstrapping again/.test(l) && l.includes("ERR_HOST_NOT_REGISTERED")
      ),
    ).toBe(true);
    expect(first.lines.filter((l) => / bootstrapped /.test(l)).at(-1)).toContain(
      `hostId=${status.hostId}`,
    );
    expect(rt.lines.some((l) => /bootstrap refused/.test(l))).toBe(false);
    await stopped(first);
  }, SLOW);
});

describe("worker usage errors exit 2", () => {
  const usage = async (flags: string[], env: Record<string, string> = pskEnv) => {
    const r = await runToExit(flags, env, 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Usage: bun run worker -- [flags]");
    return r.stderr.split("\n")[0];
  };
  const rt = "127.0.0.1:1";

  test("neither --pinned-ca nor --unsafe-no-pinned-ca", async () => {
    expect(await usage(["--runtime-address", rt])).toContain(
      "Give --pinned-ca FILE (from `runtime print-ca`), or --unsafe-no-pinned-ca",
    );
  }, SLOW);

  test("both --pinned-ca and --unsafe-no-pinned-ca", async () => {
    expect(
      await usage(["--runtime-address", rt, "--pinned-ca", KAT_PEM, "--unsafe-no-pinned-ca"]),
    ).toContain("Give only one of --pinned-ca and --unsafe-no-pinned-ca");
  }, SLOW);

  test("no credential", async () => {
    expect(await usage(["--runtime-address", rt, "--pinned-ca", KAT_PEM], {})).toContain(
      "Give a credential",
    );
  }, SLOW);

  test("two credentials", async () => {
    const jwt = file("usage.jwt", "not-a-token");
    expect(await usage(["--runtime-address", rt, "--pinned-ca", KAT_PEM, "--jwt-file", jwt]))
      .toContain("Give only one credential");
  }, SLOW);

  test("an unknown flag", async () => {
    expect(await usage(["--runtime-address", rt, "--pinned-ca", KAT_PEM, "--bogus"])).toContain(
      "Unknown flag --bogus",
    );
  }, SLOW);

  test("no --runtime-address", async () => {
    expect(await usage(["--pinned-ca", KAT_PEM])).toContain("Give at least one --runtime-address");
  }, SLOW);
});
