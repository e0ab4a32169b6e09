/**
 * HTTPS servers whose handlers learn the verified identity of the client.
 *
 * Per PLATFORM.md: on Deno `https.createServer` gives the peer certificate
 * and is fast; on Bun only `tls.createServer` feeding an `http.Server` does.
 * Both requests reach one handler as a Fetch `Request` plus the peer.
 *
 * Two modes: `optional` requests a client certificate and serves without one
 * (the runtime: its bootstrap routes are public); `required` refuses at the
 * TLS layer any client whose certificate does not chain to the trusted CAs
 * (peer ports). Either way the certificate is then checked by
 * `verifyPeerChain` once per connection, and its validity again on every
 * request, so a certificate that expires on a kept-alive connection, or whose
 * CA stops being trusted, is refused on its next request.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import tls from "node:tls";
import { getRequestListener } from "../deps.ts";
import { FrancisError } from "../errors.ts";
import { errorBody } from "../protocol/errors.ts";
import { TrustStore, type VerifiedPeer, verifyPeerChain } from "../pki/verify.ts";
import { platform } from "./platform.ts";

/** A certificate and its private key, PEM. */
export interface TlsIdentity {
  /** The certificate (chain), PEM. */
  certPem: string;
  /** The PKCS#8 private key, PEM. */
  keyPem: string;
}

/** What a server presents and whom it trusts. */
export interface ServerTls extends TlsIdentity {
  /** The CAs whose certificates clients may present. */
  trust: TrustStore;
}

/** What the handler learns about a request besides the request itself. */
export interface RequestContext {
  /** The verified client, when it presented a valid certificate. */
  peer?: VerifiedPeer;
  /** Why a presented certificate was refused (absent when none was presented). */
  peerError?: FrancisError;
  /** The client's IP address. */
  remoteAddress: string;
}

/** Handles one request. */
export type Handler = (request: Request, context: RequestContext) => Response | Promise<Response>;

/** How to serve. */
export interface ServeOptions {
  /** Interface to bind; "" or "0.0.0.0" for all. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  tls: ServerTls;
  /** `optional` (serve anyone, tell the handler who) or `required` (mTLS-only at the TLS layer). */
  clientCerts: "optional" | "required";
  handler: Handler;
  /** Limit on receiving a whole request (default 30 s). */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections close after this (default 60 s). */
  keepAliveTimeoutMs?: number;
}

/** A running server. */
export interface HttpsServer {
  /** The port it listens on. */
  readonly port: number;
  /** Swaps certificate and trust set for new connections (renewal, rotation). */
  updateTls(tls: ServerTls): void;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then closes. */
  close(graceMs?: number): Promise<void>;
}

type PeerResult = { peer: VerifiedPeer } | { error: FrancisError } | { none: true };

// Connection-level verification, cached per socket and per trust store.
const verified = new WeakMap<Socket, { trust: TrustStore; result: Promise<PeerResult> }>();

async function verifySocket(socket: tls.TLSSocket, trust: TrustStore): Promise<PeerResult> {
  const cert = socket.getPeerCertificate?.(true);
  const raw = cert?.raw;
  if (!raw || raw.length === 0) return { none: true };
  try {
    return { peer: await verifyPeerChain([new Uint8Array(raw)], trust, {}) };
  } catch (err) {
    if (err instanceof FrancisError) return { error: err };
    throw err;
  }
}

/** The verified peer of a request's socket, re-checked against the clock and current trust. */
async function peerOf(socket: tls.TLSSocket, trust: TrustStore): Promise<PeerResult> {
  let entry = verified.get(socket);
  if (!entry || entry.trust !== trust) {
    entry = { trust, result: verifySocket(socket, trust) };
    verified.set(socket, entry);
  }
  const result = await entry.result;
  if ("peer" in result && Date.now() > result.peer.notAfter.getTime()) {
    return {
      error: new FrancisError(
        "ERR_CERT_EXPIRED",
        `Certificate expired at ${result.peer.notAfter.toISOString()}`,
      ),
    };
  }
  return result;
}

