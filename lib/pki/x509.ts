/**
 * Our X.509 glue: building and signing Ed25519 certificates with the small DER
 * writer in der.ts (pkijs 4 cannot sign Ed25519, RFC 8410, and its encoder is
 * too slow for the issuance path), and reading the few fields verification
 * needs out of a certificate parsed by pkijs.
 *
 * @module
 */
import { asn1js, pkijs } from "../deps.ts";
import { toHex, utf8 } from "../bytes.ts";
import * as der from "./der.ts";
import { FrancisError } from "../errors.ts";
import { ED25519_OID } from "./ed25519.ts";

/** OIDs of the extensions and purposes we write or read. */
export const OID = {
  commonName: "2.5.4.3",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** keyUsage bits, numbered as in RFC 5280 (bit 0 is the most significant bit of the first byte). */
export const KeyUsage = {
  digitalSignature: 0,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

/** DER AlgorithmIdentifier for Ed25519: the OID with parameters absent (RFC 8410). */
export const ED25519_ALGORITHM: Uint8Array = der.sequence(der.oid(ED25519_OID));

/** DER Name holding one UTF8String common name. */
export function commonName(cn: string): Uint8Array<ArrayBuffer> {
  return der.sequence(
    der.tlv(der.Tag.set, der.sequence(der.oid(OID.commonName), der.utf8String(cn))),
  );
}

/** DER of one Extension; `value` is the DER the extnValue OCTET STRING wraps. */
export function extension(
  id: string,
  critical: boolean,
  value: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return critical
    ? der.sequence(der.oid(id), der.TRUE, der.octetString(value))
    : der.sequence(der.oid(id), der.octetString(value));
}

/** basicConstraints, always critical. */
export function basicConstraintsExtension(ca: boolean, pathLen?: number): Uint8Array<ArrayBuffer> {
  const fields = [
    ...(ca ? [der.TRUE] : []),
    ...(pathLen === undefined ? [] : [der.smallInteger(pathLen)]),
  ];
  return extension(OID.basicConstraints, true, der.sequence(...fields));
}

/** keyUsage with the given bits set, always critical, DER-minimal (trailing zero bits dropped). */
export function keyUsageExtension(bits: number[]): Uint8Array<ArrayBuffer> {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] |= 0x80 >> (bit & 7);
  return extension(OID.keyUsage, true, der.bitString(bytes, 7 - (highest & 7)));
}

/** extKeyUsage with the given purposes, not critical. */
export function extKeyUsageExtension(purposes: string[]): Uint8Array<ArrayBuffer> {
  return extension(OID.extKeyUsage, false, der.sequence(...purposes.map(der.oid)));
}

/** The key identifier of a raw public key: its SHA-1 (RFC 5280 section 4.2.1.2, method 1). */
export async function keyIdentifier(publicKey: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-1", publicKey.slice()));
}

/** subjectKeyIdentifier, not critical. */
export function subjectKeyIdentifierExtension(keyId: Uint8Array): Uint8Array<ArrayBuffer> {
  return extension(OID.subjectKeyIdentifier, false, der.octetString(keyId));
}

/** authorityKeyIdentifier holding only the issuer's key identifier, not critical. */
export function authorityKeyIdentifierExtension(keyId: Uint8Array): Uint8Array<ArrayBuffer> {
  return extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, keyId)));
}

/** A subjectAltName entry. */
export type GeneralName = { type: "uri" | "dns"; value: string } | {
  type: "ip";
  value: Uint8Array;
};

/** subjectAltName with the given names, not critical (our subjects are never empty). */
export function subjectAltNameExtension(names: GeneralName[]): Uint8Array<ArrayBuffer> {
  const encoded = names.map((n) =>
    n.type === "ip"
      ? der.implicit(7, n.value)
      : der.implicit(n.type === "uri" ? 6 : 2, utf8(n.value))
  );
  return extension(OID.subjectAltName, false, der.sequence(...encoded));
}

/** subjectAltName holding exactly one URI. */
export function uriSanExtension(uri: string): Uint8Array<ArrayBuffer> {
  return subjectAltNameExtension([{ type: "uri", value: uri }]);
}

/** What {@linkcode signCertificate} needs to build a v3 certificate; names and extensions are DER. */
export interface CertificateTemplate {
  /** Big-endian magnitude of the (positive) serial number. */
  serial: Uint8Array;
  /** DER Name of the issuer. */
  issuer: Uint8Array;
  /** DER Name of the subject. */
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the subject's key. */
  subjectPublicKeyInfo: Uint8Array;
  /** DER Extensions, in order. */
  extensions: Uint8Array[];
}

const VERSION_3 = der.explicit(0, der.smallInteger(2));

/** Builds the certificate, signs its TBS bytes with the Ed25519 `signingKey`, and returns its DER. */
export async function signCertificate(
  template: CertificateTemplate,
  signingKey: CryptoKey,
): Promise<Uint8Array<ArrayBuffer>> {
  const tbs = der.sequence(
    VERSION_3,
    der.unsignedInteger(template.serial),
    ED25519_ALGORITHM,
    template.issuer,
    der.sequence(der.x509Time(template.notBefore), der.x509Time(template.notAfter)),
    template.subject,
    template.subjectPublicKeyInfo,
    der.explicit(3, der.sequence(...template.extensions)),
  );
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", signingKey, tbs));
  return der.sequence(tbs, ED25519_ALGORITHM, der.bitString(signature));
}

