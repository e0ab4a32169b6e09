/**
 * The runtime configuration: its valibot schema, the fully defaulted type it
 * produces, and {@linkcode validateRuntimeConfig}, which reports every problem
 * at once, each prefixed by its key path.
 *
 * @module
 */
import { utf8 } from "../bytes.ts";
import { v } from "../deps.ts";
import { FrancisError } from "../errors.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { appendKeyPath, isMapping } from "./expand.ts";

/** Minimum severity that the runtime logs. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The listen address from `bind`. */
export interface BindAddress {
  /** The address as written, e.g. `":8443"` or `"[::1]:8443"`. */
  readonly address: string;
  /** Host name or IP without brackets; `""` means every interface. */
  readonly host: string;
  /** TCP port; `0` asks the system for any free port (for tests). */
  readonly port: number;
}

/** The data store selected by `provider.connectionString`. */
export type ProviderConfig =
  | { readonly kind: "memory" }
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly url: string };

/** A JSON Web Key Set: a `keys` list of JWK objects. */
export interface JSONWebKeySet {
  /** The keys; each has at least a string `kty`. */
  readonly keys: ReadonlyArray<Readonly<Record<string, unknown>>>;
}

/** Where the verification keys for bootstrap JWTs come from: exactly one source. */
export type JWTKeySource =
  | { readonly jwksURL: string; readonly staticJWKS?: undefined }
  | { readonly jwksURL?: undefined; readonly staticJWKS: JSONWebKeySet };

/** `bootstrap.jwt`: how hosts that present a JWT are admitted. */
export type JWTBootstrapConfig = JWTKeySource & {
  /** Required `iss` claim. */
  readonly issuer: string;
  /** Accepted `aud` values, at least one. */
  readonly audience: readonly string[];
  /** Longest accepted token lifetime (`exp - now`), in milliseconds. */
  readonly maxTokenLifetime: number;
};

/** `bootstrap`: how hosts prove they may join, by pre-shared key or by JWT. */
export type BootstrapConfig =
  | { readonly method: "psk"; readonly hostPSK: string }
  | { readonly method: "jwt"; readonly jwt: JWTBootstrapConfig };

/** `log`: how the runtime logs. */
export interface LogConfig {
  /** Minimum level. */
  readonly level: LogLevel;
  /** One JSON object per line instead of text. */
  readonly json: boolean;
}

/** The validated runtime configuration, every default applied, durations in milliseconds. */
export interface RuntimeConfig {
  /** Where the runtime listens. */
  readonly bind: BindAddress;
  /** The runtime's SPIFFE path segment: `spiffe://francis/runtime/<runtimeId>`. */
  readonly runtimeId: string;
  /** PSKs from which the cluster CAs derive; index 0 signs, all are trusted. */
  readonly runtimePSKs: readonly string[];
  /** Host admission. */
  readonly bootstrap: BootstrapConfig;
  /** The data store. */
  readonly provider: ProviderConfig;
  /** Lifetime of issued workload certificates, in milliseconds. */
  readonly workloadCertTTL: number;
  /** How long a host may go without a health check before it is dropped, in milliseconds. */
  readonly healthCheckDeadline: number;
  /** How often alarms are polled, in milliseconds. */
  readonly alarmsPollInterval: number;
  /** How long an alarm lease lasts, in milliseconds. */
  readonly alarmsLeaseDuration: number;
  /** How long shutdown waits for in-flight work, in milliseconds. */
  readonly shutdownGracePeriod: number;
  /** Logging. */
  readonly log: LogConfig;
}

/** One problem found in a configuration document. */
export interface ConfigIssue {
  /** Key path such as `bootstrap.jwt.issuer` or `runtimePSKs[1]`; `(top level)` for the document. */
  readonly path: string;
  /** What is wrong, e.g. `is required`. */
  readonly message: string;
}

/** `ERR_CONFIG_INVALID` with every problem found; the message has one `path: problem` line per issue. */
export class ConfigValidationError extends FrancisError {
  /** The problems, in document order. */
  readonly issues: readonly ConfigIssue[];

