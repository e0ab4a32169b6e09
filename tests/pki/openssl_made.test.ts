// Certificates made by OpenSSL, signed with the derived CA key, must be judged
// by our verifier exactly as our own: accepted when well formed, refused with
// the same code when one rule is broken.
import { describe, expect, test } from "bun:test";
import { deriveCA } from "../../lib/pki/ca.ts";
import { type ExpectedIdentity, TrustStore, verifyPeerChain } from "../../lib/pki/verify.ts";
import { isFrancisError } from "../../lib/errors.ts";
import { openssl, signingFolder, signLeaf } from "../support/openssl.ts";

const PSK = "openssl-interop-runtime-psk-0123456789";
const ca = await deriveCA(PSK);
const trust = await TrustStore.fromCAs([ca]);
const { dir, key, csr } = await signingFolder(PSK, ca.certPem, "/CN=leaf");

const GOOD = {
  basicConstraints: "critical,CA:FALSE",
  keyUsage: "critical,digitalSignature",
  extendedKeyUsage: "serverAuth,clientAuth",
  subjectAltName: "URI:spiffe://francis/host/openssl-host",
  authorityKeyIdentifier: "keyid",
};

function opensslLeaf(ext: Record<string, string | undefined>): Uint8Array {
  const lines = Object.entries({ ...GOOD, ...ext }).filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const r = signLeaf(dir, {
    serial: "4242",
    days: 1,
    extensions: `[v3]\n${lines.join("\n")}\n`,
    section: "v3",
  });
  if (r.code !== 0) throw new Error(r.stderr);
  return r.bytes;
}

async function code(der: Uint8Array, expected: ExpectedIdentity = { kind: "host" }, now?: Date) {
  const err = await verifyPeerChain([der], trust, expected, now).then(() => "accepted", (e) => e);
  if (err === "accepted") return err;
  if (!isFrancisError(err)) throw err;
  return err.code;
}

describe("OpenSSL-made certificates", () => {
  test("setup: OpenSSL made a key and a CSR", () => {
    expect(key.code).toBe(0);
    expect(csr.code).toBe(0);
  });

  test("a well-formed one is accepted, with its identity", async () => {
    const peer = await verifyPeerChain([opensslLeaf({})], trust, {
      kind: "host",
      id: "openssl-host",
    });
    expect(peer.spiffeId).toBe("spiffe://francis/host/openssl-host");
    expect(peer.serialHex).toBe("1092"); // 4242
  });

  const cases: [string, Record<string, string | undefined>, string][] = [
    ["CA:true leaf", { basicConstraints: "critical,CA:TRUE" }, "ERR_CERT_LEAF_IS_CA"],
    ["no SPIFFE ID", { subjectAltName: undefined }, "ERR_CERT_SPIFFE_ID_MISSING"],
    [
      "two SPIFFE IDs",
      { subjectAltName: "URI:spiffe://francis/host/a,URI:spiffe://francis/host/b" },
      "ERR_CERT_SPIFFE_ID_MULTIPLE",
    ],
    [
      "a DNS SAN",
      { subjectAltName: "URI:spiffe://francis/host/a,DNS:example.com" },
      "ERR_CERT_FORBIDDEN_SAN",
    ],
    [
      "an IP SAN",
      { subjectAltName: "URI:spiffe://francis/host/a,IP:127.0.0.1" },
      "ERR_CERT_FORBIDDEN_SAN",
    ],
    ["serverAuth only", { extendedKeyUsage: "serverAuth" }, "ERR_CERT_EXTENDED_KEY_USAGE"],
    ["no keyUsage", { keyUsage: undefined }, "ERR_CERT_KEY_USAGE"],
    [
      "a runtime identity",
      { subjectAltName: "URI:spiffe://francis/runtime/r1" },
      "ERR_CERT_WRONG_IDENTITY_KIND",
    ],
  ];
  for (const [name, ext, expected] of cases) {
    test(`one with ${name} is refused with ${expected}`, async () => {
      expect(await code(opensslLeaf(ext))).toBe(expected);
    });
  }

  test("one checked after its notAfter is refused as expired", async () => {
    expect(await code(opensslLeaf({}), { kind: "host" }, new Date(Date.now() + 2 * 86400_000)))
      .toBe("ERR_CERT_EXPIRED");
  });

  test("one self-signed by OpenSSL with the right shape is refused as untrusted", async () => {
    const r = openssl([
      "req",
      "-x509",
      "-key",
      "leaf.key",
      "-subj",
      "/CN=Francis CA",
      "-days",
      "1",
      "-outform",
      "DER",
      "-addext",
      "subjectAltName=URI:spiffe://francis/host/x",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ], dir);
    expect(r.code).toBe(0);
    expect(await code(r.bytes)).toBe("ERR_CERT_UNTRUSTED_CA");
  });
});
