/**
 * A host of the local topology: no runtime process. Each host embeds the
 * coordination (placement, state, alarms, health) over a shared store, and
 * issues its own workload certificate from the CA it derives from the same
 * runtime PSKs. Peer traffic is mTLS exactly as in the remote topology.
 *
 * @module
 */
import type { ActorFactory, ActorService, ActorTypeOptions } from "../lib/actor/types.ts";
import { toHex } from "../lib/bytes.ts";
import { providerFromConnectionString } from "../lib/config/mod.ts";
import { FrancisError } from "../lib/errors.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { type CABundle, deriveCABundle } from "../lib/pki/ca.ts";
import { generateEd25519KeyPair, privateKeyToPem, rawPublicKey } from "../lib/pki/ed25519.ts";
import { issueWorkloadCert } from "../lib/pki/issue.ts";
import { isValidWorkloadId, spiffeId } from "../lib/pki/spiffe.ts";
import { TrustStore } from "../lib/pki/verify.ts";
import type { TlsIdentity } from "../lib/transport/server.ts";
import { AlarmScheduler } from "../runtime/alarms.ts";
import { namespaced, StoreCoordinator } from "../runtime/coordination.ts";
import { Placement } from "../runtime/placement.ts";
import { openStore, type Store } from "../runtime/store/mod.ts";
import type { HostStatus } from "./host.ts";
import { advertisedAddress, backoffDelay, HostCore } from "./host_core.ts";

/** How to run a local host. */
export interface LocalHostOptions {
  /** Where the peer server listens, `host:port`; also what other hosts are told. Default `127.0.0.1:0`. */
  address?: string;
  /** The runtime PSKs, primary first: every host of the cluster derives the same CAs. */
  runtimePSKs: string[];
  /** The shared store: a SQLite path (all hosts open the same file), or `memory` (one host). */
  connectionString: string;
  /** This host's ID (default: a fresh random one). */
  hostId?: string;
  /** Lifetime of the self-issued certificate (default 1 h); renewed at about half. */
  certTTLMs?: number;
  /** A host that misses this loses its actors to the others (default 20 s). */
  healthCheckDeadlineMs?: number;
  /** How often due alarms are polled (default 1.5 s). */
  alarmsPollIntervalMs?: number;
  /** How long an alarm delivery is leased (default 20 s). */
  alarmsLeaseDurationMs?: number;
  /** Where log lines go (default: text to stderr at info). */
  logger?: Logger;
}

/** A host in the local topology. */
export class LocalHost {
  readonly #o: LocalHostOptions;
  readonly #logger: Logger;
  readonly #core: HostCore;
  #store?: Store;
  #coordinator?: StoreCoordinator;
  #scheduler?: AlarmScheduler;
  #bundle?: CABundle;
  #trust?: TrustStore;
  #namespace = "";
  #hostId: string;
  #advertised = "";
  #notAfter?: Date;
  #generation = 0;

