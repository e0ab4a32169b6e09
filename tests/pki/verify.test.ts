import { describe, expect, test } from "bun:test";
import { deriveCA } from "../../lib/pki/ca.ts";
import { generateEd25519KeyPair, rawPublicKey } from "../../lib/pki/ed25519.ts";
import { issueWorkloadCert } from "../../lib/pki/issue.ts";
import { fromPem } from "../../lib/pki/pem.ts";
import { type ExpectedIdentity, TrustStore, verifyPeerChain } from "../../lib/pki/verify.ts";
import {
  basicConstraintsExtension,
  extension,
  extKeyUsageExtension,
  KeyUsage,
  keyUsageExtension,
  OID,
  subjectAltNameExtension,
  uriSanExtension,
} from "../../lib/pki/x509.ts";
import { type ErrorCode, isFrancisError } from "../../lib/errors.ts";
import { craftCA, craftLeaf, HOUR, signerOf } from "../support/certs.ts";

const ca = await deriveCA("verify-test-runtime-psk-0123456789abc");
const foreign = await deriveCA("verify-test-FOREIGN-psk-0123456789abc");
const trust = await TrustStore.fromCAs([ca]);
const host: ExpectedIdentity = { kind: "host" };

async function refusal(
  chain: Uint8Array[],
  expected: ExpectedIdentity = host,
  now?: Date,
): Promise<ErrorCode> {
  const err = await verifyPeerChain(chain, trust, expected, now).then(
    () => undefined,
    (e) => e,
  );
  if (!isFrancisError(err)) throw new Error(`expected a refusal, got ${err}`);
  return err.code;
}

async function issued(spiffeId = "spiffe://francis/host/h1"): Promise<Uint8Array> {
  const keys = await generateEd25519KeyPair(false);
  const cert = await issueWorkloadCert({
    ca,
    spiffeId,
    publicKey: await rawPublicKey(keys.publicKey),
  });
  return cert.certDer;
}

describe("verifyPeerChain accepts", () => {
  test("a workload certificate from the trusted CA, with its identity", async () => {
    const peer = await verifyPeerChain([await issued()], trust, { kind: "host", id: "h1" });
    expect(peer).toMatchObject({ kind: "host", id: "h1", spiffeId: "spiffe://francis/host/h1" });
    expect(peer.issuerFingerprint).toBe(ca.fingerprint);
  });

  test("a runtime identity where a runtime is expected", async () => {
    const peer = await verifyPeerChain([await issued("spiffe://francis/runtime/r1")], trust, {
      kind: "runtime",
    });
    expect(peer.id).toBe("r1");
  });

  test("a certificate of the old CA while both CAs are trusted (rotation)", async () => {
    const both = await TrustStore.fromCAs([foreign, ca]);
    const peer = await verifyPeerChain([await issued()], both, host);
    expect(peer.issuerFingerprint).toBe(ca.fingerprint);
  });

  test("a chain that also carries the CA certificate", async () => {
    const peer = await verifyPeerChain([await issued(), ca.certDer], trust, host);
    expect(peer.id).toBe("h1");
  });
});

