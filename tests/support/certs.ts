// Hand-built certificates for the refusal tests: the same builder the issuer
// uses, with one rule broken at a time.
import type { ClusterCA } from "../../lib/pki/ca.ts";
import { generateEd25519KeyPair, rawPublicKey } from "../../lib/pki/ed25519.ts";
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
} from "../../lib/pki/x509.ts";

export interface Signer {
  name: string;
  keyId: Uint8Array;
  privateKey: CryptoKey;
}

export function signerOf(ca: ClusterCA): Signer {
  return { name: "Francis CA", keyId: ca.keyId, privateKey: ca.privateKey };
}

export interface LeafOptions {
  uri?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Replaces (or, with null, drops) default extensions by name; `extra` are appended. */
  extensions?: Partial<Record<ExtensionName, Uint8Array | null>>;
  extra?: Uint8Array[];
  subject?: string;
  keys?: CryptoKeyPair;
}

export const HOUR = 3600_000;

export type ExtensionName =
  | "basicConstraints"
  | "keyUsage"
  | "extKeyUsage"
  | "subjectKeyId"
  | "authorityKeyId"
  | "subjectAltName";

/** A workload-shaped leaf signed by `signer`, changed by `options`. */
export async function craftLeaf(signer: Signer, options: LeafOptions = {}): Promise<Uint8Array> {
  const keys = options.keys ?? await generateEd25519KeyPair(false);
  const uri = options.uri ?? "spiffe://francis/host/h1";
  const raw = await rawPublicKey(keys.publicKey);
  const defaults: Record<ExtensionName, Uint8Array> = {
    basicConstraints: basicConstraintsExtension(false),
    keyUsage: keyUsageExtension([KeyUsage.digitalSignature]),
    extKeyUsage: extKeyUsageExtension([OID.serverAuth, OID.clientAuth]),
    subjectKeyId: subjectKeyIdentifierExtension(await keyIdentifier(raw)),
    authorityKeyId: authorityKeyIdentifierExtension(signer.keyId),
    subjectAltName: uriSanExtension(uri),
  };
  const chosen = { ...defaults, ...options.extensions };
  const extensions = Object.values(chosen).filter((e): e is Uint8Array => e !== null);
  const now = Date.now();
  return await signCertificate({
    serial: crypto.getRandomValues(new Uint8Array(16)),
    issuer: commonName(signer.name),
    subject: commonName(options.subject ?? uri),
    notBefore: options.notBefore ?? new Date(now - HOUR),
    notAfter: options.notAfter ?? new Date(now + HOUR),
    subjectPublicKeyInfo: new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)),
    extensions: [...extensions, ...(options.extra ?? [])],
  }, signer.privateKey);
}

/** A CA certificate (pathlen 0) named `name`, signed by `parent` or self-signed. */
export async function craftCA(
  name: string,
  parent?: Signer,
): Promise<{ der: Uint8Array; signer: Signer }> {
  const keys = await generateEd25519KeyPair(false);
  const keyId = await keyIdentifier(await rawPublicKey(keys.publicKey));
  const issuer = parent ?? { name, keyId, privateKey: keys.privateKey };
  const der = await signCertificate({
    serial: crypto.getRandomValues(new Uint8Array(16)),
    issuer: commonName(issuer.name),
    subject: commonName(name),
    notBefore: new Date("2020-01-01T00:00:00Z"),
    notAfter: new Date("2090-01-01T00:00:00Z"),
    subjectPublicKeyInfo: new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)),
    extensions: [
      basicConstraintsExtension(true, 0),
      keyUsageExtension([KeyUsage.keyCertSign, KeyUsage.cRLSign]),
      subjectKeyIdentifierExtension(keyId),
      ...(parent ? [authorityKeyIdentifierExtension(parent.keyId)] : []),
    ],
  }, issuer.privateKey);
  return { der, signer: { name, keyId, privateKey: keys.privateKey } };
}
