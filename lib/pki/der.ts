/**
 * A minimal DER writer and a strict DER reader for the certificate and CSR
 * structures of lib/pki. pkijs/asn1js build a full object graph for every
 * encode and parse, which made issuing a certificate cost some 60 signatures
 * and parsing one 1 to 2 ms; these helpers work on bytes directly, and the
 * reader refuses anything that is not canonical DER.
 *
 * @module
 */
import { concatBytes, utf8 } from "../bytes.ts";

/** ASN.1 universal tags we write or read. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
  utcTime: 0x17,
  generalizedTime: 0x18,
} as const;

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  if (n < 0x100) return new Uint8Array([0x81, n]);
  if (n < 0x10000) return new Uint8Array([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return new Uint8Array([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  throw new RangeError(`DER value too long: ${n} bytes`);
}

/** One TLV: `tag`, the definite length, then `parts` concatenated. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = parts.length === 1 ? parts[0] : concatBytes(...parts);
  return concatBytes(new Uint8Array([tag]), encodeLength(body.length), body);
}

/** SEQUENCE of the given encoded elements. */
export function sequence(...elements: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(Tag.sequence, ...elements);
}

/** An OBJECT IDENTIFIER from dotted text. */
export function oid(dotted: string): Uint8Array<ArrayBuffer> {
  const arcs = dotted.split(".").map(Number);
  const bytes: number[] = [];
  const push = (value: number) => {
    const chunk = [value & 0x7f];
    for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) {
      chunk.unshift((v & 0x7f) | 0x80);
    }
    bytes.push(...chunk);
  };
  push(arcs[0] * 40 + arcs[1]);
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(Tag.oid, new Uint8Array(bytes));
}

/** The dotted text of an OBJECT IDENTIFIER's content bytes. */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0 || bytes[bytes.length - 1] & 0x80) throw new DerError("Bad OID");
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    // DER: no 0x80 padding at the start of an arc
    if (value === 0 && bytes[i] === 0x80) throw new DerError("Bad OID");
    value = value * 128 + (bytes[i] & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OID arc too large");
    if (!(bytes[i] & 0x80)) {
      if (arcs.length === 0) {
        arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      } else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}

/** A non-negative INTEGER from its big-endian magnitude, minimally encoded. */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  // two's complement: a set high bit needs a 0x00 in front to stay positive
  return trimmed[0] & 0x80
    ? tlv(Tag.integer, new Uint8Array([0]), trimmed)
    : tlv(Tag.integer, trimmed);
}

/** A small non-negative INTEGER. */
export function smallInteger(n: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`Bad INTEGER ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsignedInteger(new Uint8Array(bytes.length ? bytes : [0]));
}

/** BOOLEAN TRUE (DER omits FALSE defaults, so that is the only one we write). */
export const TRUE: Uint8Array = new Uint8Array([Tag.boolean, 1, 0xff]);

/** A BIT STRING with `unusedBits` padding bits in the last byte. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array<ArrayBuffer> {
  return tlv(Tag.bitString, new Uint8Array([unusedBits]), bytes);
}

/** An OCTET STRING. */
export function octetString(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return tlv(Tag.octetString, bytes);
}

/** A UTF8String. */
export function utf8String(text: string): Uint8Array<ArrayBuffer> {
  return tlv(Tag.utf8String, utf8(text));
}

/** A context-specific constructed tag `[n]` around `parts` (EXPLICIT tagging). */
export function explicit(n: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(0xa0 | n, ...parts);
}

/** A context-specific primitive tag `[n]` with `bytes` as content (IMPLICIT tagging). */
export function implicit(n: number, bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return tlv(0x80 | n, bytes);
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

// RFC 5280: UTCTime up to 2049, GeneralizedTime from 2050; whole seconds, Zulu.
/** An X.509 Time for `date` (its milliseconds are dropped). */
export function x509Time(date: Date): Uint8Array<ArrayBuffer> {
  const y = date.getUTCFullYear();
  const rest = pad(date.getUTCMonth() + 1) + pad(date.getUTCDate()) + pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) + pad(date.getUTCSeconds()) + "Z";
  return y >= 2050
    ? tlv(Tag.generalizedTime, utf8(pad(y, 4) + rest))
    : tlv(Tag.utcTime, utf8(pad(y % 100) + rest));
}

/** A decoded TLV: its tag, content, and the whole encoding. */
export interface Element {
  tag: number;
  /** The content bytes. */
  value: Uint8Array<ArrayBuffer>;
  /** Tag, length and content. */
  raw: Uint8Array<ArrayBuffer>;
}

/** Thrown by {@linkcode DerReader} on anything that is not canonical DER of the expected shape. */
export class DerError extends Error {
  override name = "DerError";
}

/** Reads consecutive TLVs from `bytes`, accepting only definite, minimal DER lengths. */
export class DerReader {
  #bytes: Uint8Array<ArrayBuffer>;
  #at = 0;

  /** A reader over `bytes`. */
  constructor(bytes: Uint8Array<ArrayBuffer>) {
    this.#bytes = bytes;
  }

  /** True when every byte was read. */
  get done(): boolean {
    return this.#at === this.#bytes.length;
  }

  /** The next tag without consuming it, or -1 at the end. */
  peekTag(): number {
    return this.done ? -1 : this.#bytes[this.#at];
  }

  /** Reads the next TLV; `tag`, when given, must match. */
  read(tag?: number): Element {
    const b = this.#bytes;
    const start = this.#at;
    if (start + 2 > b.length) throw new DerError("Truncated DER");
    const actual = b[start];
    if ((actual & 0x1f) === 0x1f) throw new DerError("Multi-byte tags are not supported");
    if (tag !== undefined && actual !== tag) {
      throw new DerError(`Expected tag 0x${tag.toString(16)}, got 0x${actual.toString(16)}`);
    }
    let length = b[start + 1];
    let at = start + 2;
    if (length & 0x80) {
      const n = length & 0x7f;
      if (n === 0 || n > 3) throw new DerError("Indefinite or oversized length");
      if (at + n > b.length) throw new DerError("Truncated DER length");
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + b[at + i];
      at += n;
      // DER: the long form only when needed, and with no leading zero byte
      if (length < 0x80 || b[at - n] === 0) throw new DerError("Non-minimal DER length");
    }
    if (at + length > b.length) throw new DerError("Truncated DER value");
    this.#at = at + length;
    return { tag: actual, value: b.subarray(at, at + length), raw: b.subarray(start, at + length) };
  }

  /** Reads a constructed TLV and returns a reader over its content. */
  enter(tag: number): DerReader {
    return new DerReader(this.read(tag).value);
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (!this.done) throw new DerError("Unexpected trailing DER");
  }
}

/** True when two byte arrays are equal (not constant time: for public data). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
