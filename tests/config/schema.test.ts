import { describe, expect, test } from "bun:test";
import {
  ConfigValidationError,
  type RuntimeConfig,
  validateRuntimeConfig,
} from "../../lib/config/mod.ts";
import {
  errorOf,
  HOST_PSK,
  minimalDoc,
  RUNTIME_PSK,
  RUNTIME_PSK_2,
  startingWith,
} from "./helpers.ts";

const JWK = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" };

/** The minimal document with `bootstrap` replaced. */
function withBootstrap(bootstrap: unknown): Record<string, unknown> {
  return { ...minimalDoc(), bootstrap };
}

/** A JWT bootstrap section with an https JWKS URL, merged with `jwt`. */
function jwtBootstrap(jwt: Record<string, unknown>): Record<string, unknown> {
  return withBootstrap({
    method: "jwt",
    jwt: { issuer: "https://idp.example", audience: "francis", ...jwt },
  });
}

/** The ERR_CONFIG_INVALID message lines for `doc`. */
function problems(doc: unknown): string[] {
  const err = errorOf(() => validateRuntimeConfig(doc));
  expect(err.code).toBe("ERR_CONFIG_INVALID");
  return err.message.split("\n");
}

describe("validateRuntimeConfig defaults", () => {
  test("fills in every default for a minimal document", () => {
    const expected: RuntimeConfig = {
      bind: { address: ":8443", host: "", port: 8443 },
      runtimeId: "main",
      runtimePSKs: [RUNTIME_PSK],
      bootstrap: { method: "psk", hostPSK: HOST_PSK },
      provider: { kind: "sqlite", path: "francis.sqlite" },
      workloadCertTTL: 3_600_000,
      healthCheckDeadline: 20_000,
      alarmsPollInterval: 1_500,
      alarmsLeaseDuration: 20_000,
      shutdownGracePeriod: 30_000,
      log: { level: "info", json: false },
    };
    expect(validateRuntimeConfig(minimalDoc())).toEqual(expected);
  });

  test("defaults bootstrap.method to psk", () => {
    expect(validateRuntimeConfig(minimalDoc()).bootstrap.method).toBe("psk");
  });

  test("defaults each key inside an empty provider and log section", () => {
    const config = validateRuntimeConfig({ ...minimalDoc(), provider: {}, log: {} });
    expect(config.provider).toEqual({ kind: "sqlite", path: "francis.sqlite" });
    expect(config.log).toEqual({ level: "info", json: false });
  });

  test("defaults bootstrap.jwt.maxTokenLifetime to 1h", () => {
    const config = validateRuntimeConfig(jwtBootstrap({ jwksURL: "https://idp.example/jwks" }));
    expect(config.bootstrap).toEqual({
      method: "jwt",
      jwt: {
        issuer: "https://idp.example",
        audience: ["francis"],
        jwksURL: "https://idp.example/jwks",
        maxTokenLifetime: 3_600_000,
      },
    });
  });

  test("uses the values given instead of the defaults", () => {
    const config = validateRuntimeConfig({
      ...minimalDoc(),
      bind: "127.0.0.1:9443",
      runtimeId: "rt-1.eu_west",
      runtimePSKs: [RUNTIME_PSK, RUNTIME_PSK_2],
      provider: { connectionString: "memory" },
      workloadCertTTL: "24h",
      healthCheckDeadline: "5s",
      alarmsPollInterval: "250ms",
      alarmsLeaseDuration: "1m30s",
      shutdownGracePeriod: "0.5s",
      log: { level: "debug", json: true },
    });
    expect(config).toEqual({
      bind: { address: "127.0.0.1:9443", host: "127.0.0.1", port: 9443 },
      runtimeId: "rt-1.eu_west",
      runtimePSKs: [RUNTIME_PSK, RUNTIME_PSK_2],
      bootstrap: { method: "psk", hostPSK: HOST_PSK },
      provider: { kind: "memory" },
      workloadCertTTL: 86_400_000,
      healthCheckDeadline: 5_000,
      alarmsPollInterval: 250,
      alarmsLeaseDuration: 90_000,
      shutdownGracePeriod: 500,
      log: { level: "debug", json: true },
    });
  });
});

