/**
 * Runtime configuration: discovery, parsing (YAML or JSON), `${NAME}`
 * expansion, validation with defaults, and Go-style durations.
 *
 * @example Load a configuration
 * ```ts
 * import { configCandidates, parseConfigFlag, parseRuntimeConfig } from "./mod.ts";
 *
 * const { path } = parseConfigFlag(["--config", "config.json"]);
 * const candidates = path === undefined ? configCandidates({ env: {}, cwd: "/srv" }) : [path];
 * // The caller reads the first candidate that exists, then:
 * const config = parseRuntimeConfig(
 *   '{"runtimePSKs": ["a runtime PSK of at least 32 bytes!!"], "bootstrap": {"hostPSK": "a host PSK, 16+ bytes"}}',
 *   { path: candidates[0] },
 *   {},
 * );
 * ```
 *
 * @module
 */
export { formatDuration, parseDuration } from "./duration.ts";
export { type Env, expandEnv } from "./expand.ts";
export {
  type BindAddress,
  type BootstrapConfig,
  type ConfigIssue,
  ConfigValidationError,
  type JSONWebKeySet,
  type JWTBootstrapConfig,
  type JWTKeySource,
  type LogConfig,
  type LogLevel,
  type ProviderConfig,
  providerFromConnectionString,
  type RuntimeConfig,
  validateRuntimeConfig,
} from "./schema.ts";
export { parseRuntimeConfig } from "./parse.ts";
export {
  configCandidates,
  type ConfigFlag,
  type DiscoveryContext,
  parseConfigFlag,
} from "./discover.ts";
