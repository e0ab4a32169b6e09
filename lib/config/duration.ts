/**
 * Go-style duration strings (`1h30m`, `1500ms`, `0.5s`) for the configuration
 * file, and the compact inverse for logs.
 *
 * @module
 */
import { FrancisError } from "../errors.ts";

/** Milliseconds per unit, longest suffix first so `ms` wins over `m`. */
const UNIT_MS: Readonly<Record<string, number>> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
};

/**
 * Parses a duration such as `1h`, `1500ms`, `1h30m` or `0.5s` into milliseconds.
 *
 * The text is one or more `<number><unit>` parts with units `ms`, `s`, `m`, `h`
 * and `d`; the parts add up. The total is rounded to the nearest millisecond.
 * Signs, spaces, exponents and bare numbers (`"10"`) are rejected, so a typo
 * never turns into a silent default.
 *
 * @param text the duration as written in the configuration
 * @returns the duration in milliseconds, a finite non-negative integer
 * @throws {FrancisError} `ERR_DURATION_INVALID` when the text is not a duration
 *
 * @example Parse a compound duration
 * ```ts
 * import { parseDuration } from "./duration.ts";
 *
 * parseDuration("1h30m"); // 5_400_000
 * parseDuration("1500ms"); // 1_500
 * ```
 */
export function parseDuration(text: string): number {
  const invalid = (why: string): FrancisError =>
    new FrancisError("ERR_DURATION_INVALID", `Invalid duration ${JSON.stringify(text)}: ${why}`);
  if (typeof text !== "string") throw invalid("expected a string");
  if (text === "") throw invalid("it is empty");
  const part = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)/y;
  let total = 0;
  while (part.lastIndex < text.length) {
    const start = part.lastIndex;
    const match = part.exec(text);
    if (match === null) {
      throw invalid(
        start === 0 && /^\d+(?:\.\d+)?$/.test(text)
          ? "a unit is required (ms, s, m, h or d)"
          : `expected <number><unit> with unit ms, s, m, h or d at offset ${start}`,
      );
    }
    total += Number(match[1]) * UNIT_MS[match[2]];
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) throw invalid("it is too large");
  return Math.round(total);
}

/** Units for {@linkcode formatDuration}, largest first. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["d", UNIT_MS.d],
  ["h", UNIT_MS.h],
  ["m", UNIT_MS.m],
  ["s", UNIT_MS.s],
  ["ms", UNIT_MS.ms],
];

/**
 * Formats milliseconds as a compact duration for logs, e.g. `90000` → `"1m30s"`.
 *
 * The output is rounded to whole milliseconds and parses back with
 * {@linkcode parseDuration} (for non-negative input) to the same value.
 *
 * @param ms the duration in milliseconds
 * @returns the compact form; `"0s"` for zero, with a leading `-` when negative
 * @throws {RangeError} when `ms` is not a finite number
 *
 * @example Format durations for a log line
 * ```ts
 * import { formatDuration } from "./duration.ts";
 *
 * formatDuration(90_000); // "1m30s"
 * formatDuration(1_500); // "1s500ms"
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`Duration must be a finite number, got ${ms}`);
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return "0s";
  let out = ms < 0 ? "-" : "";
  for (const [unit, size] of FORMAT_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return out;
}
