/**
 * `${NAME}` expansion of every string value in a parsed configuration
 * document, so secrets such as PSKs can live in the environment.
 *
 * @module
 */
import { FrancisError } from "../errors.ts";

/** The environment to expand from; `undefined` means unset. */
export type Env = Readonly<Record<string, string | undefined>>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The key path of `key` inside the value at `path`: `a.b` for an object key,
 * `a[0]` for an array index, and the bare key at the top level.
 *
 * @param path the path of the containing value, `""` for the document itself
 * @param key an object key or an array index
 * @returns the joined path
 *
 * @example Build a path
 * ```ts
 * import { appendKeyPath } from "./expand.ts";
 *
 * appendKeyPath(appendKeyPath("", "runtimePSKs"), 0); // "runtimePSKs[0]"
 * ```
 */
export function appendKeyPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

/**
 * Expands `${NAME}` in every string value of `value` (object keys are left
 * alone), through nested objects and arrays, and returns a new document.
 *
 * `$${` stands for a literal `${`. A `$` not followed by `{` is kept as is.
 * Expansion is a single pass: text that comes from the environment is never
 * expanded again. Values other than strings, arrays and plain objects are
 * returned unchanged.
 *
 * @param value the parsed document (or any part of it)
 * @param env the environment to read; a variable whose value is `undefined` is unset
 * @param path the key path of `value`, used in error messages; `""` (the default) for the top level
 * @returns a copy of `value` with every reference replaced
 * @throws {FrancisError} `ERR_CONFIG_ENV_UNSET` naming the variable and the key path
 *   when a referenced variable is unset; `ERR_CONFIG_INVALID` naming the key path when a
 *   reference is malformed (`${` without `}`, or a name that is not `[A-Za-z_][A-Za-z0-9_]*`)
 *
 * @example Expand a PSK from the environment
 * ```ts
 * import { expandEnv } from "./expand.ts";
 *
 * expandEnv({ runtimePSKs: ["${FRANCIS_PSK}"] }, { FRANCIS_PSK: "s3cret" });
 * // { runtimePSKs: ["s3cret"] }
 * ```
 */
export function expandEnv(value: unknown, env: Env, path: string = ""): unknown {
  if (typeof value === "string") return expandString(value, env, path);
  if (Array.isArray(value)) {
    return value.map((item, i) => expandEnv(item, env, appendKeyPath(path, i)));
  }
  if (isMapping(value)) {
    // Object.fromEntries defines own properties, so a `__proto__` key stays a plain key.
    return Object.fromEntries(
      Object.entries(value).map((
        [key, item],
      ) => [key, expandEnv(item, env, appendKeyPath(path, key))]),
    );
  }
  return value;
}

function expandString(text: string, env: Env, path: string): string {
  const where = path === "" ? "(top level)" : path;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar === -1) break;
    out += text.slice(i, dollar);
    if (text.startsWith("$${", dollar)) {
      out += "${";
      i = dollar + 3;
    } else if (text.startsWith("${", dollar)) {
      const close = text.indexOf("}", dollar + 2);
      if (close === -1) {
        throw new FrancisError(
          "ERR_CONFIG_INVALID",
          `${where}: unterminated "\${" in environment reference (write "$\${" for a literal "\${")`,
        );
      }
      const name = text.slice(dollar + 2, close);
      if (!NAME.test(name)) {
        throw new FrancisError(
          "ERR_CONFIG_INVALID",
          `${where}: malformed environment reference ${
            JSON.stringify(text.slice(dollar, close + 1))
          }; expected \${NAME} with NAME matching [A-Za-z_][A-Za-z0-9_]*`,
        );
      }
      const found = env[name];
      if (typeof found !== "string") {
        throw new FrancisError(
          "ERR_CONFIG_ENV_UNSET",
          `${where}: environment variable ${name} is not set`,
        );
      }
      out += found;
      i = close + 1;
    } else {
      out += "$";
      i = dollar + 1;
    }
  }
  return out + text.slice(i);
}

/**
 * True for a plain key/value mapping as YAML and JSON parsing produce (not an
 * array, class instance or other object).
 *
 * @param value any value
 * @returns whether `value` is a plain object
 */
export function isMapping(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
