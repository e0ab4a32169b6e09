/**
 * A remote host: bootstraps against the runtime, keeps its workload
 * certificate fresh, reports health, and serves other cluster members on an
 * mTLS-only peer port.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { deriveBootstrapKeys } from "../lib/bootstrap/mod.ts";
import { FrancisError } from "../lib/errors.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { TrustStore } from "../lib/pki/verify.ts";
import { splitAddress } from "../lib/transport/client.ts";
import type { ActorFactory, ActorService, ActorTypeOptions } from "../lib/actor/types.ts";
import { advertisedAddress, backoffDelay, HostCore } from "./host_core.ts";
import {
  type BootstrapCredential,
  type Grant,
  isDefinitive,
  RuntimeClient,
  RuntimeRefusal,
} from "./runtime_client.ts";

/** How to run a remote host. */
export interface RemoteHostOptions {
  /** Where the peer server listens, `host:port`; also what other hosts are told. Default `127.0.0.1:0`. */
  address?: string;
  /** Runtime addresses, `host:port`, tried in order. */
  runtimeAddresses: string[];
  /** Host bootstrap PSK (at least 16 bytes). */
  hostBootstrapPSK?: string;
  /** A bootstrap JWT. */
  hostBootstrapJWT?: string;
  /** A file holding a bootstrap JWT, re-read at every bootstrap. */
  hostBootstrapJWTFile?: string;
  /** PEM of the CA certificate(s) that must certify the runtime (`runtime print-ca`). */
  pinnedCA?: string;
  /** Trust the runtime on first use. Development only: see the README. */
  unsafeNoPinnedCA?: boolean;
  /** Where log lines go (default: text to stderr at info). */
  logger?: Logger;
}

/** What `GET /status` reports. */
export interface HostStatus {
  /** The host ID the runtime assigned. */
  hostId: string;
  /** `spiffe://francis/host/<hostId>`. */
  spiffeId: string;
  /** When the current certificate expires (ISO 8601). */
  certNotAfter: string;
  /** The runtime address in use. */
  runtime: string;
}

function hostConfigError(message: string): FrancisError {
  return new FrancisError("ERR_HOST_CONFIG", message);
}

/** A worker host in the remote topology. */
export class RemoteHost {
  readonly #options: RemoteHostOptions;
  readonly #logger: Logger;
  readonly #core: HostCore;
  #runtime!: RuntimeClient;
  #grant?: Grant;
  #credential?: BootstrapCredential;
  #advertised?: string;
  #generation?: number;

  /**
   * Checks the options; nothing starts until {@linkcode RemoteHost.start}.
   *
   * @throws {FrancisError} `ERR_HOST_CONFIG` when trust or credentials are not given exactly once
   */
  constructor(options: RemoteHostOptions) {
    const pins = [options.pinnedCA !== undefined, options.unsafeNoPinnedCA === true];
    if (pins[0] === pins[1]) {
      throw hostConfigError(
        pins[0]
          ? "Set only one of pinnedCA and unsafeNoPinnedCA"
          : "Set pinnedCA (the PEM printed by `runtime print-ca`) or, for development only, unsafeNoPinnedCA",
      );
    }
    const credentials = [
      options.hostBootstrapPSK,
      options.hostBootstrapJWT,
      options.hostBootstrapJWTFile,
    ]
      .filter((c) => c !== undefined);
    if (credentials.length !== 1) {
      throw hostConfigError(
        "Set exactly one of hostBootstrapPSK, hostBootstrapJWT and hostBootstrapJWTFile",
      );
    }
    if (options.runtimeAddresses.length === 0) throw hostConfigError("No runtime address given");
    try {
      for (const a of options.runtimeAddresses) splitAddress(a);
      splitAddress(options.address ?? "127.0.0.1:0", { allowZero: true });
    } catch (err) {
      throw hostConfigError((err as Error).message);
    }
    this.#options = options;
    this.#logger = options.logger ?? createLogger();
    this.#core = new HostCore(this.#logger, () => this.#runtime.coordinator());
  }

  /**
   * Registers an actor type this host serves; call before {@linkcode RemoteHost.start}
   * (types registered later are announced with the next health report).
   */
  registerActor(actorType: string, factory: ActorFactory, options?: ActorTypeOptions): void {
    this.#core.registerActor(actorType, factory, options);
  }

