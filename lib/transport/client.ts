/**
 * A pooled, keep-alive HTTPS client with a client certificate, which checks
 * the server's SPIFFE ID instead of a host name.
 *
 * Sockets are pooled per expected identity: every socket in the pool for
 * "host h1" was verified, at its handshake, to be h1, so a kept-alive socket
 * can never carry a request meant for someone else.
 *
 * @module
 */
import https from "node:https";
import type { Socket } from "node:net";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { FrancisError } from "../errors.ts";
import { checkLeaf, type ExpectedIdentity, type TrustStore } from "../pki/verify.ts";
import { parseCertificate } from "../pki/x509.ts";
import type { TlsIdentity } from "./server.ts";

/** Client configuration. */
export interface ClientOptions {
  /** The client certificate; absent before bootstrap. */
  identity?: TlsIdentity;
  /**
   * The CAs a server must chain to. `undefined` means unpinned (trust on
   * first use): the chain is not checked, which only the PSK bootstrap, whose
   * server proof authenticates the runtime, may rely on.
   */
  trust?: TrustStore;
  /** Connections per peer (default 16). */
  maxSockets?: number;
  /** Default per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Largest response body accepted (default 16 MiB). */
  maxResponseBytes?: number;
}

/** One request. */
export interface CallOptions {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  /** A JSON-serializable body. */
  body?: unknown;
  /** Who the server must be; required unless the client is unpinned. */
  expect?: ExpectedIdentity;
  timeoutMs?: number;
}

/** A response. */
export interface CallResult {
  status: number;
  /** The parsed JSON body, or `undefined` when there was none. */
  body: unknown;
  /** The DER of the server's leaf certificate (for channel binding). */
  serverCertDer: Uint8Array;
}

function identityKey(expect: ExpectedIdentity | undefined): string {
  return `${expect?.kind ?? "*"}/${expect?.id ?? "*"}`;
}

// node:tls calls this only after the chain verified against `ca`; it must be synchronous.
function serverIdentityCheck(expect: ExpectedIdentity) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    try {
      checkLeaf(parseCertificate(new Uint8Array(cert.raw)), expect);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  };
}

/** A pooled mTLS client. */
export class MtlsClient {
  #options: ClientOptions;
  #agents = new Map<string, https.Agent>();
  #sockets = new WeakSet<Socket>();
  #handshakes = 0;

  /** A client with the given certificate and trust. */
  constructor(options: ClientOptions) {
    this.#options = options;
  }

  /** TLS connections opened so far (each is one full handshake). */
  get handshakes(): number {
    return this.#handshakes;
  }

  /** Replaces certificate and/or trust; pooled connections made with the old ones are retired. */
  update(changes: Pick<ClientOptions, "identity" | "trust">): void {
    this.#options = { ...this.#options, ...changes };
    this.#retireAgents();
  }

  /** Closes every pooled connection. */
  close(): void {
    this.#retireAgents(0);
  }

  #retireAgents(graceMs = this.#options.timeoutMs ?? 30_000): void {
    const old = [...this.#agents.values()];
    this.#agents.clear();
    for (const agent of old) {
      // Idle sockets go now; busy ones finish their request first.
      for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
      const timer = setTimeout(() => agent.destroy(), graceMs);
      (timer as { unref?: () => void }).unref?.();
    }
  }

