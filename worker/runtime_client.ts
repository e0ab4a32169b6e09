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
import type { Coordinator } from "../lib/actor/coordinator.ts";
import {
  AlarmGetResponse,
  CertificateGrant,
  ChallengeResponse,
  HeartbeatResponse,
  HostRecord,
  parseWire,
  PlacementResponse,
  Routes,
  StateGetResponse,
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

/** A refusal the runtime itself answered (HTTP status and error body), as opposed to a transport failure. */
export class RuntimeRefusal extends FrancisError {
  /** The HTTP status. */
  readonly status: number;

  /** Wraps the runtime's error answer. */
  constructor(code: ErrorCode, message: string, status: number) {
    super(code, message);
    this.status = status;
  }
}

/** Talks to the runtime(s) on behalf of one host. */
export class RuntimeClient {
  readonly addresses: readonly string[];
  #current = 0;
  readonly #pinned: TrustStore | undefined;
  /** The host's own client: its certificate, and the trust bundle the runtime handed out. */
  #client: MtlsClient;
  #hasIdentity = false;

  /**
   * @param addresses runtime addresses, tried in order
   * @param pinned the pinned CAs; `undefined` for trust on first use
   */
  constructor(addresses: readonly string[], pinned: TrustStore | undefined) {
    if (addresses.length === 0) throw new TypeError("At least one runtime address is required");
    this.addresses = addresses;
    this.#pinned = pinned;
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

  /** Uses `identity` and `trust` for every later host call. */
  useIdentity(identity: TlsIdentity, trust: TrustStore): void {
    this.#hasIdentity = true;
    this.#client.update({ identity, trust });
  }

  /** Uses a new trust bundle (from a health report) with the current identity. */
  useTrust(trust: TrustStore): void {
    this.#client.update({ trust });
  }

  /** Closes pooled connections. */
  close(): void {
    this.#client.close();
  }

  async #call(client: MtlsClient, call: CallOptions, pinnedOnly: boolean): Promise<CallResult> {
    const expect = pinnedOnly && !this.#pinned ? undefined : { kind: "runtime" as const };
    let result: CallResult;
    try {
      result = await client.request(this.current, { ...call, expect });
    } catch (err) {
      // A runtime that does not chain to the pinned CA is refused before any credential is sent.
      if (
        pinnedOnly && this.#pinned && err instanceof FrancisError &&
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
    if (result.status >= 400) throw refusalFrom(this.current, result);
    return result;
  }

  /** A host call, with the host certificate. */
  #hostCall(call: CallOptions): Promise<CallResult> {
    if (!this.#hasIdentity) throw new TypeError("The host has no certificate yet");
    return this.#call(this.#client, call, false);
  }

  /**
   * Bootstraps on a connection of its own (pinned CAs or unpinned, no host
   * certificate), so a failed attempt leaves the host's current identity intact:
   * proves the credential, sends a CSR for a fresh key, verifies the grant.
   */
  async bootstrap(
    credential: BootstrapCredential,
    registration: { address?: string; actorTypes: string[] },
  ): Promise<Grant> {
    const anonymous = new MtlsClient({ trust: this.#pinned, timeoutMs: 15_000, maxSockets: 1 });
    try {
      const keys = await generateEd25519KeyPair(true);
      const csr = toBase64(await createCSR(keys));
      let body: Record<string, unknown>;
      let provenCert: Uint8Array | undefined;
      if (credential.method === "psk") {
        const clientNonce = newNonce();
        const res = await this.#call(anonymous, {
          method: "POST",
          path: Routes.challenge,
          body: { clientNonce: toBase64(clientNonce) },
        }, true);
        const challenge = parseResponse(ChallengeResponse, res.body, "challenge response");
        // cb is the certificate this TLS connection presented: a relay that terminates TLS
        // shows another one, so the runtime's proof cannot verify and nothing secret is sent.
        const cb = await channelBinding(res.serverCertDer);
        const transcript = bootstrapTranscript(clientNonce, challenge.serverNonce, cb);
        await verifyServerProof(credential.keys, transcript, challenge.serverProof);
        provenCert = res.serverCertDer;
        body = {
          method: "psk",
          challengeId: challenge.challengeId,
          clientProof: toBase64(await clientProof(credential.keys, transcript)),
        };
      } else {
        body = { method: "jwt", token: await credential.token() };
      }
      const res = await this.#call(anonymous, {
        method: "POST",
        path: Routes.register,
        body: { ...body, csr, ...registration },
      }, true);
      // The grant must come from the runtime whose proof we checked: the same certificate
      // (only its key holder can present it), else a meddler could answer this call alone.
      if (provenCert && toHex(res.serverCertDer) !== toHex(provenCert)) {
        throw new FrancisError(
          "ERR_BOOTSTRAP_BAD_SERVER_PROOF",
          "The registration was answered by another server than the one that proved the PSK",
        );
      }
      return await acceptGrant(res.body, keys, res.serverCertDer);
    } finally {
      anonymous.close();
    }
  }

  /** Renews the certificate with a fresh key, over mTLS. */
  async renew(): Promise<Grant> {
    const keys = await generateEd25519KeyPair(true);
    const res = await this.#hostCall({
      method: "POST",
      path: Routes.renew,
      body: { csr: toBase64(await createCSR(keys)) },
    });
    return await acceptGrant(res.body, keys, res.serverCertDer);
  }

  /** Reports health; returns the runtime's deadline and its current CA bundle. */
  async heartbeat(
    actorTypes?: string[],
  ): Promise<v.InferOutput<typeof HeartbeatResponse> & { trust: TrustStore }> {
    const res = await this.#hostCall({
      method: "POST",
      path: Routes.heartbeat,
      body: actorTypes ? { actorTypes } : {},
    });
    const beat = parseResponse(HeartbeatResponse, res.body, "health check response");
    return { ...beat, trust: await TrustStore.fromPem(beat.caBundle) };
  }

  /** This host's registration. */
  async self(): Promise<v.InferOutput<typeof HostRecord>> {
    const res = await this.#hostCall({ method: "GET", path: Routes.self });
    return parseResponse(HostRecord, res.body, "registration");
  }

  /** Removes this host's registration. */
  async unregister(): Promise<void> {
    await this.#hostCall({ method: "DELETE", path: Routes.self });
  }

  /** The runtime as this host's coordinator: placement, state and alarms. */
  coordinator(): Coordinator {
    return this.#coordinator ??= this.#makeCoordinator();
  }

  #coordinator?: Coordinator;

  #makeCoordinator(): Coordinator {
    const post = async (path: string, body: unknown) =>
      (await this.#hostCall({ method: "POST", path, body })).body;
    return {
      resolve: async (actorType, actorId) =>
        parseResponse(
          PlacementResponse,
          await post(Routes.placement, { actorType, actorId }),
          "placement",
        ),
      getState: async (actorType, actorId, key) => {
        const r = parseResponse(
          StateGetResponse,
          await post(Routes.stateGet, { actorType, actorId, key }),
          "state",
        );
        return r.found ? r.value : undefined;
      },
      setState: async (actorType, actorId, key, value, options) => {
        await post(Routes.stateSet, { actorType, actorId, key, value, ttlMs: options?.ttlMs });
      },
      deleteState: async (actorType, actorId, key) => {
        await post(Routes.stateDelete, { actorType, actorId, key });
      },
      setAlarm: async (actorType, actorId, name, alarm) => {
        await post(Routes.alarmSet, {
          actorType,
          actorId,
          name,
          dueTime: alarm.dueTime.toISOString(),
          intervalMs: alarm.intervalMs,
          expiresAt: alarm.expiresAt?.toISOString(),
          data: alarm.data,
          maxAttempts: alarm.maxAttempts,
          retryDelayMs: alarm.retryDelayMs,
        });
      },
      getAlarm: async (actorType, actorId, name) => {
        const { alarm } = parseResponse(
          AlarmGetResponse,
          await post(Routes.alarmGet, { actorType, actorId, name }),
          "alarm",
        );
        return alarm
          ? {
            name: alarm.name,
            dueTime: new Date(alarm.dueTime),
            interval: alarm.intervalMs,
            expiresAt: alarm.expiresAt === undefined ? undefined : new Date(alarm.expiresAt),
            data: alarm.data,
          }
          : undefined;
      },
      deleteAlarm: async (actorType, actorId, name) => {
        await post(Routes.alarmDelete, { actorType, actorId, name });
      },
    };
  }
}