  /**
   * Builds the error and its message from `issues`.
   *
   * @param issues the problems; at least one
   */
  constructor(issues: readonly ConfigIssue[]) {
    super("ERR_CONFIG_INVALID", issues.map((i) => `${i.path}: ${i.message}`).join("\n"));
    this.issues = issues;
  }
}

/**
 * A short description of a value's type for error messages, e.g. `a number`.
 * Never the value itself: it may be a secret.
 *
 * @param value any value
 * @returns `null`, `undefined`, `a list`, `a mapping`, `a string`, `a number`, …
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;
}

// --- Building blocks -------------------------------------------------------

const expected = (what: string) => (issue: v.BaseIssue<unknown>): string =>
  `expected ${what}, got ${describeValue(issue.input)}`;

const str = v.string(expected("a string"));
const nonEmptyString = v.pipe(str, v.minLength(1, "must not be empty"));

/** valibot skips these keys silently, so a mapping that has one is rejected outright. */
const RESERVED_KEYS = ["__proto__", "constructor", "prototype"];

/** A plain mapping, before `v.looseObject`, whose `key in input` test would also see an array's methods. */
function record(what: string) {
  return v.custom<Record<string, unknown>>(isMapping, expected(what));
}

/** The issue path of `key` in the mapping `input`. */
function keyPath(input: Record<string, unknown>, key: string): [v.ObjectPathItem] {
  return [{ type: "object", origin: "key", input, key, value: input[key] }];
}

/**
 * A mapping with exactly the keys in `entries`: every other key is reported,
 * as is every missing required one.
 */
function mapping<const TEntries extends v.ObjectEntries>(entries: TEntries) {
  const allowed = Object.keys(entries).join(", ");
  return v.pipe(
    v.custom<Record<string, unknown>>(
      (input) => isMapping(input) && !RESERVED_KEYS.some((k) => Object.hasOwn(input, k)),
      (issue) => {
        const reserved = RESERVED_KEYS.find((k) =>
          isMapping(issue.input) && Object.hasOwn(issue.input, k)
        );
        return reserved === undefined
          ? `expected a mapping, got ${describeValue(issue.input)}`
          : `unknown key "${reserved}"; expected one of ${allowed}`;
      },
    ),
    v.looseObject(entries),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!isMapping(dataset.value)) return;
      for (const key of Object.keys(dataset.value)) {
        if (Object.hasOwn(entries, key)) continue;
        addIssue({
          message: `unknown key; expected one of ${allowed}`,
          path: keyPath(dataset.value, key),
        });
      }
    }),
  );
}

function picklist<const T extends readonly string[]>(options: T) {
  const list = options.map((o) => JSON.stringify(o)).join(", ");
  return v.picklist(
    options,
    (issue) =>
      `expected one of ${list}, got ${
        typeof issue.input === "string" ? JSON.stringify(issue.input) : describeValue(issue.input)
      }`,
  );
}

/** A duration string, `defaultText` when absent, converted to milliseconds and > 0. */
function duration(defaultText: string, min: number = 1, max: number = Number.MAX_SAFE_INTEGER) {
  return v.optional(
    v.pipe(
      v.string(expected(`a duration string such as "${defaultText}"`)),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return parseDuration(dataset.value);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          addIssue({ message: message.charAt(0).toLowerCase() + message.slice(1) });
          return NEVER;
        }
      }),
      v.check(
        (ms) => ms >= min,
        (issue) =>
          min <= 1
            ? "must be greater than 0"
            : `must be at least ${formatDuration(min)}, got ${formatDuration(Number(issue.input))}`,
      ),
      v.check(
        (ms) => ms <= max,
        (issue) =>
          `must be at most ${formatDuration(max)}, got ${formatDuration(Number(issue.input))}`,
      ),
    ),
    defaultText,
  );
}

