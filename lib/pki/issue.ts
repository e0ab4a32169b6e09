/**
 * Workload certificates: short-lived leaves that name exactly one SPIFFE
 * identity, chosen by the issuer, for a key the requester proved it holds.
 *
 * @module
 */
import { concatBytes, toHex } from "../bytes.ts";
import { FrancisError } from "../errors.ts";
import { CA_COMMON_NAME, CA_NOT_AFTER, type ClusterCA } from "./ca.ts";
import { unsignedInteger } from "./der.ts";
import { toPem } from "./pem.ts";
import { parseSpiffeId } from "./spiffe.ts";
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  commonName,
  extKeyUsageExtension,
  keyIdentifier,
  KeyUsage,
  keyUsageExtension,
  OID,
  signCertificate,
  subjectKeyIdentifierExtension,
  uriSanExtension,
} from "./x509.ts";

/** Default workload certificate lifetime: one hour. */
export const DEFAULT_WORKLOAD_TTL_MS = 60 * 60 * 1000;
/** The longest workload certificate lifetime: 365 days. */
export const MAX_WORKLOAD_TTL_MS = 365 * 24 * 60 * 60 * 1000;
/** How far notBefore is backdated, to absorb clock skew between hosts. */
export const BACKDATE_MS = 5 * 60 * 1000;

// SubjectPublicKeyInfo for Ed25519 is this fixed header followed by the 32-byte key.
const SPKI_ED25519_PREFIX = new Uint8Array([
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x03,
  0x21,
  0x00,
]);

// The parts of every workload certificate that never change.
const ISSUER = commonName(CA_COMMON_NAME);
const END_ENTITY = basicConstraintsExtension(false);
const DIGITAL_SIGNATURE = keyUsageExtension([KeyUsage.digitalSignature]);
const SERVER_AND_CLIENT = extKeyUsageExtension([OID.serverAuth, OID.clientAuth]);

/** What to certify. */
export interface WorkloadCertRequest {
  /** The signing CA (the bundle's primary). */
  ca: ClusterCA;
  /** `spiffe://francis/host/<id>` or `spiffe://francis/runtime/<id>`. */
  spiffeId: string;
  /** The subject's raw 32-byte Ed25519 public key, from a verified CSR. */
  publicKey: Uint8Array;
  /** Lifetime in milliseconds; default one hour, at most 365 days. */
  ttlMs?: number;
  /** The issuing time; default now. */
  now?: Date;
}

/** An issued workload certificate. */
export interface WorkloadCert {
  /** The certificate, DER. */
  certDer: Uint8Array<ArrayBuffer>;
  /** The certificate, PEM. */
  certPem: string;
  /** Hex of the serial number's DER content bytes (as `ParsedCertificate.serialHex`). */
  serialHex: string;
  /** The identity it names. */
  spiffeId: string;
  /** Five minutes before issuance, whole seconds. */
  notBefore: Date;
  /** Issuance plus TTL (capped at the CA's notAfter), whole seconds. */
  notAfter: Date;
}

/**
 * Signs a workload certificate: random 128-bit serial, notBefore 5 minutes
 * back, notAfter now + TTL capped at the CA's notAfter, CA:false,
 * digitalSignature, serverAuth + clientAuth, one URI SAN and nothing else.
 *
 * @throws {FrancisError} `ERR_CERT_TTL_INVALID`, `ERR_SPIFFE_ID_INVALID`, `ERR_CSR_UNSUPPORTED_KEY`
 */
export async function issueWorkloadCert(request: WorkloadCertRequest): Promise<WorkloadCert> {
  const ttl = request.ttlMs ?? DEFAULT_WORKLOAD_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_WORKLOAD_TTL_MS) {
    throw new FrancisError(
      "ERR_CERT_TTL_INVALID",
      `Workload certificate TTL must be a whole number of milliseconds from 1 to ${MAX_WORKLOAD_TTL_MS} (365 days), got ${ttl}`,
    );
  }
  const { uri } = parseSpiffeId(request.spiffeId);
  if (request.publicKey.length !== 32) {
    throw new FrancisError("ERR_CSR_UNSUPPORTED_KEY", "Workload key must be a 32-byte Ed25519 key");
  }
  const now = (request.now ?? new Date()).getTime();
  const notBefore = new Date(Math.floor((now - BACKDATE_MS) / 1000) * 1000);
  const notAfter = new Date(
    Math.floor(Math.min(now + ttl, CA_NOT_AFTER.getTime()) / 1000) * 1000,
  );
  const serial = crypto.getRandomValues(new Uint8Array(16));
  const keyId = await keyIdentifier(request.publicKey);
  const certDer = await signCertificate({
    serial,
    issuer: ISSUER,
    subject: commonName(uri),
    notBefore,
    notAfter,
    subjectPublicKeyInfo: concatBytes(SPKI_ED25519_PREFIX, request.publicKey),
    extensions: [
      END_ENTITY,
      DIGITAL_SIGNATURE,
      SERVER_AND_CLIENT,
      subjectKeyIdentifierExtension(keyId),
      authorityKeyIdentifierExtension(request.ca.keyId),
      uriSanExtension(uri),
    ],
  }, request.ca.privateKey);
  return {
    certDer,
    certPem: toPem("CERTIFICATE", certDer),
    serialHex: parseSerial(serial),
    spiffeId: uri,
    notBefore,
    notAfter,
  };
}

// The hex of the INTEGER's content bytes: 16 or 17 bytes, so a one-byte length.
function parseSerial(serial: Uint8Array): string {
  return toHex(unsignedInteger(serial).subarray(2));
}
