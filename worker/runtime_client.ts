/**
 * The worker's side of the runtime protocol: PSK and JWT bootstrap, renewal,
 * health checks and registration lookups, over the pooled mTLS client, with
 * failover across runtime addresses.
 *
 * @module
 */
import { toBase64, toHex } from "../lib/bytes.ts";
import {
  type BootstrapKeys,
  bootstrapTranscript,
  channelBinding,
  clientProof,
  newNonce,
  verifyServerProof,
} from "../lib/bootstrap/mod.ts";
import type { v } from "../lib/deps.ts";
import { type ErrorCode, FrancisError } from "../lib/errors.ts";
import { createCSR } from "../lib/pki/csr.ts";
import { generateEd25519KeyPair, privateKeyToPem, rawPublicKey } from "../lib/pki/ed25519.ts";
import { fromPem } from "../lib/pki/pem.ts";
import { parseCertificate } from "../lib/pki/x509.ts";
import { TrustStore, verifyPeerChain } from "../lib/pki/verify.ts";
import {
  CertificateGrant,
  ChallengeResponse,
  HeartbeatResponse,
  HostRecord,
  parseWire,
  Routes,
} from "../lib/protocol/mod.ts";
import { type CallOptions, type CallResult, MtlsClient } from "../lib/transport/client.ts";
import type { TlsIdentity } from "../lib/transport/server.ts";

/** How the worker proves it may join. */
export type BootstrapCredential =
  | { method: "psk"; keys: BootstrapKeys }
  | { method: "jwt"; token: () => Promise<string> };

/** A verified certificate grant, with the key it certifies. */
export interface Grant {
  hostId: string;
  spiffeId: string;
  identity: TlsIdentity;
  notAfter: Date;
  trust: TrustStore;
  healthCheckDeadlineMs: number;
}

// Refusals that retrying cannot fix: the worker stops and says why.
const DEFINITIVE = new Set<ErrorCode>([
  "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
  "ERR_BOOTSTRAP_BAD_CLIENT_PROOF",
  "ERR_TOKEN_INVALID",
  "ERR_TOKEN_REPLAYED",
  "ERR_PINNED_CA_MISMATCH",
  "ERR_BAD_REQUEST",
  "ERR_UNSUPPORTED_MEDIA_TYPE",
  "ERR_CSR_MALFORMED",
  "ERR_CSR_BAD_SIGNATURE",
  "ERR_CSR_UNSUPPORTED_KEY",
  "ERR_PSK_TOO_SHORT",
  "ERR_HOST_CONFIG",
]);

/** True when retrying (later, or at another runtime) cannot help. */
export function isDefinitive(err: unknown): boolean {
  return err instanceof FrancisError && DEFINITIVE.has(err.code);
}

/** Talks to the runtime(s) on behalf of one host. */
export class RuntimeClient {
  readonly addresses: readonly string[];
  #current = 0;
  #pinned: TrustStore | undefined;
  #trust: TrustStore | undefined;
  #client: MtlsClient;

  /**
   * @param addresses runtime addresses, tried in order
   * @param pinned the pinned CAs; `undefined` for trust on first use
   */
  constructor(addresses: readonly string[], pinned: TrustStore | undefined) {
    if (addresses.length === 0) throw new TypeError("At least one runtime address is required");
    this.addresses = addresses;
    this.#pinned = pinned;
    this.#trust = pinned;
    this.#client = new MtlsClient({ trust: pinned, timeoutMs: 15_000, maxSockets: 4 });
  }

  /** The runtime address in use. */
  get current(): string {
    return this.addresses[this.#current];
  }

  /** Moves to the next runtime address (after a transient failure). */
  failover(): void {
    this.#current = (this.#current + 1) % this.addresses.length;
  }

  /** Uses `identity` and `trust` for every later call. */
  useIdentity(identity: TlsIdentity | undefined, trust: TrustStore): void {
    this.#trust = trust;
    this.#client.update({ identity, trust });
  }

  /** Forgets the host identity (before a fresh bootstrap); trust falls back to the pinned CAs. */
  resetIdentity(): void {
    this.#trust = this.#pinned;
    this.#client.update({ identity: undefined, trust: this.#pinned });
  }

  /** Closes pooled connections. */
  close(): void {
    this.#client.close();
  }

  async #call(call: CallOptions): Promise<CallResult> {
    const expect = this.#trust ? { kind: "runtime" as const } : undefined;
    let result: CallResult;
    try {
      result = await this.#client.request(this.current, { ...call, expect });
    } catch (err) {
      // A runtime that does not chain to the pinned CA is refused before any credential is sent.
      if (
        err instanceof FrancisError && this.#pinned && this.#trust === this.#pinned &&
        err.code.startsWith("ERR_CERT_")
      ) {
        throw new FrancisError(
          "ERR_PINNED_CA_MISMATCH",
          `The runtime at ${this.current} is not certified by the pinned CA: ${err.message}`,
          { cause: err },
        );
      }
      throw err;
    }
    if (result.status >= 400) throw errorFromResponse(this.current, result);
    return result;
  }

