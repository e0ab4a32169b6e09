/**
 * Starts the runtime: derives the CA bundle, mints its own server certificate
 * (runtime identity, 90 days), opens the store and serves the app over HTTPS,
 * requesting (not requiring) client certificates.
 *
 * @module
 */
import type { RuntimeConfig } from "../lib/config/mod.ts";
import { deriveBootstrapKeys } from "../lib/bootstrap/mod.ts";
import { JWTVerifier } from "../lib/bootstrap/jwt.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { type CABundle, deriveCABundle } from "../lib/pki/ca.ts";
import { generateEd25519KeyPair, privateKeyToPem, rawPublicKey } from "../lib/pki/ed25519.ts";
import { issueWorkloadCert, type WorkloadCert } from "../lib/pki/issue.ts";
import { spiffeId } from "../lib/pki/spiffe.ts";
import { TrustStore } from "../lib/pki/verify.ts";
import { type HttpsServer, serveHttps } from "../lib/transport/server.ts";
import { toHex } from "../lib/bytes.ts";
import { MtlsClient } from "../lib/transport/client.ts";
import { AlarmScheduler } from "./alarms.ts";
import { createRuntimeApp } from "./app.ts";
import { Placement } from "./placement.ts";
import { openStore, type Store } from "./store/mod.ts";

/** The runtime's own certificate lifetime. */
export const RUNTIME_CERT_TTL_MS = 90 * 24 * 60 * 60 * 1000;

/** A running runtime. */
export interface Runtime {
  /** The port it listens on (useful with `bind: ":0"`). */
  readonly port: number;
  /** The CA bundle it trusts, primary first. */
  readonly bundle: CABundle;
  /** Its own certificate. */
  readonly certificate: WorkloadCert;
  /** Stops serving within `shutdownGracePeriod` and closes the store. */
  close(): Promise<void>;
}

/** Options beyond the configuration. */
export interface RuntimeOptions {
  logger?: Logger;
  /** Use this store instead of opening `provider.connectionString`. */
  store?: Store;
}

/** Starts a runtime for `config`. */
export async function startRuntime(
  config: RuntimeConfig,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config.log);
  const bundle = await deriveCABundle(config.runtimePSKs);
  const trust = await TrustStore.fromCAs(bundle.cas);
  const keys = await generateEd25519KeyPair(true);
  // The runtime presents a certificate of the OLDEST trusted CA: during a rotation
  // ([new, old]) hosts that only know the old CA must still reach the runtime to
  // learn the new bundle; workload certificates come from the primary as usual.
  const certificate = await issueWorkloadCert({
    ca: bundle.cas[bundle.cas.length - 1],
    spiffeId: spiffeId("runtime", config.runtimeId),
    publicKey: await rawPublicKey(keys.publicKey),
    ttlMs: RUNTIME_CERT_TTL_MS,
  });
  const store = options.store ?? openStore(config.provider);
  const { bootstrap } = config;
  const placement = new Placement(store, config.healthCheckDeadline);
  const app = createRuntimeApp({
    config,
    bundle: () => bundle,
    serverCertDer: () => certificate.certDer,
    store,
    placement,
    bootstrapKeys: bootstrap.method === "psk"
      ? await deriveBootstrapKeys(bootstrap.hostPSK)
      : undefined,
    tokens: bootstrap.method === "jwt" ? new JWTVerifier(bootstrap.jwt, store) : undefined,
    logger,
  });
  const identity = { certPem: certificate.certPem, keyPem: await privateKeyToPem(keys.privateKey) };
  // Runtime to host calls (alarm deliveries) carry the runtime's own certificate.
  const client = new MtlsClient({ identity, trust, timeoutMs: config.alarmsLeaseDuration / 2 });
  let lastPurge = 0;
  const scheduler = new AlarmScheduler({
    store,
    placement,
    client: () => client,
    pollIntervalMs: config.alarmsPollInterval,
    leaseDurationMs: config.alarmsLeaseDuration,
    owner: `${config.runtimeId}/${toHex(crypto.getRandomValues(new Uint8Array(8)))}`,
    logger,
    onTick: async () => {
      await placement.sweep((hostId, actors) =>
        logger.warn("host missed its health deadline; its actors move", { hostId, actors })
      );
      if (Date.now() - lastPurge > 60_000) {
        lastPurge = Date.now();
        await store.purgeExpiredState(lastPurge);
      }
    },
  });
  let server: HttpsServer;
  try {
    server = await serveHttps({
      hostname: config.bind.host,
      port: config.bind.port,
      tls: { ...identity, trust },
      clientCerts: "optional",
      handler: (request, context) => app.fetch(request, context),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  scheduler.start();
  logger.info("runtime listening", {
    address: `${config.bind.host || "0.0.0.0"}:${server.port}`,
    runtimeId: config.runtimeId,
    spiffeId: certificate.spiffeId,
    caFingerprint: bundle.primary.fingerprint,
    trustedCAs: bundle.cas.length,
    bootstrap: bootstrap.method,
    provider: config.provider.kind,
  });
  return {
    port: server.port,
    bundle,
    certificate,
    async close(): Promise<void> {
      await scheduler.stop();
      await server.close(config.shutdownGracePeriod);
      client.close();
      await store.close();
      logger.info("runtime stopped");
    },
  };
}
