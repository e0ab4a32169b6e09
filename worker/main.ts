/**
 * The worker's command line (`bun run worker -- <flags>`): a host, remote
 * (default) or local (`--topology local`), with its control server and the
 * sample actors.
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 on a definitive rejection (wrong PSK,
 * failed server proof, pinned-CA mismatch, refused token), 2 on usage errors.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { parseDuration } from "../lib/config/duration.ts";
import { FrancisError } from "../lib/errors.ts";
import { createLogger, type LogLevel } from "../lib/log.ts";
import { splitAddress } from "../lib/transport/client.ts";
import { serveControl } from "./control.ts";
import { COUNTER, counterActor } from "./counter.ts";
import { ECHO, echoActor } from "./echo.ts";
import { RemoteHost, type RemoteHostOptions } from "./host.ts";
import { LocalHost, type LocalHostOptions } from "./local_host.ts";

const USAGE = `Usage: bun run worker -- [flags]

  --topology remote|local       remote (default): join a runtime; local: no runtime, coordinate
                                over a shared store with a self-issued certificate
  --address HOST:PORT           the peer server, advertised to other hosts (default 127.0.0.1:0)
  --control-address HOST:PORT   the control server, plain HTTP (default 127.0.0.1:0)
  --idle-timeout DURATION       idle timeout of the sample counter actors (default 5m)
  --log-level LEVEL             debug, info (default), warn or error
  --log-json                    one JSON object per log line

Remote topology:
  --runtime-address HOST:PORT   a runtime to bootstrap against (repeatable; tried in order)
  --pinned-ca FILE              the CA bundle from \`runtime print-ca\` that must certify the runtime
  --unsafe-no-pinned-ca         trust the runtime on first use (development only)
  --host-psk-file FILE          the host bootstrap PSK (else $FRANCIS_HOST_BOOTSTRAP_PSK)
  --jwt-file FILE               a bootstrap JWT, re-read at every bootstrap

Local topology:
  --runtime-psk-file FILE       runtime PSKs, one a line, primary first
                                (else $FRANCIS_RUNTIME_PSKS, comma-separated)
  --connection-string STORE     the shared store: a SQLite path, or memory (default francis.sqlite)
  --host-id ID                  this host's ID (default: a random one)
  --health-check-deadline DUR   a host that misses it loses its actors (default 20s)`;

class UsageError extends Error {}

interface Flags {
  topology: "remote" | "local";
  runtimePSKFile?: string;
  connectionString: string;
  hostId?: string;
  healthCheckDeadlineMs?: number;
  runtimeAddresses: string[];
  address?: string;
  controlAddress: string;
  pinnedCAFile?: string;
  unsafeNoPinnedCA: boolean;
  hostPSKFile?: string;
  jwtFile?: string;
  idleTimeoutMs?: number;
  logLevel: LogLevel;
  logJSON: boolean;
}

const VALUED = new Set([
  "--topology",
  "--runtime-psk-file",
  "--connection-string",
  "--host-id",
  "--health-check-deadline",
  "--runtime-address",
  "--address",
  "--control-address",
  "--pinned-ca",
  "--host-psk-file",
  "--jwt-file",
  "--idle-timeout",
  "--log-level",
]);

/** Parses the flags; throws UsageError on anything unknown or malformed. */
function parseFlags(args: readonly string[]): Flags {
  const flags: Flags = {
    topology: "remote",
    connectionString: "francis.sqlite",
    runtimeAddresses: [],
    controlAddress: "127.0.0.1:0",
    unsafeNoPinnedCA: false,
    logLevel: "info",
    logJSON: false,
  };
  for (let i = 0; i < args.length; i++) {
    let [name, value] = args[i].split(/=(.*)/s, 2) as [string, string | undefined];
    if (args[i] === "--") continue;
    if (VALUED.has(name) && value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith("--")) {
        throw new UsageError(`${name} needs a value`);
      }
    } else if (!VALUED.has(name) && value !== undefined) {
      throw new UsageError(`${name} takes no value`);
    }
    switch (name) {
      case "--topology":
        if (value !== "remote" && value !== "local") {
          throw new UsageError("--topology must be remote or local");
        }
        flags.topology = value;
        break;
      case "--runtime-psk-file":
        flags.runtimePSKFile = value;
        break;
      case "--connection-string":
        flags.connectionString = value!;
        break;
      case "--host-id":
        flags.hostId = value;
        break;
      case "--health-check-deadline":
        flags.healthCheckDeadlineMs = durationFlag(name, value!);
        break;
      case "--runtime-address":
        flags.runtimeAddresses.push(value!);
        break;
      case "--address":
        flags.address = value;
        break;
      case "--control-address":
        flags.controlAddress = value!;
        break;
      case "--pinned-ca":
        flags.pinnedCAFile = value;
        break;
      case "--unsafe-no-pinned-ca":
        flags.unsafeNoPinnedCA = true;
        break;
      case "--host-psk-file":
        flags.hostPSKFile = value;
        break;
      case "--jwt-file":
        flags.jwtFile = value;
        break;
      case "--idle-timeout":
        flags.idleTimeoutMs = durationFlag(name, value!);
        break;
      case "--log-level":
        if (!["debug", "info", "warn", "error"].includes(value!)) {
          throw new UsageError(`--log-level must be debug, info, warn or error`);
        }
        flags.logLevel = value as LogLevel;
        break;
      case "--log-json":
        flags.logJSON = true;
        break;
      default:
        throw new UsageError(`Unknown flag ${name}`);
    }
  }
  const remoteOnly = [
    flags.runtimeAddresses.length > 0 && "--runtime-address",
    flags.pinnedCAFile !== undefined && "--pinned-ca",
    flags.unsafeNoPinnedCA && "--unsafe-no-pinned-ca",
    flags.hostPSKFile !== undefined && "--host-psk-file",
    flags.jwtFile !== undefined && "--jwt-file",
  ].filter(Boolean);
  if (flags.topology === "local") {
    if (remoteOnly.length > 0) {
      throw new UsageError(`${remoteOnly[0]} is for the remote topology, not --topology local`);
    }
    return flags;
  }
  const localOnly = [
    flags.runtimePSKFile !== undefined && "--runtime-psk-file",
    flags.hostId !== undefined && "--host-id",
    flags.healthCheckDeadlineMs !== undefined && "--health-check-deadline",
    args.some((a) => a.startsWith("--connection-string")) && "--connection-string",
  ].filter(Boolean);
  if (localOnly.length > 0) {
    throw new UsageError(`${localOnly[0]} is for --topology local`);
  }
  if (flags.runtimeAddresses.length === 0) {
    throw new UsageError("Give at least one --runtime-address");
  }
  if ((flags.pinnedCAFile !== undefined) === flags.unsafeNoPinnedCA) {
    throw new UsageError(
      flags.unsafeNoPinnedCA
        ? "Give only one of --pinned-ca and --unsafe-no-pinned-ca"
        : "Give --pinned-ca FILE (from `runtime print-ca`), or --unsafe-no-pinned-ca for development only",
    );
  }
  return flags;
}

