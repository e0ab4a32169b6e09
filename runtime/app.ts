/**
 * The runtime's HTTP surface (DESIGN.md section 6), as a Hono app. The TLS
 * server hands every request the verified client identity; host routes take
 * the host ID from that certificate only, never from the body.
 *
 * @module
 */
import { toBase64, toHex } from "../lib/bytes.ts";
import type { RuntimeConfig } from "../lib/config/mod.ts";
import { type Context, Hono, type MiddlewareHandler } from "../lib/deps.ts";
import { FrancisError } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import {
  type BootstrapKeys,
  bootstrapTranscript,
  channelBinding,
  newNonce,
  serverProof,
  verifyClientProof,
} from "../lib/bootstrap/mod.ts";
import type { CABundle } from "../lib/pki/ca.ts";
import { verifyCSR } from "../lib/pki/csr.ts";
import { issueWorkloadCert } from "../lib/pki/issue.ts";
import { spiffeId } from "../lib/pki/spiffe.ts";
import {
  type CertificateGrant,
  ChallengeRequest,
  errorBody,
  errorResponseOf,
  HeartbeatRequest,
  type HostRecord,
  type Input,
  MAX_RUNTIME_BODY_BYTES,
  parseWire,
  readJsonBody,
  RegisterRequest,
  RenewRequest,
  Routes,
} from "../lib/protocol/mod.ts";
import type { RequestContext } from "../lib/transport/server.ts";
import { mountActorRoutes } from "./actors.ts";
import { StoreCoordinator } from "./coordination.ts";
import { ChallengeStore } from "./challenges.ts";
import type { Placement } from "./placement.ts";
import { FailureLimiter } from "./limits.ts";
import type { HostRegistration, Store } from "./store/mod.ts";

/** Checks bootstrap tokens (lib/bootstrap/jwt.ts). */
export interface TokenVerifier {
  verify(token: string): Promise<unknown>;
}

/** What the app needs from the runtime around it. */
export interface RuntimeAppDeps {
  config: RuntimeConfig;
  /** The CA bundle (the primary signs). */
  bundle: () => CABundle;
  /** DER of the certificate the TLS server presents (for channel binding). */
  serverCertDer: () => Uint8Array;
  store: Store;
  /** Host PSK subkeys, when bootstrap.method is psk. */
  bootstrapKeys?: BootstrapKeys;
  /** Token verifier, when bootstrap.method is jwt. */
  tokens?: TokenVerifier;
  logger: Logger;
  /** Placement decisions. */
  placement: Placement;
  /** The clock (tests). */
  now?: () => Date;
}

type Env = { Bindings: RequestContext; Variables: { hostId: string } };

