// Hooks and a timeout for suites that start runtime and worker processes.
import { afterAll, beforeAll } from "bun:test";

// bun:test hooks take a timeout (starting processes can outlast the 5 s default);
// the Deno shim's hooks have none and ignore it.
type Hook = (fn: () => Promise<void>, timeoutMs?: number) => void;

/** beforeAll, with a timeout. */
export const setup = beforeAll as Hook;
/** afterAll, with a timeout. */
export const teardown = afterAll as Hook;
/** The timeout for tests and hooks that start processes. */
export const SLOW = 30_000;