  /** The cluster-wide actor service: invoke any actor, read and write state, set alarms. */
  get service(): ActorService {
    return this.#core.publicService;
  }

  /** The current status, once started. */
  get status(): HostStatus {
    const grant = this.#requireGrant();
    return {
      hostId: grant.hostId,
      spiffeId: grant.spiffeId,
      certNotAfter: grant.notAfter.toISOString(),
      runtime: this.#runtime.current,
    };
  }

  /** TLS handshakes this host's peer client has made (pooling makes them rare). */
  get peerHandshakes(): number {
    return this.#core.peerHandshakes;
  }

  /** The port the peer server listens on. */
  get peerPort(): number {
    return this.#core.peerPort;
  }

  #requireGrant(): Grant {
    if (!this.#grant) throw new TypeError("The host is not started");
    return this.#grant;
  }

  /**
   * Bootstraps (retrying transient failures with backoff, across runtime
   * addresses), starts the peer server, then keeps the certificate renewed and
   * health reported until {@linkcode RemoteHost.stop}.
   *
   * @throws {FrancisError} on a definitive rejection: wrong PSK, failed server proof,
   *   pinned-CA mismatch, refused token
   */
  async start(): Promise<void> {
    const o = this.#options;
    let pinned: TrustStore | undefined;
    if (o.pinnedCA !== undefined) {
      try {
        pinned = await TrustStore.fromPem(o.pinnedCA);
      } catch (err) {
        throw hostConfigError(`pinnedCA is not a CA certificate bundle: ${(err as Error).message}`);
      }
    } else {
      this.#logger.warn(
        "unsafeNoPinnedCA: the runtime is not authenticated on first contact. With PSK bootstrap its " +
          "proof still authenticates it; with JWT bootstrap a meddler could capture the token. " +
          "Development only: pin the CA from `runtime print-ca`",
      );
    }
    this.#credential = o.hostBootstrapPSK !== undefined
      ? { method: "psk", keys: await deriveBootstrapKeys(o.hostBootstrapPSK) }
      : {
        method: "jwt",
        token: o.hostBootstrapJWT !== undefined
          ? () => Promise.resolve(o.hostBootstrapJWT!)
          : async () => (await readFile(o.hostBootstrapJWTFile!, "utf8")).trim(),
      };
    this.#runtime = new RuntimeClient(o.runtimeAddresses, pinned);
    // The address is registered at bootstrap, before the peer server can listen
    // (it needs the certificate): so "port 0" is resolved to a concrete free port first.
    const { hostname, port, advertised } = await advertisedAddress(o.address ?? "127.0.0.1:0");
    this.#advertised = advertised;
    const grant = await this.#bootstrap();
    await this.#core.servePeers(hostname, port, grant.identity, grant.trust, ["runtime"]);
    this.#logger.info("host started", {
      hostId: grant.hostId,
      peerAddress: advertised,
      runtime: this.#runtime.current,
      certNotAfter: grant.notAfter.toISOString(),
    });
    this.#scheduleRenewal();
    this.#scheduleHeartbeat(0);
  }

  /** Stops renewal and health reports and closes the peer server. */
  async stop(): Promise<void> {
    await this.#core.stop();
    this.#runtime?.close();
  }

  /** Removes this host's registration at the runtime, then stops. */
  async unregister(): Promise<void> {
    await this.#runtime.unregister();
    await this.stop();
  }

  // Every runtime address is tried in order; a definitive refusal ends the attempt at once.
  // Bootstrap runs on a connection of its own, so the current identity stays usable meanwhile.
  async #bootstrap(): Promise<Grant> {
    const registration = {
      address: this.#advertised,
      actorTypes: this.#core.actors.actorTypes,
    };
    for (let attempt = 0;; attempt++) {
      for (let i = 0; i < this.#runtime.addresses.length; i++) {
        if (this.#core.stopped) throw new FrancisError("ERR_UNAVAILABLE", "The host was stopped");
        try {
          const grant = await this.#runtime.bootstrap(this.#credential!, registration);
          this.#adopt(grant);
          this.#logger.info("bootstrapped", {
            hostId: grant.hostId,
            runtime: this.#runtime.current,
          });
          return grant;
        } catch (err) {
          if (isDefinitive(err)) throw err;
          this.#logger.warn("bootstrap failed, will retry", {
            runtime: this.#runtime.current,
            error: String((err as Error).message ?? err),
          });
          this.#runtime.failover();
        }
      }
      await new Promise((r) => setTimeout(r, backoffDelay(attempt)));
    }
  }

  #rebootstrapping?: Promise<void>;

  // In the background a definitive refusal cannot end the process: it is logged
  // loudly, the current identity is kept, and the next cycle tries again.
  #rebootstrap(reason: string): Promise<void> {
    this.#rebootstrapping ??= (async () => {
      this.#logger.warn("bootstrapping again", { reason });
      try {
        await this.#bootstrap();
      } catch (err) {
        if (!this.#core.stopped) {
          this.#logger.error("bootstrap refused; keeping the current certificate", {
            error: String((err as Error).message ?? err),
            code: err instanceof FrancisError ? err.code : undefined,
          });
        }
      } finally {
        this.#rebootstrapping = undefined;
      }
    })();
    return this.#rebootstrapping;
  }

  #adopt(grant: Grant): void {
    this.#grant = grant;
    this.#core.confirmStanding(Date.now() - 1_000, grant.healthCheckDeadlineMs);
    this.#runtime.useIdentity(grant.identity, grant.trust);
    this.#core.adopt(grant.hostId, grant.identity, grant.trust);
  }

  // Renew when about half of the remaining lifetime is left, with jitter, so a
  // fleet does not renew in lockstep; retry with backoff; bootstrap again if it expired.
  #scheduleRenewal(attempt = 0): void {
    const remaining = this.#requireGrant().notAfter.getTime() - Date.now();
    const delay = attempt === 0 ? remaining * (0.4 + Math.random() * 0.2) : backoffDelay(attempt);
    this.#core.after(Math.max(0, delay), async () => {
      let next = 0;
      try {
        if (Date.now() >= this.#requireGrant().notAfter.getTime()) {
          await this.#rebootstrap("certificate expired");
        } else {
          this.#adopt(await this.#runtime.renew());
          this.#logger.info("certificate renewed", {
            notAfter: this.#grant!.notAfter.toISOString(),
          });
        }
      } catch (err) {
        if (refusesHost(err)) {
          await this.#rebootstrap((err as FrancisError).code);
        } else {
          this.#logger.warn("renewal failed, will retry", { error: String(err) });
          this.#runtime.failover();
          next = attempt + 1;
        }
      } finally {
        this.#scheduleRenewal(next);
      }
    });
  }

  // Health reports also carry the runtime's CA bundle: that is how rotation reaches hosts.
  #scheduleHeartbeat(delay: number): void {
    this.#core.after(delay, async () => {
      try {
        const sentAt = Date.now();
        const beat = await this.#runtime.heartbeat(this.#core.actors.actorTypes);
        const grant = this.#requireGrant();
        if (beat.trust.pem !== grant.trust.pem) {
          this.#adopt({ ...grant, trust: beat.trust });
          this.#logger.info("trust bundle updated", { cas: beat.trust.anchors.length });
        }
        // A new generation means the runtime gave this host's actors to others.
        if (this.#generation !== undefined && beat.generation !== this.#generation) {
          await this.#core.fence("the runtime moved this host's actors");
        }
        this.#generation = beat.generation;
        this.#core.confirmStanding(sentAt, beat.healthCheckDeadlineMs);
        this.#core.unfence();
      } catch (err) {
        await this.#core.healthFailed();
        if (refusesHost(err)) {
          await this.#rebootstrap((err as FrancisError).code);
        } else {
          this.#logger.warn("health check failed", {
            runtime: this.#runtime.current,
            error: String(err),
          });
          this.#runtime.failover();
        }
      } finally {
        this.#scheduleHeartbeat(
          Math.max(200, Math.floor(this.#requireGrant().healthCheckDeadlineMs / 3)),
        );
      }
    });
  }
}

// The runtime itself says it no longer knows or accepts this host's certificate
// (a local failure to verify the runtime is not that: it is a transport error).
function refusesHost(err: unknown): boolean {
  return err instanceof RuntimeRefusal &&
    (err.code === "ERR_HOST_NOT_REGISTERED" ||
      (err.status === 401 && err.code.startsWith("ERR_CERT_")));
}
