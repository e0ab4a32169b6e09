// Property tests over the public routes of a real runtime process: whatever a
// client sends, the answer is a 4xx with a JSON error (or, for a genuine
// registration, a grant), never a 5xx, and the runtime keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import type https from "node:https";
import { toBase64 } from "../../lib/bytes.ts";
import { createCSR } from "../../lib/pki/csr.ts";
import { generateEd25519KeyPair } from "../../lib/pki/ed25519.ts";
import { v } from "../../lib/deps.ts";
import { ChallengeResponse, Routes } from "../../lib/protocol/mod.ts";
import { MtlsClient } from "../../lib/transport/client.ts";
import {
  attemptPskBootstrap,
  healthz,
  rawAgent,
  rawRequest,
  type RawResponse,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";

const HOST_PSK = "fuzz-e2e-host-psk-0000000001";
const RUNS = 200;
const PUBLIC_ROUTES = [Routes.challenge, Routes.register];
const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "",
];

/** A 4xx whose body is exactly `{error: {code: "ERR_...", message}}`. */
function isClientError(status: number, json: unknown): boolean {
  if (status < 400 || status > 499) return false;
  if (typeof json !== "object" || json === null || Array.isArray(json)) return false;
  const { error, ...rest } = json as { error?: unknown };
  if (Object.keys(rest).length > 0 || typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === "string" && /^ERR_[A-Z0-9_]+$/.test(code) && typeof message === "string";
}

/** A client error, or (on the challenge route only) a well-formed challenge. */
function acceptable(path: string, r: RawResponse): boolean {
  if (r.status === 200 && path === Routes.challenge) {
    return v.safeParse(ChallengeResponse, r.json).success;
  }
  return isClientError(r.status, r.json);
}

function explain(r: RawResponse | { status: number; body: unknown }): string {
  return `${r.status} ${"text" in r ? r.text.slice(0, 200) : JSON.stringify(r.body)}`;
}

describe("public routes under arbitrary input", () => {
  let rt: RuntimeProcess;
  let agent: https.Agent;

  beforeAll(async () => {
    rt = await startRuntimeProcess({
      config: {
        runtimePSKs: ["fuzz-e2e-runtime-psk-00000000000000001"],
        bootstrap: { hostPSK: HOST_PSK },
        provider: { connectionString: "memory" },
        shutdownGracePeriod: "2s",
      },
    });
    agent = rawAgent();
  });

  afterAll(async () => {
    agent.destroy();
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
  });

  async function post(path: string, contentType: string, body: string | Uint8Array) {
    return await rawRequest(rt.address, {
      path,
      headers: contentType === "" ? {} : { "content-type": contentType },
      body,
      agent,
    });
  }

  for (const path of PUBLIC_ROUTES) {
    test(`${path}: arbitrary JSON values are a 4xx JSON error, never a 5xx`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (value) => {
          const r = await post(path, "application/json", JSON.stringify(value) ?? "null");
          if (!acceptable(path, r)) throw new Error(explain(r));
        }),
        { numRuns: RUNS },
      );
    }, 60_000);

    test(`${path}: objects shaped almost like a request are a 4xx JSON error`, async () => {
      const b64 = (min: number, max: number) =>
        fc.uint8Array({ minLength: min, maxLength: max }).map(toBase64);
      const field = fc.oneof(fc.jsonValue(), b64(0, 40), fc.string({ maxLength: 30 }));
      const almost = fc.record({
        clientNonce: fc.oneof(b64(0, 40), field),
        method: fc.oneof(fc.constantFrom("psk", "jwt", "PSK", ""), field),
        token: field,
        challengeId: fc.oneof(fc.string({ minLength: 20, maxLength: 24 }), field),
        clientProof: fc.oneof(b64(30, 34), field),
        csr: fc.oneof(b64(0, 200), field),
        address: fc.oneof(fc.constantFrom("10.0.0.1:1", "[::1]:9443", "x:99999"), field),
        actorTypes: fc.oneof(fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }), field),
      }, { requiredKeys: [] });
      await fc.assert(
        fc.asyncProperty(almost, fc.constantFrom(...CONTENT_TYPES), async (value, type) => {
          const r = await post(path, type, JSON.stringify(value));
          if (!acceptable(path, r)) throw new Error(explain(r));
        }),
        { numRuns: RUNS },
      );
    }, 60_000);

    test(`${path}: arbitrary bytes are a 4xx JSON error, never a 5xx`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 2048 }),
          fc.constantFrom(...CONTENT_TYPES),
          async (bytes, type) => {
            const r = await post(path, type, bytes);
            if (!acceptable(path, r)) throw new Error(explain(r));
          },
        ),
        { numRuns: RUNS },
      );
    }, 60_000);
  }

  test(
    "a genuine proof with an arbitrary or mutated CSR: a grant or a 400, never a 5xx",
    async () => {
      const valid = await createCSR(await generateEd25519KeyPair(false));
      const mutated = fc.array(
        fc.record({ at: fc.nat({ max: valid.length - 1 }), byte: fc.nat({ max: 255 }) }),
        { minLength: 1, maxLength: 4 },
      ).map((edits) => {
        const csr = valid.slice();
        for (const { at, byte } of edits) csr[at] = byte;
        return csr;
      });
      const truncated = fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n + 1));
      const csrs = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), mutated, truncated);
      const client = new MtlsClient({ timeoutMs: 10_000 });
      try {
        await fc.assert(
          fc.asyncProperty(csrs, async (csr) => {
            const attempt = await attemptPskBootstrap(rt.address, {
              hostPSK: HOST_PSK,
              client,
              tamperCSR: () => csr,
            });
            const { status, body } = attempt.response;
            const ok = status === 200
              ? attempt.grant !== undefined
              : status === 400 && isClientError(status, body) &&
                /^ERR_(CSR_[A-Z_]+|BAD_REQUEST)$/.test(String(
                  (body as { error: { code: string } }).error.code,
                ));
            if (!ok) throw new Error(explain(attempt.response));
          }),
          { numRuns: RUNS },
        );
      } finally {
        client.close();
      }
    },
    60_000,
  );

  test("the runtime still answers /healthz, and logged no internal error", async () => {
    expect(await healthz(rt.address)).toBe(200);
    expect(rt.exited).toBe(false);
    expect(rt.lines.filter((l) => /request failed|ERROR/.test(l))).toEqual([]);
    // Refusals are (nearly) impossible above, so the source was never rate limited.
    expect(rt.lines.filter((l) => l.includes("bootstrap refused")).length).toBeLessThan(10);
  });
});
