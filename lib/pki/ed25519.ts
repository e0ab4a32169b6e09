/**
 * Ed25519 keys through Web Crypto: from a 32-byte seed (the derived CA), freshly
 * generated (workload keys, which never leave their host), and their encodings.
 *
 * @module
 */
import { concatBytes, fromBase64, toArrayBuffer } from "../bytes.ts";
import { FrancisError } from "../errors.ts";
import { fromPem, toPem } from "./pem.ts";

/** The Ed25519 algorithm OID (RFC 8410). */
export const ED25519_OID = "1.3.101.112";

// PKCS#8 PrivateKeyInfo for Ed25519 is this fixed header followed by the 32-byte seed.
const PKCS8_ED25519_PREFIX = new Uint8Array([
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
]);

/** The PKCS#8 DER of the Ed25519 private key with this 32-byte seed. */
export function ed25519Pkcs8FromSeed(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  if (seed.length !== 32) throw new RangeError(`Ed25519 seed must be 32 bytes, got ${seed.length}`);
  return concatBytes(PKCS8_ED25519_PREFIX, seed);
}

/** The Ed25519 key pair whose private key is `seed`; the private key is not extractable. */
export async function ed25519KeyPairFromSeed(seed: Uint8Array): Promise<CryptoKeyPair> {
  const pkcs8 = ed25519Pkcs8FromSeed(seed);
  // Web Crypto has no "public key of this private key"; the JWK export carries it as `x`.
  const extractable = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  const { x } = await crypto.subtle.exportKey("jwk", extractable);
  const publicKey = await importEd25519PublicKey(base64UrlDecode(x ?? ""));
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", false, ["sign"]);
  return { privateKey, publicKey };
}

/** A fresh Ed25519 key pair; `extractable` lets the private key be exported for a TLS stack. */
export async function generateEd25519KeyPair(extractable: boolean): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey("Ed25519", extractable, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
}

/** Imports a raw 32-byte Ed25519 public key for verification. */
export async function importEd25519PublicKey(raw: Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey("raw", toArrayBuffer(raw), "Ed25519", true, ["verify"]);
}

/** The raw 32 bytes of an Ed25519 public key. */
export async function rawPublicKey(key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.exportKey("raw", key));
}

/** The PKCS#8 PEM of an extractable private key (what `node:tls` takes as `key`). */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return toPem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}

/** Imports an Ed25519 private key from PKCS#8 PEM. */
export async function privateKeyFromPem(pem: string, extractable = false): Promise<CryptoKey> {
  const [der] = fromPem(pem, "PRIVATE KEY");
  try {
    return await crypto.subtle.importKey("pkcs8", der, "Ed25519", extractable, ["sign"]);
  } catch (cause) {
    throw new FrancisError("ERR_PEM_MALFORMED", "Private key is not an Ed25519 PKCS#8 key", {
      cause,
    });
  }
}

function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
}
