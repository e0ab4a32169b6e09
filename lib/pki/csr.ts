/**
 * PKCS#10 certificate signing requests: a host makes one with the key it keeps,
 * and the issuer checks its self-signature as proof that the requester holds
 * that key. Any identity inside the CSR is ignored; the issuer sets its own.
 *
 * Requests are read with the strict DER reader (lib/pki/der.ts): only the
 * Ed25519 shape is accepted, and nothing that is not canonical DER.
 *
 * @module
 */
import { FrancisError } from "../errors.ts";
import * as der from "./der.ts";
import { ED25519_OID, importEd25519PublicKey } from "./ed25519.ts";
import { commonName, ED25519_ALGORITHM } from "./x509.ts";

/** CSRs larger than this are refused before parsing (an Ed25519 CSR is about 150 bytes). */
export const MAX_CSR_BYTES = 4096;

/** Builds a CSR for `keys`, signed by its private key; the subject is informational only. */
export async function createCSR(
  keys: CryptoKeyPair,
  subjectCommonName = "francis-host",
): Promise<Uint8Array<ArrayBuffer>> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const info = der.sequence(
    der.smallInteger(0),
    commonName(subjectCommonName),
    spki,
    der.explicit(0), // attributes: required, empty
  );
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", keys.privateKey, info));
  return der.sequence(info, ED25519_ALGORITHM, der.bitString(signature));
}

/** What a verified CSR yields: only the key, never an identity. */
export interface VerifiedCSR {
  /** The raw 32-byte Ed25519 public key the requester proved it holds. */
  publicKey: Uint8Array<ArrayBuffer>;
}

const ED25519_ALG = der.sequence(der.oid(ED25519_OID));

interface CSRParts {
  info: Uint8Array<ArrayBuffer>;
  publicKey: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

// CertificationRequest ::= SEQUENCE { info, AlgorithmIdentifier, BIT STRING }
// info ::= SEQUENCE { INTEGER 0, Name, SubjectPublicKeyInfo, [0] Attributes }
function readCSR(bytes: Uint8Array<ArrayBuffer>): CSRParts {
  const outer = new der.DerReader(bytes);
  const csr = outer.enter(der.Tag.sequence);
  outer.end();
  const info = csr.read(der.Tag.sequence);
  const algorithm = csr.read(der.Tag.sequence);
  const sig = csr.read(der.Tag.bitString).value;
  csr.end();
  const fields = new der.DerReader(info.value);
  if (!der.bytesEqual(fields.read(der.Tag.integer).value, new Uint8Array([0]))) {
    throw new der.DerError("Unsupported CSR version");
  }
  fields.read(der.Tag.sequence); // subject: informational only, never used
  const spki = fields.enter(der.Tag.sequence);
  const keyAlgorithm = spki.read(der.Tag.sequence);
  const key = spki.read(der.Tag.bitString).value;
  spki.end();
  fields.read(0xa0); // attributes
  fields.end();
  // An Ed25519 key is a 32-byte BIT STRING with no unused bits; anything else is another key type.
  if (!der.bytesEqual(keyAlgorithm.raw, ED25519_ALG) || key.length !== 33 || key[0] !== 0) {
    throw new FrancisError("ERR_CSR_UNSUPPORTED_KEY", "CSR key must be an Ed25519 public key");
  }
  if (!der.bytesEqual(algorithm.raw, ED25519_ALG)) {
    throw new FrancisError("ERR_CSR_UNSUPPORTED_KEY", "CSR must be signed with Ed25519");
  }
  return {
    info: info.raw,
    publicKey: key.slice(1),
    signature: sig[0] === 0 ? sig.subarray(1) : new Uint8Array(),
  };
}

// Proof of possession: the issuer certifies a key only if the CSR is signed by it.
/**
 * Parses a DER CSR and checks its Ed25519 self-signature.
 *
 * @throws {FrancisError} `ERR_CSR_MALFORMED`, `ERR_CSR_UNSUPPORTED_KEY` or `ERR_CSR_BAD_SIGNATURE`
 */
export async function verifyCSR(bytes: Uint8Array): Promise<VerifiedCSR> {
  if (bytes.length > MAX_CSR_BYTES) {
    throw new FrancisError("ERR_CSR_MALFORMED", `CSR is larger than ${MAX_CSR_BYTES} bytes`);
  }
  let parts: CSRParts;
  try {
    parts = readCSR(new Uint8Array(bytes));
  } catch (cause) {
    if (cause instanceof FrancisError) throw cause;
    throw new FrancisError("ERR_CSR_MALFORMED", "CSR is not a DER PKCS#10 request", { cause });
  }
  let valid = false;
  if (parts.signature.length === 64) {
    try {
      const key = await importEd25519PublicKey(parts.publicKey);
      valid = await crypto.subtle.verify("Ed25519", key, parts.signature, parts.info);
    } catch {
      valid = false; // a key that is not a valid curve point cannot have signed anything
    }
  }
  if (!valid) {
    throw new FrancisError("ERR_CSR_BAD_SIGNATURE", "CSR signature does not match its key");
  }
  return { publicKey: parts.publicKey };
}
