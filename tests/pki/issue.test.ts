import { describe, expect, test } from "bun:test";
import { deriveCA } from "../../lib/pki/ca.ts";
import { createCSR, verifyCSR } from "../../lib/pki/csr.ts";
import { generateEd25519KeyPair, privateKeyToPem, rawPublicKey } from "../../lib/pki/ed25519.ts";
import {
  BACKDATE_MS,
  DEFAULT_WORKLOAD_TTL_MS,
  issueWorkloadCert,
  MAX_WORKLOAD_TTL_MS,
} from "../../lib/pki/issue.ts";
import { fromPem, toPem } from "../../lib/pki/pem.ts";
import { parseCertificate } from "../../lib/pki/x509.ts";
import { isFrancisError } from "../../lib/errors.ts";
import { toHex } from "../../lib/bytes.ts";
import { filesIn, openssl } from "../support/openssl.ts";

const PSK = "issue-test-runtime-psk-0123456789abcdef";
const ca = await deriveCA(PSK);
const keys = await generateEd25519KeyPair(true);
const publicKey = await rawPublicKey(keys.publicKey);

describe("issueWorkloadCert", () => {
  test("has the workload shape: CA:false, digitalSignature, both EKUs, one URI SAN", async () => {
    const issued = await issueWorkloadCert({ ca, spiffeId: "spiffe://francis/host/h1", publicKey });
    const cert = parseCertificate(issued.certDer);
    expect(cert.basicConstraints).toEqual({ ca: false, pathLen: undefined });
    expect([...cert.keyUsage!]).toEqual([0]);
    expect(cert.extKeyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(cert.uris).toEqual(["spiffe://francis/host/h1"]);
    expect(cert.otherNames).toBe(0);
    expect(cert.authorityKeyId).toEqual(ca.keyId);
    expect(toHex(cert.publicKey)).toBe(toHex(publicKey));
    expect(issued.spiffeId).toBe("spiffe://francis/host/h1");
  });

  test("backdates notBefore by 5 minutes and defaults to a 1 hour TTL", async () => {
    const now = new Date("2026-06-01T12:00:00.750Z");
    const issued = await issueWorkloadCert({
      ca,
      spiffeId: "spiffe://francis/host/h1",
      publicKey,
      now,
    });
    expect(issued.notBefore.toISOString()).toBe("2026-06-01T11:55:00.000Z");
    expect(issued.notAfter.toISOString()).toBe("2026-06-01T13:00:00.000Z");
    const cert = parseCertificate(issued.certDer);
    expect(cert.notBefore.getTime()).toBe(now.getTime() - 750 - BACKDATE_MS);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(
      DEFAULT_WORKLOAD_TTL_MS + BACKDATE_MS,
    );
  });

  test("accepts 365 days and never outlives the CA", async () => {
    const year = await issueWorkloadCert({
      ca,
      spiffeId: "spiffe://francis/host/h1",
      publicKey,
      ttlMs: MAX_WORKLOAD_TTL_MS,
      now: new Date("2030-01-01T00:00:00Z"),
    });
    expect(year.notAfter.toISOString()).toBe("2031-01-01T00:00:00.000Z");
    const late = await issueWorkloadCert({
      ca,
      spiffeId: "spiffe://francis/host/h1",
      publicKey,
      ttlMs: MAX_WORKLOAD_TTL_MS,
      now: new Date("2099-12-31T00:00:00Z"),
    });
    expect(late.notAfter.toISOString()).toBe("2100-01-01T00:00:00.000Z");
  });

  for (const ttlMs of [0, -1, 1.5, MAX_WORKLOAD_TTL_MS + 1, Number.NaN]) {
    test(`refuses a TTL of ${ttlMs} ms`, async () => {
      const err = await issueWorkloadCert({
        ca,
        spiffeId: "spiffe://francis/host/h1",
        publicKey,
        ttlMs,
      })
        .catch((e) => e);
      expect(isFrancisError(err, "ERR_CERT_TTL_INVALID")).toBe(true);
    });
  }

  for (
    const spiffeId of [
      "spiffe://francis",
      "spiffe://other/host/h1",
      "spiffe://francis/host/a/b",
      "https://x",
      "spiffe://francis/admin/x",
      "spiffe://francis/host/..",
    ]
  ) {
    test(`refuses to issue for ${spiffeId}`, async () => {
      const err = await issueWorkloadCert({ ca, spiffeId, publicKey }).catch((e) => e);
      expect(isFrancisError(err, "ERR_SPIFFE_ID_INVALID")).toBe(true);
    });
  }

  test("gives every certificate a fresh random 128-bit serial", async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const issued = await issueWorkloadCert({
        ca,
        spiffeId: "spiffe://francis/host/h1",
        publicKey,
      });
      serials.add(issued.serialHex);
      expect(parseCertificate(issued.certDer).serialHex).toBe(issued.serialHex);
      // a positive DER INTEGER: a leading 00 byte only in front of a set top bit
      const first = parseInt(issued.serialHex.slice(0, 2), 16);
      const second = parseInt(issued.serialHex.slice(2, 4), 16);
      expect(first === 0 ? second >= 0x80 : first < 0x80).toBe(true);
      expect(issued.serialHex.length).toBeLessThanOrEqual(34);
    }
    expect(serials.size).toBe(50);
  });
});

