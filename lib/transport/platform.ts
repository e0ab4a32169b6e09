/**
 * The one place that asks which JavaScript runtime we are on.
 *
 * @module
 */

/** The runtimes Francis supports. */
export type Platform = "bun" | "deno" | "other";

/** The runtime this code runs on. */
export const platform: Platform = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "other";