/** A string of at least `min` bytes of UTF-8 (a pre-shared key). */
function secret(min: number) {
  return v.pipe(
    str,
    v.check(
      (text) => utf8(text).length >= min,
      (issue) => `must be at least ${min} bytes of UTF-8, got ${utf8(String(issue.input)).length}`,
    ),
  );
}

// --- bind --------------------------------------------------------------------

const BIND_FORMS = `host:port, :port or [ipv6]:port`;

function parseBind(text: string): BindAddress | string {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]:");
    if (close === -1) return `expected ${BIND_FORMS}, got ${JSON.stringify(text)}`;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!/^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?$/.test(host)) {
      return `${JSON.stringify(host)} is not an IPv6 address`;
    }
  } else {
    const colon = text.lastIndexOf(":");
    if (colon === -1) return `expected ${BIND_FORMS}, got ${JSON.stringify(text)}`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) {
      return `IPv6 hosts must be in brackets, e.g. "[::1]:8443", got ${JSON.stringify(text)}`;
    }
    if (!/^[A-Za-z0-9._-]*$/.test(host)) return `${JSON.stringify(host)} is not a host name or IP`;
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    return `port must be a number from 1 to 65535 (or 0 for any free port), got ${
      JSON.stringify(portText)
    }`;
  }
  return { address: text, host, port };
}

const bindSchema = v.optional(
  v.pipe(
    str,
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const parsed = parseBind(dataset.value);
      if (typeof parsed === "string") {
        addIssue({ message: parsed });
        return NEVER;
      }
      return parsed;
    }),
  ),
  ":8443",
);

// --- runtimeId and runtimePSKs -----------------------------------------------

// runtimeId becomes a SPIFFE path segment, which must not be "." or "..".
const runtimeIdSchema = v.optional(
  v.pipe(
    str,
    v.regex(/^[A-Za-z0-9._-]{1,128}$/, "must be 1 to 128 characters from A-Z a-z 0-9 . _ -"),
    v.check((id) => id !== "." && id !== "..", 'must not be "." or ".."'),
  ),
  "main",
);

// Each runtime PSK seeds a CA key, so it must carry at least 32 bytes.
const runtimePSKsSchema = v.pipe(
  v.array(secret(32), expected("a list of strings")),
  v.minLength(1, "must list at least one PSK"),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!Array.isArray(dataset.value)) return;
    const list: unknown[] = dataset.value;
    const first = new Map<string, number>();
    list.forEach((psk, i) => {
      if (typeof psk !== "string") return;
      const earlier = first.get(psk);
      if (earlier === undefined) {
        first.set(psk, i);
        return;
      }
      addIssue({
        message: `duplicates runtimePSKs[${earlier}]`,
        path: [{ type: "array", origin: "value", input: list, key: i, value: psk }],
      });
    });
  }),
);

// --- bootstrap ---------------------------------------------------------------

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

// Keys fetched over plain HTTP could be swapped in transit; only loopback is exempt.
function jwksURLProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an absolute https:// URL";
  }
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : `must use https:// (http:// is allowed only for 127.0.0.1, localhost and [::1]), got host ${
        JSON.stringify(url.hostname)
      }`;
  }
  return `must be an https:// URL, got scheme ${JSON.stringify(url.protocol)}`;
}

const jwksURLSchema = v.pipe(
  str,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = jwksURLProblem(dataset.value);
    if (problem !== undefined) addIssue({ message: problem });
  }),
);

const staticJWKSSchema = v.pipe(
  v.custom<string | Record<string, unknown>>(
    (input) => typeof input === "string" || isMapping(input),
    expected("a JWKS mapping with a keys list, or a JSON string of one"),
  ),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    if (typeof dataset.value !== "string") return dataset.value;
    try {
      return JSON.parse(dataset.value) as unknown;
    } catch {
      addIssue({ message: "is a string but not valid JSON" });
      return NEVER;
    }
  }),
  record("a JWKS mapping with a keys list"),
  // Other JWKS and JWK members are the key owner's business, so they are kept, not rejected.
  v.looseObject({
    keys: v.pipe(
      v.array(
        v.pipe(record("a JWK mapping"), v.looseObject({ kty: nonEmptyString })),
        expected("a list"),
      ),
      v.minLength(1, "must contain at least one key"),
    ),
  }),
  v.transform(({ keys }): JSONWebKeySet => ({ keys })),
);