describe("CSR proof of possession", () => {
  test("a CSR made with our key verifies and yields exactly that key", async () => {
    const csr = await createCSR(keys);
    const verified = await verifyCSR(csr);
    expect(toHex(verified.publicKey)).toBe(toHex(publicKey));
  });

  test("refuses a CSR whose signature does not match its key", async () => {
    const other = await generateEd25519KeyPair(false);
    // our public key, signed by someone else's private key
    const forged = await createCSR({ publicKey: keys.publicKey, privateKey: other.privateKey });
    const err = await verifyCSR(forged).catch((e) => e);
    expect(isFrancisError(err, "ERR_CSR_BAD_SIGNATURE")).toBe(true);
  });

  test("refuses a CSR with a flipped signature bit", async () => {
    const csr = await createCSR(keys);
    csr[csr.length - 1] ^= 1;
    const err = await verifyCSR(csr).catch((e) => e);
    expect(isFrancisError(err, "ERR_CSR_BAD_SIGNATURE")).toBe(true);
  });

  test("refuses truncated, padded, empty, garbage and oversized CSRs as malformed", async () => {
    const csr = await createCSR(keys);
    const cases = [
      csr.subarray(0, csr.length - 5),
      new Uint8Array([...csr, 0]),
      new Uint8Array(),
      crypto.getRandomValues(new Uint8Array(200)),
      new Uint8Array(5000),
    ];
    for (const bytes of cases) {
      const err = await verifyCSR(bytes).catch((e) => e);
      expect(isFrancisError(err, "ERR_CSR_MALFORMED")).toBe(true);
    }
  });

  test("refuses an ECDSA CSR made by OpenSSL as an unsupported key", async () => {
    const dir = filesIn({});
    const made = openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "k.pem",
      "-subj",
      "/CN=x",
      "-outform",
      "PEM",
    ], dir);
    expect(made.code).toBe(0);
    const err = await verifyCSR(fromPem(made.stdout, "CERTIFICATE REQUEST")[0]).catch((e) => e);
    expect(isFrancisError(err, "ERR_CSR_UNSUPPORTED_KEY")).toBe(true);
  });

  test("accepts an Ed25519 CSR made by OpenSSL, and OpenSSL accepts ours", async () => {
    const dir = filesIn({ "key.pem": await privateKeyToPem(keys.privateKey) });
    const made = openssl([
      "req",
      "-new",
      "-key",
      "key.pem",
      "-subj",
      "/CN=evil/O=root",
      "-outform",
      "DER",
    ], dir);
    expect(made.code).toBe(0);
    expect(toHex((await verifyCSR(made.bytes)).publicKey)).toBe(toHex(publicKey));
    const ours = filesIn({ "csr.pem": toPem("CERTIFICATE REQUEST", await createCSR(keys)) });
    const check = openssl(["req", "-in", "csr.pem", "-verify", "-noout"], ours);
    expect(check.code).toBe(0);
    expect(check.stdout + check.stderr).toContain("verify OK");
  });
});

describe("issued certificates, checked by OpenSSL", () => {
  test("OpenSSL verifies a workload certificate against the CA for TLS client and server use", async () => {
    const issued = await issueWorkloadCert({ ca, spiffeId: "spiffe://francis/host/h1", publicKey });
    const dir = filesIn({ "ca.pem": ca.certPem, "leaf.pem": issued.certPem });
    for (const purpose of ["sslserver", "sslclient"]) {
      const r = openssl(["verify", "-CAfile", "ca.pem", "-purpose", purpose, "leaf.pem"], dir);
      expect(r.stdout.trim()).toBe("leaf.pem: OK");
    }
    const text = openssl(["x509", "-in", "leaf.pem", "-noout", "-text"], dir).stdout;
    expect(text).toContain("CA:FALSE");
    expect(text).toContain("Digital Signature");
    expect(text).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
    expect(text).toContain("URI:spiffe://francis/host/h1");
    expect(text).not.toContain("DNS:");
    expect(text).not.toContain("IP Address:");
  });

  test("OpenSSL refuses our certificate under a foreign CA and after expiry", async () => {
    const foreign = await deriveCA("a-completely-different-psk-000000000");
    const issued = await issueWorkloadCert({ ca, spiffeId: "spiffe://francis/host/h1", publicKey });
    const dir = filesIn({
      "foreign.pem": foreign.certPem,
      "ca.pem": ca.certPem,
      "leaf.pem": issued.certPem,
    });
    expect(openssl(["verify", "-CAfile", "foreign.pem", "leaf.pem"], dir).code).not.toBe(0);
    const later = Math.floor(issued.notAfter.getTime() / 1000) + 10;
    const expired = openssl(
      ["verify", "-CAfile", "ca.pem", "-attime", String(later), "leaf.pem"],
      dir,
    );
    expect(expired.code).not.toBe(0);
    expect(expired.stdout + expired.stderr).toContain("certificate has expired");
  });
});
