// The runtime's HTTP surface over real sockets to a real runtime process: who
// may use the host routes, what they do, and how the public routes treat
// malformed bodies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type https from "node:https";
import { toBase64, toHex } from "../../lib/bytes.ts";
import { deriveCA } from "../../lib/pki/ca.ts";
import { createCSR } from "../../lib/pki/csr.ts";
import { generateEd25519KeyPair, privateKeyToPem, rawPublicKey } from "../../lib/pki/ed25519.ts";
import { fromPem } from "../../lib/pki/pem.ts";
import { TrustStore, verifyPeerChain } from "../../lib/pki/verify.ts";
import { parseCertificate } from "../../lib/pki/x509.ts";
import {
  CertificateGrant,
  HeartbeatResponse,
  HostRecord,
  parseWire,
  Routes,
} from "../../lib/protocol/mod.ts";
import { type CallOptions, type CallResult, MtlsClient } from "../../lib/transport/client.ts";
import type { TlsIdentity } from "../../lib/transport/server.ts";
import { mintIdentity } from "../support/pki.ts";
import {
  codeOf,
  healthz,
  printCA,
  pskBootstrap,
  rawAgent,
  rawRequest,
  type RawResponse,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";

const RUNTIME_PSK = "routes-e2e-runtime-psk-000000000000001";
const HOST_PSK = "routes-e2e-host-psk-0000001";
const RUNTIME = { kind: "runtime" as const, id: "rt-routes" };

const ca = await deriveCA(RUNTIME_PSK);
const foreignCA = await deriveCA("routes-e2e-FOREIGN-runtime-psk-000001");

/** Every error body is `{error: {code, message}}` and nothing else. */
function expectError(
  r: { status: number; body?: unknown; json?: unknown },
  status: number,
  code: string,
) {
  const body = "json" in r ? r.json : r.body;
  expect({ status: r.status, code: codeOf(body) }).toEqual({ status, code });
  const error = (body as { error: Record<string, unknown> }).error;
  expect(Object.keys(body as object)).toEqual(["error"]);
  expect(typeof error.message).toBe("string");
}

let rt: RuntimeProcess;
let caPem: string;
let trust: TrustStore;
const clients: MtlsClient[] = [];

/** A pinned client presenting `identity` (or no certificate). */
function as(identity?: TlsIdentity): MtlsClient {
  const client = new MtlsClient({ identity, trust, timeoutMs: 10_000 });
  clients.push(client);
  return client;
}

function call(
  client: MtlsClient,
  method: CallOptions["method"],
  path: string,
  body?: unknown,
): Promise<CallResult> {
  return client.request(rt.address, { method, path, body, expect: RUNTIME });
}

async function join(actorTypes: string[] = []) {
  const attempt = await pskBootstrap(rt.address, {
    hostPSK: HOST_PSK,
    trust,
    expect: RUNTIME,
    register: { actorTypes },
  });
  return { hostId: attempt.grant.hostId, identity: attempt.identity, grant: attempt.grant };
}

describe("runtime routes", () => {
  beforeAll(async () => {
    rt = await startRuntimeProcess({
      config: {
        runtimeId: "rt-routes",
        runtimePSKs: [RUNTIME_PSK],
        bootstrap: { hostPSK: HOST_PSK },
        provider: { connectionString: "memory" },
        workloadCertTTL: "90m",
        healthCheckDeadline: "12s",
        shutdownGracePeriod: "2s",
      },
    });
    caPem = printCA(rt.configPath);
    trust = await TrustStore.fromPem(caPem);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
  });

  describe("who may call host routes", () => {
    // DELETE is left out here: see "DELETE /v1/hosts/self unregisters" below.
    const hostRoutes: [CallOptions["method"], string, unknown][] = [
      ["GET", Routes.self, undefined],
      ["POST", Routes.heartbeat, {}],
      ["POST", Routes.renew, { csr: "AAAA" }],
    ];

    test("no client certificate: 401 ERR_UNAUTHENTICATED", async () => {
      const client = as();
      for (const [method, path, body] of hostRoutes) {
        expectError(await call(client, method, path, body), 401, "ERR_UNAUTHENTICATED");
      }
    });

    test("a certificate from a foreign CA: 401 ERR_CERT_UNTRUSTED_CA", async () => {
      const client = as(await mintIdentity(foreignCA, "spiffe://francis/host/h-foreign"));
      for (const [method, path, body] of hostRoutes) {
        expectError(await call(client, method, path, body), 401, "ERR_CERT_UNTRUSTED_CA");
      }
    });

    test("an expired host certificate: 401 ERR_CERT_EXPIRED", async () => {
      const expired = await mintIdentity(ca, "spiffe://francis/host/h-expired", 1);
      expect(expired.notAfter.getTime()).toBeLessThanOrEqual(Date.now());
      expectError(await call(as(expired), "GET", Routes.self), 401, "ERR_CERT_EXPIRED");
    });

    test("a valid runtime identity: 403 ERR_FORBIDDEN", async () => {
      const client = as(await mintIdentity(ca, "spiffe://francis/runtime/x"));
      for (const [method, path, body] of hostRoutes) {
        expectError(await call(client, method, path, body), 403, "ERR_FORBIDDEN");
      }
    });

    test("a valid host certificate of an unregistered host: 404 ERR_HOST_NOT_REGISTERED", async () => {
      const keys = await generateEd25519KeyPair(false);
      const csr = toBase64(await createCSR(keys));
      const client = as(await mintIdentity(ca, "spiffe://francis/host/h-ghost"));
      for (const [method, path, body] of hostRoutes) {
        const r = await call(client, method, path, path === Routes.renew ? { csr } : body);
        expectError(r, 404, "ERR_HOST_NOT_REGISTERED");
      }
    });
  });

  describe("what registered hosts can do", () => {
    test("renew returns a new certificate for the same host ID and the new key", async () => {
      const host = await join(["counter"]);
      const oldCert = parseCertificate(fromPem(host.grant.certificate, "CERTIFICATE")[0]);
      const keys = await generateEd25519KeyPair(true);
      const r = await call(as(host.identity), "POST", Routes.renew, {
        csr: toBase64(await createCSR(keys)),
      });
      expect(r.status).toBe(200);
      const grant = parseWire(CertificateGrant, r.body, "grant");
      expect(grant.hostId).toBe(host.hostId);
      expect(grant.spiffeId).toBe(`spiffe://francis/host/${host.hostId}`);
      expect(grant.caBundle).toBe(caPem);
      expect(grant.healthCheckDeadlineMs).toBe(12_000);
      const der = fromPem(grant.certificate, "CERTIFICATE")[0];
      await verifyPeerChain([der], trust, { kind: "host", id: host.hostId });
      const cert = parseCertificate(der);
      expect(toHex(cert.publicKey)).toBe(toHex(await rawPublicKey(keys.publicKey)));
      expect(toHex(cert.publicKey)).not.toBe(toHex(oldCert.publicKey));
      expect(cert.serialHex).not.toBe(oldCert.serialHex);

      // The new identity is the host's, and its registration records the new certificate.
      const renewed = {
        certPem: grant.certificate,
        keyPem: await privateKeyToPem(keys.privateKey),
      };
      const self = await call(as(renewed), "GET", Routes.self);
      expect(self.status).toBe(200);
      expect(parseWire(HostRecord, self.body, "record")).toMatchObject({
        hostId: host.hostId,
        actorTypes: ["counter"],
        certNotAfter: grant.notAfter,
      });
    });

    test("renew refuses a CSR whose signature does not match: 400 ERR_CSR_BAD_SIGNATURE", async () => {
      const host = await join();
      const csr = await createCSR(await generateEd25519KeyPair(false));
      csr[csr.length - 1] ^= 0xff;
      const r = await call(as(host.identity), "POST", Routes.renew, { csr: toBase64(csr) });
      expectError(r, 400, "ERR_CSR_BAD_SIGNATURE");
    });

    test("heartbeat returns the deadline and the CA bundle, and records actor types", async () => {
      const host = await join(["a"]);
      const client = as(host.identity);
      const before = parseWire(HostRecord, (await call(client, "GET", Routes.self)).body, "rec");
      await new Promise((r) => setTimeout(r, 5));
      for (const body of [undefined, {}, { actorTypes: ["b", "c"] }]) {
        const r = await call(client, "POST", Routes.heartbeat, body);
        expect(r.status).toBe(200);
        expect(parseWire(HeartbeatResponse, r.body, "heartbeat")).toEqual({
          healthCheckDeadlineMs: 12_000,
          caBundle: caPem,
          generation: 0,
        });
      }
      const after = parseWire(HostRecord, (await call(client, "GET", Routes.self)).body, "rec");
      expect(after.actorTypes).toEqual(["b", "c"]);
      expect(after.registeredAt).toBe(before.registeredAt);
      expect(Date.parse(after.lastSeenAt)).toBeGreaterThan(Date.parse(before.lastSeenAt));
    });

    test("DELETE /v1/hosts/self unregisters: 204, then 404", async () => {
      const host = await join();
      const client = as(host.identity);
      const r = await call(client, "DELETE", Routes.self);
      expect(r.status).toBe(204);
      expect(r.body).toBeUndefined();
      expectError(await call(client, "GET", Routes.self), 404, "ERR_HOST_NOT_REGISTERED");
      expectError(await call(client, "DELETE", Routes.self), 404, "ERR_HOST_NOT_REGISTERED");
      expectError(await call(client, "POST", Routes.heartbeat, {}), 404, "ERR_HOST_NOT_REGISTERED");
    });

    test("the host ID comes from the certificate, whatever the body claims", async () => {
      const mallory = await join(["m"]);
      const victim = await join(["v"]);
      const asMallory = as(mallory.identity);
      // Bodies that name another host are refused outright (strict schemas)...
      expectError(
        await call(asMallory, "POST", Routes.heartbeat, { hostId: victim.hostId, actorTypes: [] }),
        400,
        "ERR_BAD_REQUEST",
      );
      const csr = toBase64(await createCSR(await generateEd25519KeyPair(false)));
      expectError(
        await call(asMallory, "POST", Routes.renew, { csr, hostId: victim.hostId }),
        400,
        "ERR_BAD_REQUEST",
      );
      // ...or ignored where there is no body to read: DELETE removes the caller only.
      const del = await call(asMallory, "DELETE", Routes.self, { hostId: victim.hostId });
      expect(del.status).toBe(204);
      expectError(await call(asMallory, "GET", Routes.self), 404, "ERR_HOST_NOT_REGISTERED");
      const v = await call(as(victim.identity), "GET", Routes.self);
      expect(v.status).toBe(200);
      expect(v.body).toMatchObject({ hostId: victim.hostId, actorTypes: ["v"] });
    });

    test("host routes read bodies as strictly as the public ones", async () => {
      const host = await join();
      const heartbeat = (headers: Record<string, string>, body: string | Uint8Array) =>
        rawRequest(rt.address, { path: Routes.heartbeat, headers, body, identity: host.identity });
      expectError(
        await heartbeat({ "content-type": "text/plain" }, "{}"),
        415,
        "ERR_UNSUPPORTED_MEDIA_TYPE",
      );
      expectError(
        await heartbeat({ "content-type": "application/json" }, "{"),
        400,
        "ERR_BAD_REQUEST",
      );
      expectError(
        await heartbeat({ "content-type": "application/json" }, new Uint8Array(100 * 1024)),
        413,
        "ERR_BODY_TOO_LARGE",
      );
      expect((await call(as(host.identity), "GET", Routes.self)).status).toBe(200);
    });

    test("a heartbeat body that is a JSON array is refused: 400 ERR_BAD_REQUEST", async () => {
      const host = await join();
      for (const json of ["[]", "null", "7"]) {
        const r = await rawRequest(rt.address, {
          path: Routes.heartbeat,
          headers: { "content-type": "application/json" },
          body: json,
          identity: host.identity,
        });
        expectError(r, 400, "ERR_BAD_REQUEST");
      }
    });
  });

  describe("malformed bodies on the public routes", () => {
    let agent: https.Agent;
    beforeAll(() => {
      agent = rawAgent();
    });
    afterAll(() => agent.destroy());

    const validBodies: Record<string, unknown> = {
      [Routes.challenge]: { clientNonce: toBase64(new Uint8Array(32)) },
      [Routes.register]: {
        method: "psk",
        challengeId: "A".repeat(22),
        clientProof: toBase64(new Uint8Array(32)),
        csr: "AAAA",
      },
    };
    const JSON_TYPE = { "content-type": "application/json" };

    const cases: {
      name: string;
      headers: Record<string, string>;
      body: (valid: unknown) => string | Uint8Array;
      chunked?: boolean;
      /** The runtime may answer before reading the body and close the connection. */
      earlyAnswer?: boolean;
      status: number;
      code: string;
    }[] = [
      {
        name: "a text/plain content type",
        headers: { "content-type": "text/plain" },
        body: (valid) => JSON.stringify(valid),
        status: 415,
        code: "ERR_UNSUPPORTED_MEDIA_TYPE",
      },
      {
        name: "no content type",
        headers: {},
        body: (valid) => JSON.stringify(valid),
        status: 415,
        code: "ERR_UNSUPPORTED_MEDIA_TYPE",
      },
      {
        name: "a look-alike content type",
        headers: { "content-type": "application/jsonp" },
        body: (valid) => JSON.stringify(valid),
        status: 415,
        code: "ERR_UNSUPPORTED_MEDIA_TYPE",
      },
      {
        name: "invalid JSON",
        headers: JSON_TYPE,
        body: () => "{clientNonce: nope}",
        status: 400,
        code: "ERR_BAD_REQUEST",
      },
      {
        name: "truncated JSON",
        headers: JSON_TYPE,
        body: (valid) => JSON.stringify(valid).slice(0, 20),
        status: 400,
        code: "ERR_BAD_REQUEST",
      },
      {
        name: "an empty body",
        headers: JSON_TYPE,
        body: () => "",
        status: 400,
        code: "ERR_BAD_REQUEST",
      },
      {
        name: "invalid UTF-8",
        headers: JSON_TYPE,
        body: () => new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
        status: 400,
        code: "ERR_BAD_REQUEST",
      },
      {
        name: "a 100 KB body",
        headers: JSON_TYPE,
        body: () => JSON.stringify({ pad: "x".repeat(100 * 1024) }),
        earlyAnswer: true,
        status: 413,
        code: "ERR_BODY_TOO_LARGE",
      },
      {
        name: "a 100 KB chunked body (no content-length)",
        headers: JSON_TYPE,
        body: () => JSON.stringify({ pad: "x".repeat(100 * 1024) }),
        chunked: true,
        status: 413,
        code: "ERR_BODY_TOO_LARGE",
      },
      {
        name: "an unknown key",
        headers: JSON_TYPE,
        body: (valid) => JSON.stringify({ ...valid as object, extra: 1 }),
        status: 400,
        code: "ERR_BAD_REQUEST",
      },
      {
        name: "a __proto__ key",
        headers: JSON_TYPE,
        body: (valid) => JSON.stringify(valid).replace(/^\{/, '{"__proto__":{"x":1},'),
        status: 400,
        code: "ERR_BAD_REQUEST",
      },
      ...["[]", "[1,2]", "42", "null", '"text"', "true"].map((json) => ({
        name: `the non-object JSON ${json}`,
        headers: JSON_TYPE,
        body: () => json,
        status: 400,
        code: "ERR_BAD_REQUEST",
      })),
      {
        name: "deeply nested JSON",
        headers: JSON_TYPE,
        body: () => "[".repeat(20_000) + "]".repeat(20_000),
        status: 400,
        code: "ERR_BAD_REQUEST",
      },
    ];

    for (const path of [Routes.challenge, Routes.register]) {
      for (const c of cases) {
        test(`${path}: ${c.name} → ${c.status} ${c.code}, and the runtime still serves`, async () => {
          // Once on a kept-alive connection, once on a fresh one.
          for (const a of [agent, undefined]) {
            let r: RawResponse;
            try {
              r = await rawRequest(rt.address, {
                path,
                headers: c.headers,
                body: c.body(validBodies[path]),
                chunked: c.chunked,
                agent: a,
              });
            } catch (err) {
              // The runtime refuses an oversized body from its content-length alone and
              // (on Deno, sometimes) closes the connection while the client is still
              // writing, so the client sees EPIPE/ECONNRESET instead of the 413: tolerated
              // here, reported as a robustness issue.
              const code = (err as { code?: string }).code ?? "";
              if (c.earlyAnswer && /^(EPIPE|ECONNRESET)$/.test(code)) continue;
              throw err;
            }
            expectError(r, c.status, c.code);
            expect(String(r.headers["content-type"])).toMatch(/^application\/json/);
          }
          expect(await healthz(rt.address)).toBe(200);
        });
      }
    }

    test("a small chunked body (no content-length) is read like any other", async () => {
      const r = await rawRequest(rt.address, {
        path: Routes.challenge,
        headers: JSON_TYPE,
        body: JSON.stringify(validBodies[Routes.challenge]),
        chunked: true,
      });
      expect(r.status).toBe(200);
      expect(typeof (r.json as { challengeId?: unknown }).challengeId).toBe("string");
    });

    test("an unknown route is 404 ERR_NOT_FOUND, and GET on a POST route too", async () => {
      const r1 = await rawRequest(rt.address, { method: "GET", path: "/v1/nothing-here" });
      expectError(r1, 404, "ERR_NOT_FOUND");
      const r2 = await rawRequest(rt.address, { method: "GET", path: Routes.challenge });
      expectError(r2, 404, "ERR_NOT_FOUND");
    });

    test("the runtime answers /healthz after all of it, and logged no internal error", async () => {
      expect(await healthz(rt.address)).toBe(200);
      expect(rt.exited).toBe(false);
      // Every answer above was a 4xx or 2xx: the runtime never failed on its own account.
      expect(rt.lines.filter((l) => /request failed|ERROR/.test(l))).toEqual([]);
    });
  });
});