function secureContextOptions(material: ServerTls, clientCerts: "optional" | "required") {
  return {
    cert: material.certPem,
    key: material.keyPem,
    ca: material.trust.pem,
    requestCert: true,
    rejectUnauthorized: clientCerts === "required",
    minVersion: "TLSv1.3" as const,
  };
}

/** Starts an HTTPS server; resolves once it listens. */
export async function serveHttps(options: ServeOptions): Promise<HttpsServer> {
  let trust = options.tls.trust;
  const listener = getRequestListener(async (request, env) => {
    const socket = (env as { incoming: http.IncomingMessage }).incoming.socket as tls.TLSSocket;
    const result = await peerOf(socket, trust);
    const context: RequestContext = { remoteAddress: socket.remoteAddress ?? "" };
    if ("peer" in result) context.peer = result.peer;
    if ("error" in result) context.peerError = result.error;
    return await options.handler(request, context);
  }, {
    overrideGlobalObjects: false,
    errorHandler: () =>
      new Response(JSON.stringify(errorBody("ERR_INTERNAL", "Internal error")), {
        status: 500,
        headers: { "content-type": "application/json" },
      }),
  });

  // Requests in flight per connection, so close() can end idle keep-alive
  // connections at once and busy ones as soon as their last response is sent.
  const inFlight = new Map<Socket, number>();
  let closing = false;
  const settle = (socket: Socket) => {
    if (closing && (inFlight.get(socket) ?? 0) === 0) socket.destroy();
  };
  const tracked = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once("close", () => {
      inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1);
      settle(socket);
    });
    if (closing) res.setHeader("connection", "close");
    return listener(req, res);
  };

  const tlsOptions = secureContextOptions(options.tls, options.clientCerts);
  let httpServer: http.Server;
  let tlsServer: tls.Server;
  if (platform === "bun") {
    // Bun's https.createServer hides the client certificate; feed TLS sockets to plain HTTP.
    httpServer = http.createServer(tracked);
    tlsServer = tls.createServer(tlsOptions, (socket) => httpServer.emit("connection", socket));
  } else {
    httpServer = https.createServer(tlsOptions, tracked);
    tlsServer = httpServer as unknown as tls.Server;
  }
  httpServer.requestTimeout = options.requestTimeoutMs ?? 30_000;
  httpServer.headersTimeout = Math.min(httpServer.requestTimeout, 20_000);
  httpServer.keepAliveTimeout = options.keepAliveTimeoutMs ?? 60_000;
  tlsServer.on("secureConnection", (socket: Socket) => {
    inFlight.set(socket, inFlight.get(socket) ?? 0);
    socket.once("close", () => inFlight.delete(socket));
  });
  // A failed handshake (foreign CA, garbage) is the client's problem: never crash on it.
  tlsServer.on("tlsClientError", () => {});
  tlsServer.on("error", () => {});

  await new Promise<void>((resolve, reject) => {
    tlsServer.once("error", reject);
    tlsServer.listen(options.port, options.hostname || undefined, () => {
      tlsServer.off("error", reject);
      resolve();
    });
  });
  const address = tlsServer.address();
  const port = typeof address === "object" && address ? address.port : options.port;

  return {
    port,
    updateTls(material: ServerTls): void {
      tlsServer.setSecureContext(secureContextOptions(material, options.clientCerts));
      trust = material.trust;
    },
    async close(graceMs = 5_000): Promise<void> {
      closing = true;
      const closed = new Promise<void>((resolve) => tlsServer.close(() => resolve()));
      for (const socket of inFlight.keys()) settle(socket);
      const deadline = Date.now() + graceMs;
      while (inFlight.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const socket of inFlight.keys()) socket.destroy();
      await closed;
    },
  };
}
