/**
 * Our X.509 glue around pkijs: building and signing Ed25519 certificates
 * (pkijs 4 cannot sign or verify Ed25519, RFC 8410), and reading the few
 * fields our verification needs out of a parsed certificate.
 *
 * @module
 */
import { asn1js, pkijs } from "../deps.ts";
import { toHex } from "../bytes.ts";
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

/** The AlgorithmIdentifier for Ed25519: the OID with parameters absent (RFC 8410). */
export function ed25519AlgorithmIdentifier(): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({ algorithmId: ED25519_OID });
}

/** A DER INTEGER holding the non-negative number whose big-endian magnitude is `magnitude`. */
export function positiveInteger(magnitude: Uint8Array): asn1js.Integer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  // DER INTEGER is two's complement: a set high bit needs a 0x00 byte in front to stay positive.
  const bytes = new Uint8Array(trimmed.length + (trimmed[0] & 0x80 ? 1 : 0));
  bytes.set(trimmed, bytes.length - trimmed.length);
  return new asn1js.Integer({ valueHex: bytes });
}

/** A pkijs Time for `date`, whole seconds, UTCTime before 2050 and GeneralizedTime from 2050 on (RFC 5280). */
export function x509Time(date: Date): pkijs.Time {
  const seconds = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return new pkijs.Time({ type: seconds.getUTCFullYear() >= 2050 ? 1 : 0, value: seconds });
}

/** A distinguished name with one UTF8String common name. */
export function commonName(cn: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({
        type: OID.commonName,
        value: new asn1js.Utf8String({ value: cn }),
      }),
    ],
  });
}

function extension(id: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID: id, critical, extnValue: value.toBER(false) });
}

/** basicConstraints, always critical. */
export function basicConstraintsExtension(ca: boolean, pathLen?: number): pkijs.Extension {
  const bc = new pkijs.BasicConstraints(
    pathLen === undefined ? { cA: ca } : { cA: ca, pathLenConstraint: pathLen },
  );
  return extension(OID.basicConstraints, true, bc.toSchema());
}

/** keyUsage with the given bits set, always critical, DER-minimal (trailing zero bits dropped). */
export function keyUsageExtension(bits: number[]): pkijs.Extension {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] |= 0x80 >> (bit & 7);
  const unusedBits = 7 - (highest & 7);
  return extension(
    OID.keyUsage,
    true,
    new asn1js.BitString({ valueHex: bytes, unusedBits }),
  );
}

/** extKeyUsage with the given purposes, not critical. */
export function extKeyUsageExtension(purposes: string[]): pkijs.Extension {
  return extension(
    OID.extKeyUsage,
    false,
    new pkijs.ExtKeyUsage({ keyPurposes: purposes }).toSchema(),
  );
}

/** The key identifier of a raw public key: its SHA-1 (RFC 5280 section 4.2.1.2, method 1). */
export async function keyIdentifier(publicKey: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-1", publicKey.slice()));
}

/** subjectKeyIdentifier, not critical. */
export function subjectKeyIdentifierExtension(keyId: Uint8Array): pkijs.Extension {
  return extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: keyId }));
}

/** authorityKeyIdentifier holding only the issuer's key identifier, not critical. */
export function authorityKeyIdentifierExtension(keyId: Uint8Array): pkijs.Extension {
  const aki = new pkijs.AuthorityKeyIdentifier({
    keyIdentifier: new asn1js.OctetString({ valueHex: keyId }),
  });
  return extension(OID.authorityKeyIdentifier, false, aki.toSchema());
}

/** subjectAltName holding exactly one URI, not critical (the subject is never empty). */
export function uriSanExtension(uri: string): pkijs.Extension {
  const san = new pkijs.AltName({ altNames: [new pkijs.GeneralName({ type: 6, value: uri })] });
  return extension(OID.subjectAltName, false, san.toSchema());
}

/** What {@linkcode signCertificate} needs to build a v3 certificate. */
export interface CertificateTemplate {
  /** Big-endian magnitude of the (positive) serial number. */
  serial: Uint8Array;
  issuer: pkijs.RelativeDistinguishedNames;
  subject: pkijs.RelativeDistinguishedNames;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the subject's key. */
  subjectPublicKeyInfo: Uint8Array<ArrayBuffer>;
  extensions: pkijs.Extension[];
}

/** Builds the certificate, signs its TBS bytes with the Ed25519 `signingKey`, and returns its DER. */
export async function signCertificate(
  template: CertificateTemplate,
  signingKey: CryptoKey,
): Promise<Uint8Array<ArrayBuffer>> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = positiveInteger(template.serial);
  cert.signature = ed25519AlgorithmIdentifier();
  cert.signatureAlgorithm = ed25519AlgorithmIdentifier();
  cert.issuer = template.issuer;
  cert.subject = template.subject;
  cert.notBefore = x509Time(template.notBefore);
  cert.notAfter = x509Time(template.notAfter);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(template.subjectPublicKeyInfo);
  cert.extensions = template.extensions;
  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.tbsView = tbs;
  const signature = await crypto.subtle.sign("Ed25519", signingKey, tbs);
  cert.signatureValue = new asn1js.BitString({ valueHex: signature });
  return new Uint8Array(cert.toSchema(false).toBER(false));
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
  const der = new Uint8Array(input);
  const asn1 = asn1js.fromBER(der);
  // Trailing bytes after the certificate would let two different inputs parse alike.
  if (asn1.offset !== der.length) {
    throw new FrancisError("ERR_CERT_MALFORMED", "Certificate DER is truncated or has trailing bytes");
  }
  const cert = new pkijs.Certificate({ schema: asn1.result });
  const sig = cert.signatureValue.valueBlock;
  const parsed: ParsedCertificate = {
    der,
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
