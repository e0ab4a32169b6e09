/**
 * The PSK bootstrap primitives: direction-separated subkeys derived from the
 * host PSK, the length-framed transcript, and the server and client proofs
 * (HMAC-SHA256 over the transcript) with their constant-time checks.
 *
 * Flow (DESIGN.md section 4): worker sends `clientNonce`; runtime answers with
 * `serverNonce` and `serverProof`; worker verifies it and stops on failure,
 * then sends `clientProof`; runtime verifies it and issues the certificate.
 *
 * @module
 */

import { concatBytes, hkdfSha256, timingSafeEqual, utf8 } from "../bytes.ts";
import { type ErrorCode, FrancisError } from "../errors.ts";
import { CHANNEL_BINDING_BYTES } from "./channel_binding.ts";

/** Minimum length in bytes of the UTF-8 encoding of a host bootstrap PSK. */
export const HOST_PSK_MIN_BYTES = 16;

/** Length in bytes of each bootstrap nonce. */
export const NONCE_BYTES = 32;

/** Length in bytes of a subkey and of a proof (HMAC-SHA256 output). */
const SUBKEY_BYTES = 32;

const CLIENT_INFO = utf8("francis-bootstrap-client");
const SERVER_INFO = utf8("francis-bootstrap-server");
const NO_SALT = new Uint8Array(0);

/** The bootstrap subkeys as non-extractable HMAC-SHA256 keys, imported once. */
export interface BootstrapKeys {
  /** Signs and checks client (worker) proofs. */
  readonly kClient: CryptoKey;
  /** Signs and checks server (runtime) proofs. */
  readonly kServer: CryptoKey;
}

/** The raw bootstrap subkeys, for known-answer tests only. */
export interface BootstrapSubkeyBytes {
  /** HKDF-SHA256(PSK, no salt, "francis-bootstrap-client", 32). */
  readonly kClient: Uint8Array<ArrayBuffer>;
  /** HKDF-SHA256(PSK, no salt, "francis-bootstrap-server", 32). */
  readonly kServer: Uint8Array<ArrayBuffer>;
}

/**
 * The raw 32-byte bootstrap subkeys of a host PSK. Production code should use
 * {@linkcode deriveBootstrapKeys}, which never exposes the bytes.
 *
 * @param hostPSK the host bootstrap PSK; its UTF-8 encoding must be at least 16 bytes
 * @returns `kClient` and `kServer` as bytes
 * @throws {FrancisError} `ERR_PSK_TOO_SHORT` when the PSK is shorter than 16 bytes of UTF-8
 *
 * @example Compare against a known answer
 * ```ts
 * import { deriveBootstrapSubkeyBytes } from "./psk.ts";
 *
 * const { kClient, kServer } = await deriveBootstrapSubkeyBytes("francis-test-host-psk-0123456789");
 * console.log(kClient.length, kServer.length); // 32 32
 * ```
 */
export async function deriveBootstrapSubkeyBytes(hostPSK: string): Promise<BootstrapSubkeyBytes> {
  const psk = utf8(hostPSK);
  // A short PSK could be brute-forced offline from one observed transcript and proof.
  if (psk.length < HOST_PSK_MIN_BYTES) {
    throw new FrancisError(
      "ERR_PSK_TOO_SHORT",
      `Host bootstrap PSK must be at least ${HOST_PSK_MIN_BYTES} bytes of UTF-8, got ${psk.length}`,
    );
  }
  // Direction-separated keys stop a server proof being reflected as a client proof.
  const [kClient, kServer] = await Promise.all([
    hkdfSha256(psk, NO_SALT, CLIENT_INFO, SUBKEY_BYTES),
    hkdfSha256(psk, NO_SALT, SERVER_INFO, SUBKEY_BYTES),
  ]);
  psk.fill(0);
  return { kClient, kServer };
}