describe("verifyPeerChain refuses, each with its own code", () => {
  test("an empty chain", async () => {
    expect(await refusal([])).toBe("ERR_CERT_CHAIN_EMPTY");
  });

  test("bytes that are not a certificate", async () => {
    expect(await refusal([crypto.getRandomValues(new Uint8Array(64))])).toBe("ERR_CERT_MALFORMED");
    const good = await issued();
    expect(await refusal([good.subarray(0, good.length - 1)])).toBe("ERR_CERT_MALFORMED");
    expect(await refusal([new Uint8Array([...good, 0])])).toBe("ERR_CERT_MALFORMED");
  });

  test("a certificate from a foreign CA, alone or with that CA", async () => {
    const leaf = await craftLeaf(signerOf(foreign));
    expect(await refusal([leaf])).toBe("ERR_CERT_UNTRUSTED_CA");
    expect(await refusal([leaf, foreign.certDer])).toBe("ERR_CERT_UNTRUSTED_CA");
  });

  test("a certificate whose CA was removed from the trust set (after rotation)", async () => {
    const onlyNew = await TrustStore.fromCAs([foreign]);
    const err = await verifyPeerChain([await issued()], onlyNew, host).catch((e) => e);
    expect(err.code).toBe("ERR_CERT_UNTRUSTED_CA");
  });

  test("a certificate under an intermediate CA, with the intermediate left out", async () => {
    const root = await craftCA("Other Root");
    const mid = await craftCA("Other Intermediate", root.signer);
    expect(await refusal([await craftLeaf(mid.signer)])).toBe("ERR_CERT_CHAIN_INCOMPLETE");
  });

  test("a certificate under an intermediate, even when the intermediate is presented", async () => {
    const root = await craftCA("Other Root");
    const mid = await craftCA("Other Intermediate", root.signer);
    expect(await refusal([await craftLeaf(mid.signer), mid.der, root.der])).toBe(
      "ERR_CERT_UNTRUSTED_CA",
    );
  });

  test("a certificate with a bad signature", async () => {
    const leaf = await issued();
    leaf[leaf.length - 1] ^= 0x01;
    expect(await refusal([leaf])).toBe("ERR_CERT_BAD_SIGNATURE");
  });

  test("a certificate whose signed body was altered", async () => {
    const leaf = await issued("spiffe://francis/host/h1");
    const text = new TextDecoder("latin1").decode(leaf);
    const at = text.indexOf("spiffe://francis/host/h1");
    leaf[at + "spiffe://francis/host/".length] = "h".charCodeAt(0) + 1; // h1 -> i1
    expect(await refusal([leaf])).toBe("ERR_CERT_BAD_SIGNATURE");
  });

  test("an expired certificate", async () => {
    const leaf = await craftLeaf(signerOf(ca), {
      notBefore: new Date(Date.now() - 2 * HOUR),
      notAfter: new Date(Date.now() - 1000),
    });
    expect(await refusal([leaf])).toBe("ERR_CERT_EXPIRED");
  });

  test("an issued certificate checked one second after its notAfter", async () => {
    const leaf = await issued();
    const after = new Date(Date.now() + HOUR + 1000);
    expect(await refusal([leaf], host, after)).toBe("ERR_CERT_EXPIRED");
  });

  test("a certificate not yet valid", async () => {
    const leaf = await craftLeaf(signerOf(ca), {
      notBefore: new Date(Date.now() + HOUR),
      notAfter: new Date(Date.now() + 2 * HOUR),
    });
    expect(await refusal([leaf])).toBe("ERR_CERT_NOT_YET_VALID");
  });

  test("a CA:true leaf, and the CA certificate itself", async () => {
    const leaf = await craftLeaf(signerOf(ca), {
      extensions: { basicConstraints: basicConstraintsExtension(true) },
    });
    expect(await refusal([leaf])).toBe("ERR_CERT_LEAF_IS_CA");
    expect(await refusal([ca.certDer])).toBe("ERR_CERT_LEAF_IS_CA");
  });

  test("a certificate without digitalSignature, or with keyCertSign", async () => {
    for (
      const bits of [[KeyUsage.keyCertSign], [KeyUsage.digitalSignature, KeyUsage.keyCertSign]]
    ) {
      const leaf = await craftLeaf(signerOf(ca), {
        extensions: { keyUsage: keyUsageExtension(bits) },
      });
      expect(await refusal([leaf])).toBe("ERR_CERT_KEY_USAGE");
    }
  });

  test("a certificate missing clientAuth or serverAuth", async () => {
    for (const purposes of [[OID.serverAuth], [OID.clientAuth]]) {
      const leaf = await craftLeaf(signerOf(ca), {
        extensions: { extKeyUsage: extKeyUsageExtension(purposes) },
      });
      expect(await refusal([leaf])).toBe("ERR_CERT_EXTENDED_KEY_USAGE");
    }
  });

  test("a certificate with no SPIFFE ID", async () => {
    const leaf = await craftLeaf(signerOf(ca), {
      extensions: { subjectAltName: null },
    });
    expect(await refusal([leaf])).toBe("ERR_CERT_SPIFFE_ID_MISSING");
  });

  test("a certificate with two SPIFFE IDs", async () => {
    const san = subjectAltNameExtension([
      { type: "uri", value: "spiffe://francis/host/h1" },
      { type: "uri", value: "spiffe://francis/host/h2" },
    ]);
    const leaf = await craftLeaf(signerOf(ca), { extensions: { subjectAltName: san } });
    expect(await refusal([leaf])).toBe("ERR_CERT_SPIFFE_ID_MULTIPLE");
  });

  test("a certificate with a DNS name beside its SPIFFE ID", async () => {
    const san = subjectAltNameExtension([
      { type: "uri", value: "spiffe://francis/host/h1" },
      { type: "dns", value: "example.com" },
    ]);
    const leaf = await craftLeaf(signerOf(ca), { extensions: { subjectAltName: san } });
    expect(await refusal([leaf])).toBe("ERR_CERT_FORBIDDEN_SAN");
  });

  test("a certificate with an unknown critical extension", async () => {
    const odd = extension("1.3.6.1.4.1.99999.1", true, new Uint8Array([0x05, 0x00]));
    const leaf = await craftLeaf(signerOf(ca), { extra: [odd] });
    expect(await refusal([leaf])).toBe("ERR_CERT_UNKNOWN_CRITICAL_EXTENSION");
  });

  test("a SPIFFE ID of another trust domain", async () => {
    const leaf = await craftLeaf(signerOf(ca), {
      extensions: { subjectAltName: uriSanExtension("spiffe://evil/host/h1") },
    });
    expect(await refusal([leaf])).toBe("ERR_SPIFFE_ID_INVALID");
  });

  test("a runtime identity where a host is expected, and the reverse", async () => {
    expect(await refusal([await issued("spiffe://francis/runtime/r1")])).toBe(
      "ERR_CERT_WRONG_IDENTITY_KIND",
    );
    expect(await refusal([await issued()], { kind: "runtime" })).toBe(
      "ERR_CERT_WRONG_IDENTITY_KIND",
    );
  });

  test("a different host than the one placement named", async () => {
    expect(await refusal([await issued("spiffe://francis/host/h2")], { kind: "host", id: "h1" }))
      .toBe("ERR_CERT_WRONG_IDENTITY");
  });
});

describe("TrustStore", () => {
  test("round-trips the PEM bundle in order", async () => {
    const store = await TrustStore.fromPem(foreign.certPem + ca.certPem);
    expect(store.pem).toBe(foreign.certPem + ca.certPem);
    expect(store.anchors.map((a) => a.fingerprint)).toEqual([foreign.fingerprint, ca.fingerprint]);
  });

  test("refuses a leaf as an anchor, and PEM without certificates", async () => {
    const err = await TrustStore.fromDer([await issued()]).catch((e) => e);
    expect(err.code).toBe("ERR_CERT_UNTRUSTED_CA");
    const pem = await TrustStore.fromPem("not a certificate").catch((e) => e);
    expect(pem.code).toBe("ERR_PEM_MALFORMED");
    expect(fromPem(ca.certPem, "CERTIFICATE")).toHaveLength(1);
  });
});
