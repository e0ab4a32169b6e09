/**
 * PSK bootstrap: how a worker proves it holds its host's PSK, and the runtime
 * proves the same, over one TLS connection, before the runtime issues the
 * worker a certificate. Pure primitives, no network code:
 *
 * - {@linkcode deriveBootstrapKeys}: direction-separated HMAC keys from the host PSK
 * - {@linkcode channelBinding}: SHA-256 of the runtime's leaf certificate DER
 * - {@linkcode bootstrapTranscript}: length-framed nonces and channel binding
 * - {@linkcode serverProof} / {@linkcode verifyServerProof}: the runtime's proof
 * - {@linkcode clientProof} / {@linkcode verifyClientProof}: the worker's proof
 *
 * @example One bootstrap exchange, both ends in one place
 * ```ts
 * import {
 *   bootstrapTranscript,
 *   channelBinding,
 *   clientProof,
 *   deriveBootstrapKeys,
 *   newNonce,
 *   serverProof,
 *   verifyClientProof,
 *   verifyServerProof,
 * } from "./mod.ts";
 *
 * const keys = await deriveBootstrapKeys("francis-test-host-psk-0123456789");
 * const cb = await channelBinding(new Uint8Array([0x30, 0x00])); // runtime's leaf DER
 * const transcript = bootstrapTranscript(newNonce(), newNonce(), cb);
 * await verifyServerProof(keys, transcript, await serverProof(keys, transcript)); // worker
 * await verifyClientProof(keys, transcript, await clientProof(keys, transcript)); // runtime
 * ```
 *
 * @module
 */

export { CHANNEL_BINDING_BYTES, channelBinding } from "./channel_binding.ts";
export {
  type BootstrapKeys,
  type BootstrapSubkeyBytes,
  bootstrapTranscript,
  clientProof,
  deriveBootstrapKeys,
  deriveBootstrapSubkeyBytes,
  HOST_PSK_MIN_BYTES,
  newNonce,
  NONCE_BYTES,
  serverProof,
  verifyClientProof,
  verifyServerProof,
} from "./psk.ts";
