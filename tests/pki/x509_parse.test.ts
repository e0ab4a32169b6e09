// Our strict X.509 parser against pkijs as an independent oracle, and against
// hostile bytes.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { asn1js, pkijs } from "../../lib/deps.ts";
import { toHex } from "../../lib/bytes.ts";
import { isFrancisError } from "../../lib/errors.ts";
import { deriveCA } from "../../lib/pki/ca.ts";
import { fromPem } from "../../lib/pki/pem.ts";
import { parseCertificate } from "../../lib/pki/x509.ts";
import { subjectAltNameExtension } from "../../lib/pki/x509.ts";
import { craftCA, craftLeaf, signerOf } from "../support/certs.ts";
import { openssl, signingFolder, signLeaf } from "../support/openssl.ts";

const PSK = "x509-parse-test-runtime-psk-000000001";
const ca = await deriveCA(PSK);

/** What pkijs reads out of the same bytes. */
function oracle(der: Uint8Array) {
  const cert = pkijs.Certificate.fromBER(new Uint8Array(der));
  const ext = (id: string) => cert.extensions?.find((e) => e.extnID === id);
  const bc = ext("2.5.29.19")?.parsedValue as pkijs.BasicConstraints | undefined;
  const ku = ext("2.5.29.15")?.parsedValue as asn1js.BitString | undefined;
  const eku = ext("2.5.29.37")?.parsedValue as pkijs.ExtKeyUsage | undefined;
  const san = ext("2.5.29.17")?.parsedValue as pkijs.AltName | undefined;
  const aki = ext("2.5.29.35")?.parsedValue as pkijs.AuthorityKeyIdentifier | undefined;
  const ski = ext("2.5.29.14")?.parsedValue as asn1js.OctetString | undefined;
  const kuBits: number[] = [];
  const kuBytes = ku?.valueBlock.valueHexView ?? new Uint8Array();
  for (let i = 0; i < kuBytes.length * 8; i++) {
    if (kuBytes[i >> 3] & (0x80 >> (i & 7))) kuBits.push(i);
  }
  return {
    serialHex: toHex(cert.serialNumber.valueBlock.valueHexView),
    notBefore: cert.notBefore.value.getTime(),
    notAfter: cert.notAfter.value.getTime(),
    selfIssued: cert.issuer.isEqual(cert.subject),
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
    publicKeyAlgorithm: cert.subjectPublicKeyInfo.algorithm.algorithmId,
    publicKey: toHex(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    tbs: toHex(cert.tbsView),
    ca: bc ? bc.cA === true : undefined,
    keyUsage: ku ? kuBits : undefined,
    extKeyUsage: eku?.keyPurposes,
    uris: san?.altNames.filter((n) => n.type === 6).map((n) => n.value as string) ?? [],
    otherNames: san?.altNames.filter((n) => n.type !== 6).length ?? 0,
    ski: ski ? toHex(ski.valueBlock.valueHexView) : undefined,
    aki: aki?.keyIdentifier ? toHex(aki.keyIdentifier.valueBlock.valueHexView) : undefined,
  };
}

function ours(der: Uint8Array) {
  const c = parseCertificate(der);
  return {
    serialHex: c.serialHex,
    notBefore: c.notBefore.getTime(),
    notAfter: c.notAfter.getTime(),
    selfIssued: toHex(c.issuer) === toHex(c.subject),
    signatureAlgorithm: c.signatureAlgorithm,
    publicKeyAlgorithm: c.publicKeyAlgorithm,
    publicKey: toHex(c.publicKey),
    tbs: toHex(c.tbs),
    ca: c.basicConstraints?.ca,
    keyUsage: c.keyUsage ? [...c.keyUsage].sort((a, b) => a - b) : undefined,
    extKeyUsage: c.extKeyUsage,
    uris: c.uris,
    otherNames: c.otherNames,
    ski: c.subjectKeyId ? toHex(c.subjectKeyId) : undefined,
    aki: c.authorityKeyId ? toHex(c.authorityKeyId) : undefined,
  };
}

// OpenSSL-made certificates of several shapes, signed with the derived CA key.
const { dir } = await signingFolder(PSK, ca.certPem, "/CN=leaf/O=Org/C=DE");
function opensslLeaf(name: string, extensions: string): Uint8Array {
  const r = signLeaf(dir, { serial: "0x00ff01", days: 400, extensions });
  if (r.code !== 0) throw new Error(`${name}: ${r.stderr}`);
  return r.bytes;
}
const ecKey = openssl([
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-keyout",
  "ec.key",
  "-subj",
  "/CN=ec",
  "-days",
  "30000",
  "-outform",
  "PEM",
], dir);

const corpus: [string, Uint8Array][] = [
  ["the derived CA", ca.certDer],
  ["a crafted leaf", await craftLeaf(signerOf(ca))],
  [
    "a leaf with a DNS and an IP name",
    await craftLeaf(signerOf(ca), {
      extensions: {
        subjectAltName: subjectAltNameExtension([
          { type: "uri", value: "spiffe://francis/host/a" },
          { type: "dns", value: "example.com" },
          { type: "ip", value: new Uint8Array([127, 0, 0, 1]) },
        ]),
      },
    }),
  ],
  ["an intermediate CA", (await craftCA("Mid", (await craftCA("Root")).signer)).der],
  [
    "an OpenSSL leaf",
    opensslLeaf(
      "leaf",
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth,codeSigning",
        "subjectAltName=URI:spiffe://francis/host/x,DNS:a.example,email:a@b.c",
        "authorityKeyIdentifier=keyid,issuer",
        "subjectKeyIdentifier=hash",
        "certificatePolicies=1.2.3.4",
      ].join("\n"),
    ),
  ],
  ["an OpenSSL leaf without extensions of ours", opensslLeaf("bare", "nsComment=hello")],
  ["an OpenSSL ECDSA certificate, GeneralizedTime", fromPem(ecKey.stdout, "CERTIFICATE")[0]],
];

describe("parseCertificate agrees with pkijs", () => {
  for (const [name, der] of corpus) {
    test(`on ${name}`, () => {
      expect(ours(der)).toEqual(oracle(der));
    });
  }
});

describe("parseCertificate refuses hostile bytes with ERR_CERT_MALFORMED only", () => {
  test("on any single-byte change, truncation or extension of a valid certificate", () => {
    const base = corpus[4][1];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: base.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 2 }),
        (at, byte, mode) => {
          const mutated = mode === 0
            ? Uint8Array.from(base, (b, i) => (i === at ? byte : b))
            : mode === 1
            ? base.slice(0, at)
            : new Uint8Array([...base, byte]);
          try {
            parseCertificate(mutated);
          } catch (err) {
            if (!isFrancisError(err, "ERR_CERT_MALFORMED")) throw err;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          parseCertificate(bytes);
        } catch (err) {
          if (!isFrancisError(err, "ERR_CERT_MALFORMED")) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("on an oversized input, before parsing", () => {
    const err = (() => {
      try {
        parseCertificate(new Uint8Array(20_000));
      } catch (e) {
        return e;
      }
    })();
    expect(isFrancisError(err, "ERR_CERT_MALFORMED")).toBe(true);
  });

  test("on a BER indefinite length", () => {
    const der = corpus[1][1]; // 30 82 LL LL ...
    const indefinite = new Uint8Array([0x30, 0x80, ...der.slice(4), 0, 0]);
    expect(() => parseCertificate(indefinite)).toThrow("not valid DER");
  });
});