/** Builds the runtime's Hono app. */
export function createRuntimeApp(deps: RuntimeAppDeps): Hono<Env> {
  const now = deps.now ?? (() => new Date());
  const challenges = new ChallengeStore();
  const failures = new FailureLimiter();
  const audit = deps.logger.child({ audit: true });
  const app = new Hono<Env>();

  app.onError((err, c) => {
    const { status, body } = errorResponseOf(err);
    if (status >= 500) {
      deps.logger.error("request failed", { path: c.req.path, error: String(err) });
    }
    return c.json(body, status as 400);
  });
  app.notFound((c) =>
    c.json(errorBody("ERR_NOT_FOUND", `No route ${c.req.method} ${c.req.path}`), 404)
  );

  app.get(Routes.health, (c) => c.json({ status: "ok" }));

  // Public routes: refuse sources that failed too often before doing any work for them.
  const limited: MiddlewareHandler<Env> = async (c, next) => {
    const wait = failures.retryAfter(c.env.remoteAddress);
    if (wait > 0) {
      c.header("retry-after", String(Math.ceil(wait / 1000)));
      return c.json(errorBody("ERR_RATE_LIMITED", "Too many failed bootstrap attempts"), 429);
    }
    await next();
  };

  const refuse = (c: Context<Env>, err: FrancisError): never => {
    failures.fail(c.env.remoteAddress);
    audit.warn("bootstrap refused", { source: c.env.remoteAddress, reason: err.code });
    throw err;
  };

  app.post(Routes.challenge, limited, async (c) => {
    const keys = deps.bootstrapKeys;
    if (!keys) throw new FrancisError("ERR_BAD_REQUEST", "This runtime uses JWT bootstrap");
    const { clientNonce } = parseWire(
      ChallengeRequest,
      await readJsonBody(c.req.raw, MAX_RUNTIME_BODY_BYTES),
      "challenge request",
    );
    const serverNonce = newNonce();
    const cb = await channelBinding(deps.serverCertDer());
    const transcript = bootstrapTranscript(clientNonce, serverNonce, cb);
    const challengeId = challenges.create(c.env.remoteAddress, transcript);
    if (!challengeId) {
      throw new FrancisError("ERR_RATE_LIMITED", "Too many outstanding challenges; retry later");
    }
    return c.json({
      challengeId,
      serverNonce: toBase64(serverNonce),
      serverProof: toBase64(await serverProof(keys, transcript)),
    });
  });

  app.post(Routes.register, limited, async (c) => {
    const body = parseWire(
      RegisterRequest,
      await readJsonBody(c.req.raw, MAX_RUNTIME_BODY_BYTES),
      "registration",
    );
    if (body.method !== deps.config.bootstrap.method) {
      throw new FrancisError(
        "ERR_BAD_REQUEST",
        `This runtime accepts ${deps.config.bootstrap.method} bootstrap only`,
      );
    }
    if (body.method === "psk") {
      const challenge = challenges.take(body.challengeId);
      if (!challenge) {
        refuse(c, new FrancisError("ERR_CHALLENGE_UNKNOWN", "Unknown, used or expired challenge"));
      }
      try {
        await verifyClientProof(deps.bootstrapKeys!, challenge!.transcript, body.clientProof);
      } catch (err) {
        if (err instanceof FrancisError) refuse(c, err);
        throw err;
      }
    } else {
      try {
        await deps.tokens!.verify(body.token);
      } catch (err) {
        if (err instanceof FrancisError && err.code !== "ERR_JWKS_UNAVAILABLE") refuse(c, err);
        throw err;
      }
    }
    const { publicKey } = await verifyCSR(body.csr);
    const hostId = `h-${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
    const at = now();
    const grant = await grantCertificate(hostId, publicKey, at);
    await deps.store.putHost({
      hostId,
      address: body.address ?? null,
      actorTypes: body.actorTypes,
      registeredAt: at,
      lastSeenAt: at,
      certNotAfter: new Date(grant.notAfter),
      certSerial: grant.serial,
      generation: 0,
    });
    audit.info("host registered", {
      source: c.env.remoteAddress,
      hostId,
      method: body.method,
      serial: grant.serial,
    });
    return c.json(grant.body);
  });

  async function grantCertificate(hostId: string, publicKey: Uint8Array, at: Date) {
    const bundle = deps.bundle();
    const cert = await issueWorkloadCert({
      ca: bundle.primary,
      spiffeId: spiffeId("host", hostId),
      publicKey,
      ttlMs: deps.config.workloadCertTTL,
      now: at,
    });
    const body: Input<typeof CertificateGrant> = {
      hostId,
      spiffeId: cert.spiffeId,
      certificate: cert.certPem,
      caBundle: bundle.pem,
      notAfter: cert.notAfter.toISOString(),
      healthCheckDeadlineMs: deps.config.healthCheckDeadline,
    };
    return { body, notAfter: cert.notAfter.toISOString(), serial: cert.serialHex };
  }

  // Host routes: a verified host certificate, and the host ID from it alone.
  const hostOnly: MiddlewareHandler<Env> = async (c, next) => {
    const { peer, peerError } = c.env;
    if (peerError) throw peerError;
    if (!peer) throw new FrancisError("ERR_UNAUTHENTICATED", "A host certificate is required");
    if (peer.kind !== "host") {
      throw new FrancisError("ERR_FORBIDDEN", `${peer.spiffeId} may not use host routes`);
    }
    c.set("hostId", peer.id);
    await next();
  };
  for (
    const path of ["/v1/hosts/*", "/v1/certs/*", "/v1/placement", "/v1/state/*", "/v1/alarms/*"]
  ) {
    app.use(path, hostOnly);
  }
  mountActorRoutes(
    app,
    new StoreCoordinator(deps.store, deps.placement, "", () => now().getTime()),
  );

  const registered = async (c: Context<Env>): Promise<HostRegistration> => {
    const host = await deps.store.getHost(c.get("hostId"));
    if (!host) {
      throw new FrancisError(
        "ERR_HOST_NOT_REGISTERED",
        `Host ${c.get("hostId")} is not registered`,
      );
    }
    return host;
  };

  app.get(Routes.self, async (c) => {
    const host = await registered(c);
    const record: Input<typeof HostRecord> = {
      hostId: host.hostId,
      spiffeId: spiffeId("host", host.hostId),
      address: host.address,
      actorTypes: host.actorTypes,
      registeredAt: host.registeredAt.toISOString(),
      lastSeenAt: host.lastSeenAt.toISOString(),
      certNotAfter: host.certNotAfter.toISOString(),
      caBundle: deps.bundle().pem,
    };
    return c.json(record);
  });

  app.delete(Routes.self, async (c) => {
    await registered(c);
    await deps.store.deleteHost(c.get("hostId"));
    audit.info("host unregistered", { hostId: c.get("hostId") });
    return c.body(null, 204);
  });

  app.post(Routes.heartbeat, async (c) => {
    const { actorTypes } = parseWire(
      HeartbeatRequest,
      await readJsonBody(c.req.raw, MAX_RUNTIME_BODY_BYTES, true),
      "health check",
    );
    await deps.store.touchHost(c.get("hostId"), now(), actorTypes);
    const host = await registered(c);
    return c.json({
      healthCheckDeadlineMs: deps.config.healthCheckDeadline,
      caBundle: deps.bundle().pem,
      generation: host.generation,
    });
  });

  app.post(Routes.renew, async (c) => {
    const { csr } = parseWire(
      RenewRequest,
      await readJsonBody(c.req.raw, MAX_RUNTIME_BODY_BYTES),
      "renewal",
    );
    await registered(c);
    const { publicKey } = await verifyCSR(csr);
    const at = now();
    const grant = await grantCertificate(c.get("hostId"), publicKey, at);
    await deps.store.recordCertificate(c.get("hostId"), new Date(grant.notAfter), grant.serial, at);
    audit.info("certificate renewed", { hostId: c.get("hostId"), serial: grant.serial });
    return c.json(grant.body);
  });

  return app;
}
