/**
 * JWT bootstrap: how the runtime decides that a token presented by a worker
 * admits it (DESIGN.md section 4, "JWT method").
 *
 * {@linkcode JWTVerifier} checks the token with jose against exactly one key
 * source (a remote JWKS, fetched and cached, or a static one), allows only
 * asymmetric algorithms, requires issuer, audience and a short `exp`, and
 * lets a token that carries a `jti` be used once. Every refusal is a
 * {@linkcode FrancisError} whose message never contains the token.
 *
 * @module
 */

import { jose } from "../deps.ts";
import { FrancisError } from "../errors.ts";
import type { JWTBootstrapConfig } from "../config/schema.ts";

/** Longest token accepted, in characters; longer ones are refused before parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** Clock leeway applied to `exp`, `nbf` and the lifetime limit, in seconds. */
export const CLOCK_LEEWAY_SECONDS = 60;

/**
 * The signature algorithms a bootstrap token may use: RSA, RSA-PSS, ECDSA and
 * Ed25519 (jose 6 accepts both the `EdDSA` name and the newer `Ed25519`).
 */
export const ALLOWED_ALGORITHMS: readonly string[] = Object.freeze([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

const LEEWAY_MS = CLOCK_LEEWAY_SECONDS * 1000;

/** Where the `jti` of every accepted token is recorded, shared by all runtime replicas. */
export interface JtiStore {
  /**
   * Records `jti` as used, atomically.
   *
   * @param jti the token's `jti` claim
   * @param expiresAt when the record may be dropped: past this moment the verifier
   *   refuses the token anyway (its `exp` plus the clock leeway)
   * @returns `true` on first use, `false` when `jti` was already recorded
   */
  consumeJti(jti: string, expiresAt: Date): Promise<boolean>;
}

/** What a verified bootstrap token says. */
export interface VerifiedToken {
  /** The `sub` claim, when present. */
  readonly subject?: string;
  /** The `jti` claim, when present; it has been consumed. */
  readonly jti?: string;
  /** The `exp` claim. */
  readonly expiresAt: Date;
  /** Every claim of the token. */
  readonly claims: Record<string, unknown>;
}

/** Tuning for {@linkcode JWTVerifier}; the defaults suit production. */
export interface JWTVerifierOptions {
  /** The clock used for `exp`, `nbf` and the lifetime limit; defaults to the system clock. */
  readonly now?: () => Date;
  /** How long one JWKS fetch may take, in milliseconds; default 5000. */
  readonly fetchTimeoutMs?: number;
  /** How long a fetched JWKS is used before it is fetched again, in milliseconds; default 600000. */
  readonly cacheMaxAgeMs?: number;
  /**
   * How long after a fetch an unknown `kid` does not trigger another one, in
   * milliseconds; default 30000.
   */
  readonly cooldownMs?: number;
}

/**
 * Verifies bootstrap JWTs for one `bootstrap.jwt` configuration. Create one per
 * configuration and reuse it: it holds the JWKS cache.
 *
 * @example Admit a worker by its token
 * ```ts
 * import { JWTVerifier } from "./jwt.ts";
 *
 * const used = new Set<string>();
 * const verifier = new JWTVerifier(
 *   {
 *     issuer: "https://issuer.example",
 *     audience: ["francis"],
 *     maxTokenLifetime: 3_600_000,
 *     jwksURL: "https://issuer.example/.well-known/jwks.json",
 *   },
 *   { consumeJti: (jti) => Promise.resolve(used.size < used.add(jti).size) },
 * );
 * // const { subject } = await verifier.verify(token);
 * ```
 */
export class JWTVerifier {
  readonly #config: JWTBootstrapConfig;
  readonly #jtiStore: JtiStore;
  readonly #now: () => Date;
  readonly #resolveKey: jose.JWTVerifyGetKey;

  /**
   * Prepares a verifier; nothing is fetched until the first token.
   *
   * @param config issuer, audiences, longest lifetime and exactly one key source
   * @param jtiStore where used `jti`s are recorded
   * @param options clock and JWKS fetch tuning
   * @throws {TypeError} when the configuration sets neither or both of `jwksURL` and `staticJWKS`
   */
  constructor(config: JWTBootstrapConfig, jtiStore: JtiStore, options: JWTVerifierOptions = {}) {
    this.#config = config;
    this.#jtiStore = jtiStore;
    this.#now = options.now ?? (() => new Date());
    this.#resolveKey = keyResolver(config, options);
  }

  /**
   * Checks a bootstrap token and, when it carries a `jti`, consumes it.
   *
   * @param token the compact JWT the worker sent
   * @returns the token's subject, `jti`, expiry and claims
   * @throws {FrancisError} `ERR_TOKEN_INVALID` when the token is refused,
   *   `ERR_TOKEN_REPLAYED` when its `jti` was already used,
   *   `ERR_JWKS_UNAVAILABLE` when the remote JWKS cannot be fetched
   */
  async verify(token: string): Promise<VerifiedToken> {
    // A size cap bounds the work an unauthenticated caller can make the parser do.
    if (token.length > MAX_TOKEN_LENGTH) {
      throw tokenInvalid(`token is longer than ${MAX_TOKEN_LENGTH} characters`);
    }
    const now = this.#now();
    let claims: jose.JWTPayload;
    try {
      ({ payload: claims } = await jose.jwtVerify(token, this.#resolveKey, {
        // Only asymmetric algorithms: never `none`, and never HMAC keyed with a public key.
        algorithms: [...ALLOWED_ALGORITHMS],
        // A token minted for another issuer or another audience never admits a host here.
        issuer: this.#config.issuer,
        audience: [...this.#config.audience],
        // Every token must expire.
        requiredClaims: ["exp"],
        // Clocks of issuer and runtime may differ by up to a minute.
        clockTolerance: CLOCK_LEEWAY_SECONDS,
        currentDate: now,
      }));
    } catch (err) {
      throw err instanceof FrancisError ? err : tokenInvalid(refusalReason(err));
    }
    const exp = claims.exp as number; // required and numeric, checked by jose
    // A long-lived token is a long-lived credential if stolen: cap how far ahead it may expire.
    if (exp * 1000 - now.getTime() > this.#config.maxTokenLifetime + LEEWAY_MS) {
      throw tokenInvalid("token lifetime exceeds maxTokenLifetime");
    }
    if (claims.sub !== undefined && typeof claims.sub !== "string") {
      throw tokenInvalid('"sub" claim must be a string');
    }
    if (claims.jti !== undefined && (typeof claims.jti !== "string" || claims.jti === "")) {
      throw tokenInvalid('"jti" claim must be a non-empty string');
    }
    // A jti is consumed only after every other check passed, so a refused token cannot burn it;
    // it is remembered until the leeway past exp ends, so it cannot be replayed inside the leeway.
    if (claims.jti !== undefined) {
      const firstUse = await this.#jtiStore.consumeJti(
        claims.jti,
        new Date(exp * 1000 + LEEWAY_MS),
      );
      if (!firstUse) throw new FrancisError("ERR_TOKEN_REPLAYED", "Token jti was already used");
    }
    return {
      subject: claims.sub,
      jti: claims.jti,
      expiresAt: new Date(exp * 1000),
      claims: { ...claims },
    };
  }
}

/** The jose key resolver for the configured key source, with fetch failures made transient. */
function keyResolver(
  config: JWTBootstrapConfig,
  options: JWTVerifierOptions,
): jose.JWTVerifyGetKey {
  // Exactly one key source: a verifier must not silently prefer one over the other.
  if ((config.jwksURL === undefined) === (config.staticJWKS === undefined)) {
    throw new TypeError("Set exactly one of jwksURL and staticJWKS");
  }
  const jwks = config.jwksURL !== undefined
    ? jose.createRemoteJWKSet(new URL(config.jwksURL), {
      timeoutDuration: options.fetchTimeoutMs ?? 5_000,
      cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
      // An unknown kid refetches the JWKS at most once per cooldown, so tokens cannot flood the issuer.
      cooldownDuration: options.cooldownMs ?? 30_000,
    })
    // jose validates the set's shape itself; our type only marks it read-only.
    : jose.createLocalJWKSet(config.staticJWKS as unknown as jose.JSONWebKeySet);
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      // A key that cannot be chosen is the token's fault; a key set that cannot be had is not.
      if (err instanceof jose.errors.JWKSNoMatchingKey) throw err;
      if (err instanceof jose.errors.JWKSMultipleMatchingKeys) throw err;
      throw new FrancisError("ERR_JWKS_UNAVAILABLE", "JWKS could not be fetched or read", {
        cause: err,
      });
    }
  };
}