describe("validateRuntimeConfig bind", () => {
  const accepted: [string, string, number][] = [
    [":8443", "", 8443],
    ["0.0.0.0:443", "0.0.0.0", 443],
    ["localhost:1", "localhost", 1],
    ["runtime.internal:65535", "runtime.internal", 65535],
    ["[::1]:8443", "::1", 8443],
    ["[::]:8443", "::", 8443],
    ["127.0.0.1:0", "127.0.0.1", 0],
  ];
  for (const [bind, host, port] of accepted) {
    test(`parses ${bind} as host ${JSON.stringify(host)} port ${port}`, () => {
      expect(validateRuntimeConfig({ ...minimalDoc(), bind }).bind).toEqual({
        address: bind,
        host,
        port,
      });
    });
  }

  const rejected: [string, string][] = [
    ["8443", "expected host:port, :port or [ipv6]:port"],
    ["localhost", "expected host:port, :port or [ipv6]:port"],
    [":65536", "port must be a number from 1 to 65535"],
    [":", "port must be a number from 1 to 65535"],
    [":-1", "port must be a number from 1 to 65535"],
    ["host:http", "port must be a number from 1 to 65535"],
    ["::1:8443", "IPv6 hosts must be in brackets"],
    ["[::1]", "expected host:port, :port or [ipv6]:port"],
    ["[example.com]:80", "is not an IPv6 address"],
    ["bad host:80", "is not a host name or IP"],
  ];
  for (const [bind, why] of rejected) {
    test(`rejects bind ${JSON.stringify(bind)} and says why`, () => {
      const lines = problems({ ...minimalDoc(), bind });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(startingWith("bind: "));
      expect(lines[0]).toContain(why);
    });
  }
});

describe("validateRuntimeConfig runtimeId", () => {
  test("accepts 128 characters from the allowed set", () => {
    const id = "aZ09._-".repeat(18).slice(0, 128);
    expect(validateRuntimeConfig({ ...minimalDoc(), runtimeId: id }).runtimeId).toBe(id);
  });

  for (const id of ["", "a/b", "a b", "é", "x".repeat(129)]) {
    test(`rejects the runtimeId ${JSON.stringify(id.slice(0, 20))} that cannot be a SPIFFE segment`, () => {
      expect(problems({ ...minimalDoc(), runtimeId: id })).toEqual([
        "runtimeId: must be 1 to 128 characters from A-Z a-z 0-9 . _ -",
      ]);
    });
  }

  for (const id of [".", ".."]) {
    test(`rejects the runtimeId ${JSON.stringify(id)}, a forbidden SPIFFE path segment`, () => {
      expect(problems({ ...minimalDoc(), runtimeId: id })).toEqual([
        'runtimeId: must not be "." or ".."',
      ]);
    });
  }

  test("rejects a runtimeId that is not a string, naming both types", () => {
    expect(problems({ ...minimalDoc(), runtimeId: 7 })).toEqual([
      "runtimeId: expected a string, got a number",
    ]);
  });
});

describe("validateRuntimeConfig runtimePSKs", () => {
  test("rejects a missing runtimePSKs as required", () => {
    const doc = minimalDoc();
    delete doc.runtimePSKs;
    expect(problems(doc)).toEqual(["runtimePSKs: is required"]);
  });

  test("rejects an empty runtimePSKs list", () => {
    expect(problems({ ...minimalDoc(), runtimePSKs: [] })).toEqual([
      "runtimePSKs: must list at least one PSK",
    ]);
  });

  test("rejects a single string where a list is expected", () => {
    expect(problems({ ...minimalDoc(), runtimePSKs: RUNTIME_PSK })).toEqual([
      "runtimePSKs: expected a list of strings, got a string",
    ]);
  });

  test("rejects a runtime PSK shorter than 32 bytes and says so", () => {
    expect(problems({ ...minimalDoc(), runtimePSKs: [RUNTIME_PSK, "twelve bytes"] })).toEqual([
      "runtimePSKs[1]: must be at least 32 bytes of UTF-8, got 12",
    ]);
  });

  test("counts UTF-8 bytes, not characters, for a runtime PSK", () => {
    const ok = "é".repeat(16); // 16 characters, 32 bytes
    expect(validateRuntimeConfig({ ...minimalDoc(), runtimePSKs: [ok] }).runtimePSKs).toEqual([ok]);
    // 16 characters, 31 bytes
    expect(problems({ ...minimalDoc(), runtimePSKs: ["é".repeat(15) + "x"] })).toEqual([
      "runtimePSKs[0]: must be at least 32 bytes of UTF-8, got 31",
    ]);
  });

  test("rejects a runtime PSK of 31 bytes written as 31 characters", () => {
    expect(problems({ ...minimalDoc(), runtimePSKs: ["x".repeat(31)] })).toEqual([
      "runtimePSKs[0]: must be at least 32 bytes of UTF-8, got 31",
    ]);
  });

  test("rejects a duplicated runtime PSK, naming both positions", () => {
    expect(
      problems({ ...minimalDoc(), runtimePSKs: [RUNTIME_PSK, RUNTIME_PSK_2, RUNTIME_PSK] }),
    ).toEqual(["runtimePSKs[2]: duplicates runtimePSKs[0]"]);
  });

  test("rejects a runtime PSK that YAML read as a number", () => {
    expect(problems({ ...minimalDoc(), runtimePSKs: [12345678901234567890123456789012] }))
      .toEqual(["runtimePSKs[0]: expected a string, got a number"]);
  });

  test("never repeats a PSK in an error message", () => {
    const secret = "hunter2-hunter2";
    const err = errorOf(() =>
      validateRuntimeConfig({
        runtimePSKs: [secret, secret],
        bootstrap: { hostPSK: secret.slice(0, 8) },
      })
    );
    expect(err.message).not.toContain("hunter2");
  });
});