const jwtSchema = v.pipe(
  mapping({
    issuer: nonEmptyString,
    audience: v.union(
      [nonEmptyString, v.pipe(v.array(nonEmptyString), v.minLength(1, "must not be empty"))],
      expected("a string or a list of strings"),
    ),
    jwksURL: v.optional(jwksURLSchema),
    staticJWKS: v.optional(staticJWKSSchema),
    maxTokenLifetime: duration("1h"),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!isMapping(dataset.value)) return;
    const hasURL = Object.hasOwn(dataset.value, "jwksURL");
    const hasStatic = Object.hasOwn(dataset.value, "staticJWKS");
    if (hasURL === hasStatic) {
      addIssue({
        message: `set exactly one of jwksURL and staticJWKS, got ${hasURL ? "both" : "neither"}`,
      });
    }
  }),
  v.transform((jwt): JWTBootstrapConfig => {
    const common = {
      issuer: jwt.issuer,
      audience: typeof jwt.audience === "string" ? [jwt.audience] : jwt.audience,
      maxTokenLifetime: jwt.maxTokenLifetime,
    };
    return jwt.jwksURL !== undefined
      ? { ...common, jwksURL: jwt.jwksURL }
      : { ...common, staticJWKS: jwt.staticJWKS as JSONWebKeySet };
  }),
);

// The host PSK authenticates both ends of bootstrap, so it must carry at least 16 bytes.
const bootstrapSchema = v.pipe(
  mapping({
    method: v.optional(picklist(["psk", "jwt"]), "psk"),
    hostPSK: v.optional(secret(16)),
    jwt: v.optional(jwtSchema),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    const value = dataset.value;
    if (!isMapping(value) || (value.method !== "psk" && value.method !== "jwt")) return;
    const wanted = value.method === "psk" ? "hostPSK" : "jwt";
    const unused = value.method === "psk" ? "jwt" : "hostPSK";
    if (!Object.hasOwn(value, wanted)) {
      addIssue({
        message: `is required when bootstrap.method is ${value.method}`,
        path: keyPath(value, wanted),
      });
    }
    if (Object.hasOwn(value, unused)) {
      addIssue({
        message: `is not used when bootstrap.method is ${value.method}; remove it`,
        path: keyPath(value, unused),
      });
    }
  }),
  v.transform((b): BootstrapConfig =>
    b.method === "psk"
      ? { method: "psk", hostPSK: b.hostPSK as string }
      : { method: "jwt", jwt: b.jwt as JWTBootstrapConfig }
  ),
);

// --- provider and log ----------------------------------------------------------

/**
 * The store a connection string names (`memory`, a SQLite path, `sqlite:`/`file:`
 * URLs, or `postgres://`), as `provider.connectionString` reads it.
 *
 * @throws {FrancisError} `ERR_CONFIG_INVALID` for an empty or unusable string
 */
export function providerFromConnectionString(text: string): ProviderConfig {
  const parsed = parseConnectionString(text);
  if (typeof parsed === "string") {
    throw new FrancisError("ERR_CONFIG_INVALID", `connectionString: ${parsed}`);
  }
  return parsed;
}

function parseConnectionString(text: string): ProviderConfig | string {
  if (text === "memory") return { kind: "memory" };
  if (/^postgres(ql)?:\/\//i.test(text)) {
    // The URL may hold a password: never echo it.
    return URL.canParse(text) ? { kind: "postgres", url: text } : "is not a valid postgres:// URL";
  }
  const prefix = /^(sqlite|file):(\/\/)?/i.exec(text);
  const path = prefix === null ? text : text.slice(prefix[0].length);
  return path === ""
    ? "must name a SQLite file, memory, or a postgres:// URL"
    : { kind: "sqlite", path };
}