  #agent(expect: ExpectedIdentity | undefined): https.Agent {
    const key = identityKey(expect);
    let agent = this.#agents.get(key);
    if (!agent) {
      const { identity, trust } = this.#options;
      if (trust && !expect) throw new TypeError("A pinned client needs an expected identity");
      agent = new https.Agent({
        keepAlive: true,
        maxSockets: this.#options.maxSockets ?? 16,
        cert: identity?.certPem,
        key: identity?.keyPem,
        ca: trust?.pem,
        rejectUnauthorized: trust !== undefined,
        checkServerIdentity: expect ? serverIdentityCheck(expect) : () => undefined,
        minVersion: "TLSv1.3",
        timeout: 60_000,
      });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Sends one request to `address` (`host:port`) and reads a JSON response.
   *
   * @throws {FrancisError} `ERR_UNREACHABLE` (connection, TLS or identity failure),
   *   `ERR_TIMEOUT`, `ERR_BAD_RESPONSE`, or the `ERR_CERT_*` code of an identity mismatch
   */
  request(address: string, call: CallOptions): Promise<CallResult> {
    const { hostname, port } = splitAddress(address);
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    const limit = this.#options.maxResponseBytes ?? 16 * 1024 * 1024;
    const timeoutMs = call.timeoutMs ?? this.#options.timeoutMs ?? 30_000;
    return new Promise<CallResult>((resolve, reject) => {
      const req = https.request({
        hostname,
        port,
        method: call.method,
        path: call.path,
        agent: this.#agent(call.expect),
        servername: "", // no SNI: identities are SPIFFE IDs, not names
        headers: {
          accept: "application/json",
          ...(payload === undefined ? {} : {
            "content-type": "application/json",
            "content-length": String(new TextEncoder().encode(payload).length),
          }),
        },
      }, (res) => {
        const socket = res.socket as TLSSocket;
        const serverCertDer = new Uint8Array(socket.getPeerCertificate?.(true)?.raw ?? []);
        const chunks: Uint8Array[] = [];
        let size = 0;
        res.on("data", (chunk: Uint8Array) => {
          size += chunk.length;
          if (size > limit) {
            req.destroy(
              new FrancisError("ERR_BAD_RESPONSE", `Response larger than ${limit} bytes`),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          const text = new TextDecoder().decode(concat(chunks, size));
          let body: unknown;
          try {
            body = text === "" ? undefined : JSON.parse(text);
          } catch {
            reject(new FrancisError("ERR_BAD_RESPONSE", `Response from ${address} is not JSON`));
            return;
          }
          resolve({ status: res.statusCode ?? 0, body, serverCertDer });
        });
        res.on("error", (err) => reject(transportError(address, err)));
      });
      req.on("socket", (socket: Socket) => {
        if (!this.#sockets.has(socket)) {
          this.#sockets.add(socket);
          this.#handshakes++;
        }
      });
      req.setTimeout(timeoutMs, () => {
        req.destroy(
          new FrancisError("ERR_TIMEOUT", `No response from ${address} within ${timeoutMs} ms`),
        );
      });
      req.on("error", (err) => reject(transportError(address, err)));
      req.end(payload);
    });
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// OpenSSL/BoringSSL/rustls verification codes that mean "not signed by a CA we trust".
const UNTRUSTED =
  /UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|CERT_SIGNATURE_FAILURE|UnknownIssuer|BadSignature|unknown ?issuer|certificate verify failed/i;

function transportError(address: string, err: unknown): FrancisError {
  if (err instanceof FrancisError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown })?.code;
  if (UNTRUSTED.test(`${String(code)} ${message}`)) {
    return new FrancisError(
      "ERR_CERT_UNTRUSTED_CA",
      `${address} presented a certificate that does not chain to the trusted CAs (${message})`,
      { cause: err },
    );
  }
  return new FrancisError("ERR_UNREACHABLE", `Cannot reach ${address}: ${message}`, {
    cause: err,
  });
}

/** Splits `host:port` (IPv6 in brackets) into its parts; port 0 ("any free port") only if allowed. */
export function splitAddress(
  address: string,
  options: { allowZero?: boolean } = {},
): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < (options.allowZero ? 0 : 1) || port > 65535) {
    throw new TypeError(`Address must be host:port, got ${JSON.stringify(address)}`);
  }
  return { hostname: match[1] ?? match[2], port };
}

/** A port that was free on `hostname` a moment ago (for advertising before listening). */
export async function freePort(hostname = "127.0.0.1"): Promise<number> {
  const { createServer } = await import("node:net");
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, hostname, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
