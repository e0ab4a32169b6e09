import { afterAll, describe, expect, test } from "bun:test";
import { type ErrorCode, FrancisError } from "../../lib/errors.ts";
import { jose } from "../../lib/deps.ts";
import type { JWTBootstrapConfig } from "../../lib/config/schema.ts";
import { type JtiStore, JWTVerifier, type JWTVerifierOptions } from "../../lib/bootstrap/jwt.ts";
import {
  b64json,
  deadURL,
  issuerKey,
  jwksOf,
  MemoryJtiStore,
  mintToken,
  serveJWKS,
} from "../support/jwt.ts";

// Every token is judged at this fixed instant (2030-03-17T17:46:40Z).
const NOW_S = 1_900_000_000;
const now = (): Date => new Date(NOW_S * 1000);
const HOUR_MS = 3_600_000;
const ISSUER = "https://issuer.test";
const AUDIENCE = ["francis", "francis-staging"];

const es256 = await issuerKey("ES256", "es-1");
const ed25519 = await issuerKey("Ed25519", "ed-1");
const rs256 = await issuerKey("RS256", "rs-1");
const staticJWKS = jwksOf(es256, ed25519, rs256);

/** Claims that pass every check at NOW_S; `extra` overrides or adds. */
function claims(extra: jose.JWTPayload = {}): jose.JWTPayload {
  return { iss: ISSUER, aud: "francis", sub: "host-a", iat: NOW_S, exp: NOW_S + 600, ...extra };
}

function staticVerifier(
  store: JtiStore = new MemoryJtiStore(now),
  jwks = staticJWKS,
): JWTVerifier {
  const config: JWTBootstrapConfig = {
    issuer: ISSUER,
    audience: AUDIENCE,
    maxTokenLifetime: HOUR_MS,
    staticJWKS: jwks,
  };
  return new JWTVerifier(config, store, { now });
}

function remoteVerifier(url: string, options: JWTVerifierOptions = {}): JWTVerifier {
  const config: JWTBootstrapConfig = {
    issuer: ISSUER,
    audience: AUDIENCE,
    maxTokenLifetime: HOUR_MS,
    jwksURL: url,
  };
  return new JWTVerifier(config, new MemoryJtiStore(now), { now, ...options });
}

/** Asserts that verifying `token` fails with `code` and a message that does not echo it. */
async function expectRefused(
  verifier: JWTVerifier,
  token: string,
  code: ErrorCode,
  reason?: string,
): Promise<FrancisError> {
  let err: unknown;
  try {
    await verifier.verify(token);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FrancisError);
  const fe = err as FrancisError;
  expect(fe.code).toBe(code);
  if (reason !== undefined) expect(fe.message).toBe(`Bootstrap token refused: ${reason}`);
  if (token.length > 0) {
    expect(fe.message).not.toContain(token);
    for (const part of token.split(".")) {
      if (part.length > 8) expect(fe.message).not.toContain(part);
    }
  }
  return fe;
}

/** `token` with its payload replaced by `payload`, signature kept. */
function withPayload(token: string, payload: jose.JWTPayload): string {
  const [header, , signature] = token.split(".");
  return `${header}.${b64json(payload)}.${signature}`;
}

describe("accepted tokens", () => {
  test("accepts an ES256 token and returns its subject, jti and expiry", async () => {
    const token = await mintToken(es256, claims({ jti: "es-jti-1" }));
    const verified = await staticVerifier().verify(token);
    expect(verified.subject).toBe("host-a");
    expect(verified.jti).toBe("es-jti-1");
    expect(verified.expiresAt.getTime()).toBe((NOW_S + 600) * 1000);
    expect(verified.claims).toMatchObject({ iss: ISSUER, aud: "francis", sub: "host-a" });
  });

  test("accepts an Ed25519 token whether its alg is written EdDSA or Ed25519", async () => {
    const verifier = staticVerifier();
    for (const alg of ["EdDSA", "Ed25519"]) {
      const token = await mintToken(ed25519, claims({ jti: `ed-${alg}` }), { alg });
      const verified = await verifier.verify(token);
      expect(verified.subject).toBe("host-a");
      expect(verified.jti).toBe(`ed-${alg}`);
      expect(verified.expiresAt.getTime()).toBe((NOW_S + 600) * 1000);
    }
  });

  test("accepts an RS256 token", async () => {
    const token = await mintToken(rs256, claims({ sub: "host-rsa", jti: "rs-jti-1" }));
    const verified = await staticVerifier().verify(token);
    expect(verified.subject).toBe("host-rsa");
    expect(verified.jti).toBe("rs-jti-1");
    expect(verified.expiresAt.getTime()).toBe((NOW_S + 600) * 1000);
  });

  test("accepts any one of the configured audiences, as a string or in a list", async () => {
    const verifier = staticVerifier();
    await verifier.verify(await mintToken(es256, claims({ aud: "francis-staging" })));
    await verifier.verify(await mintToken(es256, claims({ aud: ["other", "francis"] })));
  });

  test("accepts a token without jti more than once, and without sub", async () => {
    const verifier = staticVerifier();
    const token = await mintToken(es256, claims({ sub: undefined }));
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(first.jti).toBeUndefined();
    expect(first.subject).toBeUndefined();
    expect(second.expiresAt.getTime()).toBe((NOW_S + 600) * 1000);
  });
});