/** A runtime answer checked against its schema; a bad one is ERR_BAD_RESPONSE (transient). */
function parseResponse<S extends v.GenericSchema>(
  schema: S,
  data: unknown,
  what: string,
): v.InferOutput<S> {
  try {
    return parseWire(schema, data, what);
  } catch (err) {
    throw new FrancisError("ERR_BAD_RESPONSE", (err as Error).message, { cause: err });
  }
}

// The grant must certify exactly the key we generated, for the identity it names,
// under the CA bundle it carries, which must also certify the runtime that sent it:
// otherwise it is useless or a substitution.
async function acceptGrant(
  data: unknown,
  keys: CryptoKeyPair,
  runtimeCertDer: Uint8Array,
): Promise<Grant> {
  const grant = parseResponse(CertificateGrant, data, "certificate grant");
  const trust = await TrustStore.fromPem(grant.caBundle);
  await verifyPeerChain([runtimeCertDer], trust, { kind: "runtime" });
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

function refusalFrom(address: string, result: CallResult): RuntimeRefusal {
  const error = (result.body as { error?: { code?: unknown; message?: unknown } })?.error;
  const code = typeof error?.code === "string" ? error.code as ErrorCode : undefined;
  const message = typeof error?.message === "string" ? error.message : `HTTP ${result.status}`;
  if (code) {
    return new RuntimeRefusal(code, `Runtime ${address} refused: ${message}`, result.status);
  }
  return new RuntimeRefusal(
    result.status >= 500 ? "ERR_UNAVAILABLE" : "ERR_RUNTIME_REJECTED",
    `Runtime ${address} answered HTTP ${result.status}`,
    result.status,
  );
}
