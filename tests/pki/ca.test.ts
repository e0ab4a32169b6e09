import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { deriveCA, deriveCABundle } from "../../lib/pki/ca.ts";
import { fromPem } from "../../lib/pki/pem.ts";
import { parseCertificate } from "../../lib/pki/x509.ts";
import { isFrancisError } from "../../lib/errors.ts";
import { toHex } from "../../lib/bytes.ts";
import { filesIn, openssl } from "../support/openssl.ts";

export const KAT_PSK = "francis-known-answer-test-psk-0001";
const KAT_PEM = readFileSync(new URL("../fixtures/ca-kat.pem", import.meta.url), "utf8");

describe("deriveCA", () => {
  test("matches the checked-in known answer byte for byte", async () => {
    const ca = await deriveCA(KAT_PSK);
    expect(ca.certPem).toBe(KAT_PEM);
  });

  test("is byte-identical across calls", async () => {
    const a = await deriveCA("another-psk-of-at-least-32-bytes-xyz");
    const b = await deriveCA("another-psk-of-at-least-32-bytes-xyz");
    expect(toHex(a.certDer)).toBe(toHex(b.certDer));
    expect(a.fingerprint).toBe(b.fingerprint);
  });

  test("gives different CAs for different PSKs", async () => {
    const a = await deriveCA(KAT_PSK);
    const b = await deriveCA(KAT_PSK + "x");
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
  });

  test("refuses a PSK shorter than 32 bytes and says so", async () => {
    const err = await deriveCA("x".repeat(31)).catch((e) => e);
    expect(isFrancisError(err, "ERR_PSK_TOO_SHORT")).toBe(true);
    expect(err.message).toContain("at least 32 bytes");
    expect(err.message).toContain("got 31");
  });

  test("counts UTF-8 bytes, not characters", async () => {
    // 16 characters of two bytes each: 32 bytes, accepted; 15 of them: 30 bytes, refused.
    await deriveCA("é".repeat(16));
    const err = await deriveCA("é".repeat(15)).catch((e) => e);
    expect(isFrancisError(err, "ERR_PSK_TOO_SHORT")).toBe(true);
  });

  test("has the fixed shape: names, validity, serial, extensions, SPIFFE ID", async () => {
    const ca = await deriveCA(KAT_PSK);
    const cert = parseCertificate(ca.certDer);
    expect(cert.notBefore.toISOString()).toBe("2020-01-01T00:00:00.000Z");
    expect(cert.notAfter.toISOString()).toBe("2100-01-01T00:00:00.000Z");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", ca.publicKey));
    // first 16 bytes of SHA-256(raw public key), as a positive INTEGER (0x00 in front if needed)
    expect(cert.serialHex.replace(/^00/, "")).toBe(toHex(digest.subarray(0, 16)));
    expect(cert.basicConstraints).toEqual({ ca: true, pathLen: 0 });
    expect([...cert.keyUsage!].sort()).toEqual([5, 6]);
    expect(cert.uris).toEqual(["spiffe://francis"]);
    expect(cert.otherNames).toBe(0);
    expect(cert.subjectKeyId).toEqual(ca.keyId);
  });
});

describe("deriveCABundle", () => {
  test("puts the primary first and trusts every PSK's CA", async () => {
    const psks = [KAT_PSK, "second-runtime-psk-0123456789abcdef"];
    const bundle = await deriveCABundle(psks);
    expect(bundle.primary.fingerprint).toBe((await deriveCA(psks[0])).fingerprint);
    expect(bundle.cas.map((c) => c.fingerprint)).toEqual([
      (await deriveCA(psks[0])).fingerprint,
      (await deriveCA(psks[1])).fingerprint,
    ]);
    expect(fromPem(bundle.pem, "CERTIFICATE").map(toHex)).toEqual(
      bundle.cas.map((c) => toHex(c.certDer)),
    );
  });

  test("refuses an empty PSK list", async () => {
    await expect(deriveCABundle([])).rejects.toThrow(RangeError);
  });
});

describe("deriveCA, checked by OpenSSL", () => {
  test("OpenSSL parses the CA and verifies its self-signature", async () => {
    const ca = await deriveCA(KAT_PSK);
    const dir = filesIn({ "ca.pem": ca.certPem });
    const text = openssl(["x509", "-in", "ca.pem", "-noout", "-text"], dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("Issuer: CN = Francis CA");
    expect(text.stdout).toContain("CA:TRUE, pathlen:0");
    expect(text.stdout).toContain("Certificate Sign, CRL Sign");
    expect(text.stdout).toContain("URI:spiffe://francis");
    expect(text.stdout).toContain("Signature Algorithm: ED25519");
    const verify = openssl(["verify", "-CAfile", "ca.pem", "ca.pem"], dir);
    expect(verify.stdout.trim()).toBe("ca.pem: OK");
  });

  test("OpenSSL's own HKDF of the PSK gives the same Ed25519 key", async () => {
    const ca = await deriveCA(KAT_PSK);
    const dir = filesIn({ "ca.pem": ca.certPem });
    const seed = openssl([
      "kdf",
      "-keylen",
      "32",
      "-kdfopt",
      "digest:SHA256",
      "-kdfopt",
      `key:${KAT_PSK}`,
      "-kdfopt",
      "salt:francis-ca-salt-v1",
      "-kdfopt",
      "info:francis-ca-v1",
      "-binary",
      "HKDF",
    ], dir);
    expect(seed.code).toBe(0);
    expect(seed.bytes.length).toBe(32);
    const pkcs8 = new Uint8Array([
      ...[
        0x30,
        0x2e,
        0x02,
        0x01,
        0x00,
        0x30,
        0x05,
        0x06,
        0x03,
        0x2b,
        0x65,
        0x70,
        0x04,
        0x22,
        0x04,
        0x20,
      ],
      ...seed.bytes,
    ]);
    const pub = openssl(["pkey", "-inform", "DER", "-pubout", "-outform", "DER"], dir, pkcs8);
    expect(pub.code).toBe(0);
    expect(toHex(pub.bytes.subarray(-32))).toBe(toHex(ca.publicKey));
    const certPub = openssl(["x509", "-in", "ca.pem", "-noout", "-pubkey"], dir);
    const fromCert = fromPem(certPub.stdout, "PUBLIC KEY")[0];
    expect(toHex(fromCert.subarray(-32))).toBe(toHex(ca.publicKey));
  });
});
