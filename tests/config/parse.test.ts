import { describe, expect, test } from "bun:test";
import { parseRuntimeConfig, validateRuntimeConfig } from "../../lib/config/mod.ts";
import { errorOf, HOST_PSK, RUNTIME_PSK, RUNTIME_PSK_2, startingWith } from "./helpers.ts";

const ENV = { FRANCIS_PSK: RUNTIME_PSK, FRANCIS_HOST_PSK: HOST_PSK, AUDIENCE: "francis" };

const YAML_DOC = `# A full runtime config
bind: "[::1]:9443"
runtimeId: eu-1
runtimePSKs:
  - \${FRANCIS_PSK}
  - ${RUNTIME_PSK_2}
bootstrap:
  method: jwt
  jwt:
    issuer: https://idp.example
    audience: ["\${AUDIENCE}", other]
    staticJWKS: '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc"}]}'
    maxTokenLifetime: 30m
provider:
  connectionString: memory
workloadCertTTL: 2h
log:
  level: warn
  json: true
`;

const JSON_DOC = JSON.stringify({
  bind: "[::1]:9443",
  runtimeId: "eu-1",
  runtimePSKs: ["${FRANCIS_PSK}", RUNTIME_PSK_2],
  bootstrap: {
    method: "jwt",
    jwt: {
      issuer: "https://idp.example",
      audience: ["${AUDIENCE}", "other"],
      staticJWKS: { keys: [{ kty: "OKP", crv: "Ed25519", x: "abc" }] },
      maxTokenLifetime: "30m",
    },
  },
  provider: { connectionString: "memory" },
  workloadCertTTL: "2h",
  log: { level: "warn", json: true },
});

describe("parseRuntimeConfig", () => {
  test("reads equivalent YAML and JSON documents to the same config", () => {
    const fromYAML = parseRuntimeConfig(YAML_DOC, { path: "/etc/francis/config.yaml" }, ENV);
    const fromJSON = parseRuntimeConfig(JSON_DOC, { path: "/etc/francis/config.json" }, ENV);
    expect(fromYAML).toEqual(fromJSON);
    expect(fromYAML).toEqual({
      bind: { address: "[::1]:9443", host: "::1", port: 9443 },
      runtimeId: "eu-1",
      runtimePSKs: [RUNTIME_PSK, RUNTIME_PSK_2],
      bootstrap: {
        method: "jwt",
        jwt: {
          issuer: "https://idp.example",
          audience: ["francis", "other"],
          staticJWKS: { keys: [{ kty: "OKP", crv: "Ed25519", x: "abc" }] },
          maxTokenLifetime: 1_800_000,
        },
      },
      provider: { kind: "memory" },
      workloadCertTTL: 7_200_000,
      healthCheckDeadline: 20_000,
      alarmsPollInterval: 1_500,
      alarmsLeaseDuration: 20_000,
      shutdownGracePeriod: 30_000,
      log: { level: "warn", json: true },
    });
  });

  test("picks JSON by a .json extension in any case and YAML for everything else", () => {
    expect(parseRuntimeConfig(JSON_DOC, { path: "C.JSON" }, ENV).runtimeId).toBe("eu-1");
    expect(parseRuntimeConfig(JSON_DOC, { path: "francis.conf" }, ENV).runtimeId).toBe("eu-1");
    const err = errorOf(() => parseRuntimeConfig(YAML_DOC, { path: "config.json" }, ENV));
    expect(err.code).toBe("ERR_CONFIG_PARSE");
  });

  test("expands the environment before validating", () => {
    const text = 'runtimePSKs: ["${PSK}"]\nbootstrap:\n  hostPSK: ${HOST}\n';
    const err = errorOf(() =>
      parseRuntimeConfig(text, { path: "config.yaml" }, { PSK: "too short", HOST: HOST_PSK })
    );
    expect(err.code).toBe("ERR_CONFIG_INVALID");
    expect(err.message).toBe("runtimePSKs[0]: must be at least 32 bytes of UTF-8, got 9");
  });

  test("rejects an unset variable in the file, naming it and the key path", () => {
    const err = errorOf(() => parseRuntimeConfig(YAML_DOC, { path: "config.yaml" }, {}));
    expect(err.code).toBe("ERR_CONFIG_ENV_UNSET");
    expect(err.message).toBe("runtimePSKs[0]: environment variable FRANCIS_PSK is not set");
  });

  test("rejects malformed YAML with the file path, line and column", () => {
    const err = errorOf(() =>
      parseRuntimeConfig("runtimePSKs: [a,\nbootstrap: {}\n", { path: "/srv/config.yaml" }, {})
    );
    expect(err.code).toBe("ERR_CONFIG_PARSE");
    expect(err.message).toMatch(startingWith("/srv/config.yaml:2:1: invalid YAML: "));
    expect(err.message).not.toContain("\n");
  });

  test("rejects a YAML mapping with a repeated key", () => {
    const err = errorOf(() =>
      parseRuntimeConfig("runtimeId: a\nruntimeId: b\n", { path: "config.yml" }, {})
    );
    expect(err.code).toBe("ERR_CONFIG_PARSE");
    expect(err.message).toBe("config.yml:2:1: invalid YAML: Map keys must be unique");
  });

  test("rejects a YAML file with several documents", () => {
    const err = errorOf(() => parseRuntimeConfig("a: 1\n---\nb: 2\n", { path: "c.yaml" }, {}));
    expect(err.code).toBe("ERR_CONFIG_PARSE");
    expect(err.message).toMatch(
      startingWith("c.yaml:2:1: invalid YAML: Source contains multiple documents"),
    );
  });

  test("needs quotes around a reference inside a YAML flow list, where { opens a mapping", () => {
    const err = errorOf(() => parseRuntimeConfig("runtimePSKs: [${A}]\n", { path: "c.yaml" }, {}));
    expect(err.code).toBe("ERR_CONFIG_PARSE");
    expect(err.message).toMatch(startingWith("c.yaml:1:"));
  });

  test("rejects malformed JSON with the file path", () => {
    const err = errorOf(() => parseRuntimeConfig('{"runtimePSKs": [', { path: "c.json" }, {}));
    expect(err.code).toBe("ERR_CONFIG_PARSE");
    expect(err.message).toMatch(startingWith("c.json: invalid JSON: "));
  });

  for (const [text, got] of [["", "null"], ["- a\n- b\n", "a list"], ["just text\n", "a string"]]) {
    test(`rejects a top level that is ${got} instead of a mapping`, () => {
      const err = errorOf(() => parseRuntimeConfig(text, { path: "config.yaml" }, {}));
      expect(err.code).toBe("ERR_CONFIG_INVALID");
      expect(err.message).toBe(`config.yaml: the top level must be a mapping of keys, got ${got}`);
    });
  }

  test("reads YAML 1.1 booleans such as yes as strings, so log.json: yes is an error", () => {
    const text =
      `runtimePSKs: [${RUNTIME_PSK}]\nbootstrap: {hostPSK: ${HOST_PSK}}\nlog: {json: yes}\n`;
    const err = errorOf(() => parseRuntimeConfig(text, { path: "config.yaml" }, {}));
    expect(err.message).toBe("log.json: expected true or false, got a string");
  });

  test("gives the same result as validating the expanded document directly", () => {
    const doc = { runtimePSKs: [RUNTIME_PSK], bootstrap: { hostPSK: HOST_PSK } };
    expect(parseRuntimeConfig(JSON.stringify(doc), { path: "x.json" }, {})).toEqual(
      validateRuntimeConfig(doc),
    );
  });
});
