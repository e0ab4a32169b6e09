/**
 * Francis for Deno and Bun: a virtual-actor cluster whose every call is mutual
 * TLS under a cluster CA derived from pre-shared keys.
 *
 * This module is the public API. It runs unchanged on Deno and Bun, and can be
 * imported by URL: third-party modules are `npm:` specifiers.
 *
 * @example Derive the cluster CA and print it, as `runtime print-ca` does
 * ```ts
 * import { deriveCABundle } from "./mod.ts";
 *
 * const bundle = await deriveCABundle(["a runtime PSK of at least 32 bytes!"]);
 * console.log(bundle.pem);
 * ```
 *
 * @example Issue a workload certificate for a key proven by a CSR, then verify it
 * ```ts
 * import {
 *   createCSR,
 *   deriveCA,
 *   generateEd25519KeyPair,
 *   issueWorkloadCert,
 *   TrustStore,
 *   verifyCSR,
 *   verifyPeerChain,
 * } from "./mod.ts";
 *
 * const ca = await deriveCA("a runtime PSK of at least 32 bytes!");
 * const keys = await generateEd25519KeyPair(true);
 * const { publicKey } = await verifyCSR(await createCSR(keys));
 * const cert = await issueWorkloadCert({ ca, spiffeId: "spiffe://francis/host/h1", publicKey });
 * const trust = await TrustStore.fromCAs([ca]);
 * const peer = await verifyPeerChain([cert.certDer], trust, { kind: "host", id: "h1" });
 * console.log(peer.spiffeId);
 * ```
 *
 * @module
 */

export { type ErrorCode, FrancisError, isFrancisError } from "./lib/errors.ts";
export {
  CA_COMMON_NAME,
  CA_NOT_AFTER,
  CA_NOT_BEFORE,
  type CABundle,
  type ClusterCA,
  deriveCA,
  deriveCABundle,
  RUNTIME_PSK_MIN_BYTES,
} from "./lib/pki/ca.ts";
export { createCSR, MAX_CSR_BYTES, type VerifiedCSR, verifyCSR } from "./lib/pki/csr.ts";
export {
  generateEd25519KeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  rawPublicKey,
} from "./lib/pki/ed25519.ts";
export {
  DEFAULT_WORKLOAD_TTL_MS,
  issueWorkloadCert,
  MAX_WORKLOAD_TTL_MS,
  type WorkloadCert,
  type WorkloadCertRequest,
} from "./lib/pki/issue.ts";
export { fromPem, toPem } from "./lib/pki/pem.ts";
export {
  CA_SPIFFE_ID,
  type IdentityKind,
  parseSpiffeId,
  spiffeId,
  type SpiffeIdentity,
  TRUST_DOMAIN,
} from "./lib/pki/spiffe.ts";
export {
  type ExpectedIdentity,
  type TrustAnchor,
  TrustStore,
  type VerifiedPeer,
  verifyPeerChain,
} from "./lib/pki/verify.ts";
export {
  type BootstrapKeys,
  bootstrapTranscript,
  channelBinding,
  clientProof,
  deriveBootstrapKeys,
  HOST_PSK_MIN_BYTES,
  newNonce,
  serverProof,
  verifyClientProof,
  verifyServerProof,
} from "./lib/bootstrap/mod.ts";
export { type HostStatus, RemoteHost, type RemoteHostOptions } from "./worker/host.ts";
export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from "./lib/log.ts";
export {
  type Actor,
  type ActorFactory,
  type ActorService,
  type ActorTypeOptions,
  type AlarmInfo,
  type AlarmSpec,
  DEFAULT_ACTOR_CONCURRENCY,
  DEFAULT_ALARM_INITIAL_RETRY_DELAY_MS,
  DEFAULT_ALARM_MAX_ATTEMPTS,
  DEFAULT_DEACTIVATION_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  type StateOptions,
} from "./lib/actor/types.ts";
export { LocalHost, type LocalHostOptions } from "./worker/local_host.ts";
