/**
 * Peer certificate verification: the one place that decides whether a
 * presented certificate chain is a member of the cluster and who it is.
 *
 * Trusted CAs have pathlen 0, so a valid chain is always a leaf signed
 * directly by one trusted CA; intermediates are never accepted.
 *
 * @module
 */
import { sha256, timingSafeEqual, toHex } from "../bytes.ts";
import { type ErrorCode, FrancisError } from "../errors.ts";
import type { ClusterCA } from "./ca.ts";
import { ED25519_OID, importEd25519PublicKey } from "./ed25519.ts";
import { fromPem, toPem } from "./pem.ts";
import { type IdentityKind, parseSpiffeId, type SpiffeIdentity } from "./spiffe.ts";
import { KeyUsage, OID, parseCertificate, type ParsedCertificate, sameName } from "./x509.ts";

/** A trusted CA certificate. */
export interface TrustAnchor {
  /** The CA certificate, DER. */
  certDer: Uint8Array;
  /** SHA-256 of the DER, lower-case hex. */
  fingerprint: string;
}

// An anchor as verification uses it: parsed and with its key imported once.
interface Anchor extends TrustAnchor {
  cert: ParsedCertificate;
  key: CryptoKey;
}

// Parsed anchors stay private to this module: callers see only DER and fingerprints.
const parsedAnchors = new WeakMap<TrustStore, readonly Anchor[]>();

/** The set of CA certificates a verifier trusts, primary first. */
export class TrustStore {
  /** The trusted CA certificates, in the order given (primary first). */
  readonly anchors: readonly TrustAnchor[];

  private constructor(anchors: Anchor[]) {
    this.anchors = anchors.map(({ certDer, fingerprint }) => ({ certDer, fingerprint }));
    parsedAnchors.set(this, anchors);
  }

  // Only self-signed Ed25519 CA certificates may be anchors: a leaf or a
  // foreign-algorithm certificate in a pinned bundle is a configuration error.
  /**
   * Builds a store from CA certificates in DER.
   *
   * @throws {FrancisError} when a certificate is not a valid self-signed Ed25519 CA
   */
  static async fromDer(ders: readonly Uint8Array[]): Promise<TrustStore> {
    if (ders.length === 0) throw new RangeError("A trust store needs at least one CA certificate");
    const anchors: Anchor[] = [];
    for (const der of ders) {
      const cert = parseCertificate(der);
      if (cert.publicKeyAlgorithm !== ED25519_OID || cert.signatureAlgorithm !== ED25519_OID) {
        throw new FrancisError("ERR_CERT_UNSUPPORTED_ALGORITHM", "A cluster CA must be Ed25519");
      }
      if (!cert.basicConstraints?.ca || !cert.keyUsage?.has(KeyUsage.keyCertSign)) {
        throw new FrancisError("ERR_CERT_UNTRUSTED_CA", "Trusted certificate is not a CA");
      }
      const key = await importEd25519PublicKey(cert.publicKey);
      if (!await crypto.subtle.verify("Ed25519", key, cert.signature, cert.tbs)) {
        throw new FrancisError("ERR_CERT_BAD_SIGNATURE", "CA certificate is not self-signed");
      }
      anchors.push({ cert, key, certDer: cert.der, fingerprint: toHex(await sha256(cert.der)) });
    }
    return new TrustStore(anchors);
  }

  /** Builds a store from a PEM bundle (as `print-ca` prints it). */
  static async fromPem(pem: string): Promise<TrustStore> {
    return await TrustStore.fromDer(fromPem(pem, "CERTIFICATE"));
  }

  /** Builds a store from derived CAs. */
  static async fromCAs(cas: readonly ClusterCA[]): Promise<TrustStore> {
    return await TrustStore.fromDer(cas.map((ca) => ca.certDer));
  }

  /** The PEM bundle of the anchors, in order. */
  get pem(): string {
    return this.anchors.map((a) => toPem("CERTIFICATE", a.certDer)).join("");
  }
}

/** The identity a verifier requires. */
export interface ExpectedIdentity {
  /** `host` or `runtime`; omitted, either kind is accepted (check `VerifiedPeer.kind` then). */
  kind?: IdentityKind;
  /** When set, the exact host or runtime ID (e.g. the host that placement named). */
  id?: string;
}

/** A verified peer. */
export interface VerifiedPeer {
  /** `host` or `runtime`. */
  kind: IdentityKind;
  /** The host or runtime ID from the SPIFFE ID. */
  id: string;
  /** The full SPIFFE ID. */
  spiffeId: string;
  /** Hex of the serial number's DER content bytes. */
  serialHex: string;
  /** The leaf's notAfter. */
  notAfter: Date;
  /** SHA-256 of the leaf DER, lower-case hex. */
  fingerprint: string;
  /** SHA-256 fingerprint of the trusted CA that signed the leaf. */
  issuerFingerprint: string;
}

function refuse(code: ErrorCode, message: string): never {
  throw new FrancisError(code, message);
}

/**
 * Verifies a presented chain (leaf first) at time `now`: the leaf must be
 * signed by a trusted CA and pass {@linkcode checkLeaf}.
 *
 * @throws {FrancisError} an `ERR_CERT_*` code naming the first rule broken
 */