describe("validateRuntimeConfig bootstrap", () => {
  test("rejects a missing bootstrap section as required", () => {
    expect(problems({ runtimePSKs: [RUNTIME_PSK] })).toEqual(["bootstrap: is required"]);
  });

  test("rejects a bootstrap section that is not a mapping", () => {
    expect(problems(withBootstrap(null))).toEqual(["bootstrap: expected a mapping, got null"]);
    expect(problems(withBootstrap(["psk"]))).toEqual(["bootstrap: expected a mapping, got a list"]);
  });

  test("rejects an unknown bootstrap.method, listing the allowed ones", () => {
    expect(problems(withBootstrap({ method: "mtls", hostPSK: HOST_PSK }))).toEqual([
      'bootstrap.method: expected one of "psk", "jwt", got "mtls"',
    ]);
  });

  test("rejects a host PSK shorter than 16 bytes and says so", () => {
    expect(problems(withBootstrap({ hostPSK: "fifteen bytes!!" }))).toEqual([
      "bootstrap.hostPSK: must be at least 16 bytes of UTF-8, got 15",
    ]);
  });

  test("requires bootstrap.hostPSK when the method is psk", () => {
    expect(problems(withBootstrap({}))).toEqual([
      "bootstrap.hostPSK: is required when bootstrap.method is psk",
    ]);
    expect(problems(withBootstrap({ method: "psk" }))).toEqual([
      "bootstrap.hostPSK: is required when bootstrap.method is psk",
    ]);
  });

  test("requires bootstrap.jwt when the method is jwt", () => {
    expect(problems(withBootstrap({ method: "jwt" }))).toEqual([
      "bootstrap.jwt: is required when bootstrap.method is jwt",
    ]);
  });

  test("rejects settings for the method that is not selected", () => {
    expect(
      problems(
        withBootstrap({
          hostPSK: HOST_PSK,
          jwt: { issuer: "i", audience: "a", jwksURL: "https://x/j" },
        }),
      ),
    ).toEqual(["bootstrap.jwt: is not used when bootstrap.method is psk; remove it"]);
    expect(
      problems({
        ...jwtBootstrap({ jwksURL: "https://idp.example/jwks" }),
        bootstrap: {
          method: "jwt",
          hostPSK: HOST_PSK,
          jwt: { issuer: "i", audience: "a", jwksURL: "https://idp.example/jwks" },
        },
      }),
    ).toEqual(["bootstrap.hostPSK: is not used when bootstrap.method is jwt; remove it"]);
  });
});

