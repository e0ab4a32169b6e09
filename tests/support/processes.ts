// Runs the project's entry points as real processes under Bun or Deno.
import { spawnSync } from "node:child_process";
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

/** Runs `script args` under `runtime` to completion. */
export function runScript(
  runtime: Runtime,
  script: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Result {
  const [cmd, pre] = commandFor(runtime, script);
  const r = spawnSync(cmd, [...pre, ...args], {
    cwd: options.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      NO_COLOR: "1",
      ...options.env,
    },
    timeout: options.timeoutMs ?? 60_000,
    encoding: "utf8",
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
