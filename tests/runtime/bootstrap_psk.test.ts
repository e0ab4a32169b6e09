// The PSK bootstrap end to end: a real runtime process, a worker built from the
// lib primitives, and each way a join attempt can be wrong.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type net from "node:net";
import tls from "node:tls";
import { toHex } from "../../lib/bytes.ts";
import { deriveCA } from "../../lib/pki/ca.ts";
import { createCSR } from "../../lib/pki/csr.ts";
import { generateEd25519KeyPair, rawPublicKey } from "../../lib/pki/ed25519.ts";
import { fromPem } from "../../lib/pki/pem.ts";
import { TrustStore, verifyPeerChain } from "../../lib/pki/verify.ts";
import { parseCertificate } from "../../lib/pki/x509.ts";
import { HostRecord, parseWire, Routes } from "../../lib/protocol/mod.ts";
import type { TlsIdentity } from "../../lib/transport/server.ts";
import { ChallengeStore } from "../../runtime/challenges.ts";
import { mintIdentity } from "../support/pki.ts";
import {
  attemptPskBootstrap,
  codeOf,
  getSelf,
  healthz,
  printCA,
  pskBootstrap,
  type PskBootstrapAttempt,
  requestOnce,
  type RuntimeProcess,
  startRuntimeProcess,
} from "../support/runtime_process.ts";

const RUNTIME_PSK = "bootstrap-e2e-runtime-psk-0000000000001";
const HOST_PSK = "bootstrap-e2e-host-psk-000001";
const OTHER_HOST_PSK = "bootstrap-e2e-other-host-psk-02";
const TTL_MS = 2 * 3600_000;
const BACKDATE_MS = 5 * 60_000;
const RUNTIME = { kind: "runtime" as const, id: "main" };

const foreignCA = await deriveCA("bootstrap-e2e-FOREIGN-runtime-psk-00001");
const meddler = await mintIdentity(foreignCA, "spiffe://francis/runtime/main");

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => new Error("expected a rejection"), (err) => err);
}