  /** Bootstraps: proves the credential, sends a CSR for a fresh key, verifies the grant. */
  async bootstrap(
    credential: BootstrapCredential,
    registration: { address?: string; actorTypes: string[] },
  ): Promise<Grant> {
    const keys = await generateEd25519KeyPair(true);
    const csr = toBase64(await createCSR(keys));
    let body: Record<string, unknown>;
    if (credential.method === "psk") {
      const clientNonce = newNonce();
      const res = await this.#call({
        method: "POST",
        path: Routes.challenge,
        body: { clientNonce: toBase64(clientNonce) },
      });
      const challenge = parseWire(ChallengeResponse, res.body, "challenge response");
      // cb is the certificate this TLS connection presented: a relay that terminates TLS
      // shows another one, so the runtime's proof cannot verify and nothing secret is sent.
      const cb = await channelBinding(res.serverCertDer);
      const transcript = bootstrapTranscript(clientNonce, challenge.serverNonce, cb);
      await verifyServerProof(credential.keys, transcript, challenge.serverProof);
      body = {
        method: "psk",
        challengeId: challenge.challengeId,
        clientProof: toBase64(await clientProof(credential.keys, transcript)),
      };
    } else {
      body = { method: "jwt", token: await credential.token() };
    }
    const res = await this.#call({
      method: "POST",
      path: Routes.register,
      body: { ...body, csr, ...registration },
    });
    return await acceptGrant(res.body, keys);
  }

  /** Renews the certificate with a fresh key, over mTLS. */
  async renew(): Promise<Grant> {
    const keys = await generateEd25519KeyPair(true);
    const res = await this.#call({
      method: "POST",
      path: Routes.renew,
      body: { csr: toBase64(await createCSR(keys)) },
    });
    return await acceptGrant(res.body, keys);
  }

  /** Reports health; returns the runtime's deadline and its current CA bundle. */
  async heartbeat(
    actorTypes?: string[],
  ): Promise<v.InferOutput<typeof HeartbeatResponse> & { trust: TrustStore }> {
    const res = await this.#call({
      method: "POST",
      path: Routes.heartbeat,
      body: actorTypes ? { actorTypes } : {},
    });
    const beat = parseWire(HeartbeatResponse, res.body, "health check response");
    return { ...beat, trust: await TrustStore.fromPem(beat.caBundle) };
  }

  /** This host's registration. */
  async self(): Promise<v.InferOutput<typeof HostRecord>> {
    const res = await this.#call({ method: "GET", path: Routes.self });
    return parseWire(HostRecord, res.body, "registration");
  }

  /** Removes this host's registration. */
  async unregister(): Promise<void> {
    await this.#call({ method: "DELETE", path: Routes.self });
  }
}

// The grant must certify exactly the key we generated, for the identity it names,
// under the CA bundle it carries: otherwise it is useless or a substitution.
async function acceptGrant(data: unknown, keys: CryptoKeyPair): Promise<Grant> {
  let grant: v.InferOutput<typeof CertificateGrant>;
  try {
    grant = parseWire(CertificateGrant, data, "certificate grant");
  } catch (err) {
    throw new FrancisError("ERR_BAD_RESPONSE", (err as Error).message, { cause: err });
  }
  const trust = await TrustStore.fromPem(grant.caBundle);
  const [der] = fromPem(grant.certificate, "CERTIFICATE");
  const peer = await verifyPeerChain([der], trust, { kind: "host", id: grant.hostId });
  const ours = await rawPublicKey(keys.publicKey);
  if (toHex(parseCertificate(der).publicKey) !== toHex(ours)) {
    throw new FrancisError("ERR_BAD_RESPONSE", "The granted certificate is not for our key");
  }
  return {
    hostId: grant.hostId,
    spiffeId: peer.spiffeId,
    identity: { certPem: grant.certificate, keyPem: await privateKeyToPem(keys.privateKey) },
    notAfter: peer.notAfter,
    trust,
    healthCheckDeadlineMs: grant.healthCheckDeadlineMs,
  };
}

function errorFromResponse(address: string, result: CallResult): FrancisError {
  const error = (result.body as { error?: { code?: unknown; message?: unknown } })?.error;
  const code = typeof error?.code === "string" ? error.code as ErrorCode : undefined;
  const message = typeof error?.message === "string" ? error.message : `HTTP ${result.status}`;
  if (code) return new FrancisError(code, `Runtime ${address} refused: ${message}`);
  return new FrancisError(
    result.status >= 500 ? "ERR_UNAVAILABLE" : "ERR_RUNTIME_REJECTED",
    `Runtime ${address} answered HTTP ${result.status}`,
  );
}