/** The fields of a certificate that verification reads, parsed once. */
export interface ParsedCertificate {
  der: Uint8Array<ArrayBuffer>;
  /** Lower-case hex of the serial number's content bytes. */
  serialHex: string;
  issuer: pkijs.RelativeDistinguishedNames;
  subject: pkijs.RelativeDistinguishedNames;
  notBefore: Date;
  notAfter: Date;
  /** OID of the outer signature algorithm. */
  signatureAlgorithm: string;
  /** True when the signed TBS names the same algorithm as the outer field. */
  signatureAlgorithmsAgree: boolean;
  tbs: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
  /** OID of the subject public key's algorithm. */
  publicKeyAlgorithm: string;
  /** The subject public key's bits (32 bytes for Ed25519). */
  publicKey: Uint8Array<ArrayBuffer>;
  /** basicConstraints, if present. */
  basicConstraints?: { ca: boolean; pathLen?: number };
  /** keyUsage bit numbers set, if the extension is present. */
  keyUsage?: Set<number>;
  /** extKeyUsage purposes, if present. */
  extKeyUsage?: string[];
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
  /** URI subjectAltNames. */
  uris: string[];
  /** subjectAltNames of any other type (DNS, IP, email, ...). */
  otherNames: number;
  /** Extension OIDs marked critical that we do not understand. */
  unknownCritical: string[];
}

const UNDERSTOOD = new Set<string>([
  OID.subjectKeyIdentifier,
  OID.keyUsage,
  OID.subjectAltName,
  OID.basicConstraints,
  OID.authorityKeyIdentifier,
  OID.extKeyUsage,
]);

/**
 * Parses DER into the fields we check.
 *
 * @throws {FrancisError} `ERR_CERT_MALFORMED` for bytes that are not exactly one well-formed certificate
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  try {
    return readCertificate(der);
  } catch (cause) {
    if (cause instanceof FrancisError) throw cause;
    throw new FrancisError("ERR_CERT_MALFORMED", "Certificate is not valid DER X.509", { cause });
  }
}

function readCertificate(input: Uint8Array): ParsedCertificate {
  const bytes = new Uint8Array(input);
  const asn1 = asn1js.fromBER(bytes);
  // Trailing bytes after the certificate would let two different inputs parse alike.
  if (asn1.offset !== bytes.length) {
    throw new FrancisError(
      "ERR_CERT_MALFORMED",
      "Certificate DER is truncated or has trailing bytes",
    );
  }
  const cert = new pkijs.Certificate({ schema: asn1.result });
  const sig = cert.signatureValue.valueBlock;
  const parsed: ParsedCertificate = {
    der: bytes,
    serialHex: toHex(cert.serialNumber.valueBlock.valueHexView),
    issuer: cert.issuer,
    subject: cert.subject,
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
    signatureAlgorithmsAgree: cert.signature.isEqual(cert.signatureAlgorithm),
    tbs: new Uint8Array(cert.tbsView),
    signature: sig.unusedBits === 0 ? new Uint8Array(sig.valueHexView) : new Uint8Array(),
    publicKeyAlgorithm: cert.subjectPublicKeyInfo.algorithm.algorithmId,
    publicKey: new Uint8Array(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    uris: [],
    otherNames: 0,
    unknownCritical: [],
  };
  const seen = new Set<string>();
  for (const ext of cert.extensions ?? []) {
    if (seen.has(ext.extnID)) {
      throw new FrancisError("ERR_CERT_MALFORMED", `Extension ${ext.extnID} appears twice`);
    }
    seen.add(ext.extnID);
    if (!UNDERSTOOD.has(ext.extnID)) {
      if (ext.critical) parsed.unknownCritical.push(ext.extnID);
      continue;
    }
    readExtension(parsed, ext);
  }
  return parsed;
}

function readExtension(parsed: ParsedCertificate, ext: pkijs.Extension): void {
  const value: unknown = ext.parsedValue;
  if (value === undefined || (value as { parsingError?: string }).parsingError) {
    throw new FrancisError("ERR_CERT_MALFORMED", `Extension ${ext.extnID} is malformed`);
  }
  switch (ext.extnID) {
    case OID.basicConstraints: {
      const bc = value as pkijs.BasicConstraints;
      const pathLen = typeof bc.pathLenConstraint === "number"
        ? bc.pathLenConstraint
        : bc.pathLenConstraint?.valueBlock.valueDec;
      parsed.basicConstraints = { ca: bc.cA === true, pathLen };
      break;
    }
    case OID.keyUsage: {
      const bytes = (value as asn1js.BitString).valueBlock.valueHexView;
      const bits = new Set<number>();
      for (let i = 0; i < bytes.length * 8; i++) if (bytes[i >> 3] & (0x80 >> (i & 7))) bits.add(i);
      parsed.keyUsage = bits;
      break;
    }
    case OID.extKeyUsage:
      parsed.extKeyUsage = [...(value as pkijs.ExtKeyUsage).keyPurposes];
      break;
    case OID.subjectKeyIdentifier:
      parsed.subjectKeyId = new Uint8Array((value as asn1js.OctetString).valueBlock.valueHexView);
      break;
    case OID.authorityKeyIdentifier: {
      const id = (value as pkijs.AuthorityKeyIdentifier).keyIdentifier;
      if (id) parsed.authorityKeyId = new Uint8Array(id.valueBlock.valueHexView);
      break;
    }
    case OID.subjectAltName:
      for (const name of (value as pkijs.AltName).altNames) {
        if (name.type === 6 && typeof name.value === "string") parsed.uris.push(name.value);
        else parsed.otherNames++;
      }
      break;
  }
}

/** True when two distinguished names are equal. */
export function sameName(
  a: pkijs.RelativeDistinguishedNames,
  b: pkijs.RelativeDistinguishedNames,
): boolean {
  return a.isEqual(b);
}
