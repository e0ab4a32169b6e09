// A test token issuer: signing keys with kids, token minting, an in-memory
// JtiStore and a loopback JWKS server whose keys can be rotated.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JSONWebKeySet } from "../../lib/config/schema.ts";
import { jose } from "../../lib/deps.ts";
import type { JtiStore } from "../../lib/bootstrap/jwt.ts";

/** A signing key of the test issuer and its public JWK. */
export interface IssuerKey {
  readonly kid: string;
  /** The `alg` tokens signed with this key carry. */
  readonly alg: string;
  readonly privateKey: jose.CryptoKey;
  readonly publicKey: jose.CryptoKey;
  /** The public JWK, with `kid`. */
  readonly jwk: jose.JWK;
}

/** A fresh key pair for `alg` ("ES256", "EdDSA", "Ed25519", "RS256", ...) named `kid`. */
export async function issuerKey(alg: string, kid: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, jwk: { ...(await jose.exportJWK(publicKey)), kid } };
}

/** A JWKS holding the public JWKs of `keys`. */
export function jwksOf(...keys: IssuerKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => ({ ...k.jwk })) };
}

/** A compact JWT with exactly `claims`, signed by `key`; `header` adds to `{alg, kid}`. */
export async function mintToken(
  key: IssuerKey,
  claims: jose.JWTPayload,
  header: Partial<jose.JWTHeaderParameters> = {},
): Promise<string> {
  return await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey);
}

/** base64url of the UTF-8 JSON of `value`. */
export function b64json(value: unknown): string {
  return jose.base64url.encode(JSON.stringify(value));
}

/** A JtiStore in a Map, expiring entries against `now`; `calls` records every consumeJti. */
export class MemoryJtiStore implements JtiStore {
  readonly calls: { jti: string; expiresAt: Date }[] = [];
  readonly #seen = new Map<string, number>();
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  consumeJti(jti: string, expiresAt: Date): Promise<boolean> {
    this.calls.push({ jti, expiresAt });
    const now = this.#now().getTime();
    for (const [k, until] of this.#seen) if (until <= now) this.#seen.delete(k);
    if (this.#seen.has(jti)) return Promise.resolve(false);
    this.#seen.set(jti, expiresAt.getTime());
    return Promise.resolve(true);
  }

  /** How many jtis are currently remembered. */
  get size(): number {
    return this.#seen.size;
  }
}

/** What a JWKS server does with each request. */
export type JWKSBehaviour = "serve" | "error" | "garbage" | "hang";

/** A loopback HTTP server serving a JWKS; `requests` counts GETs received. */
export interface JWKSServer {
  readonly url: string;
  readonly requests: number;
  /** Replaces the keys served from the next request on. */
  setKeys(jwks: JSONWebKeySet): void;
  setBehaviour(behaviour: JWKSBehaviour): void;
  close(): Promise<void>;
}

/** Starts a JWKS server on 127.0.0.1, on a port the system picks. */
export async function serveJWKS(initial: JSONWebKeySet): Promise<JWKSServer> {
  let jwks = initial;
  let behaviour: JWKSBehaviour = "serve";
  let requests = 0;
  const hanging: ServerResponse[] = [];
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    requests++;
    if (behaviour === "hang") return void hanging.push(res);
    if (behaviour === "error") return void res.writeHead(500).end("internal error");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(behaviour === "garbage" ? "{not json" : JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    get requests() {
      return requests;
    },
    setKeys: (next) => void (jwks = next),
    setBehaviour: (next) => void (behaviour = next),
    close: () => {
      for (const res of hanging.splice(0)) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback URL on which nothing listens. */
export async function deadURL(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/jwks.json`;
}