const providerSchema = v.optional(
  v.pipe(
    mapping({
      connectionString: v.optional(
        v.pipe(
          str,
          v.rawTransform(({ dataset, addIssue, NEVER }) => {
            const parsed = parseConnectionString(dataset.value);
            if (typeof parsed === "string") {
              addIssue({ message: parsed });
              return NEVER;
            }
            return parsed;
          }),
        ),
        "francis.sqlite",
      ),
    }),
    v.transform((p): ProviderConfig => p.connectionString),
  ),
  {},
);

const logSchema = v.optional(
  v.pipe(
    mapping({
      level: v.optional(picklist(["debug", "info", "warn", "error"]), "info"),
      json: v.optional(v.boolean(expected("true or false")), false),
    }),
    v.transform((log): LogConfig => ({ level: log.level, json: log.json })),
  ),
  {},
);

// --- The whole document --------------------------------------------------------

/** The valibot schema of a runtime configuration document (after `${NAME}` expansion). */
const runtimeConfigSchema: v.GenericSchema<unknown, RuntimeConfig> = v.pipe(
  mapping({
    bind: bindSchema,
    runtimeId: runtimeIdSchema,
    runtimePSKs: runtimePSKsSchema,
    bootstrap: bootstrapSchema,
    provider: providerSchema,
    workloadCertTTL: duration("1h", 10_000, 365 * 86_400_000),
    healthCheckDeadline: duration("20s"),
    alarmsPollInterval: duration("1500ms"),
    alarmsLeaseDuration: duration("20s"),
    shutdownGracePeriod: duration("30s"),
    log: logSchema,
  }),
  v.transform((c): RuntimeConfig => ({
    bind: c.bind,
    runtimeId: c.runtimeId,
    runtimePSKs: c.runtimePSKs,
    bootstrap: c.bootstrap,
    provider: c.provider,
    workloadCertTTL: c.workloadCertTTL,
    healthCheckDeadline: c.healthCheckDeadline,
    alarmsPollInterval: c.alarmsPollInterval,
    alarmsLeaseDuration: c.alarmsLeaseDuration,
    shutdownGracePeriod: c.shutdownGracePeriod,
    log: c.log,
  })),
);

function toConfigIssue(issue: v.BaseIssue<unknown>): ConfigIssue {
  let path = "";
  for (const item of issue.path ?? []) {
    if (typeof item.key === "string" || typeof item.key === "number") {
      path = appendKeyPath(path, item.key);
    }
  }
  const last = issue.path?.at(-1);
  const missing = issue.kind === "schema" && last?.origin === "key" && issue.input === undefined;
  return {
    path: path === "" ? "(top level)" : path,
    message: missing ? "is required" : issue.message,
  };
}

/**
 * Validates a parsed, env-expanded runtime configuration document and returns
 * it with every default applied and every duration in milliseconds.
 *
 * @param doc the document, e.g. from `parseYAML` followed by `expandEnv`
 * @returns the runtime configuration
 * @throws {ConfigValidationError} `ERR_CONFIG_INVALID` listing every problem, one
 *   `key.path: what is wrong` line each (unknown keys, missing required keys, wrong
 *   types, short PSKs, invalid durations, …)
 *
 * @example Validate a minimal document
 * ```ts
 * import { validateRuntimeConfig } from "./schema.ts";
 *
 * const config = validateRuntimeConfig({
 *   runtimePSKs: ["a runtime PSK of at least 32 bytes!!"],
 *   bootstrap: { hostPSK: "a host PSK, 16+ bytes" },
 * });
 * config.bind.port; // 8443
 * config.workloadCertTTL; // 3_600_000
 * ```
 */
export function validateRuntimeConfig(doc: unknown): RuntimeConfig {
  const result = v.safeParse(runtimeConfigSchema, doc);
  if (result.success) return result.output;
  throw new ConfigValidationError(result.issues.map(toConfigIssue));
}
