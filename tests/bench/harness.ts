// A small benchmark harness: run an operation back to back for a fixed time and
// report operations per second as one JSON line per row.
import process from "node:process";

/** One benchmark result, printed as a JSON line. */
export interface Row {
  name: string;
  /** Operations per second. */
  value: number;
  unit: string;
  /** The reference figure measured in the same process, for ratio rows. */
  baseline?: number;
  /** value / baseline. */
  ratio?: number;
}

/** Runs `fn` sequentially until `seconds` have passed, and returns how many ran per second. */
async function rate(fn: () => unknown, seconds: number): Promise<number> {
  const start = performance.now();
  const end = start + seconds * 1000;
  let runs = 0;
  let now = start;
  while (now < end) {
    await fn();
    runs++;
    now = performance.now();
  }
  return runs / ((now - start) / 1000);
}

/**
 * Measures `fn` for `seconds` after a warm-up of a quarter of that (at most 1 s), one call
 * at a time (awaited when it returns a promise).
 */
export async function measure(
  name: string,
  fn: () => unknown,
  seconds = 2,
  unit = "ops/s",
): Promise<Row> {
  await rate(fn, Math.min(seconds / 4, 1));
  return { name, value: round(await rate(fn, seconds), 1), unit };
}

/** `row` with the figure of `baseline` and the ratio between the two. */
export function relativeTo(row: Row, baseline: Row): Row {
  return { ...row, baseline: baseline.value, ratio: round(row.value / baseline.value, 4) };
}

/** Prints `row` as one line of JSON. */
export function report(row: Row): void {
  process.stdout.write(JSON.stringify(row) + "\n");
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
