import { describe, expect, test } from "bun:test";
import { toHex } from "../../lib/bytes.ts";
import * as der from "../../lib/pki/der.ts";

describe("DER writer", () => {
  test("encodes OIDs, including multi-byte arcs", () => {
    expect(toHex(der.oid("1.3.101.112"))).toBe("06032b6570");
    expect(toHex(der.oid("2.5.29.19"))).toBe("0603551d13");
    expect(toHex(der.oid("1.3.6.1.5.5.7.3.1"))).toBe("06082b06010505070301");
    expect(toHex(der.oid("1.3.6.1.4.1.99999.1"))).toBe("06092b06010401868d1f01");
  });

  test("encodes positive INTEGERs minimally, with a 00 byte before a set top bit", () => {
    expect(toHex(der.unsignedInteger(new Uint8Array([0x00, 0x00, 0x7f])))).toBe("02017f");
    expect(toHex(der.unsignedInteger(new Uint8Array([0x80])))).toBe("02020080");
    expect(toHex(der.unsignedInteger(new Uint8Array([0x00])))).toBe("020100");
    expect(toHex(der.smallInteger(2))).toBe("020102");
    expect(toHex(der.smallInteger(256))).toBe("02020100");
  });

  test("uses the long length form only from 128 bytes on", () => {
    expect(toHex(der.octetString(new Uint8Array(127))).slice(0, 4)).toBe("047f");
    expect(toHex(der.octetString(new Uint8Array(128))).slice(0, 6)).toBe("048180");
    expect(toHex(der.octetString(new Uint8Array(300))).slice(0, 8)).toBe("0482012c");
  });

  test("writes UTCTime before 2050 and GeneralizedTime from 2050, whole seconds", () => {
    const text = (d: string) => new TextDecoder().decode(der.x509Time(new Date(d)).subarray(2));
    expect(text("2049-12-31T23:59:59.999Z")).toBe("491231235959Z");
    expect(der.x509Time(new Date("2049-12-31T23:59:59Z"))[0]).toBe(der.Tag.utcTime);
    expect(text("2050-01-01T00:00:00Z")).toBe("20500101000000Z");
    expect(der.x509Time(new Date("2050-01-01T00:00:00Z"))[0]).toBe(der.Tag.generalizedTime);
  });
});

describe("DER reader", () => {
  const read = (hex: string) => {
    const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
    const r = new der.DerReader(bytes);
    const e = r.read();
    r.end();
    return e;
  };

  test("reads short and long definite lengths", () => {
    expect(toHex(read("0403010203").value)).toBe("010203");
    expect(read("0481" + "80" + "00".repeat(128)).value.length).toBe(128);
  });

  for (
    const [name, hex] of [
      ["an indefinite length", "3080000000"],
      ["a long form for a short length", "04810100"],
      ["a long length with a leading zero", "0482000100"],
      ["a length past the end", "040501"],
      ["trailing bytes", "04010000"],
      ["a truncated header", "04"],
      ["a multi-byte tag", "1f0100"],
    ]
  ) {
    test(`refuses ${name}`, () => {
      expect(() => read(hex)).toThrow(der.DerError);
    });
  }

  test("refuses a tag other than the one asked for", () => {
    expect(() => new der.DerReader(new Uint8Array([0x04, 0x00])).read(der.Tag.sequence)).toThrow(
      "Expected tag 0x30",
    );
  });
});