/**
 * The bootstrap subkeys of a host PSK as non-extractable HMAC-SHA256 keys, so
 * that repeated proofs do not re-derive or re-import them.
 *
 * @param hostPSK the host bootstrap PSK; its UTF-8 encoding must be at least 16 bytes
 * @returns `kClient` and `kServer` as `CryptoKey`s usable for HMAC signing
 * @throws {FrancisError} `ERR_PSK_TOO_SHORT` when the PSK is shorter than 16 bytes of UTF-8
 *
 * @example Derive once, prove many times
 * ```ts
 * import { deriveBootstrapKeys } from "./psk.ts";
 *
 * const keys = await deriveBootstrapKeys("francis-test-host-psk-0123456789");
 * console.log(keys.kServer.extractable); // false
 * ```
 */
export async function deriveBootstrapKeys(hostPSK: string): Promise<BootstrapKeys> {
  const raw = await deriveBootstrapSubkeyBytes(hostPSK);
  // Non-extractable keys: code holding BootstrapKeys can prove but never leak the subkeys.
  const [kClient, kServer] = await Promise.all([
    importHmacKey(raw.kClient),
    importHmacKey(raw.kServer),
  ]);
  raw.kClient.fill(0);
  raw.kServer.fill(0);
  return { kClient, kServer };
}

/**
 * A fresh bootstrap nonce: 32 bytes from the platform CSPRNG.
 *
 * @returns 32 random bytes
 *
 * @example
 * ```ts
 * import { newNonce } from "./psk.ts";
 *
 * console.log(newNonce().length); // 32
 * ```
 */
export function newNonce(): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
}

/**
 * The bytes both proofs are computed over:
 * `len(clientNonce) ‖ clientNonce ‖ len(serverNonce) ‖ serverNonce ‖ len(cb) ‖ cb`,
 * each `len` a 4-byte big-endian unsigned integer.
 *
 * @param clientNonce the worker's 32-byte nonce
 * @param serverNonce the runtime's 32-byte nonce
 * @param channelBinding the 32-byte channel binding (see `channelBinding`)
 * @returns the framed transcript (108 bytes)
 * @throws {FrancisError} `ERR_BOOTSTRAP_BAD_NONCE` when a nonce or the channel binding has the wrong length
 *
 * @example
 * ```ts
 * import { bootstrapTranscript, newNonce } from "./psk.ts";
 *
 * const transcript = bootstrapTranscript(newNonce(), newNonce(), new Uint8Array(32));
 * console.log(transcript.length); // 108
 * ```
 */
export function bootstrapTranscript(
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
  channelBinding: Uint8Array,
): Uint8Array<ArrayBuffer> {
  // Full-length nonces from both sides make every transcript fresh, so no proof can be replayed.
  requireLength("Client nonce", clientNonce, NONCE_BYTES);
  requireLength("Server nonce", serverNonce, NONCE_BYTES);
  // A full channel binding ties the proof to this TLS connection's runtime certificate.
  requireLength("Channel binding", channelBinding, CHANNEL_BINDING_BYTES);
  // Length prefixes make the encoding injective: bytes cannot move between fields.
  return concatBytes(
    lengthPrefix(clientNonce),
    clientNonce,
    lengthPrefix(serverNonce),
    serverNonce,
    lengthPrefix(channelBinding),
    channelBinding,
  );
}

/**
 * The runtime's proof: HMAC-SHA256 of the transcript under `kServer`.
 *
 * @param keys the bootstrap keys of the host PSK
 * @param transcript the output of {@linkcode bootstrapTranscript}
 * @returns the 32-byte server proof
 *
 * @example
 * ```ts
 * import { bootstrapTranscript, deriveBootstrapKeys, newNonce, serverProof } from "./psk.ts";
 *
 * const keys = await deriveBootstrapKeys("francis-test-host-psk-0123456789");
 * const proof = await serverProof(keys, bootstrapTranscript(newNonce(), newNonce(), new Uint8Array(32)));
 * console.log(proof.length); // 32
 * ```
 */
export async function serverProof(
  keys: BootstrapKeys,
  transcript: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return await hmac(keys.kServer, transcript);
}

