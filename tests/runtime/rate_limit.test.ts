// Failed bootstrap attempts are limited per source address, and audited
// without secrets. In a runtime process of its own: every test connects from
// 127.0.0.1, so once this source is blocked, it stays blocked for a minute.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { toBase64 } from "../../lib/bytes.ts";
import { TrustStore } from "../../lib/pki/verify.ts";
import { Routes } from "../../lib/protocol/mod.ts";
import { MtlsClient } from "../../lib/transport/client.ts";
import {
  attemptPskBootstrap,
  codeOf,
  getSelf,
  healthz,
  printCA,
  pskBootstrap,
  rawRequest,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";

const RUNTIME_PSK = "ratelimit-e2e-runtime-psk-SECRET-00001";
const HOST_PSK = "ratelimit-e2e-host-psk-SECRET-01";
const WRONG_HOST_PSK = "ratelimit-e2e-guessed-psk-000001";
const RUNTIME = { kind: "runtime" as const, id: "main" };

describe("rate limiting of failed bootstrap attempts", () => {
  let rt: RuntimeProcess;
  let trust: TrustStore;

  beforeAll(async () => {
    rt = await startRuntimeProcess({
      config: {
        runtimePSKs: ["${RUNTIME_PSK}"],
        bootstrap: { method: "psk", hostPSK: "${HOST_PSK}" },
        provider: { connectionString: "memory" },
        shutdownGracePeriod: "2s",
      },
      env: { RUNTIME_PSK, HOST_PSK },
    });
    trust = await TrustStore.fromPem(printCA(rt.configPath, rt.env));
  });

  afterAll(async () => {
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
  });

  let registered: Awaited<ReturnType<typeof pskBootstrap>>;

  test("a worker joins before anything went wrong", async () => {
    registered = await pskBootstrap(rt.address, { hostPSK: HOST_PSK, trust, expect: RUNTIME });
    expect(registered.response.status).toBe(200);
  });

  test("ten refused registrations from one source, then its 11th request is 429 with retry-after", async () => {
    for (let i = 0; i < 5; i++) {
      const attempt = await attemptPskBootstrap(rt.address, {
        hostPSK: WRONG_HOST_PSK,
        ignoreServerProof: true,
      });
      expect(attempt.response.status).toBe(401);
      expect(codeOf(attempt.response.body)).toBe("ERR_BOOTSTRAP_BAD_CLIENT_PROOF");
    }
    const client = new MtlsClient({});
    const unknownChallenge = (i: number) => ({
      method: "psk",
      challengeId: `unknown-challenge-${i}`.padEnd(22, "x"),
      clientProof: toBase64(new Uint8Array(32)),
      csr: toBase64(new Uint8Array([0x30, 0x00])),
    });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await client.request(rt.address, {
          method: "POST",
          path: Routes.register,
          body: unknownChallenge(i),
        });
        expect(r.status).toBe(401);
        expect(codeOf(r.body)).toBe("ERR_CHALLENGE_UNKNOWN");
      }
    } finally {
      client.close();
    }

    const eleventh = await rawRequest(rt.address, {
      path: Routes.register,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(unknownChallenge(11)),
    });
    expect(eleventh.status).toBe(429);
    expect(eleventh.json).toMatchObject({ error: { code: "ERR_RATE_LIMITED" } });
    const retryAfter = Number(eleventh.headers["retry-after"]);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  test("a blocked source cannot even ask for a challenge, with the right PSK", async () => {
    const challenge = await rawRequest(rt.address, {
      path: Routes.challenge,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ clientNonce: toBase64(new Uint8Array(32)) }),
    });
    expect(challenge.status).toBe(429);
    expect(challenge.json).toMatchObject({ error: { code: "ERR_RATE_LIMITED" } });
    expect(Number(challenge.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    const err = await attemptPskBootstrap(rt.address, { hostPSK: HOST_PSK }).then(
      () => undefined,
      (e) => e,
    );
    expect(String(err)).toContain("challenge answered 429");
  });

  test("a blocked source still serves /healthz and its hosts' mTLS routes", async () => {
    expect(await healthz(rt.address)).toBe(200);
    const r = await getSelf(rt.address, registered.identity, trust, RUNTIME);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ hostId: registered.grant.hostId });
  });

  test("the audit log names the source and reason of each refusal, and never a PSK", () => {
    const refused = rt.lines.filter((l) => l.includes("bootstrap refused"));
    expect(refused).toHaveLength(10);
    for (const line of refused) {
      expect(line).toMatch(/\bWARN\b/);
      expect(line).toMatch(/\baudit=true\b/);
      expect(line).toMatch(/\bsource=(?:::ffff:)?127\.0\.0\.1\b/);
    }
    const reasons = refused.map((l) => /\breason=(\S+)/.exec(l)?.[1]);
    expect(reasons).toEqual([
      ...Array(5).fill("ERR_BOOTSTRAP_BAD_CLIENT_PROOF"),
      ...Array(5).fill("ERR_CHALLENGE_UNKNOWN"),
    ]);
    expect(rt.lines.filter((l) => l.includes("host registered"))).toHaveLength(1);
    const log = rt.lines.join("\n");
    for (const secret of [HOST_PSK, RUNTIME_PSK, "SECRET"]) expect(log).not.toContain(secret);
  });
});