function durationFlag(name: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new UsageError(`Cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function localOptions(flags: Flags, env: NodeJS.ProcessEnv): LocalHostOptions {
  const text = flags.runtimePSKFile !== undefined
    ? readSecretFile(flags.runtimePSKFile, "runtime PSK file")
    : env.FRANCIS_RUNTIME_PSKS;
  const separator = flags.runtimePSKFile !== undefined ? /\r?\n/ : /,/;
  const runtimePSKs = (text ?? "").split(separator).map((p) => p.trim()).filter((p) => p !== "");
  if (runtimePSKs.length === 0) {
    throw new UsageError(
      "Give the runtime PSKs: --runtime-psk-file FILE (one a line) or $FRANCIS_RUNTIME_PSKS",
    );
  }
  return {
    address: flags.address,
    runtimePSKs,
    connectionString: flags.connectionString,
    hostId: flags.hostId,
    healthCheckDeadlineMs: flags.healthCheckDeadlineMs,
    logger: createLogger({ level: flags.logLevel, json: flags.logJSON }),
  };
}

function hostOptions(flags: Flags, env: NodeJS.ProcessEnv): RemoteHostOptions {
  const envPSK = env.FRANCIS_HOST_BOOTSTRAP_PSK || undefined;
  const sources =
    [envPSK !== undefined, flags.hostPSKFile !== undefined, flags.jwtFile !== undefined]
      .filter(Boolean).length;
  if (sources !== 1) {
    throw new UsageError(
      sources === 0
        ? "Give a credential: $FRANCIS_HOST_BOOTSTRAP_PSK, --host-psk-file FILE or --jwt-file FILE"
        : "Give only one credential: $FRANCIS_HOST_BOOTSTRAP_PSK, --host-psk-file or --jwt-file",
    );
  }
  return {
    address: flags.address,
    runtimeAddresses: flags.runtimeAddresses,
    hostBootstrapPSK: flags.hostPSKFile !== undefined
      ? readSecretFile(flags.hostPSKFile, "host PSK file")
      : envPSK,
    hostBootstrapJWTFile: flags.jwtFile,
    pinnedCA: flags.pinnedCAFile !== undefined
      ? readSecretFile(flags.pinnedCAFile, "pinned CA file")
      : undefined,
    unsafeNoPinnedCA: flags.unsafeNoPinnedCA || undefined,
    logger: createLogger({ level: flags.logLevel, json: flags.logJSON }),
  };
}

/** Runs the worker until a signal; returns the exit status. */
export async function main(args: readonly string[], env = process.env): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  let host: RemoteHost | LocalHost | undefined;
  // Signals are handled from the start: SIGTERM while still bootstrapping is a clean stop too.
  let signalled = false;
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        signalled = true;
        resolve();
        host?.stop();
      });
    }
  });
  try {
    const flags = parseFlags(args);
    const options = flags.topology === "local" ? localOptions(flags, env) : hostOptions(flags, env);
    const logger = options.logger!;
    const app = flags.topology === "local"
      ? new LocalHost(options as LocalHostOptions)
      : new RemoteHost(options as RemoteHostOptions);
    host = app;
    app.registerActor(ECHO, echoActor);
    app.registerActor(
      COUNTER,
      counterActor(() => app.status.hostId),
      flags.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: flags.idleTimeoutMs },
    );
    await app.start();
    const control = await serveControl(host, flags.controlAddress);
    const { hostname } = splitAddress(flags.controlAddress, { allowZero: true });
    logger.info("control server listening", { url: `http://${hostname}:${control.port}` });
    await stopped;
    await control.close();
    await host.stop();
    return 0;
  } catch (err) {
    if (signalled) return 0;
    if (
      err instanceof UsageError || (err instanceof FrancisError && err.code === "ERR_HOST_CONFIG")
    ) {
      process.stderr.write(`francis worker: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    const code = err instanceof FrancisError ? ` [${err.code}]` : "";
    process.stderr.write(`francis worker: ${(err as Error).message ?? err}${code}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
  process.exit();
}
