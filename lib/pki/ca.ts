/**
 * The cluster CA, derived from a runtime PSK. Every runtime and host that holds
 * the same PSK derives the same key and the byte-identical certificate, so the
 * CA needs no distribution and no storage.
 *
 * @module
 */
import { hkdfSha256, sha256, toHex, utf8 } from "../bytes.ts";
import { FrancisError } from "../errors.ts";
import { ed25519KeyPairFromSeed, rawPublicKey } from "./ed25519.ts";
import { toPem } from "./pem.ts";
import { CA_SPIFFE_ID } from "./spiffe.ts";
import {
  basicConstraintsExtension,
  commonName,
  keyIdentifier,
  KeyUsage,
  keyUsageExtension,
  signCertificate,
  subjectKeyIdentifierExtension,
  uriSanExtension,
} from "./x509.ts";

/** Runtime PSKs shorter than this many UTF-8 bytes are refused. */
export const RUNTIME_PSK_MIN_BYTES = 32;
/** Subject and issuer common name of every cluster CA. */
export const CA_COMMON_NAME = "Francis CA";
/** notBefore of every cluster CA certificate. */
export const CA_NOT_BEFORE: Date = new Date("2020-01-01T00:00:00Z");
/** notAfter of every cluster CA certificate; no workload certificate outlives it. */
export const CA_NOT_AFTER: Date = new Date("2100-01-01T00:00:00Z");

const HKDF_SALT = utf8("francis-ca-salt-v1");
const HKDF_INFO = utf8("francis-ca-v1");

/** A cluster CA: its certificate and the private key that signs workload certificates. */
export interface ClusterCA {
  /** The CA certificate, PEM. */
  certPem: string;
  /** The CA certificate, DER. */
  certDer: Uint8Array<ArrayBuffer>;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array<ArrayBuffer>;
  /** SHA-256 of the certificate DER, lower-case hex: how operators compare CAs. */
  fingerprint: string;
  /** The subjectKeyIdentifier (SHA-1 of the public key, RFC 5280 method 1). */
  keyId: Uint8Array<ArrayBuffer>;
  /** The non-extractable Ed25519 signing key. */
  privateKey: CryptoKey;
}

/** Every CA of the configured runtime PSKs, primary (index 0, the signer) first. */
export interface CABundle {
  /** The CA that signs new certificates. */
  primary: ClusterCA;
  /** All trusted CAs, primary first. */
  cas: ClusterCA[];
  /** The PEM bundle of all CA certificates, primary first (what `print-ca` prints). */
  pem: string;
}

// A short PSK would make the CA key guessable offline from the public certificate.
function pskBytes(psk: string): Uint8Array<ArrayBuffer> {
  const bytes = utf8(psk);
  if (bytes.length < RUNTIME_PSK_MIN_BYTES) {
    throw new FrancisError(
      "ERR_PSK_TOO_SHORT",
      `Runtime PSK must be at least ${RUNTIME_PSK_MIN_BYTES} bytes of UTF-8, got ${bytes.length}`,
    );
  }
  return bytes;
}

/**
 * Derives the cluster CA of one runtime PSK: seed = HKDF-SHA256(PSK,
 * "francis-ca-salt-v1", "francis-ca-v1", 32), Ed25519 key from the seed, and a
 * deterministic self-signed certificate (DESIGN.md section 3).
 *
 * @throws {FrancisError} `ERR_PSK_TOO_SHORT` for a PSK under 32 bytes of UTF-8
 */
export async function deriveCA(psk: string): Promise<ClusterCA> {
  const seed = await hkdfSha256(pskBytes(psk), HKDF_SALT, HKDF_INFO, 32);
  const { privateKey, publicKey } = await ed25519KeyPairFromSeed(seed);
  const raw = await rawPublicKey(publicKey);
  const keyId = await keyIdentifier(raw);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  const certDer = await signCertificate({
    serial: (await sha256(raw)).subarray(0, 16),
    issuer: commonName(CA_COMMON_NAME),
    subject: commonName(CA_COMMON_NAME),
    notBefore: CA_NOT_BEFORE,
    notAfter: CA_NOT_AFTER,
    subjectPublicKeyInfo: spki,
    extensions: [
      basicConstraintsExtension(true, 0),
      keyUsageExtension([KeyUsage.keyCertSign, KeyUsage.cRLSign]),
      subjectKeyIdentifierExtension(keyId),
      uriSanExtension(CA_SPIFFE_ID),
    ],
  }, privateKey);
  return {
    certPem: toPem("CERTIFICATE", certDer),
    certDer,
    publicKey: raw,
    fingerprint: toHex(await sha256(certDer)),
    keyId,
    privateKey,
  };
}

/**
 * Derives the CA of every runtime PSK, in order; the first is the primary.
 *
 * @throws {RangeError} when `psks` is empty
 * @throws {FrancisError} `ERR_PSK_TOO_SHORT` for any PSK under 32 bytes
 */
export async function deriveCABundle(psks: readonly string[]): Promise<CABundle> {
  if (psks.length === 0) throw new RangeError("At least one runtime PSK is required");
  const cas = await Promise.all(psks.map(deriveCA));
  return { primary: cas[0], cas, pem: cas.map((ca) => ca.certPem).join("") };
}
