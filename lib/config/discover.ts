/**
 * Where the runtime looks for its configuration file, and the `-config`
 * flag. Pure: nothing here touches the file system or the process.
 *
 * @module
 */
import type { Env } from "./expand.ts";

/** File names tried, in order, in each directory. */
const FILE_NAMES = ["config.yaml", "config.yml", "config.json"] as const;

/** Inputs to {@linkcode configCandidates}. */
export interface DiscoveryContext {
  /** The environment; `FRANCIS_CONFIG` names the file when set and not empty. */
  readonly env: Env;
  /** The working directory. */
  readonly cwd: string;
  /** The user's home directory, if known; skipped when `undefined` or empty. */
  readonly home?: string;
}

/**
 * The configuration files to try, in order, when no `-config` flag was given:
 * only `FRANCIS_CONFIG` when it is set, else `config.yaml`, `config.yml` and
 * `config.json` in `cwd`, then in `<home>/.francis`, then in `/etc/francis`.
 *
 * The caller reads the first one that exists.
 *
 * @param context the environment and directories to search
 * @returns candidate paths, most preferred first
 *
 * @example Candidates without FRANCIS_CONFIG
 * ```ts
 * import { configCandidates } from "./discover.ts";
 *
 * configCandidates({ env: {}, cwd: "/srv", home: "/home/ada" });
 * // ["/srv/config.yaml", "/srv/config.yml", "/srv/config.json",
 * //  "/home/ada/.francis/config.yaml", …, "/etc/francis/config.json"]
 * ```
 */
export function configCandidates(context: DiscoveryContext): string[] {
  const explicit = context.env.FRANCIS_CONFIG;
  if (explicit !== undefined && explicit !== "") return [explicit];
  const dirs = [context.cwd];
  if (context.home !== undefined && context.home !== "") {
    dirs.push(joinPath(context.home, ".francis"));
  }
  dirs.push("/etc/francis");
  return dirs.flatMap((dir) => FILE_NAMES.map((name) => joinPath(dir, name)));
}

/** Joins with `/`, without doubling a trailing separator (`/` and `C:\` included). */
function joinPath(dir: string, name: string): string {
  return /[/\\]$/.test(dir) ? dir + name : `${dir}/${name}`;
}

/** The result of {@linkcode parseConfigFlag}. */
export interface ConfigFlag {
  /** The file given with `-config`/`--config`, if any. */
  readonly path?: string;
  /** Every other argument, in order. */
  readonly rest: string[];
}

/**
 * Takes `-config FILE`, `--config FILE`, `-config=FILE` or `--config=FILE`
 * out of `args`. Arguments after a `--` terminator are left alone.
 *
 * @param args command-line arguments, without the program name
 * @returns the file (if given) and the remaining arguments
 * @throws {TypeError} when the flag has no value (it is last, followed by
 *   another flag, or `=` is empty) or is given more than once
 *
 * @example Split the flag from a command
 * ```ts
 * import { parseConfigFlag } from "./discover.ts";
 *
 * parseConfigFlag(["serve", "--config", "prod.yaml"]);
 * // { path: "prod.yaml", rest: ["serve"] }
 * ```
 */
export function parseConfigFlag(args: readonly string[]): ConfigFlag {
  let path: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const match = /^--?config(?:=(.*))?$/s.exec(arg);
    if (match === null) {
      rest.push(arg);
      continue;
    }
    const flag = arg.split("=")[0];
    let value = match[1];
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("-")) {
        throw new TypeError(`Flag ${flag} needs a file path, e.g. ${flag} config.yaml`);
      }
      value = next;
      i++;
    }
    if (value === "") throw new TypeError(`Flag ${flag} needs a file path, got an empty value`);
    if (path !== undefined) throw new TypeError(`Flag ${flag} was given more than once`);
    path = value;
  }
  return path === undefined ? { rest } : { path, rest };
}
