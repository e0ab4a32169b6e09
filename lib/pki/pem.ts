/**
 * PEM armour (RFC 7468): DER bytes to text and back.
 *
 * @module
 */
import { fromBase64, toBase64 } from "../bytes.ts";
import { FrancisError } from "../errors.ts";

/** PEM text of one DER object under `label` (e.g. `CERTIFICATE`), lines of 64 characters. */
export function toPem(label: string, der: Uint8Array): string {
  const body = toBase64(der).match(/.{1,64}/g)?.join("\n") ?? "";
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

// Only well-formed blocks of the expected label count: stray text between
// blocks is ignored (as OpenSSL does), but a damaged block is an error.
/**
 * The DER bytes of every `label` block in `text`, in order.
 *
 * @throws {FrancisError} `ERR_PEM_MALFORMED` when there is no block, or one is not valid base64
 */
export function fromPem(text: string, label: string): Uint8Array<ArrayBuffer>[] {
  const blocks: Uint8Array<ArrayBuffer>[] = [];
  const re = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`, "g");
  for (const match of text.matchAll(re)) {
    try {
      blocks.push(fromBase64(match[1].replace(/\s+/g, "")));
    } catch (cause) {
      throw new FrancisError("ERR_PEM_MALFORMED", `PEM ${label} block is not valid base64`, {
        cause,
      });
    }
  }
  if (blocks.length === 0) {
    throw new FrancisError("ERR_PEM_MALFORMED", `No PEM ${label} block found`);
  }
  return blocks;
}