export async function verifyPeerChain(
  chain: readonly Uint8Array[],
  trust: TrustStore,
  expected: ExpectedIdentity,
  now: Date = new Date(),
): Promise<VerifiedPeer> {
  if (chain.length === 0) refuse("ERR_CERT_CHAIN_EMPTY", "No certificate was presented");
  const [leaf, ...rest] = chain.map(parseCertificate);
  const issuer = await findIssuer(leaf, rest, trust);
  const t = now.getTime();
  if (t < issuer.cert.notBefore.getTime() || t > issuer.cert.notAfter.getTime()) {
    refuse("ERR_CERT_EXPIRED", "The issuing CA is outside its validity window");
  }
  const identity = checkLeaf(leaf, expected, now);
  return {
    ...identity,
    serialHex: leaf.serialHex,
    notAfter: leaf.notAfter,
    fingerprint: toHex(await sha256(leaf.der)),
    issuerFingerprint: issuer.fingerprint,
  };
}

/**
 * The checks on a leaf that need no signature: validity window at `now`, an
 * end entity with digitalSignature and serverAuth + clientAuth, exactly one
 * SPIFFE ID and no other name, of the expected kind and ID. Synchronous, so a
 * TLS client's `checkServerIdentity` can run it once the TLS stack has checked
 * the chain.
 *
 * @throws {FrancisError} an `ERR_CERT_*` code naming the first rule broken
 */
export function checkLeaf(
  leaf: ParsedCertificate,
  expected: ExpectedIdentity,
  now: Date = new Date(),
): SpiffeIdentity & { spiffeId: string } {
  const t = now.getTime();
  if (t < leaf.notBefore.getTime()) {
    refuse(
      "ERR_CERT_NOT_YET_VALID",
      `Certificate is not valid before ${leaf.notBefore.toISOString()}`,
    );
  }
  if (t > leaf.notAfter.getTime()) {
    refuse("ERR_CERT_EXPIRED", `Certificate expired at ${leaf.notAfter.toISOString()}`);
  }
  // A CA certificate presented as a leaf could mint identities of its own.
  if (leaf.basicConstraints?.ca) {
    refuse("ERR_CERT_LEAF_IS_CA", "Certificate is a CA, not a workload");
  }
  if (leaf.unknownCritical.length > 0) {
    refuse(
      "ERR_CERT_UNKNOWN_CRITICAL_EXTENSION",
      `Certificate has unsupported critical extensions: ${leaf.unknownCritical.join(", ")}`,
    );
  }
  if (!leaf.keyUsage?.has(KeyUsage.digitalSignature) || leaf.keyUsage.has(KeyUsage.keyCertSign)) {
    refuse(
      "ERR_CERT_KEY_USAGE",
      "Certificate key usage must be digitalSignature without keyCertSign",
    );
  }
  const eku = leaf.extKeyUsage ?? [];
  if (!eku.includes(OID.serverAuth) || !eku.includes(OID.clientAuth)) {
    refuse("ERR_CERT_EXTENDED_KEY_USAGE", "Certificate must allow both serverAuth and clientAuth");
  }
  // Identity comes from exactly one SPIFFE URI; any other name could be matched by something else.
  const spiffeUris = leaf.uris.filter((u) => u.startsWith("spiffe://"));
  if (leaf.otherNames > 0 || spiffeUris.length !== leaf.uris.length) {
    refuse("ERR_CERT_FORBIDDEN_SAN", "Certificate may carry no subjectAltName but its SPIFFE ID");
  }
  if (spiffeUris.length === 0) refuse("ERR_CERT_SPIFFE_ID_MISSING", "Certificate has no SPIFFE ID");
  if (spiffeUris.length > 1) {
    refuse(
      "ERR_CERT_SPIFFE_ID_MULTIPLE",
      `Certificate has ${spiffeUris.length} SPIFFE IDs, not one`,
    );
  }
  const identity = parseSpiffeId(spiffeUris[0]);
  if (expected.kind !== undefined && identity.kind !== expected.kind) {
    refuse(
      "ERR_CERT_WRONG_IDENTITY_KIND",
      `Expected a ${expected.kind} identity, got ${identity.uri}`,
    );
  }
  if (expected.id !== undefined && identity.id !== expected.id) {
    refuse(
      "ERR_CERT_WRONG_IDENTITY",
      `Expected ${expected.kind ?? "peer"} ${JSON.stringify(expected.id)}, got ${identity.uri}`,
    );
  }
  return { ...identity, spiffeId: identity.uri };
}

// The leaf must be signed by an anchor itself: matching by name alone is not
// enough, since every cluster CA is named "Francis CA".
async function findIssuer(
  leaf: ParsedCertificate,
  presented: ParsedCertificate[],
  trust: TrustStore,
): Promise<Anchor> {
  const named = (parsedAnchors.get(trust) ?? []).filter((a) =>
    sameName(a.cert.subject, leaf.issuer)
  );
  const candidates = named.filter((a) =>
    leaf.authorityKeyId === undefined || a.cert.subjectKeyId === undefined ||
    timingSafeEqual(a.cert.subjectKeyId, leaf.authorityKeyId)
  );
  if (candidates.length === 0) {
    if (named.length > 0 || presented.some((c) => sameName(c.subject, leaf.issuer))) {
      refuse("ERR_CERT_UNTRUSTED_CA", "Certificate was issued by a CA that is not trusted");
    }
    refuse(
      "ERR_CERT_CHAIN_INCOMPLETE",
      "Certificate's issuer was neither presented nor trusted: the chain is incomplete",
    );
  }
  if (leaf.signatureAlgorithm !== ED25519_OID || !leaf.signatureAlgorithmsAgree) {
    refuse("ERR_CERT_UNSUPPORTED_ALGORITHM", "Certificate must be signed with Ed25519");
  }
  for (const anchor of candidates) {
    if (
      leaf.signature.length === 64 &&
      await crypto.subtle.verify("Ed25519", anchor.key, leaf.signature, leaf.tbs)
    ) {
      return anchor;
    }
  }
  return refuse("ERR_CERT_BAD_SIGNATURE", "Certificate signature does not verify");
}
