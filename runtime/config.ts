/**
 * Finds and reads the runtime configuration file (the file system side of
 * `lib/config`, which stays free of I/O).
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import process from "node:process";
import { FrancisError } from "../lib/errors.ts";
import {
  configCandidates,
  type Env,
  parseRuntimeConfig,
  type RuntimeConfig,
} from "../lib/config/mod.ts";

/** Where the configuration came from, and what it says. */
export interface LoadedConfig {
  /** The file that was read. */
  path: string;
  /** The validated configuration. */
  config: RuntimeConfig;
}

/**
 * Loads the configuration: `explicitPath` (from `-config`/`--config`) if given,
 * else the discovery order of DESIGN.md section 7.
 *
 * @throws {FrancisError} `ERR_CONFIG_NOT_FOUND`, `ERR_CONFIG_PARSE`, `ERR_CONFIG_INVALID`, `ERR_CONFIG_ENV_UNSET`
 */
export function loadRuntimeConfig(
  explicitPath: string | undefined,
  env: Env = process.env,
): LoadedConfig {
  const candidates = explicitPath !== undefined
    ? [explicitPath]
    : configCandidates({ env, cwd: process.cwd(), home: safeHome() });
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw new FrancisError(
      "ERR_CONFIG_NOT_FOUND",
      explicitPath !== undefined
        ? `Configuration file ${explicitPath} does not exist`
        : `No configuration file found; looked for ${candidates.join(", ")}`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new FrancisError("ERR_CONFIG_NOT_FOUND", `Cannot read ${path}: ${String(cause)}`, {
      cause,
    });
  }
  try {
    return { path, config: parseRuntimeConfig(text, { path }, env) };
  } catch (err) {
    // Name the file in every error, unless the parser already did.
    if (!(err instanceof FrancisError) || err.message.startsWith(path)) throw err;
    throw new FrancisError(err.code, `${path}: ${err.message}`, { cause: err });
  }
}

function safeHome(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined; // no HOME and no passwd entry: skip ~/.francis
  }
}