describe("algorithm confusion", () => {
  test('refuses alg "none" with an empty signature', async () => {
    const token = `${b64json({ alg: "none", kid: "es-1" })}.${b64json(claims())}.`;
    await expectRefused(
      staticVerifier(),
      token,
      "ERR_TOKEN_INVALID",
      "token algorithm is not allowed",
    );
  });

  test("refuses HS256 keyed with the RSA public key's PEM or JWK bytes", async () => {
    const pem = await jose.exportSPKI(rs256.publicKey);
    for (const secret of [pem, JSON.stringify(rs256.jwk)]) {
      const token = await new jose.SignJWT(claims())
        .setProtectedHeader({ alg: "HS256", kid: "rs-1" })
        .sign(new TextEncoder().encode(secret));
      await expectRefused(
        staticVerifier(),
        token,
        "ERR_TOKEN_INVALID",
        "token algorithm is not allowed",
      );
    }
  });

  test("refuses a token whose alg does not fit the key its kid names", async () => {
    // An RS256 signature presented as ES256 under the EC key's kid.
    const token = await mintToken(rs256, claims(), { kid: "es-1" });
    const [, payload, signature] = token.split(".");
    const relabelled = `${b64json({ alg: "ES256", kid: "es-1" })}.${payload}.${signature}`;
    await expectRefused(
      staticVerifier(),
      relabelled,
      "ERR_TOKEN_INVALID",
      "signature verification failed",
    );
  });
});

describe("claims", () => {
  test("refuses a wrong issuer", async () => {
    const token = await mintToken(es256, claims({ iss: "https://evil.test" }));
    await expectRefused(staticVerifier(), token, "ERR_TOKEN_INVALID", "unexpected issuer");
  });

  test("refuses a token with no issuer", async () => {
    const token = await mintToken(es256, claims({ iss: undefined }));
    await expectRefused(staticVerifier(), token, "ERR_TOKEN_INVALID", 'token has no "iss" claim');
  });

  test("refuses a wrong audience", async () => {
    const token = await mintToken(es256, claims({ aud: ["other-service"] }));
    await expectRefused(staticVerifier(), token, "ERR_TOKEN_INVALID", "unexpected audience");
  });

  test("refuses a token expired more than 60 s ago", async () => {
    const token = await mintToken(es256, claims({ iat: NOW_S - 600, exp: NOW_S - 61 }));
    await expectRefused(staticVerifier(), token, "ERR_TOKEN_INVALID", "token expired");
  });

  test("accepts a token expired 30 s ago (60 s leeway)", async () => {
    const token = await mintToken(es256, claims({ iat: NOW_S - 600, exp: NOW_S - 30 }));
    const verified = await staticVerifier().verify(token);
    expect(verified.expiresAt.getTime()).toBe((NOW_S - 30) * 1000);
  });

  test("refuses nbf more than 60 s ahead and accepts it 30 s ahead", async () => {
    const verifier = staticVerifier();
    const early = await mintToken(es256, claims({ nbf: NOW_S + 120 }));
    await expectRefused(verifier, early, "ERR_TOKEN_INVALID", "token is not yet valid");
    await verifier.verify(await mintToken(es256, claims({ nbf: NOW_S + 30 })));
  });

  test("refuses a token without exp", async () => {
    const token = await mintToken(es256, claims({ exp: undefined }));
    await expectRefused(staticVerifier(), token, "ERR_TOKEN_INVALID", 'token has no "exp" claim');
  });

  test("refuses a non-numeric exp", async () => {
    const token = await mintToken(es256, claims({ exp: "2099-01-01" as unknown as number }));
    await expectRefused(staticVerifier(), token, "ERR_TOKEN_INVALID", '"exp" claim is malformed');
  });

  test("refuses exp further ahead than maxTokenLifetime plus the leeway", async () => {
    const verifier = staticVerifier();
    const long = await mintToken(es256, claims({ exp: NOW_S + 3600 + 61 }));
    await expectRefused(
      verifier,
      long,
      "ERR_TOKEN_INVALID",
      "token lifetime exceeds maxTokenLifetime",
    );
    const atLimit = await mintToken(es256, claims({ exp: NOW_S + 3600 + 60 }));
    expect((await verifier.verify(atLimit)).expiresAt.getTime()).toBe((NOW_S + 3660) * 1000);
  });

  test("refuses a non-string sub or jti", async () => {
    const verifier = staticVerifier();
    const numericSub = await mintToken(es256, claims({ sub: 42 as unknown as string }));
    await expectRefused(verifier, numericSub, "ERR_TOKEN_INVALID", '"sub" claim must be a string');
    const numericJti = await mintToken(es256, claims({ jti: 7 as unknown as string }));
    await expectRefused(
      verifier,
      numericJti,
      "ERR_TOKEN_INVALID",
      '"jti" claim must be a non-empty string',
    );
  });
});

