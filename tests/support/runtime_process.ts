// A real runtime process (Deno, `runtime/main.ts serve`) for end-to-end tests,
// raw HTTPS requests for what MtlsClient will not send, one-off mTLS requests,
// and the worker side of the PSK bootstrap built from the lib primitives, with
// knobs to break each step.
import { writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { toBase64 } from "../../lib/bytes.ts";
import {
  bootstrapTranscript,
  channelBinding,
  clientProof,
  deriveBootstrapKeys,
  newNonce,
  verifyServerProof,
} from "../../lib/bootstrap/mod.ts";
import { createCSR } from "../../lib/pki/csr.ts";
import { generateEd25519KeyPair, privateKeyToPem } from "../../lib/pki/ed25519.ts";
import type { ExpectedIdentity, TrustStore } from "../../lib/pki/verify.ts";
import {
  CertificateGrant,
  ChallengeResponse,
  type Output,
  parseWire,
  Routes,
} from "../../lib/protocol/mod.ts";
import {
  type CallOptions,
  type CallResult,
  type ClientOptions,
  MtlsClient,
} from "../../lib/transport/client.ts";
import type { TlsIdentity } from "../../lib/transport/server.ts";
import { type Exit, runScript, spawnScript } from "./processes.ts";
import { tempDir } from "./tmp.ts";

// --- The runtime process ----------------------------------------------------

export { freePort } from "../../lib/transport/client.ts";
import { freePort } from "../../lib/transport/client.ts";

/** How a runtime process ended. */
export type { Exit };

/** A running `runtime/main.ts serve`. */
export interface RuntimeProcess {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  readonly port: number;
  /** The configuration file it was started with. */
  readonly configPath: string;
  /** The extra environment it was started with. */
  readonly env: Record<string, string>;
  /** Every stderr line so far (the log, including the audit lines). */
  readonly lines: readonly string[];
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** Resolves with the first stderr line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM; resolves with how it exited, or throws if it is still running after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<Exit>;
  /** SIGKILL; resolves once it is gone. */
  kill(): Promise<Exit>;
}

/** What to start. */
export interface RuntimeProcessOptions {
  /** The configuration document; `bind` is set to 127.0.0.1 and `port`. */
  config: Record<string, unknown>;
  /** The port to bind (default: a free one). */
  port?: number;
  /** Extra environment variables (for `${NAME}` in the configuration). */
  env?: Record<string, string>;
  /** How long to wait for "runtime listening" (default 20 s). */
  readyTimeoutMs?: number;
  /** Where to write the configuration (default: a fresh temp folder). */
  dir?: string;
}

/** Starts the runtime under Deno and resolves once it logs "runtime listening". */
export async function startRuntimeProcess(
  options: RuntimeProcessOptions,
): Promise<RuntimeProcess> {
  const port = options.port ?? await freePort();
  const dir = options.dir ?? tempDir("francis-runtime-");
  const configPath = join(dir, `runtime-${port}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({ ...options.config, bind: `127.0.0.1:${port}` }, null, 2),
    { mode: 0o600 },
  );
  const p = spawnScript("deno", "runtime/main.ts", ["serve", "-config", configPath], {
    name: "runtime",
    env: options.env,
  });
  try {
    await p.waitForLine(/runtime listening/, options.readyTimeoutMs ?? 20_000);
  } catch (err) {
    await p.kill();
    throw err;
  }

  return {
    address: `127.0.0.1:${port}`,
    port,
    configPath,
    env: options.env ?? {},
    lines: p.lines,
    get exited() {
      return p.exit !== undefined;
    },
    waitForLine: p.waitForLine,
    stop: p.stop,
    kill: p.kill,
  };
}

/** What `runtime/main.ts print-ca` prints for the configuration at `configPath`. */
export function printCA(configPath: string, env: Record<string, string> = {}): string {
  const r = runScript("deno", "runtime/main.ts", ["print-ca", "-config", configPath], { env });
  if (r.status !== 0) throw new Error(`print-ca failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

// --- Raw HTTPS ----------------------------------------------------------------

/** A raw response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  json: unknown;
}

/** One request with any headers and body bytes (unpinned, no client certificate). */
export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Send the body chunked, without content-length. */
  chunked?: boolean;
  /** A keep-alive agent to reuse connections (default: a fresh connection). */
  agent?: https.Agent;
  /** A client certificate. */
  identity?: TlsIdentity;
}

/** A keep-alive agent for raw requests to a runtime. */
export function rawAgent(): https.Agent {
  return new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false });
}