/** A TLS-terminating relay with its own certificate, piping bytes to `target`. */
async function startRelay(
  target: string,
  identity: TlsIdentity,
): Promise<{ address: string; close(): Promise<void> }> {
  const [host, port] = target.split(":");
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: identity.certPem, key: identity.keyPem, minVersion: "TLSv1.3" },
    (down) => {
      const up = tls.connect({
        host,
        port: Number(port),
        rejectUnauthorized: false,
        minVersion: "TLSv1.3",
      });
      const end = () => {
        down.destroy();
        up.destroy();
      };
      for (const s of [down, up]) {
        sockets.add(s);
        s.on("error", end);
        s.on("close", end);
      }
      down.pipe(up);
      up.pipe(down);
    },
  );
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port: relayPort } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${relayPort}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("PSK bootstrap against a runtime process", () => {
  let rt: RuntimeProcess;
  let caPem: string;
  let trust: TrustStore;

  beforeAll(async () => {
    rt = await startRuntimeProcess({
      config: {
        runtimePSKs: [RUNTIME_PSK],
        bootstrap: { method: "psk", hostPSK: HOST_PSK },
        provider: { connectionString: "memory" },
        workloadCertTTL: "2h",
        healthCheckDeadline: "7s",
        shutdownGracePeriod: "2s",
      },
    });
    caPem = printCA(rt.configPath);
    trust = await TrustStore.fromPem(caPem);
  });

  afterAll(async () => {
    expect(await rt.stop()).toEqual({ code: 0, signal: null });
    expect(rt.lines.some((l) => /runtime stopped/.test(l))).toBe(true);
  });

  /** Checks a grant against everything DESIGN.md section 3 says about it. */
  async function expectValidGrant(attempt: PskBootstrapAttempt, issuedAt: number): Promise<void> {
    const grant = attempt.grant!;
    expect(attempt.response.status).toBe(200);
    expect(grant.hostId).toMatch(/^h-[0-9a-f]{16}$/);
    expect(grant.spiffeId).toBe(`spiffe://francis/host/${grant.hostId}`);
    expect(grant.caBundle).toBe(caPem);
    expect(grant.healthCheckDeadlineMs).toBe(7000);
    const ders = fromPem(grant.certificate, "CERTIFICATE");
    expect(ders).toHaveLength(1);
    const peer = await verifyPeerChain(ders, await TrustStore.fromPem(grant.caBundle), {
      kind: "host",
      id: grant.hostId,
    });
    expect(peer.spiffeId).toBe(grant.spiffeId);
    const cert = parseCertificate(ders[0]);
    expect(cert.uris).toEqual([grant.spiffeId]);
    expect(toHex(cert.publicKey)).toBe(toHex(await rawPublicKey(attempt.keys.publicKey)));
    expect(grant.notAfter).toBe(cert.notAfter.toISOString());
    // notBefore is 5 minutes back, notAfter TTL ahead, both truncated to whole seconds.
    const span = cert.notAfter.getTime() - cert.notBefore.getTime();
    expect(Math.abs(span - (TTL_MS + BACKDATE_MS))).toBeLessThanOrEqual(1000);
    expect(Math.abs(cert.notAfter.getTime() - (issuedAt + TTL_MS))).toBeLessThan(10_000);
  }

  describe("a worker that holds the host PSK", () => {
    test("joins unpinned and gets a certificate for its own key, of the configured TTL", async () => {
      const issuedAt = Date.now();
      const attempt = await pskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        register: { address: "10.1.2.3:9443", actorTypes: ["counter", "timer"] },
      });
      await expectValidGrant(attempt, issuedAt);

      const r = await getSelf(rt.address, attempt.identity, trust, RUNTIME);
      expect(r.status).toBe(200);
      const record = parseWire(HostRecord, r.body, "host record");
      expect(record).toMatchObject({
        hostId: attempt.grant.hostId,
        spiffeId: attempt.grant.spiffeId,
        address: "10.1.2.3:9443",
        actorTypes: ["counter", "timer"],
        certNotAfter: attempt.grant.notAfter,
        caBundle: caPem,
      });
    });

    test("joins pinned to the print-ca bundle, binding to the runtime's own certificate", async () => {
      const issuedAt = Date.now();
      const attempt = await pskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        trust,
        expect: RUNTIME,
      });
      await expectValidGrant(attempt, issuedAt);
      const runtimePeer = await verifyPeerChain([attempt.challenge.serverCertDer], trust, RUNTIME);
      expect(runtimePeer.spiffeId).toBe("spiffe://francis/runtime/main");

      const r = await getSelf(rt.address, attempt.identity, trust, RUNTIME);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        hostId: attempt.grant.hostId,
        address: null,
        actorTypes: [],
      });
    });

    test("gets a host identity whatever identity its CSR claims", async () => {
      const attempt = await pskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        csrSubject: "spiffe://francis/runtime/main",
      });
      const cert = parseCertificate(fromPem(attempt.grant.certificate, "CERTIFICATE")[0]);
      expect(cert.uris).toEqual([`spiffe://francis/host/${attempt.grant.hostId}`]);
    });

    test("each join gets a fresh host ID", async () => {
      const a = await pskBootstrap(rt.address, { hostPSK: HOST_PSK });
      const b = await pskBootstrap(rt.address, { hostPSK: HOST_PSK });
      expect(a.grant.hostId).not.toBe(b.grant.hostId);
    });

    test("a pinned worker sends nothing to a runtime outside its pinned CAs", async () => {
      const err = await rejection(attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        trust: await TrustStore.fromCAs([foreignCA]),
        expect: RUNTIME,
      }));
      expect(err).toMatchObject({ code: "ERR_CERT_UNTRUSTED_CA" });
    });
  });

  describe("refusals", () => {
    test("rejects a worker with the wrong host PSK: 401 ERR_BOOTSTRAP_BAD_CLIENT_PROOF", async () => {
      const attempt = await attemptPskBootstrap(rt.address, {
        hostPSK: OTHER_HOST_PSK,
        ignoreServerProof: true,
      });
      expect(attempt.response.status).toBe(401);
      expect(codeOf(attempt.response.body)).toBe("ERR_BOOTSTRAP_BAD_CLIENT_PROOF");
      expect(attempt.grant).toBeUndefined();
    });

    test("the worker refuses the server proof of a runtime with another host PSK", async () => {
      const err = await rejection(attemptPskBootstrap(rt.address, { hostPSK: OTHER_HOST_PSK }));
      expect(err).toMatchObject({ code: "ERR_BOOTSTRAP_BAD_SERVER_PROOF" });
    });

    test("rejects a replayed registration, correct proof and all: 401 ERR_CHALLENGE_UNKNOWN", async () => {
      const first = await pskBootstrap(rt.address, { hostPSK: HOST_PSK });
      const replay = await requestOnce(rt.address, {}, {
        method: "POST",
        path: Routes.register,
        body: first.request,
      });
      expect(replay.status).toBe(401);
      expect(codeOf(replay.body)).toBe("ERR_CHALLENGE_UNKNOWN");
    });

    test("a challenge is spent by a failed attempt: the right proof afterwards is refused", async () => {
      const failed = await attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        clientProof: new Uint8Array(32),
      });
      expect(failed.response.status).toBe(401);
      expect(codeOf(failed.response.body)).toBe("ERR_BOOTSTRAP_BAD_CLIENT_PROOF");
      // The proof the worker would have sent, on the same challenge.
      const retry = await attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        challengeId: failed.challenge.challengeId,
      });
      expect(retry.response.status).toBe(401);
      expect(codeOf(retry.response.body)).toBe("ERR_CHALLENGE_UNKNOWN");
    });

    test("rejects a captured client proof replayed on a fresh challenge", async () => {
      const captured = await pskBootstrap(rt.address, { hostPSK: HOST_PSK });
      const replay = await attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        clientProof: captured.clientProof,
      });
      expect(replay.response.status).toBe(401);
      expect(codeOf(replay.response.body)).toBe("ERR_BOOTSTRAP_BAD_CLIENT_PROOF");
    });

    test("proofs bound to another certificate (a relay's) fail on both ends", async () => {
      const relayCertDer = fromPem(meddler.certPem, "CERTIFICATE")[0];
      const err = await rejection(attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        bindTo: relayCertDer,
      }));
      expect(err).toMatchObject({ code: "ERR_BOOTSTRAP_BAD_SERVER_PROOF" });
      const relayed = await attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        bindTo: relayCertDer,
        ignoreServerProof: true,
      });
      expect(relayed.response.status).toBe(401);
      expect(codeOf(relayed.response.body)).toBe("ERR_BOOTSTRAP_BAD_CLIENT_PROOF");
    });

    test("rejects a proof relayed through a TLS terminating proxy", async () => {
      const relay = await startRelay(rt.address, meddler);
      try {
        expect(await healthz(relay.address)).toBe(200); // the relay does pass traffic
        // The worker sees the relay's certificate, so the runtime's proof fails for it...
        const err = await rejection(attemptPskBootstrap(relay.address, { hostPSK: HOST_PSK }));
        expect(err).toMatchObject({ code: "ERR_BOOTSTRAP_BAD_SERVER_PROOF" });
        // ...and a worker that went on anyway sends a proof the runtime refuses.
        const relayed = await attemptPskBootstrap(relay.address, {
          hostPSK: HOST_PSK,
          ignoreServerProof: true,
        });
        expect(toHex(relayed.challenge.serverCertDer)).toBe(
          toHex(fromPem(meddler.certPem, "CERTIFICATE")[0]),
        );
        expect(relayed.response.status).toBe(401);
        expect(codeOf(relayed.response.body)).toBe("ERR_BOOTSTRAP_BAD_CLIENT_PROOF");
      } finally {
        await relay.close();
      }
    });

    test("rejects a CSR whose signature was altered: 400 ERR_CSR_BAD_SIGNATURE", async () => {
      const attempt = await attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        tamperCSR: (csr) => {
          const bad = csr.slice();
          bad[bad.length - 1] ^= 0x01;
          return bad;
        },
      });
      expect(attempt.response.status).toBe(400);
      expect(codeOf(attempt.response.body)).toBe("ERR_CSR_BAD_SIGNATURE");
    });

    test("rejects a CSR for a key its signer does not hold: 400 ERR_CSR_BAD_SIGNATURE", async () => {
      const victim = await rawPublicKey((await generateEd25519KeyPair(false)).publicKey);
      const attempt = await attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        tamperCSR: (csr) => {
          // Swap the 32-byte key in the SubjectPublicKeyInfo for someone else's.
          const spkiPrefix = new Uint8Array([0x03, 0x21, 0x00]);
          const at = indexOf(csr, spkiPrefix) + spkiPrefix.length;
          const bad = csr.slice();
          bad.set(victim, at);
          return bad;
        },
      });
      expect(attempt.response.status).toBe(400);
      expect(codeOf(attempt.response.body)).toBe("ERR_CSR_BAD_SIGNATURE");
    });

    test("rejects a CSR that is not DER: 400 ERR_CSR_MALFORMED", async () => {
      const attempt = await attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        tamperCSR: (csr) => csr.subarray(0, csr.length - 10),
      });
      expect(attempt.response.status).toBe(400);
      expect(codeOf(attempt.response.body)).toBe("ERR_CSR_MALFORMED");
    });

    test("rejects a client nonce of the wrong length: 400 ERR_BAD_REQUEST", async () => {
      const err = await rejection(attemptPskBootstrap(rt.address, {
        hostPSK: HOST_PSK,
        clientNonce: new Uint8Array(31),
      }));
      expect(String(err)).toContain("challenge answered 400");
      expect(String(err)).toContain("ERR_BAD_REQUEST");
    });

    test("after all these refusals the source is not yet rate limited, and the runtime is up", async () => {
      // Seven refusals so far (bad PSK, replays, relays): under the limit of 10 a minute.
      const refused = rt.lines.filter((l) => l.includes("bootstrap refused"));
      expect(refused).toHaveLength(7);
      await pskBootstrap(rt.address, { hostPSK: HOST_PSK });
      expect(await healthz(rt.address)).toBe(200);
    });
  });
});