describe("validateRuntimeConfig bootstrap.jwt", () => {
  test("requires the issuer", () => {
    expect(
      problems(withBootstrap({ method: "jwt", jwt: { audience: "a", jwksURL: "https://x/j" } })),
    ).toEqual(["bootstrap.jwt.issuer: is required"]);
  });

  test("requires the audience", () => {
    expect(
      problems(withBootstrap({ method: "jwt", jwt: { issuer: "i", jwksURL: "https://x/j" } })),
    ).toEqual(["bootstrap.jwt.audience: is required"]);
  });

  test("accepts a list of audiences", () => {
    const config = validateRuntimeConfig(
      jwtBootstrap({ audience: ["a", "b"], jwksURL: "https://x/j" }),
    );
    expect(config.bootstrap.method === "jwt" && config.bootstrap.jwt.audience).toEqual(["a", "b"]);
  });

  test("rejects an empty audience list", () => {
    expect(problems(jwtBootstrap({ audience: [], jwksURL: "https://x/j" }))).toEqual([
      "bootstrap.jwt.audience: must not be empty",
    ]);
  });

  test("rejects an audience that is neither a string nor a list", () => {
    expect(problems(jwtBootstrap({ audience: 3, jwksURL: "https://x/j" }))).toEqual([
      "bootstrap.jwt.audience: expected a string or a list of strings, got a number",
    ]);
  });

  test("rejects both jwksURL and staticJWKS, naming both keys", () => {
    expect(
      problems(jwtBootstrap({ jwksURL: "https://x/j", staticJWKS: { keys: [JWK] } })),
    ).toEqual(["bootstrap.jwt: set exactly one of jwksURL and staticJWKS, got both"]);
  });

  test("rejects neither jwksURL nor staticJWKS, naming both keys", () => {
    expect(problems(jwtBootstrap({}))).toEqual([
      "bootstrap.jwt: set exactly one of jwksURL and staticJWKS, got neither",
    ]);
  });

  for (
    const url of ["http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"]
  ) {
    test(`allows plain http for the loopback JWKS URL ${url}`, () => {
      const config = validateRuntimeConfig(jwtBootstrap({ jwksURL: url }));
      expect(config.bootstrap.method === "jwt" && config.bootstrap.jwt.jwksURL).toBe(url);
    });
  }

  test("rejects plain http for a JWKS URL on another host", () => {
    expect(problems(jwtBootstrap({ jwksURL: "http://idp.example/jwks" }))).toEqual([
      'bootstrap.jwt.jwksURL: must use https:// (http:// is allowed only for 127.0.0.1, localhost and [::1]), got host "idp.example"',
    ]);
  });

  test("rejects a JWKS URL that is not a URL or not https", () => {
    expect(problems(jwtBootstrap({ jwksURL: "idp.example/jwks" }))).toEqual([
      "bootstrap.jwt.jwksURL: must be an absolute https:// URL",
    ]);
    expect(problems(jwtBootstrap({ jwksURL: "ftp://idp.example/jwks" }))).toEqual([
      'bootstrap.jwt.jwksURL: must be an https:// URL, got scheme "ftp:"',
    ]);
  });

  test("accepts staticJWKS as a mapping", () => {
    const config = validateRuntimeConfig(jwtBootstrap({ staticJWKS: { keys: [JWK] } }));
    expect(config.bootstrap.method === "jwt" && config.bootstrap.jwt.staticJWKS).toEqual({
      keys: [JWK],
    });
  });

  test("accepts staticJWKS as a JSON string and normalizes it to the same mapping", () => {
    const fromString = validateRuntimeConfig(
      jwtBootstrap({ staticJWKS: JSON.stringify({ keys: [JWK] }) }),
    );
    const fromMapping = validateRuntimeConfig(jwtBootstrap({ staticJWKS: { keys: [JWK] } }));
    expect(fromString).toEqual(fromMapping);
  });

  test("rejects staticJWKS text that is not JSON", () => {
    expect(problems(jwtBootstrap({ staticJWKS: "{keys: [" }))).toEqual([
      "bootstrap.jwt.staticJWKS: is a string but not valid JSON",
    ]);
  });

  test("rejects a staticJWKS without keys, or with an empty or malformed keys list", () => {
    expect(problems(jwtBootstrap({ staticJWKS: {} }))).toEqual([
      "bootstrap.jwt.staticJWKS.keys: is required",
    ]);
    expect(problems(jwtBootstrap({ staticJWKS: '{"keys": []}' }))).toEqual([
      "bootstrap.jwt.staticJWKS.keys: must contain at least one key",
    ]);
    expect(problems(jwtBootstrap({ staticJWKS: { keys: [{ x: "1" }, 5] } }))).toEqual([
      "bootstrap.jwt.staticJWKS.keys[0].kty: is required",
      "bootstrap.jwt.staticJWKS.keys[1]: expected a JWK mapping, got a number",
    ]);
    expect(problems(jwtBootstrap({ staticJWKS: "[1]" }))).toEqual([
      "bootstrap.jwt.staticJWKS: expected a JWKS mapping with a keys list, got a list",
    ]);
  });

  test("parses maxTokenLifetime as a duration", () => {
    const config = validateRuntimeConfig(
      jwtBootstrap({ jwksURL: "https://x/j", maxTokenLifetime: "15m" }),
    );
    expect(config.bootstrap.method === "jwt" && config.bootstrap.jwt.maxTokenLifetime).toBe(
      900_000,
    );
  });
});