function tokenInvalid(reason: string): FrancisError {
  return new FrancisError("ERR_TOKEN_INVALID", `Bootstrap token refused: ${reason}`);
}

/**
 * A short reason for a jose refusal, built from its `code` and claim name only:
 * jose messages and errors can carry the token's claims, so neither is kept.
 */
function refusalReason(err: unknown): string {
  if (!(err instanceof jose.errors.JOSEError)) return "token could not be verified";
  switch (err.code) {
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return "token is malformed";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "token algorithm is not allowed";
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "no key in the JWKS matches the token";
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return "several keys in the JWKS match the token; it must name one with kid";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "signature verification failed";
    case "ERR_JWT_EXPIRED":
      return "token expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return claimReason(err as jose.errors.JWTClaimValidationFailed);
    default:
      return "token could not be verified";
  }
}

function claimReason(err: jose.errors.JWTClaimValidationFailed): string {
  if (err.reason === "missing") return `token has no "${err.claim}" claim`;
  if (err.reason === "invalid") return `"${err.claim}" claim is malformed`;
  switch (err.claim) {
    case "iss":
      return "unexpected issuer";
    case "aud":
      return "unexpected audience";
    case "nbf":
      return "token is not yet valid";
    default:
      return `"${err.claim}" claim check failed`;
  }
}
