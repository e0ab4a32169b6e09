/**
 * The runtime's command line:
 *
 *     deno run --allow-read --allow-env --allow-net runtime/main.ts [command] [-config FILE]
 *
 * Commands: `serve` (default), `print-ca`, `gen-psk`, `healthcheck`, `help`.
 * Exit status: 0 on success, 1 on failure (one line on stderr), 2 on usage errors.
 *
 * @module
 */
import process from "node:process";
import { toBase64 } from "../lib/bytes.ts";
import { parseConfigFlag } from "../lib/config/mod.ts";
import { FrancisError } from "../lib/errors.ts";
import { deriveCABundle } from "../lib/pki/ca.ts";
import type { RuntimeConfig } from "../lib/config/mod.ts";
import { Routes } from "../lib/protocol/mod.ts";
import { TrustStore } from "../lib/pki/verify.ts";
import { MtlsClient } from "../lib/transport/client.ts";
import { loadRuntimeConfig } from "./config.ts";
import { startRuntime } from "./server.ts";

const USAGE = `Usage: runtime/main.ts [command] [-config FILE]

Commands:
  serve        run the runtime (default)
  print-ca     print the cluster CA bundle (PEM, primary first) for pinning
  gen-psk      print a fresh random PSK (256 bits)
  healthcheck  check that the configured runtime answers
  help         show this text

The configuration is the file given with -config/--config, else $FRANCIS_CONFIG,
else the first of config.yaml, config.yml, config.json in ., ~/.francis, /etc/francis.`;

/** A usage error: exit status 2. */
class UsageError extends Error {}

/** Runs one command; returns the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const { path, rest } = parseFlags(args);
    const [command = "serve", ...extra] = rest;
    if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}`);
    switch (command) {
      case "print-ca": {
        const { config } = loadRuntimeConfig(path);
        process.stdout.write((await deriveCABundle(config.runtimePSKs)).pem);
        return 0;
      }
      case "gen-psk":
        process.stdout.write(genPSK() + "\n");
        return 0;
      case "serve":
        return await serve(loadRuntimeConfig(path).config);
      case "healthcheck":
        return await healthcheck(loadRuntimeConfig(path).config);
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE + "\n");
        return 0;
      default:
        throw new UsageError(`Unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`francis: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`francis: ${oneLine(err)}\n`);
    return 1;
  }
}

function parseFlags(args: readonly string[]): { path?: string; rest: string[] } {
  try {
    const { path, rest } = parseConfigFlag(args);
    const unknown = rest.find((a) => a.startsWith("-") && !["--help", "-h"].includes(a));
    if (unknown) throw new UsageError(`Unknown flag ${unknown}`);
    return { path, rest };
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(err.message);
    throw err;
  }
}

async function serve(config: RuntimeConfig): Promise<number> {
  const runtime = await startRuntime(config);
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
  });
  await runtime.close();
  return 0;
}

// Connects like a worker would: the CA bundle pinned, the runtime's identity checked.
async function healthcheck(config: RuntimeConfig): Promise<number> {
  const trust = await TrustStore.fromCAs((await deriveCABundle(config.runtimePSKs)).cas);
  const client = new MtlsClient({ trust, timeoutMs: 5_000 });
  const host = ["", "0.0.0.0"].includes(config.bind.host)
    ? "127.0.0.1"
    : config.bind.host === "::"
    ? "[::1]"
    : config.bind.host.includes(":")
    ? `[${config.bind.host}]`
    : config.bind.host;
  try {
    const r = await client.request(`${host}:${config.bind.port}`, {
      method: "GET",
      path: Routes.health,
      expect: { kind: "runtime", id: config.runtimeId },
    });
    if (r.status !== 200) throw new Error(`runtime answered HTTP ${r.status}`);
    process.stdout.write("ok\n");
    return 0;
  } finally {
    client.close();
  }
}

/** A fresh PSK: 32 random bytes as unpadded base64url, 43 characters. */
export function genPSK(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// Several configuration problems are reported on one line, separated by "; ".
function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof FrancisError ? ` [${err.code}]` : "";
  return message.split("\n").join("; ") + code;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
