// Runs the project's entry points as real processes under Bun or Deno: to
// completion (runScript), or in the background with their stderr read line by
// line (spawnLogged, spawnScript). Background processes still running when the
// test process exits are killed.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BUN = `${ROOT}node_modules/.bin/bun`;
export const DENO = `${ROOT}node_modules/.bin/deno`;

export type Runtime = "bun" | "deno";

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** The command line that runs `script` (relative to the repo root) under `runtime`. */
export function commandFor(runtime: Runtime, script: string): [string, string[]] {
  const path = `${ROOT}${script}`;
  return runtime === "bun" ? [BUN, [path]] : [DENO, [
    "run",
    "--quiet",
    "--allow-read",
    "--allow-env",
    "--allow-net",
    "--allow-write",
    path,
  ]];
}

/** A child's whole environment: PATH, HOME and NO_COLOR, plus `extra` (nothing else is inherited). */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    NO_COLOR: "1",
    ...extra,
  };
}

/** How to start a process. */
export interface SpawnOptions {
  /** Extra environment variables (see childEnv). */
  env?: Record<string, string>;
  /** The working directory (default: the repo root, where Bun finds bunfig.toml). */
  cwd?: string;
}

/** Runs `script args` under `runtime` to completion. */
export function runScript(
  runtime: Runtime,
  script: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Result {
  const [cmd, pre] = commandFor(runtime, script);
  const r = spawnSync(cmd, [...pre, ...args], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    timeout: options.timeoutMs ?? 60_000,
    encoding: "utf8",
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

// --- Background processes -----------------------------------------------------

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: string | null;
}

/** A process running in the background, its stderr read as it comes. */
export interface LoggedProcess {
  /** The process ID. */
  readonly pid: number;
  /** Every complete stderr line so far (and, once it has exited, a last unterminated one). */
  readonly lines: readonly string[];
  /** The whole stderr so far. */
  readonly stderr: string;
  /** How it ended, once it has. */
  readonly exit: Exit | undefined;
  /** Resolves with how it ended, once its stderr has been read to the end. */
  readonly exited: Promise<Exit>;
  /**
   * Resolves with the first stderr line matching `pattern`, or rejects (with the
   * last lines of stderr) after `timeoutMs` or when the process exits first.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM; resolves with how it exited, or SIGKILLs it and throws after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<Exit>;
  /** SIGKILL; resolves once it is gone. */
  kill(): Promise<Exit>;
}

const running = new Set<ChildProcess>();
/** Kills every child this process started and has not seen exit (bun test calls it after all). */
export function killAll(): void {
  for (const child of running) signal(child, "SIGKILL");
  running.clear();
}
process.on("exit", killAll);
globalThis.addEventListener?.("unload", killAll);

// process.kill by pid rather than child.kill(): Deno's child.kill() closes the
// child's pipes and then reports the signal it sent as the cause of exit, even
// when the child handled it and exited 0.
function signal(child: ChildProcess, name: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(child.pid!, name);
  } catch {
    // already gone
  }
}

/**
 * Starts `command args` in the background with stdin and stdout ignored and
 * stderr collected line by line. `name` (e.g. "runtime") labels its errors.
 */
export function spawnLogged(
  command: string,
  args: string[],
  options: SpawnOptions & { name?: string } = {},
): LoggedProcess {
  const name = options.name ?? command;
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);

  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let all = "";
  let partial = "";
  const addLine = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    all += chunk;
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const line of parts) addLine(line);
  });
  const tail = () => [...lines, partial].slice(-20).join("\n");

  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    // "close", not "exit": every stderr line has been read by then.
    child.once("close", (code, sig) => {
      running.delete(child);
      if (partial !== "") addLine(partial);
      partial = "";
      exit = { code, signal: sig };
      resolve(exit);
    });
  });

  const waitForLine = (pattern: RegExp, timeoutMs = 5_000): Promise<string> => {
    const seen = lines.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const waiter = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(
          new Error(`no ${name} stderr line matched ${pattern} within ${timeoutMs} ms:\n${tail()}`),
        );
      }, timeoutMs);
      waiters.push(waiter);
      exited.then(() => {
        if (!waiters.includes(waiter)) return;
        waiters.splice(waiters.indexOf(waiter), 1);
        clearTimeout(timer);
        reject(new Error(`${name} exited (${JSON.stringify(exit)}) before ${pattern}:\n${tail()}`));
      });
    });
  };

  const kill = async (): Promise<Exit> => {
    if (exit) return exit;
    signal(child, "SIGKILL");
    return await exited;
  };

  return {
    pid: child.pid!,
    lines,
    get stderr() {
      return all;
    },
    get exit() {
      return exit;
    },
    exited,
    waitForLine,
    async stop(timeoutMs = 5_000): Promise<Exit> {
      if (exit) return exit;
      signal(child, "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) =>
        timer = setTimeout(() => resolve("late"), timeoutMs)
      );
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome === "late") {
        await kill();
        throw new Error(`${name} did not exit within ${timeoutMs} ms of SIGTERM:\n${tail()}`);
      }
      return outcome;
    },
    kill,
  };
}

/** Starts `script args` under `runtime` in the background (see spawnLogged). */
export function spawnScript(
  runtime: Runtime,
  script: string,
  args: string[],
  options: SpawnOptions & { name?: string } = {},
): LoggedProcess {
  const [cmd, pre] = commandFor(runtime, script);
  return spawnLogged(cmd, [...pre, ...args], { name: script, ...options });
}
