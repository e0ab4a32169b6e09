/**
 * X.509 for the cluster: building and signing Ed25519 certificates, and
 * parsing the fields verification needs, with the strict DER reader and writer
 * of der.ts. pkijs 4 cannot sign Ed25519 (RFC 8410), and its object graph made
 * issuing cost some 60 signatures and parsing 1 to 2 ms a certificate, on the
 * issuance and TLS handshake paths; the tests keep pkijs as an independent
 * oracle for both directions.
 *
 * @module
 */
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
  /** The whole certificate. */
  der: Uint8Array<ArrayBuffer>;
  /** Lower-case hex of the serial number's content bytes. */
  serialHex: string;
  /** DER of the issuer Name (names are compared byte for byte). */
  issuer: Uint8Array<ArrayBuffer>;
  /** DER of the subject Name. */
  subject: Uint8Array<ArrayBuffer>;
  notBefore: Date;
  notAfter: Date;
  /** OID of the outer signature algorithm. */
  signatureAlgorithm: string;
  /** True when the signed TBS names the same algorithm (bytes) as the outer field. */
  signatureAlgorithmsAgree: boolean;
  /** The signed bytes. */
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

/** The largest certificate we parse; ours are about 500 bytes. */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

/**
 * Parses one DER certificate with the strict reader of der.ts: canonical
 * lengths, no trailing bytes, X.509 v3 only. (pkijs parses through a full
 * object graph at 1 to 2 ms a certificate, on the TLS handshake path; the
 * tests keep pkijs as an independent oracle for this parser.)
 *
 * @throws {FrancisError} `ERR_CERT_MALFORMED` for bytes that are not exactly one well-formed certificate
 */
export function parseCertificate(input: Uint8Array): ParsedCertificate {
  if (input.length > MAX_CERTIFICATE_BYTES) {
    throw new FrancisError(
      "ERR_CERT_MALFORMED",
      `Certificate larger than ${MAX_CERTIFICATE_BYTES} bytes`,
    );
  }
  try {
    return readCertificate(new Uint8Array(input));
  } catch (cause) {
    if (cause instanceof FrancisError) throw cause;
    throw new FrancisError(
      "ERR_CERT_MALFORMED",
      `Certificate is not valid DER X.509: ${(cause as Error).message}`,
      { cause },
    );
  }
}

const T = der.Tag;

function readCertificate(bytes: Uint8Array<ArrayBuffer>): ParsedCertificate {
  const outer = new der.DerReader(bytes);
  const cert = outer.enter(T.sequence);
  outer.end();
  const tbsElement = cert.read(T.sequence);
  const outerAlgorithm = cert.read(T.sequence);
  const signatureBits = cert.read(T.bitString).value;
  cert.end();

  const tbs = new der.DerReader(tbsElement.value);
  if (tbs.peekTag() !== 0xa0) throw new der.DerError("Only X.509 v3 certificates are accepted");
  const version = tbs.enter(0xa0);
  if (!der.bytesEqual(version.read(T.integer).value, new Uint8Array([2]))) {
    throw new der.DerError("Only X.509 v3 certificates are accepted");
  }
  version.end();
  const serial = tbs.read(T.integer).value;
  const innerAlgorithm = tbs.read(T.sequence);
  const issuer = tbs.read(T.sequence).raw;
  const validity = tbs.enter(T.sequence);
  const notBefore = readTime(validity);
  const notAfter = readTime(validity);
  validity.end();
  const subject = tbs.read(T.sequence).raw;
  const spki = tbs.enter(T.sequence);
  const keyAlgorithm = readAlgorithm(spki.read(T.sequence).value);
  const keyBits = spki.read(T.bitString).value;
  spki.end();
  if (tbs.peekTag() === 0x81) tbs.read(0x81); // issuerUniqueID
  if (tbs.peekTag() === 0x82) tbs.read(0x82); // subjectUniqueID
  const parsed: ParsedCertificate = {
    der: bytes,
    serialHex: toHex(serial),
    issuer,
    subject,
    notBefore,
    notAfter,
    signatureAlgorithm: readAlgorithm(outerAlgorithm.value),
    signatureAlgorithmsAgree: der.bytesEqual(outerAlgorithm.raw, innerAlgorithm.raw),
    tbs: tbsElement.raw,
    signature: signatureBits[0] === 0 ? signatureBits.slice(1) : new Uint8Array(),
    publicKeyAlgorithm: keyAlgorithm,
    publicKey: keyBits.slice(1),
    uris: [],
    otherNames: 0,
    unknownCritical: [],
  };
  if (tbs.peekTag() === 0xa3) {
    const wrapper = tbs.enter(0xa3);
    readExtensions(parsed, wrapper.enter(T.sequence));
    wrapper.end();
  }
  tbs.end();
  return parsed;
}