/**
 * The worker's proof: HMAC-SHA256 of the transcript under `kClient`.
 *
 * @param keys the bootstrap keys of the host PSK
 * @param transcript the output of {@linkcode bootstrapTranscript}
 * @returns the 32-byte client proof
 *
 * @example
 * ```ts
 * import { bootstrapTranscript, clientProof, deriveBootstrapKeys, newNonce } from "./psk.ts";
 *
 * const keys = await deriveBootstrapKeys("francis-test-host-psk-0123456789");
 * const proof = await clientProof(keys, bootstrapTranscript(newNonce(), newNonce(), new Uint8Array(32)));
 * console.log(proof.length); // 32
 * ```
 */
export async function clientProof(
  keys: BootstrapKeys,
  transcript: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return await hmac(keys.kClient, transcript);
}

/**
 * Checks the runtime's proof in constant time; the worker must stop when this throws.
 *
 * @param keys the bootstrap keys of the host PSK
 * @param transcript the output of {@linkcode bootstrapTranscript}
 * @param proof the server proof received from the runtime
 * @returns nothing; resolves only when the proof is valid
 * @throws {FrancisError} `ERR_BOOTSTRAP_BAD_SERVER_PROOF` when the proof is wrong or has the wrong length
 *
 * @example
 * ```ts
 * import {
 *   bootstrapTranscript,
 *   deriveBootstrapKeys,
 *   newNonce,
 *   serverProof,
 *   verifyServerProof,
 * } from "./psk.ts";
 *
 * const keys = await deriveBootstrapKeys("francis-test-host-psk-0123456789");
 * const transcript = bootstrapTranscript(newNonce(), newNonce(), new Uint8Array(32));
 * await verifyServerProof(keys, transcript, await serverProof(keys, transcript));
 * ```
 */
export async function verifyServerProof(
  keys: BootstrapKeys,
  transcript: Uint8Array,
  proof: Uint8Array,
): Promise<void> {
  verifyProof(
    await serverProof(keys, transcript),
    proof,
    "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
    "Server bootstrap proof does not match",
  );
}

/**
 * Checks the worker's proof in constant time; the runtime must not issue a
 * certificate when this throws.
 *
 * @param keys the bootstrap keys of the host PSK
 * @param transcript the output of {@linkcode bootstrapTranscript}
 * @param proof the client proof received from the worker
 * @returns nothing; resolves only when the proof is valid
 * @throws {FrancisError} `ERR_BOOTSTRAP_BAD_CLIENT_PROOF` when the proof is wrong or has the wrong length
 *
 * @example
 * ```ts
 * import {
 *   bootstrapTranscript,
 *   clientProof,
 *   deriveBootstrapKeys,
 *   newNonce,
 *   verifyClientProof,
 * } from "./psk.ts";
 *
 * const keys = await deriveBootstrapKeys("francis-test-host-psk-0123456789");
 * const transcript = bootstrapTranscript(newNonce(), newNonce(), new Uint8Array(32));
 * await verifyClientProof(keys, transcript, await clientProof(keys, transcript));
 * ```
 */
export async function verifyClientProof(
  keys: BootstrapKeys,
  transcript: Uint8Array,
  proof: Uint8Array,
): Promise<void> {
  verifyProof(
    await clientProof(keys, transcript),
    proof,
    "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
    "Client bootstrap proof does not match",
  );
}

function verifyProof(
  expected: Uint8Array,
  received: Uint8Array,
  code: ErrorCode,
  message: string,
): void {
  // Constant-time comparison: response timing must not reveal how many proof bytes were right.
  if (!timingSafeEqual(expected, received)) throw new FrancisError(code, message);
}

function importHmacKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function hmac(key: CryptoKey, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new Uint8Array(data)));
}

function requireLength(what: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) {
    throw new FrancisError(
      "ERR_BOOTSTRAP_BAD_NONCE",
      `${what} must be ${expected} bytes, got ${bytes.length}`,
    );
  }
}

function lengthPrefix(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, bytes.length, false);
  return prefix;
}