describe("ChallengeStore (injected clock)", () => {
  const transcript = new Uint8Array(108);

  test("a challenge expires after 30 s", () => {
    const store = new ChallengeStore();
    const t0 = 1_000_000;
    const fresh = store.create("10.0.0.1", transcript, t0)!;
    const stale = store.create("10.0.0.1", transcript, t0)!;
    expect(store.take(fresh, t0 + 29_999)).toEqual({ transcript });
    expect(store.take(stale, t0 + 30_000)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  test("a challenge is single use, and an expired one is gone too", () => {
    const store = new ChallengeStore();
    const id = store.create("10.0.0.1", transcript, 0)!;
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(store.take(id, 1)).toBeDefined();
    expect(store.take(id, 1)).toBeUndefined();
    const late = store.create("10.0.0.1", transcript, 0)!;
    expect(store.take(late, 31_000)).toBeUndefined();
    expect(store.take(late, 0)).toBeUndefined();
  });

  test("bounds outstanding challenges per source and overall, freeing them as they expire", () => {
    const store = new ChallengeStore(30_000, 3, 2);
    expect(store.create("a", transcript, 0)).toBeDefined();
    expect(store.create("a", transcript, 0)).toBeDefined();
    expect(store.create("a", transcript, 0)).toBeUndefined();
    expect(store.create("b", transcript, 0)).toBeDefined();
    expect(store.create("c", transcript, 0)).toBeUndefined();
    expect(store.create("c", transcript, 30_000)).toBeDefined();
    expect(store.size).toBe(1);
  });
});

// Sanity: the CSR the helper sends is one the runtime accepts (guards the tamper tests above).
test("createCSR output contains the SPKI key prefix the tamper test looks for", async () => {
  const keys = await generateEd25519KeyPair(false);
  const csr = await createCSR(keys);
  const raw = await rawPublicKey(keys.publicKey);
  const at = indexOf(csr, new Uint8Array([0x03, 0x21, 0x00]));
  expect(at).toBeGreaterThan(0);
  expect(toHex(csr.subarray(at + 3, at + 35))).toBe(toHex(raw));
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