/** Sends `request` to `address` and reads the whole response. */
export function rawRequest(address: string, request: RawRequest): Promise<RawResponse> {
  const [hostname, port] = address.split(":");
  const body = typeof request.body === "string"
    ? new TextEncoder().encode(request.body)
    : request.body;
  return new Promise<RawResponse>((resolve, reject) => {
    const req = https.request({
      hostname,
      port: Number(port),
      method: request.method ?? "POST",
      path: request.path,
      agent: request.agent ?? false,
      rejectUnauthorized: false,
      servername: "",
      cert: request.identity?.certPem,
      key: request.identity?.keyPem,
      headers: {
        ...(body !== undefined && !request.chunked
          ? { "content-length": String(body.length) }
          : {}),
        ...request.headers,
      },
    }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (c: Uint8Array) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const size = chunks.reduce((n, c) => n + c.length, 0);
        const all = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          all.set(c, at);
          at += c.length;
        }
        const text = new TextDecoder().decode(all);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${request.path}`)));
    if (body !== undefined && request.chunked) {
      // Several writes, so the server sees a stream of unknown length.
      for (let at = 0; at < body.length; at += 8192) req.write(body.subarray(at, at + 8192));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** The status of `GET /healthz` (a fresh connection each time). */
export async function healthz(address: string): Promise<number> {
  return (await rawRequest(address, { method: "GET", path: Routes.health })).status;
}

// --- One mTLS request -----------------------------------------------------------

/** The `error.code` of an error body (`{error: {code, message}}`), if it is one. */
export function codeOf(body: unknown): string | undefined {
  return (body as { error?: { code?: string } } | undefined)?.error?.code;
}

/**
 * One request to `address` on a fresh MtlsClient made with `options`, closed
 * afterwards: a worker or peer connecting anew.
 */
export async function requestOnce(
  address: string,
  options: ClientOptions,
  request: CallOptions,
): Promise<CallResult> {
  const client = new MtlsClient(options);
  try {
    return await client.request(address, request);
  } finally {
    client.close();
  }
}

/** `GET /v1/hosts/self` as `identity` on a fresh client pinned to `trust`, expecting `runtime`. */
export function getSelf(
  address: string,
  identity: TlsIdentity,
  trust: TrustStore,
  runtime: ExpectedIdentity,
): Promise<CallResult> {
  return requestOnce(address, { identity, trust }, {
    method: "GET",
    path: Routes.self,
    expect: runtime,
  });
}

// --- The worker side of the PSK bootstrap --------------------------------------

/** How to run (or break) one PSK bootstrap. */
export interface PskBootstrapOptions {
  /** The host PSK the worker proves with. */
  hostPSK: string;
  /** Pin the runtime's CA (else unpinned, trust on first use). */
  trust?: TrustStore;
  /** Who the runtime must be when pinned (default: any runtime identity). */
  expect?: ExpectedIdentity;
  /** Reuse this client (else a fresh one, closed at the end). */
  client?: MtlsClient;
  /** The worker's nonce (default: fresh). */
  clientNonce?: Uint8Array;
  /** Bind the proofs to this certificate DER instead of the one the handshake presented. */
  bindTo?: Uint8Array;
  /** Go on to register even when the server proof does not verify. */
  ignoreServerProof?: boolean;
  /** Send this challenge ID instead of the one just received. */
  challengeId?: string;
  /** Send this client proof instead of the one computed. */
  clientProof?: Uint8Array;
  /** The worker's key pair (default: fresh). */
  keys?: CryptoKeyPair;
  /** The common name the CSR claims (the runtime must ignore it). */
  csrSubject?: string;
  /** Changes the DER CSR before it is sent. */
  tamperCSR?: (csr: Uint8Array) => Uint8Array;
  /** Fields added to (or replacing those of) the registration body. */
  register?: Record<string, unknown>;
}

/** The challenge the runtime answered with, decoded. */
export type Challenge = Output<typeof ChallengeResponse> & {
  /** The DER of the certificate the TLS handshake presented. */
  serverCertDer: Uint8Array;
};

/** What happened in one bootstrap attempt that reached the register step. */
export interface PskBootstrapAttempt {
  challenge: Challenge;
  /** The registration body sent. */
  request: Record<string, unknown>;
  /** The runtime's answer to it. */
  response: CallResult;
  /** The proof sent. */
  clientProof: Uint8Array;
  /** The worker's key pair. */
  keys: CryptoKeyPair;
  /** The grant, when the runtime issued one (status 200). */
  grant?: Output<typeof CertificateGrant>;
  /** The TLS identity of the grant, when there is one. */
  identity?: TlsIdentity;
}

/** A client for the bootstrap: unpinned, or pinned to `trust`. */
function bootstrapClient(options: PskBootstrapOptions): MtlsClient {
  return options.client ?? new MtlsClient({ trust: options.trust, timeoutMs: 10_000 });
}

function expectOf(options: PskBootstrapOptions): ExpectedIdentity | undefined {
  return options.trust ? options.expect ?? { kind: "runtime" } : undefined;
}

/** Step 1: send a client nonce, decode the runtime's challenge. Throws unless 200. */
export async function requestChallenge(
  address: string,
  client: MtlsClient,
  clientNonce: Uint8Array,
  expect?: ExpectedIdentity,
): Promise<Challenge> {
  const r = await client.request(address, {
    method: "POST",
    path: Routes.challenge,
    body: { clientNonce: toBase64(clientNonce) },
    expect,
  });
  if (r.status !== 200) {
    throw new Error(`challenge answered ${r.status}: ${JSON.stringify(r.body)}`);
  }
  return { ...parseWire(ChallengeResponse, r.body, "challenge"), serverCertDer: r.serverCertDer };
}

/**
 * Runs the worker side of the PSK bootstrap: challenge, check the server
 * proof (throws `ERR_BOOTSTRAP_BAD_SERVER_PROOF` as the worker must), then
 * register with a CSR. Returns whatever the runtime answered to the register.
 */
export async function attemptPskBootstrap(
  address: string,
  options: PskBootstrapOptions,
): Promise<PskBootstrapAttempt> {
  const client = bootstrapClient(options);
  try {
    const keys = options.keys ?? await generateEd25519KeyPair(true);
    const bootstrapKeys = await deriveBootstrapKeys(options.hostPSK);
    const nonce = options.clientNonce ?? newNonce();
    const challenge = await requestChallenge(address, client, nonce, expectOf(options));
    const cb = await channelBinding(options.bindTo ?? challenge.serverCertDer);
    const transcript = bootstrapTranscript(nonce, challenge.serverNonce, cb);
    try {
      await verifyServerProof(bootstrapKeys, transcript, challenge.serverProof);
    } catch (err) {
      if (!options.ignoreServerProof) throw err;
    }
    const proof = options.clientProof ?? await clientProof(bootstrapKeys, transcript);
    const csr = await createCSR(keys, options.csrSubject);
    const request: Record<string, unknown> = {
      method: "psk",
      challengeId: options.challengeId ?? challenge.challengeId,
      clientProof: toBase64(proof),
      csr: toBase64(options.tamperCSR ? options.tamperCSR(csr) : csr),
      ...options.register,
    };
    const response = await client.request(address, {
      method: "POST",
      path: Routes.register,
      body: request,
      expect: expectOf(options),
    });
    const attempt: PskBootstrapAttempt = { challenge, request, response, clientProof: proof, keys };
    if (response.status === 200) {
      attempt.grant = parseWire(CertificateGrant, response.body, "grant");
      attempt.identity = {
        certPem: attempt.grant.certificate,
        keyPem: await privateKeyToPem(keys.privateKey),
      };
    }
    return attempt;
  } finally {
    if (!options.client) client.close();
  }
}

/** A successful bootstrap: the grant and the TLS identity. Throws unless the runtime issued one. */
export async function pskBootstrap(
  address: string,
  options: PskBootstrapOptions,
): Promise<Required<PskBootstrapAttempt>> {
  const attempt = await attemptPskBootstrap(address, options);
  if (!attempt.grant) {
    throw new Error(
      `register answered ${attempt.response.status}: ${JSON.stringify(attempt.response.body)}`,
    );
  }
  return attempt as Required<PskBootstrapAttempt>;
}