describe("signatures and keys", () => {
  test("refuses a payload edited after signing", async () => {
    const token = await mintToken(es256, claims({ sub: "host-a" }));
    const tampered = withPayload(token, claims({ sub: "host-admin" }));
    await expectRefused(
      staticVerifier(),
      tampered,
      "ERR_TOKEN_INVALID",
      "signature verification failed",
    );
  });

  test("refuses a signature from another key that claims the same kid", async () => {
    const impostor = await issuerKey("ES256", "es-1");
    const token = await mintToken(impostor, claims());
    await expectRefused(
      staticVerifier(),
      token,
      "ERR_TOKEN_INVALID",
      "signature verification failed",
    );
  });

  test("refuses a kid the static JWKS does not hold", async () => {
    const stranger = await issuerKey("ES256", "es-unknown");
    const token = await mintToken(stranger, claims());
    await expectRefused(
      staticVerifier(),
      token,
      "ERR_TOKEN_INVALID",
      "no key in the JWKS matches the token",
    );
  });

  test("refuses a token without kid when several keys could verify it", async () => {
    const second = await issuerKey("ES256", "es-2");
    const verifier = staticVerifier(new MemoryJtiStore(now), jwksOf(es256, second));
    const token = await mintToken(second, claims(), { kid: undefined });
    await expectRefused(
      verifier,
      token,
      "ERR_TOKEN_INVALID",
      "several keys in the JWKS match the token; it must name one with kid",
    );
    // With a single candidate key, a token without kid is fine.
    const single = staticVerifier(new MemoryJtiStore(now), jwksOf(second));
    expect((await single.verify(token)).subject).toBe("host-a");
  });
});

describe("single-use jti", () => {
  test("refuses the second use of a jti with ERR_TOKEN_REPLAYED", async () => {
    const store = new MemoryJtiStore(now);
    const verifier = staticVerifier(store);
    const token = await mintToken(es256, claims({ jti: "once" }));
    await verifier.verify(token);
    const err = await expectRefused(verifier, token, "ERR_TOKEN_REPLAYED");
    expect(err.message).toBe("Token jti was already used");
  });

  test("holds the jti until the leeway after exp ends", async () => {
    const store = new MemoryJtiStore(now);
    await staticVerifier(store).verify(await mintToken(es256, claims({ jti: "window" })));
    expect(store.calls).toEqual([{ jti: "window", expiresAt: new Date((NOW_S + 660) * 1000) }]);
  });

  test("a refused token does not burn its jti", async () => {
    const store = new MemoryJtiStore(now);
    const verifier = staticVerifier(store);
    const genuine = await mintToken(es256, claims({ jti: "precious" }));
    // The same jti in a forged, a mis-addressed and an over-long token, each refused first.
    await expectRefused(
      verifier,
      withPayload(genuine, claims({ jti: "precious", sub: "x" })),
      "ERR_TOKEN_INVALID",
    );
    await expectRefused(
      verifier,
      await mintToken(es256, claims({ jti: "precious", aud: "elsewhere" })),
      "ERR_TOKEN_INVALID",
    );
    await expectRefused(
      verifier,
      await mintToken(es256, claims({ jti: "precious", exp: NOW_S + 7200 })),
      "ERR_TOKEN_INVALID",
    );
    expect(store.calls).toHaveLength(0);
    expect((await verifier.verify(genuine)).jti).toBe("precious");
  });
});

