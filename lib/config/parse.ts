/**
 * From the text of a runtime configuration file to a validated
 * {@linkcode RuntimeConfig}: parse (YAML or JSON), expand `${NAME}`, validate.
 *
 * @module
 */
import { parseYAML } from "../deps.ts";
import { FrancisError } from "../errors.ts";
import { type Env, expandEnv, isMapping } from "./expand.ts";
import { describeValue, type RuntimeConfig, validateRuntimeConfig } from "./schema.ts";

/**
 * Parses the text of a runtime configuration file, expands `${NAME}` from
 * `env` in every string value, and validates the result.
 *
 * A path ending in `.json` (any case) is parsed as JSON; anything else as
 * YAML (a JSON document is also valid YAML 1.2). In YAML, quote a `${NAME}`
 * reference inside a flow collection (`["${A}"]`), where `{` would open a mapping.
 *
 * @param text the file's contents
 * @param source where the text came from; `path` picks the format and appears in parse errors
 * @param env the environment for `${NAME}` expansion
 * @returns the validated configuration, defaults applied, durations in milliseconds
 * @throws {FrancisError} `ERR_CONFIG_PARSE` (with the path, and the line and column
 *   when known) when the text is not YAML/JSON; `ERR_CONFIG_INVALID` when the top level
 *   is not a mapping or the document is invalid; `ERR_CONFIG_ENV_UNSET` when a referenced
 *   variable is unset
 *
 * @example Parse a YAML file's contents
 * ```ts
 * import { parseRuntimeConfig } from "./parse.ts";
 *
 * const config = parseRuntimeConfig(
 *   "runtimePSKs: [\"${FRANCIS_PSK}\"]\nbootstrap:\n  hostPSK: ${FRANCIS_HOST_PSK}\n",
 *   { path: "config.yaml" },
 *   { FRANCIS_PSK: "a runtime PSK of at least 32 bytes!!", FRANCIS_HOST_PSK: "a host PSK, 16+ bytes" },
 * );
 * config.bootstrap.method; // "psk"
 * ```
 */
export function parseRuntimeConfig(
  text: string,
  source: { readonly path: string },
  env: Env,
): RuntimeConfig {
  const doc = parseDocument(text, source.path);
  if (!isMapping(doc)) {
    throw new FrancisError(
      "ERR_CONFIG_INVALID",
      `${source.path}: the top level must be a mapping of keys, got ${describeValue(doc)}`,
    );
  }
  return validateRuntimeConfig(expandEnv(doc, env));
}

function parseDocument(text: string, path: string): unknown {
  if (path.toLowerCase().endsWith(".json")) {
    try {
      return JSON.parse(text);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      throw new FrancisError("ERR_CONFIG_PARSE", `${path}: invalid JSON: ${err.message}`, {
        cause: err,
      });
    }
  }
  try {
    // logLevel "error": warnings would otherwise go to the console from library code.
    return parseYAML(text, { logLevel: "error" });
  } catch (err) {
    // Anything else (e.g. a missing Deno permission) is not the document's fault.
    if (!(err instanceof Error) || err.name !== "YAMLParseError") throw err;
    const pos = yamlPosition(err);
    const where = pos === undefined ? path : `${path}:${pos.line}:${pos.col}`;
    // The yaml message repeats the position and appends a source excerpt: keep its first sentence.
    const reason = err.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new FrancisError("ERR_CONFIG_PARSE", `${where}: invalid YAML: ${reason}`, { cause: err });
  }
}

function yamlPosition(err: Error): { line: number; col: number } | undefined {
  if (!("linePos" in err)) return undefined;
  const linePos: unknown = err.linePos;
  if (!Array.isArray(linePos)) return undefined;
  const start: unknown = linePos[0];
  if (typeof start !== "object" || start === null) return undefined;
  if (!("line" in start) || !("col" in start)) return undefined;
  const { line, col } = start;
  return typeof line === "number" && typeof col === "number" ? { line, col } : undefined;
}
