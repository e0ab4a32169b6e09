// Shared fixtures for the configuration tests.
import { FrancisError } from "../../lib/errors.ts";

/** A runtime PSK of exactly 32 bytes. */
export const RUNTIME_PSK = "r".repeat(32);
/** A second, different runtime PSK. */
export const RUNTIME_PSK_2 = "s".repeat(40);
/** A host PSK of exactly 16 bytes. */
export const HOST_PSK = "h".repeat(16);

/** The smallest valid document: everything else defaults. */
export function minimalDoc(): Record<string, unknown> {
  return { runtimePSKs: [RUNTIME_PSK], bootstrap: { hostPSK: HOST_PSK } };
}

/** The FrancisError that `fn` throws; fails the test when it throws something else or nothing. */
export function errorOf(fn: () => unknown): FrancisError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FrancisError) return err;
    throw err;
  }
  throw new Error("Expected a FrancisError, but nothing was thrown");
}

/** A pattern matching any text that starts with `prefix` literally. */
export function startingWith(prefix: string): RegExp {
  return new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`);
}