describe("validateRuntimeConfig provider", () => {
  const table: [string, unknown][] = [
    ["memory", { kind: "memory" }],
    ["postgres://francis:pw@db:5432/francis", {
      kind: "postgres",
      url: "postgres://francis:pw@db:5432/francis",
    }],
    ["postgresql://db/francis", { kind: "postgres", url: "postgresql://db/francis" }],
    ["data/francis.db", { kind: "sqlite", path: "data/francis.db" }],
    ["/var/lib/francis.db", { kind: "sqlite", path: "/var/lib/francis.db" }],
    ["sqlite:francis.db", { kind: "sqlite", path: "francis.db" }],
    ["sqlite:///var/lib/francis.db", { kind: "sqlite", path: "/var/lib/francis.db" }],
    ["file:francis.db", { kind: "sqlite", path: "francis.db" }],
    ["file:///tmp/francis.db", { kind: "sqlite", path: "/tmp/francis.db" }],
  ];
  for (const [connectionString, provider] of table) {
    test(`reads ${connectionString} as ${JSON.stringify(provider)}`, () => {
      expect(validateRuntimeConfig({ ...minimalDoc(), provider: { connectionString } }).provider)
        .toEqual(provider as RuntimeConfig["provider"]);
    });
  }

  test("rejects an empty connection string or an empty sqlite path", () => {
    for (const connectionString of ["", "sqlite:", "file://"]) {
      expect(problems({ ...minimalDoc(), provider: { connectionString } })).toEqual([
        "provider.connectionString: must name a SQLite file, memory, or a postgres:// URL",
      ]);
    }
  });

  test("rejects a malformed postgres URL without echoing its password", () => {
    const lines = problems({
      ...minimalDoc(),
      provider: { connectionString: "postgres://u:s3cr3t@[db/francis" },
    });
    expect(lines).toEqual(["provider.connectionString: is not a valid postgres:// URL"]);
  });
});

