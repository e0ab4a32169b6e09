/**
 * PKCS#10 certificate signing requests: a host makes one with the key it keeps,
 * and the issuer checks its self-signature as proof that the requester holds
 * that key. Any identity inside the CSR is ignored; the issuer sets its own.
 *
 * @module
 */
import { asn1js, pkijs } from "../deps.ts";
import { FrancisError } from "../errors.ts";
import { ED25519_OID, importEd25519PublicKey } from "./ed25519.ts";
import { commonName, ed25519AlgorithmIdentifier } from "./x509.ts";

/** CSRs larger than this are refused before parsing (an Ed25519 CSR is about 150 bytes). */
export const MAX_CSR_BYTES = 4096;

/** Builds a CSR for `keys`, signed by its private key; the subject is informational only. */
export async function createCSR(
  keys: CryptoKeyPair,
  subjectCommonName = "francis-host",
): Promise<Uint8Array<ArrayBuffer>> {
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  csr.subject = commonName(subjectCommonName);
  csr.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(
    await crypto.subtle.exportKey("spki", keys.publicKey),
  );
  csr.attributes = [];
  csr.signatureAlgorithm = ed25519AlgorithmIdentifier();
  // pkijs keeps encodeTBS protected on CSRs; the encoded schema's first element is the TBS.
  const tbs = new Uint8Array(csr.toSchema(true).valueBlock.value[0].toBER(false));
  csr.tbsView = tbs;
  const signature = await crypto.subtle.sign("Ed25519", keys.privateKey, tbs);
  csr.signatureValue = new asn1js.BitString({ valueHex: signature });
  return new Uint8Array(csr.toSchema(false).toBER(false));
}

/** What a verified CSR yields: only the key, never an identity. */
export interface VerifiedCSR {
  /** The raw 32-byte Ed25519 public key the requester proved it holds. */
  publicKey: Uint8Array<ArrayBuffer>;
}

// Proof of possession: the issuer certifies a key only if the CSR is signed by it.
/**
 * Parses a DER CSR and checks its Ed25519 self-signature.
 *
 * @throws {FrancisError} `ERR_CSR_MALFORMED`, `ERR_CSR_UNSUPPORTED_KEY` or `ERR_CSR_BAD_SIGNATURE`
 */
export async function verifyCSR(der: Uint8Array): Promise<VerifiedCSR> {
  if (der.length > MAX_CSR_BYTES) {
    throw new FrancisError("ERR_CSR_MALFORMED", `CSR is larger than ${MAX_CSR_BYTES} bytes`);
  }
  const csr = parseCSR(der);
  const spki = csr.subjectPublicKeyInfo;
  const publicKey = new Uint8Array(spki.subjectPublicKey.valueBlock.valueHexView);
  if (
    spki.algorithm.algorithmId !== ED25519_OID || spki.algorithm.algorithmParams !== undefined ||
    publicKey.length !== 32
  ) {
    throw new FrancisError("ERR_CSR_UNSUPPORTED_KEY", "CSR key must be an Ed25519 public key");
  }
  if (csr.signatureAlgorithm.algorithmId !== ED25519_OID) {
    throw new FrancisError("ERR_CSR_UNSUPPORTED_KEY", "CSR must be signed with Ed25519");
  }
  const sig = csr.signatureValue.valueBlock;
  let valid = false;
  if (sig.unusedBits === 0 && sig.valueHexView.length === 64) {
    try {
      const key = await importEd25519PublicKey(publicKey);
      valid = await crypto.subtle.verify(
        "Ed25519",
        key,
        new Uint8Array(sig.valueHexView),
        new Uint8Array(csr.tbsView),
      );
    } catch {
      valid = false; // a key that is not a valid curve point cannot have signed anything
    }
  }
  if (!valid) {
    throw new FrancisError("ERR_CSR_BAD_SIGNATURE", "CSR signature does not match its key");
  }
  return { publicKey };
}

function parseCSR(input: Uint8Array): pkijs.CertificationRequest {
  const der = new Uint8Array(input);
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset !== der.length) {
    throw new FrancisError("ERR_CSR_MALFORMED", "CSR DER is truncated or has trailing bytes");
  }
  try {
    return new pkijs.CertificationRequest({ schema: asn1.result });
  } catch (cause) {
    throw new FrancisError("ERR_CSR_MALFORMED", "CSR is not a valid PKCS#10 request", { cause });
  }
}