function readAlgorithm(content: Uint8Array<ArrayBuffer>): string {
  return der.decodeOid(new der.DerReader(content).read(T.oid).value);
}

function readTime(reader: der.DerReader): Date {
  const element = reader.read();
  const text = new TextDecoder().decode(element.value);
  let match: RegExpExecArray | null;
  if (element.tag === T.utcTime && (match = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
    const yy = Number(match[1]);
    return utc(yy >= 50 ? 1900 + yy : 2000 + yy, match.slice(2));
  }
  if (
    element.tag === T.generalizedTime &&
    (match = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))
  ) {
    return utc(Number(match[1]), match.slice(2));
  }
  throw new der.DerError("Validity time is not UTCTime or GeneralizedTime in DER form");
}

function utc(year: number, [month, day, hour, minute, second]: string[]): Date {
  const date = new Date(
    Date.UTC(year, Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)),
  );
  if (date.getUTCDate() !== Number(day) || date.getUTCHours() !== Number(hour)) {
    throw new der.DerError("Validity time is not a real date");
  }
  return date;
}

const UNDERSTOOD = new Set<string>([
  OID.subjectKeyIdentifier,
  OID.keyUsage,
  OID.subjectAltName,
  OID.basicConstraints,
  OID.authorityKeyIdentifier,
  OID.extKeyUsage,
]);

function readExtensions(parsed: ParsedCertificate, list: der.DerReader): void {
  const seen = new Set<string>();
  while (!list.done) {
    const ext = list.enter(T.sequence);
    const id = der.decodeOid(ext.read(T.oid).value);
    let critical = false;
    if (ext.peekTag() === T.boolean) critical = readBoolean(ext);
    const value = ext.read(T.octetString).value;
    ext.end();
    // Two copies of an extension could be read differently by different verifiers.
    if (seen.has(id)) throw new FrancisError("ERR_CERT_MALFORMED", `Extension ${id} appears twice`);
    seen.add(id);
    if (!UNDERSTOOD.has(id)) {
      if (critical) parsed.unknownCritical.push(id);
      continue;
    }
    readExtension(parsed, id, new der.DerReader(value));
  }
}

function readBoolean(reader: der.DerReader): boolean {
  const value = reader.read(T.boolean).value;
  if (value.length !== 1 || (value[0] !== 0 && value[0] !== 0xff)) {
    throw new der.DerError("BOOLEAN is not DER");
  }
  return value[0] === 0xff;
}

function readExtension(parsed: ParsedCertificate, id: string, value: der.DerReader): void {
  switch (id) {
    case OID.basicConstraints: {
      const bc = value.enter(T.sequence);
      const ca = bc.peekTag() === T.boolean ? readBoolean(bc) : false;
      let pathLen: number | undefined;
      if (bc.peekTag() === T.integer) {
        const n = bc.read(T.integer).value;
        if (n.length > 4 || n[0] & 0x80) throw new der.DerError("Bad pathLenConstraint");
        pathLen = n.reduce((acc, b) => acc * 256 + b, 0);
      }
      bc.end();
      parsed.basicConstraints = { ca, pathLen };
      break;
    }
    case OID.keyUsage: {
      const bits = value.read(T.bitString).value;
      const set = new Set<number>();
      for (let i = 0; i < (bits.length - 1) * 8; i++) {
        if (bits[1 + (i >> 3)] & (0x80 >> (i & 7))) set.add(i);
      }
      parsed.keyUsage = set;
      break;
    }
    case OID.extKeyUsage: {
      const list = value.enter(T.sequence);
      const purposes: string[] = [];
      while (!list.done) purposes.push(der.decodeOid(list.read(T.oid).value));
      parsed.extKeyUsage = purposes;
      break;
    }
    case OID.subjectKeyIdentifier:
      parsed.subjectKeyId = value.read(T.octetString).value;
      break;
    case OID.authorityKeyIdentifier: {
      const aki = value.enter(T.sequence);
      if (aki.peekTag() === 0x80) parsed.authorityKeyId = aki.read(0x80).value;
      while (!aki.done) aki.read(); // authorityCertIssuer, serial: not used
      break;
    }
    case OID.subjectAltName: {
      const names = value.enter(T.sequence);
      while (!names.done) {
        const name = names.read();
        if (name.tag === 0x86) parsed.uris.push(new TextDecoder().decode(name.value));
        else parsed.otherNames++;
      }
      break;
    }
  }
  value.end();
}

/** True when two DER-encoded distinguished names are equal. */
export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  return der.bytesEqual(a, b);
}