describe("validateRuntimeConfig durations", () => {
  const keys = [
    "workloadCertTTL",
    "healthCheckDeadline",
    "alarmsPollInterval",
    "alarmsLeaseDuration",
    "shutdownGracePeriod",
  ];
  for (const key of keys) {
    test(`rejects an invalid ${key}, naming the key and quoting the text`, () => {
      expect(problems({ ...minimalDoc(), [key]: "10" })).toEqual([
        `${key}: invalid duration "10": a unit is required (ms, s, m, h or d)`,
      ]);
    });

    test(`rejects a zero ${key}`, () => {
      const lines = problems({ ...minimalDoc(), [key]: "0s" });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(startingWith(`${key}: must be`));
    });

    test(`rejects ${key} written as a number`, () => {
      const lines = problems({ ...minimalDoc(), [key]: 30 });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^${key}: expected a duration string such as ".+", got a number$`),
      );
    });
  }

  test("rejects a zero duration as not greater than 0", () => {
    expect(problems({ ...minimalDoc(), shutdownGracePeriod: "0ms" })).toEqual([
      "shutdownGracePeriod: must be greater than 0",
    ]);
  });

  test("rejects an invalid bootstrap.jwt.maxTokenLifetime, naming the full path", () => {
    expect(problems(jwtBootstrap({ jwksURL: "https://x/j", maxTokenLifetime: "1 hour" })))
      .toEqual([
        'bootstrap.jwt.maxTokenLifetime: invalid duration "1 hour": expected <number><unit> with unit ms, s, m, h or d at offset 0',
      ]);
  });

  test("keeps workloadCertTTL between 10s and 365d", () => {
    expect(validateRuntimeConfig({ ...minimalDoc(), workloadCertTTL: "10s" }).workloadCertTTL)
      .toBe(10_000);
    expect(validateRuntimeConfig({ ...minimalDoc(), workloadCertTTL: "365d" }).workloadCertTTL)
      .toBe(31_536_000_000);
    expect(problems({ ...minimalDoc(), workloadCertTTL: "9s" })).toEqual([
      "workloadCertTTL: must be at least 10s, got 9s",
    ]);
    expect(problems({ ...minimalDoc(), workloadCertTTL: "366d" })).toEqual([
      "workloadCertTTL: must be at most 365d, got 366d",
    ]);
  });
});

describe("validateRuntimeConfig log", () => {
  test("rejects an unknown log.level, listing the allowed ones", () => {
    expect(problems({ ...minimalDoc(), log: { level: "verbose" } })).toEqual([
      'log.level: expected one of "debug", "info", "warn", "error", got "verbose"',
    ]);
  });

  test("rejects a log.json that is not a boolean", () => {
    expect(problems({ ...minimalDoc(), log: { json: "yes" } })).toEqual([
      "log.json: expected true or false, got a string",
    ]);
  });
});

describe("validateRuntimeConfig unknown keys", () => {
  test("rejects an unknown top-level key, naming it", () => {
    expect(problems({ ...minimalDoc(), runtimePSK: [RUNTIME_PSK] })).toEqual([
      "runtimePSK: unknown key; expected one of bind, runtimeId, runtimePSKs, bootstrap, provider, workloadCertTTL, healthCheckDeadline, alarmsPollInterval, alarmsLeaseDuration, shutdownGracePeriod, log",
    ]);
  });

  test("rejects an unknown key in bootstrap, naming its path", () => {
    expect(problems(withBootstrap({ hostPSK: HOST_PSK, foo: 1 }))).toEqual([
      "bootstrap.foo: unknown key; expected one of method, hostPSK, jwt",
    ]);
  });

  test("rejects unknown keys in bootstrap.jwt, provider and log, naming each path", () => {
    expect(
      problems({
        ...jwtBootstrap({ jwksURL: "https://x/j", audiences: ["a"] }),
        provider: { connection: "memory" },
        log: { format: "json" },
      }),
    ).toEqual([
      "bootstrap.jwt.audiences: unknown key; expected one of issuer, audience, jwksURL, staticJWKS, maxTokenLifetime",
      "provider.connection: unknown key; expected one of connectionString",
      "log.format: unknown key; expected one of level, json",
    ]);
  });

  test("rejects a __proto__ key instead of skipping it", () => {
    const doc: unknown = JSON.parse(
      `{"runtimePSKs": ["${RUNTIME_PSK}"], "bootstrap": {"hostPSK": "${HOST_PSK}"}, "__proto__": {}}`,
    );
    expect(problems(doc)).toEqual([
      '(top level): unknown key "__proto__"; expected one of bind, runtimeId, runtimePSKs, bootstrap, provider, workloadCertTTL, healthCheckDeadline, alarmsPollInterval, alarmsLeaseDuration, shutdownGracePeriod, log',
    ]);
  });
});

describe("validateRuntimeConfig error reporting", () => {
  test("rejects a document that is not a mapping", () => {
    expect(problems(["runtimePSKs"])).toEqual(["(top level): expected a mapping, got a list"]);
    expect(problems(null)).toEqual(["(top level): expected a mapping, got null"]);
  });

  test("reports every problem at once, one line each, and lists them on the error", () => {
    const err = errorOf(() =>
      validateRuntimeConfig({
        runtimePSKs: ["short"],
        bootstrap: { method: "jwt", jwt: { audience: "a", jwksURL: "https://x/j" } },
        alarmsPollInterval: "soon",
        extra: true,
      })
    );
    expect(err).toBeInstanceOf(ConfigValidationError);
    expect(err.code).toBe("ERR_CONFIG_INVALID");
    expect(err.name).toBe("FrancisError");
    expect(err.message.split("\n")).toEqual([
      "runtimePSKs[0]: must be at least 32 bytes of UTF-8, got 5",
      "bootstrap.jwt.issuer: is required",
      'alarmsPollInterval: invalid duration "soon": expected <number><unit> with unit ms, s, m, h or d at offset 0',
      "extra: unknown key; expected one of bind, runtimeId, runtimePSKs, bootstrap, provider, workloadCertTTL, healthCheckDeadline, alarmsPollInterval, alarmsLeaseDuration, shutdownGracePeriod, log",
    ]);
    expect((err as ConfigValidationError).issues.map((i) => i.path)).toEqual([
      "runtimePSKs[0]",
      "bootstrap.jwt.issuer",
      "alarmsPollInterval",
      "extra",
    ]);
  });
});
