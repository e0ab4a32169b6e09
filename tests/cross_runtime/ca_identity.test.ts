// The cluster CA needs no distribution because every runtime derives the same bytes from
// the same PSKs: this runs the derivation in real Bun and Deno processes and compares.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { deriveCABundle } from "../../lib/pki/ca.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./print_ca.ts", import.meta.url));
const KAT_PSK = "francis-known-answer-test-psk-0001";
const KAT_PEM = readFileSync(new URL("../fixtures/ca-kat.pem", import.meta.url), "utf8");
const ROTATION_PSKS = ["cross-runtime-new-primary-psk-0123456789", KAT_PSK];
const TIMEOUT_MS = 30_000;

const RUNTIMES = {
  bun: [join(ROOT, "node_modules/.bin/bun"), SCRIPT],
  deno: [
    join(ROOT, "node_modules/.bin/deno"),
    "run",
    "--allow-read",
    "--allow-env",
    SCRIPT,
  ],
} as const;
type Runtime = keyof typeof RUNTIMES;

/** What print_ca.ts prints for `psks` in a fresh process of `runtime`. */
function printCA(runtime: Runtime, psks: string[]): string {
  const [command, ...args] = RUNTIMES[runtime];
  const run = spawnSync(command, [...args, ...psks], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: TIMEOUT_MS,
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (run.error) throw run.error;
  if (run.status !== 0) {
    throw new Error(`print_ca.ts on ${runtime} exited with ${run.status}: ${run.stderr}`);
  }
  return run.stdout;
}

describe("CA derivation across runtimes", () => {
  test("Bun and Deno print the checked-in known-answer CA byte for byte", async () => {
    const inProcess = (await deriveCABundle([KAT_PSK])).pem;
    expect(inProcess).toBe(KAT_PEM);
    expect(printCA("bun", [KAT_PSK])).toBe(KAT_PEM);
    expect(printCA("deno", [KAT_PSK])).toBe(KAT_PEM);
  }, TIMEOUT_MS * 2);

  test("Bun and Deno print the same two-CA rotation bundle, primary first", async () => {
    const inProcess = await deriveCABundle(ROTATION_PSKS);
    expect(inProcess.pem).toBe(inProcess.cas[0].certPem + KAT_PEM);
    expect(inProcess.cas[0].certPem).not.toBe(KAT_PEM);
    expect(printCA("bun", ROTATION_PSKS)).toBe(inProcess.pem);
    expect(printCA("deno", ROTATION_PSKS)).toBe(inProcess.pem);
  }, TIMEOUT_MS * 2);

  for (const runtime of Object.keys(RUNTIMES) as Runtime[]) {
    test(`a restarted ${runtime} process derives the same bundle again`, () => {
      const first = printCA(runtime, ROTATION_PSKS);
      const second = printCA(runtime, ROTATION_PSKS);
      expect(second).toBe(first);
      expect(first.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBe(2);
    }, TIMEOUT_MS * 2);
  }
});
