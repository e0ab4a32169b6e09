/**
 * Channel binding for the PSK bootstrap: the value both ends mix into the
 * transcript so that a proof is only valid on the TLS connection it was made on.
 *
 * cb = SHA-256(DER of the runtime's leaf certificate as presented in the TLS
 * handshake). The worker takes the DER from the handshake
 * (`getPeerCertificate(true).raw`); the runtime uses its own certificate.
 *
 * This rule is ours, not a standard one, for two reasons:
 * - RFC 5929 `tls-server-end-point` hashes the certificate with the hash of its
 *   signature algorithm, which is undefined for Ed25519 (our certificates), so
 *   we fix the hash to SHA-256.
 * - `tls-exporter` (RFC 9266) would bind to the session itself, but Deno exposes
 *   no TLS keying-material exporter, and both runtimes must compute the same value.
 *
 * Why it stops a meddler: a relay that terminates TLS must present its own
 * certificate to the worker, so the worker's cb (from the relay's certificate)
 * differs from the runtime's cb (from its own certificate); the transcripts
 * differ, and a proof relayed from one side to the other fails to verify.
 *
 * @module
 */

import { sha256 } from "../bytes.ts";

/** Length in bytes of a channel binding value (a SHA-256 digest). */
export const CHANNEL_BINDING_BYTES = 32;

/**
 * The channel binding of a TLS connection: SHA-256 of the DER of the runtime's
 * leaf certificate exactly as presented in the handshake.
 *
 * @param certDer the DER bytes of the runtime's leaf certificate (not PEM)
 * @returns the 32-byte channel binding value
 * @throws {TypeError} when `certDer` is empty (no certificate was presented)
 *
 * @example Bind a worker's proof to the certificate the runtime presented
 * ```ts
 * import { channelBinding } from "./channel_binding.ts";
 *
 * const certDer = new Uint8Array([0x30, 0x00]); // getPeerCertificate(true).raw in practice
 * const cb = await channelBinding(certDer);
 * console.log(cb.length); // 32
 * ```
 */
export async function channelBinding(certDer: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  // A missing peer certificate must not yield a binding value (the hash of nothing).
  if (certDer.length === 0) {
    throw new TypeError("Certificate DER must not be empty");
  }
  return await sha256(new Uint8Array(certDer));
}
