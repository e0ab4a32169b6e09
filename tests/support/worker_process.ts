// A real worker process (Bun, `worker/main.ts`) for end-to-end tests: start it
// with flags and environment, wait until its control server answers, read its
// log, stop it; or run it to its exit for the failure cases.
import { Buffer } from "node:buffer";
import http from "node:http";
import type { HostStatus } from "../../worker/host.ts";
import { type Exit, type LoggedProcess, spawnScript } from "./processes.ts";
import { freePort } from "./runtime_process.ts";

/** How a worker process ended. */
export type WorkerExit = Exit;

/** A running `worker/main.ts`. */
export interface WorkerProcess {
  /** The process ID. */
  readonly pid: number;
  /** `127.0.0.1:<port>` of the control server (plain HTTP). */
  readonly controlAddress: string;
  /** `127.0.0.1:<port>` of the peer server (mTLS). */
  readonly peerAddress: string;
  /** Every stderr line so far (the log). */
  readonly lines: readonly string[];
  /** The whole stderr so far. */
  readonly stderr: string;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** `GET /status` of the control server. */
  status(): Promise<HostStatus>;
  /** Polls `/status` until `predicate` holds; resolves with that status. */
  waitForStatus(predicate: (s: HostStatus) => boolean, timeoutMs?: number): Promise<HostStatus>;
  /** Resolves with the first stderr line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM; resolves with how it exited (throws if it outlives `timeoutMs`). */
  stop(timeoutMs?: number): Promise<WorkerExit>;
  /** SIGKILL; resolves once it is gone. */
  kill(): Promise<WorkerExit>;
}

/** What to start. */
export interface WorkerProcessOptions {
  /**
   * The worker's flags. `--address` and `--control-address` are added on free
   * loopback ports unless given.
   */
  flags: string[];
  /** Environment variables besides PATH, HOME and NO_COLOR (nothing else is inherited). */
  env?: Record<string, string>;
  /** How long to wait for `/status` to answer (default 20 s). */
  readyTimeoutMs?: number;
}

/** Starts `worker/main.ts flags` under Bun (from the repo root, where it reads bunfig.toml). */
function spawnWorker(flags: string[], env: Record<string, string> = {}): LoggedProcess {
  return spawnScript("bun", "worker/main.ts", flags, { name: "worker", env });
}

/**
 * One plain HTTP request to a control server on a connection of its own
 * (node:http: Bun's fetch sends at most 256 requests at once); resolves with
 * the status and the parsed JSON body (undefined when empty).
 */
export function controlRequest(
  address: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 2_000,
): Promise<{ status: number; body: unknown }> {
  const [hostname, port] = address.split(":");
  const payload = body === undefined ? "" : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      hostname,
      port: Number(port),
      method,
      path,
      agent: false,
      headers: {
        "content-length": String(Buffer.byteLength(payload)),
        ...(payload ? { "content-type": "application/json" } : {}),
      },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => text += c);
      res.on("error", reject);
      res.on("end", () => {
        try {
          resolve({
            status: res.statusCode ?? 0,
            body: text === "" ? undefined : JSON.parse(text),
          });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.end(payload);
  });
}

function hasFlag(flags: readonly string[], name: string): boolean {
  return flags.some((f) => f === name || f.startsWith(`${name}=`));
}

/**
 * Starts a worker and resolves once `GET /status` answers 200; rejects (after
 * killing it) when it exits first or does not answer within the timeout.
 */
export async function startWorker(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const flags = [...options.flags];
  if (!hasFlag(flags, "--address")) flags.push("--address", `127.0.0.1:${await freePort()}`);
  if (!hasFlag(flags, "--control-address")) {
    flags.push("--control-address", `127.0.0.1:${await freePort()}`);
  }
  const valueOf = (name: string) => {
    const i = flags.lastIndexOf(name);
    return i >= 0 ? flags[i + 1] : flags.findLast((f) => f.startsWith(`${name}=`))!.split("=")[1];
  };
  const controlAddress = valueOf("--control-address");
  const peerAddress = valueOf("--address");
  const w = spawnWorker(flags, options.env);

  const status = async (): Promise<HostStatus> => {
    const r = await controlRequest(controlAddress, "GET", "/status");
    if (r.status !== 200) {
      throw new Error(`/status answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    return r.body as HostStatus;
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (w.exit) {
      throw new Error(
        `worker exited (${JSON.stringify(w.exit)}) before it was ready:\n${w.stderr}`,
      );
    }
    try {
      await status();
      break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await w.kill();
      throw new Error(`worker's /status did not answer within the timeout:\n${w.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    pid: w.pid,
    controlAddress,
    peerAddress,
    lines: w.lines,
    get stderr() {
      return w.stderr;
    },
    get exited() {
      return w.exit !== undefined;
    },
    status,
    async waitForStatus(predicate, timeoutMs = 10_000): Promise<HostStatus> {
      const until = Date.now() + timeoutMs;
      let last: HostStatus | undefined;
      while (Date.now() < until) {
        last = await status();
        if (predicate(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`/status never matched within ${timeoutMs} ms; last ${JSON.stringify(last)}`);
    },
    waitForLine: w.waitForLine,
    stop: w.stop,
    kill: w.kill,
  };
}

/** How a worker that was expected to give up ended. */
export interface RunResult {
  /** The exit status, or `null` when it was killed at the timeout. */
  code: number | null;
  stderr: string;
}

/**
 * Runs a worker until it exits by itself (a usage error or a definitive
 * rejection); kills it at `timeoutMs` and reports `code: null` then. Runs
 * asynchronously, so relays and servers in this process keep serving.
 */
export async function runToExit(
  flags: string[],
  env: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<RunResult> {
  const w = spawnWorker(flags, env);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void w.kill();
  }, timeoutMs);
  const exit = await w.exited;
  clearTimeout(timer);
  return { code: timedOut ? null : exit.code, stderr: w.stderr };
}