describe("malformed input", () => {
  test("refuses empty, one-segment and garbage tokens as malformed", async () => {
    const verifier = staticVerifier();
    for (const token of ["", "eyJhbGciOiJFUzI1NiJ9", "!!!.@@@.###", "a.b.c.d.e"]) {
      await expectRefused(verifier, token, "ERR_TOKEN_INVALID", "token is malformed");
    }
  });

  test("refuses a header that is not JSON", async () => {
    const token = await mintToken(es256, claims());
    const [, payload, signature] = token.split(".");
    const broken = `${jose.base64url.encode("{alg:ES256")}.${payload}.${signature}`;
    await expectRefused(staticVerifier(), broken, "ERR_TOKEN_INVALID", "token is malformed");
  });

  test("refuses a token over 16 KiB before parsing it", async () => {
    const token = await mintToken(es256, claims({ pad: "x".repeat(20 * 1024) }));
    await expectRefused(
      staticVerifier(),
      token,
      "ERR_TOKEN_INVALID",
      "token is longer than 16384 characters",
    );
    await expectRefused(
      staticVerifier(),
      "a".repeat(20 * 1024),
      "ERR_TOKEN_INVALID",
      "token is longer than 16384 characters",
    );
  });
});

describe("configuration", () => {
  test("throws TypeError unless exactly one key source is set", () => {
    const both = {
      issuer: ISSUER,
      audience: AUDIENCE,
      maxTokenLifetime: HOUR_MS,
      jwksURL: "https://issuer.test/jwks",
      staticJWKS,
    } as unknown as JWTBootstrapConfig;
    const neither = {
      issuer: ISSUER,
      audience: AUDIENCE,
      maxTokenLifetime: HOUR_MS,
    } as unknown as JWTBootstrapConfig;
    for (const config of [both, neither]) {
      expect(() => new JWTVerifier(config, new MemoryJtiStore())).toThrow(TypeError);
    }
  });
});

const server = await serveJWKS(jwksOf(es256));

describe("remote JWKS", () => {
  afterAll(() => server.close());

  test("fetches the JWKS once, then verifies from the cache", async () => {
    server.setKeys(jwksOf(es256));
    const verifier = remoteVerifier(server.url);
    const before = server.requests;
    await verifier.verify(await mintToken(es256, claims({ jti: "remote-1" })));
    await verifier.verify(await mintToken(es256, claims({ jti: "remote-2" })));
    expect(server.requests - before).toBe(1);
  });

  test("refetches on an unknown kid after rotation, then verifies", async () => {
    server.setKeys(jwksOf(es256));
    const verifier = remoteVerifier(server.url, { cooldownMs: 0 });
    const before = server.requests;
    await verifier.verify(await mintToken(es256, claims()));
    const rotated = await issuerKey("ES256", "es-rotated");
    server.setKeys(jwksOf(rotated));
    const verified = await verifier.verify(await mintToken(rotated, claims({ sub: "host-b" })));
    expect(verified.subject).toBe("host-b");
    expect(server.requests - before).toBe(2);
    // The retired key is gone from the refreshed set.
    await expectRefused(
      verifier,
      await mintToken(es256, claims()),
      "ERR_TOKEN_INVALID",
      "no key in the JWKS matches the token",
    );
  });

  test("does not refetch for an unknown kid within the cooldown", async () => {
    server.setKeys(jwksOf(es256));
    const verifier = remoteVerifier(server.url);
    const before = server.requests;
    await verifier.verify(await mintToken(es256, claims()));
    const stranger = await issuerKey("ES256", "es-flood");
    for (let i = 0; i < 3; i++) {
      await expectRefused(
        verifier,
        await mintToken(stranger, claims()),
        "ERR_TOKEN_INVALID",
        "no key in the JWKS matches the token",
      );
    }
    expect(server.requests - before).toBe(1);
  });

  test("refuses alg none without fetching the JWKS", async () => {
    const verifier = remoteVerifier(server.url);
    const before = server.requests;
    const token = `${b64json({ alg: "none" })}.${b64json(claims())}.`;
    await expectRefused(verifier, token, "ERR_TOKEN_INVALID", "token algorithm is not allowed");
    expect(server.requests).toBe(before);
  });

  test("reports ERR_JWKS_UNAVAILABLE on a 500, a body that is not JSON, or a timeout", async () => {
    const token = await mintToken(es256, claims());
    try {
      for (const behaviour of ["error", "garbage", "hang"] as const) {
        server.setBehaviour(behaviour);
        const verifier = remoteVerifier(server.url, { fetchTimeoutMs: 200 });
        await expectRefused(verifier, token, "ERR_JWKS_UNAVAILABLE");
      }
    } finally {
      server.setBehaviour("serve");
    }
  });

  test("reports ERR_JWKS_UNAVAILABLE when the JWKS server is down", async () => {
    const verifier = remoteVerifier(await deadURL());
    const err = await expectRefused(
      verifier,
      await mintToken(es256, claims({ jti: "kept" })),
      "ERR_JWKS_UNAVAILABLE",
    );
    expect(err.message).toBe("JWKS could not be fetched or read");
  });
});
