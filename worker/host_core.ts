/**
 * What every host has, whatever its topology: the local activation table, the
 * cluster-wide actor service, the mTLS-only peer server and the pooled peer
 * client, the fence that stops it serving actors when it lost its standing,
 * and background timers. RemoteHost and LocalHost add how they get their
 * certificate and where coordination lives.
 *
 * @module
 */
import { ActorRuntime } from "../lib/actor/host.ts";
import type { Coordinator } from "../lib/actor/coordinator.ts";
import { createPeerApp } from "../lib/actor/peer.ts";
import { ClusterService } from "../lib/actor/service.ts";
import type { ActorFactory, ActorService, ActorTypeOptions } from "../lib/actor/types.ts";
import { FrancisError } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import type { IdentityKind } from "../lib/pki/spiffe.ts";
import type { TrustStore } from "../lib/pki/verify.ts";
import { freePort, MtlsClient, splitAddress } from "../lib/transport/client.ts";
import { type HttpsServer, serveHttps, type TlsIdentity } from "../lib/transport/server.ts";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;

/** Exponential backoff with full jitter: 0.5 s doubling up to 10 s. */
export function backoffDelay(attempt: number): number {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return cap / 2 + Math.random() * cap / 2;
}

/** The address a host advertises: `address` with port 0 resolved to a free port now. */
export async function advertisedAddress(
  address: string,
): Promise<{ hostname: string; port: number; advertised: string }> {
  let { hostname, port } = splitAddress(address, { allowZero: true });
  if (port === 0) port = await freePort(hostname);
  const advertised = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  return { hostname, port, advertised };
}

/** The shared part of a host. */
export class HostCore {
  readonly logger: Logger;
  readonly actors: ActorRuntime;
  readonly service: ClusterService;
  #hostId?: string;
  #peer?: HttpsServer;
  #peers?: MtlsClient;
  #fenced = false;
  #standingUntil = 0;
  #lastConfirmed = 0;
  #deadlineMs = 0;
  #stopped = false;
  #timers = new Set<ReturnType<typeof setTimeout>>();

  /** A host core whose coordination is `coordinator()`. */
  constructor(logger: Logger, coordinator: () => Coordinator) {
    this.logger = logger;
    this.service = new ClusterService({
      selfId: () => this.hostId,
      coordinator,
      local: () => this.actors,
      serving: () => this.serving,
      peers: () => {
        if (!this.#peers) throw new FrancisError("ERR_HOST_STOPPED", "The host is not started");
        return this.#peers;
      },
      logger,
    });
    this.actors = new ActorRuntime({
      service: this.service,
      logger,
      admit: () => this.serving,
    });
  }

  /** This host's ID; throws before the host has one. */
  get hostId(): string {
    if (this.#hostId === undefined) throw new TypeError("The host is not started");
    return this.#hostId;
  }

  /** Registers an actor type (see `RemoteHost.registerActor`). */
  registerActor(actorType: string, factory: ActorFactory, options?: ActorTypeOptions): void {
    this.actors.registerActor(actorType, factory, options);
  }

  /** The service, typed as the public interface. */
  get publicService(): ActorService {
    return this.service;
  }

  /** True once stop() began. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** The pooled peer client (for coordinator-side alarm delivery in the local topology). */
  get peerClient(): MtlsClient {
    if (!this.#peers) throw new FrancisError("ERR_HOST_STOPPED", "The host is not started");
    return this.#peers;
  }

  /** TLS handshakes the peer client has made. */
  get peerHandshakes(): number {
    return this.#peers?.handshakes ?? 0;
  }

  /** The peer server's port. */
  get peerPort(): number {
    if (!this.#peer) throw new TypeError("The host is not started");
    return this.#peer.port;
  }

  // The coordinator takes a host's actors once it has not heard from it for a
  // deadline, counted from when it received the host's last report. The host
  // counts from before it sent that report, and stops at three quarters of the
  // deadline: it gives its actors up before anyone else can be handed them.
  /** Records a successful health report sent at `sentAt`, under `deadlineMs`. */
  confirmStanding(sentAt: number, deadlineMs: number): void {
    this.#lastConfirmed = Math.max(this.#lastConfirmed, sentAt);
    this.#deadlineMs = deadlineMs;
    this.#standingUntil = this.#lastConfirmed + deadlineMs * 0.75;
  }

  /** Records a failed health report: a whole deadline without one fences the host. */
  async healthFailed(): Promise<void> {
    if (Date.now() - this.#lastConfirmed > this.#deadlineMs) {
      await this.fence("health reports failed for a whole deadline");
    }
  }

  /** True while this host may run actors: not fenced, and its standing confirmed recently. */
  get serving(): boolean {
    return !this.#fenced && Date.now() < this.#standingUntil;
  }

  /** Takes on an identity (first certificate, renewal, new trust bundle). */
  adopt(hostId: string, identity: TlsIdentity, trust: TrustStore): void {
    this.#hostId = hostId;
    this.#peer?.updateTls({ ...identity, trust });
    if (this.#peers) this.#peers.update({ identity, trust });
    else this.#peers = new MtlsClient({ identity, trust, maxSockets: 32 });
  }

  /** Starts the peer server (mTLS-only); `alarmCallers` may deliver alarms. */
  async servePeers(
    hostname: string,
    port: number,
    identity: TlsIdentity,
    trust: TrustStore,
    alarmCallers: readonly IdentityKind[],
  ): Promise<void> {
    const self = () => this.hostId;
    const app = createPeerApp({
      selfId: self,
      local: () => this.actors,
      owns: async (type, id) =>
        (await this.service.owner(type, id)).hostId === self() ||
        (await this.service.owner(type, id, true)).hostId === self(),
      fenced: () => !this.serving,
      alarmCallers,
    });
    this.#peer = await serveHttps({
      hostname,
      port,
      tls: { ...identity, trust },
      clientCerts: "required",
      handler: (request, context) => app.fetch(request, context),
    });
  }

  // A host that lost its standing with the coordinator may have lost its actors to
  // others: it stops serving them (dropping its activations) until it is back.
  /** Stops serving actors; `reason` is logged. */
  async fence(reason: string): Promise<void> {
    if (this.#fenced) return;
    this.#fenced = true;
    this.logger.warn("not serving actors until health reports succeed again", { reason });
    this.service.forgetPlacements();
    await this.actors.deactivateAll();
  }

  /** Serves actors again after a successful health report. */
  unfence(): void {
    if (!this.#fenced) return;
    this.#fenced = false;
    this.logger.info("serving actors again");
  }

  /** Runs `task` after `ms`, unless stopped; failures are logged. */
  after(ms: number, task: () => Promise<void>): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      task().catch((err) => this.logger.error("background task failed", { error: String(err) }));
    }, ms);
    this.#timers.add(timer);
  }

  /** Stops timers, actors, the peer server and client. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.actors.close();
    await this.#peer?.close(2_000);
    this.#peers?.close();
  }
}
