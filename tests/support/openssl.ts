// Runs the system `openssl` as an independent second opinion on what we build.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./tmp.ts";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Uint8Array;
}

/** Runs openssl with `args` in `cwd`; `input` goes to stdin. */
export function openssl(args: string[], cwd: string, input?: Uint8Array | string): Run {
  const r = spawnSync("openssl", args, { cwd, input });
  return {
    code: r.status ?? -1,
    stdout: r.stdout?.toString() ?? "",
    stderr: r.stderr?.toString() ?? "",
    bytes: new Uint8Array(r.stdout ?? []),
  };
}

/** A temp folder holding the given files. */
export function filesIn(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir("francis-openssl-");
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
