import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "../../lib/bytes.ts";
import { CHANNEL_BINDING_BYTES, channelBinding } from "../../lib/bootstrap/mod.ts";

// A self-signed Ed25519 certificate made with
// `openssl req -x509 -newkey ed25519 -nodes -subj /CN=francis-kat -days 1 -outform DER`;
// the expected digest is `openssl dgst -sha256` of the same file (python hashlib agrees).
const CERT_DER = fromHex(
  "308201403081f3a0030201020214611eb8c527724bac70d613bb59342363dce2cb81300506032b657030163114" +
    "301206035504030c0b6672616e6369732d6b6174301e170d3236313230343139353231375a170d323631323035" +
    "3139353231375a30163114301206035504030c0b6672616e6369732d6b6174302a300506032b6570032100c54b" +
    "158d36931f7376c246e25879151e362ade8738daa9f909fc9ca9d40a1719a3533051301d0603551d0e04160414" +
    "9601f92ef2e6cc77b202ee0b2f91833c5907d968301f0603551d230418301680149601f92ef2e6cc77b202ee0b" +
    "2f91833c5907d968300f0603551d130101ff040530030101ff300506032b657003410085904cc6ecffcc0e3f06" +
    "736c192022986f47e66bdcb3309a9aeea01eaba3d2b4884757524917fcec6189afe83267bd9faf0802f357f8e6" +
    "dd0eaab794e5667009",
);
const CERT_DER_SHA256 = "1e9f5d04be7a4ca0598b6fd8c6904946e3f9cc0b3cffeca55ffe6bcf8e9c4e39";

describe("channelBinding", () => {
  test("is SHA-256 of the certificate DER (openssl known answer)", async () => {
    expect(CERT_DER.length).toBe(324);
    const cb = await channelBinding(CERT_DER);
    expect(cb.length).toBe(CHANNEL_BINDING_BYTES);
    expect(toHex(cb)).toBe(CERT_DER_SHA256);
  });

  test("hashes only the view it is given, as with a pooled Buffer slice", async () => {
    const pool = new Uint8Array(CERT_DER.length + 20).fill(0xaa);
    pool.set(CERT_DER, 7);
    const view = pool.subarray(7, 7 + CERT_DER.length);
    expect(toHex(await channelBinding(view))).toBe(CERT_DER_SHA256);
  });

  test("differs for a relay's certificate that differs in one byte", async () => {
    const relayed = CERT_DER.slice();
    relayed[relayed.length - 1] ^= 0x01;
    expect(toHex(await channelBinding(relayed))).not.toBe(CERT_DER_SHA256);
  });

  test("refuses an empty certificate (no certificate presented)", async () => {
    await expect(channelBinding(new Uint8Array(0))).rejects.toThrow(
      new TypeError("Certificate DER must not be empty"),
    );
  });
});