  /**
   * Checks the options; nothing starts until {@linkcode LocalHost.start}.
   *
   * @throws {FrancisError} `ERR_HOST_CONFIG` for missing PSKs or a bad host ID
   */
  constructor(options: LocalHostOptions) {
    if (options.runtimePSKs.length === 0) {
      throw new FrancisError("ERR_HOST_CONFIG", "Give at least one runtime PSK");
    }
    const hostId = options.hostId ?? `h-${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
    if (!isValidWorkloadId(hostId)) {
      throw new FrancisError("ERR_HOST_CONFIG", `Invalid host ID ${JSON.stringify(hostId)}`);
    }
    this.#o = options;
    this.#hostId = hostId;
    this.#logger = options.logger ?? createLogger();
    this.#core = new HostCore(this.#logger, () => this.#requireCoordinator());
  }

  #requireCoordinator(): StoreCoordinator {
    if (!this.#coordinator) throw new FrancisError("ERR_HOST_STOPPED", "The host is not started");
    return this.#coordinator;
  }

  get #deadline(): number {
    return this.#o.healthCheckDeadlineMs ?? 20_000;
  }

  /** Registers an actor type this host serves (see `RemoteHost.registerActor`). */
  registerActor(actorType: string, factory: ActorFactory, options?: ActorTypeOptions): void {
    this.#core.registerActor(actorType, factory, options);
  }

  /** The cluster-wide actor service. */
  get service(): ActorService {
    return this.#core.publicService;
  }

  /** The current status; `runtime` is `"local"`. */
  get status(): HostStatus {
    if (!this.#notAfter) throw new TypeError("The host is not started");
    return {
      hostId: this.#hostId,
      spiffeId: spiffeId("host", this.#hostId),
      certNotAfter: this.#notAfter.toISOString(),
      runtime: "local",
    };
  }

  /** The port the peer server listens on. */
  get peerPort(): number {
    return this.#core.peerPort;
  }

  /** TLS handshakes this host's peer client has made. */
  get peerHandshakes(): number {
    return this.#core.peerHandshakes;
  }

  get #storedTypes(): string[] {
    return this.#core.actors.actorTypes.map((t) => namespaced(this.#namespace, t));
  }

  // The certificate comes from the primary CA every host derives from the same PSKs.
  async #selfIssue(): Promise<TlsIdentity> {
    const keys = await generateEd25519KeyPair(true);
    const cert = await issueWorkloadCert({
      ca: this.#bundle!.primary,
      spiffeId: spiffeId("host", this.#hostId),
      publicKey: await rawPublicKey(keys.publicKey),
      ttlMs: this.#o.certTTLMs ?? 60 * 60_000,
    });
    this.#notAfter = cert.notAfter;
    return { certPem: cert.certPem, keyPem: await privateKeyToPem(keys.privateKey) };
  }

  async #register(now: Date): Promise<void> {
    await this.#store!.putHost({
      hostId: this.#hostId,
      address: this.#advertised,
      actorTypes: this.#storedTypes,
      registeredAt: now,
      lastSeenAt: now,
      certNotAfter: this.#notAfter!,
      certSerial: "",
      generation: this.#generation,
    });
  }

  /** Derives the CAs, opens the store, issues its certificate, registers and serves. */
  async start(): Promise<void> {
    const o = this.#o;
    this.#bundle = await deriveCABundle(o.runtimePSKs);
    this.#trust = await TrustStore.fromCAs(this.#bundle.cas);
    const store = this.#store = openStore(providerFromConnectionString(o.connectionString));
    // Hosts with other PSKs may share the store: their data lives in another namespace.
    this.#namespace = await store.clusterNamespace(this.#bundle.cas.map((ca) => ca.fingerprint));
    const placement = new Placement(store, this.#deadline, Date.now, this.#namespace);
    this.#coordinator = new StoreCoordinator(store, placement, this.#namespace);
    const { hostname, port, advertised } = await advertisedAddress(o.address ?? "127.0.0.1:0");
    this.#advertised = advertised;
    const identity = await this.#selfIssue();
    this.#core.adopt(this.#hostId, identity, this.#trust);
    // Host IDs share one table: never take over a live host of another cluster.
    const existing = await store.getHost(this.#hostId);
    if (
      existing && Date.now() - existing.lastSeenAt.getTime() <= this.#deadline &&
      existing.actorTypes.some((t) => !t.startsWith(`${this.#namespace}/`))
    ) {
      await store.close();
      throw new FrancisError(
        "ERR_HOST_CONFIG",
        `Host ID ${this.#hostId} is in use by a live host of another cluster in this store`,
      );
    }
    const sentAt = Date.now();
    await this.#register(new Date(sentAt));
    this.#core.confirmStanding(sentAt, this.#deadline);
    // Alarms are delivered by whichever host leases them, host to host over mTLS.
    await this.#core.servePeers(hostname, port, identity, this.#trust, ["host"]);
    this.#scheduler = new AlarmScheduler({
      store,
      placement,
      client: () => this.#core.peerClient,
      pollIntervalMs: o.alarmsPollIntervalMs ?? 1_500,
      leaseDurationMs: o.alarmsLeaseDurationMs ?? 20_000,
      owner: this.#hostId,
      namespace: this.#namespace,
      logger: this.#logger,
      onTick: () =>
        placement.sweep((hostId, actors) =>
          this.#logger.warn("host missed its health deadline; its actors move", { hostId, actors })
        ),
    });
    this.#scheduler.start();
    this.#logger.info("local host started", {
      hostId: this.#hostId,
      peerAddress: advertised,
      namespace: this.#namespace,
      caFingerprint: this.#bundle.primary.fingerprint,
      certNotAfter: this.#notAfter!.toISOString(),
    });
    this.#scheduleHealth(Math.floor(this.#deadline / 3));
    this.#scheduleRenewal();
  }

  /** Stops, and leaves the cluster: its actors move to the others at once. */
  async stop(): Promise<void> {
    await this.#scheduler?.stop();
    await this.#core.stop();
    if (this.#store) {
      await this.#store.deleteHost(this.#hostId).catch(() => false);
      await this.#store.close();
    }
  }

  // Health: record being alive in the store; a bumped generation means others
  // took this host's actors, and a store it cannot reach for a deadline fences it.
  #scheduleHealth(delay: number): void {
    this.#core.after(delay, async () => {
      try {
        const sentAt = Date.now();
        const store = this.#store!;
        if (!await store.touchHost(this.#hostId, new Date(sentAt), this.#storedTypes)) {
          await this.#register(new Date(sentAt));
        }
        const generation = (await store.getHost(this.#hostId))?.generation ?? this.#generation;
        if (generation !== this.#generation) {
          this.#generation = generation;
          await this.#core.fence("another host took this host's actors");
        }
        this.#core.confirmStanding(sentAt, this.#deadline);
        this.#core.unfence();
      } catch (err) {
        this.#logger.warn("health record failed", { error: String(err) });
        await this.#core.healthFailed();
      } finally {
        this.#scheduleHealth(Math.max(100, Math.floor(this.#deadline / 3)));
      }
    });
  }

  // Renewal at about half the remaining lifetime, jittered; the live peer server
  // swaps its certificate, so connections are not dropped.
  #scheduleRenewal(attempt = 0): void {
    const remaining = this.#notAfter!.getTime() - Date.now();
    const delay = attempt === 0 ? remaining * (0.4 + Math.random() * 0.2) : backoffDelay(attempt);
    this.#core.after(Math.max(0, delay), async () => {
      try {
        this.#core.adopt(this.#hostId, await this.#selfIssue(), this.#trust!);
        this.#logger.info("certificate renewed", { notAfter: this.#notAfter!.toISOString() });
        this.#scheduleRenewal();
      } catch (err) {
        this.#logger.warn("renewal failed, will retry", { error: String(err) });
        this.#scheduleRenewal(attempt + 1);
      }
    });
  }
}
