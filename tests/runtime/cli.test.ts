import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { deriveCABundle } from "../../lib/pki/ca.ts";
import { parseRuntimeConfig } from "../../lib/config/mod.ts";
import { runScript, type Runtime } from "../support/processes.ts";
import { tempDir } from "../support/tmp.ts";

const MAIN = "runtime/main.ts";
const PSK_A = "cli-test-primary-runtime-psk-000000001";
const PSK_B = "cli-test-previous-runtime-psk-00000002";
const dir = tempDir();
const yamlPath = join(dir, "runtime.yaml");
writeFileSync(
  yamlPath,
  `runtimePSKs:\n  - \${PSK_A}\n  - ${PSK_B}\nbootstrap:\n  hostPSK: cli-test-host-psk-0001\n`,
);
const env = { PSK_A };
const expected = (await deriveCABundle([PSK_A, PSK_B])).pem;
const runtimes: Runtime[] = ["deno", "bun"];

describe("print-ca", () => {
  for (const runtime of runtimes) {
    test(`prints every CA, primary first, under ${runtime}`, () => {
      const r = runScript(runtime, MAIN, ["print-ca", "-config", yamlPath], { env });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(expected);
    });
  }

  test("is byte-identical across runs, runtimes and flag spellings", () => {
    const outputs = [
      runScript("deno", MAIN, ["print-ca", "--config", yamlPath], { env }).stdout,
      runScript("deno", MAIN, [`--config=${yamlPath}`, "print-ca"], { env }).stdout,
      runScript("bun", MAIN, ["-config", yamlPath, "print-ca"], { env }).stdout,
      runScript("bun", MAIN, ["print-ca"], { env: { ...env, FRANCIS_CONFIG: yamlPath } }).stdout,
    ];
    for (const out of outputs) expect(out).toBe(expected);
  });

  test("finds config.json in the working directory", () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, "config.json"),
      JSON.stringify({ runtimePSKs: [PSK_B], bootstrap: { hostPSK: "cli-test-host-psk-0001" } }),
    );
    const r = runScript("deno", MAIN, ["print-ca"], { cwd });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected.slice(expected.indexOf("-----BEGIN", 10)));
  });
});

describe("gen-psk", () => {
  test("prints a fresh 256-bit base64url PSK that the config accepts", () => {
    const a = runScript("bun", MAIN, ["gen-psk"]);
    const b = runScript("deno", MAIN, ["gen-psk"]);
    expect(a.status).toBe(0);
    expect(a.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(b.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(a.stdout).not.toBe(b.stdout);
    const psk = a.stdout.trim();
    const config = parseRuntimeConfig(
      JSON.stringify({ runtimePSKs: [psk], bootstrap: { hostPSK: psk } }),
      { path: "c.json" },
      {},
    );
    expect(config.runtimePSKs).toEqual([psk]);
  });
});

describe("failures and usage errors", () => {
  function failure(args: string[], extraEnv: Record<string, string> = {}) {
    return runScript("deno", MAIN, args, { env: { ...env, ...extraEnv }, cwd: dir });
  }

  test("an unknown command exits 2 with usage", () => {
    const r = failure(["launch"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Unknown command "launch"');
    expect(r.stderr).toContain("Usage:");
  });

  test("-config without a file exits 2", () => {
    const r = failure(["print-ca", "-config"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("-config");
  });

  test("an unknown flag exits 2", () => {
    expect(failure(["print-ca", "--verbose"]).status).toBe(2);
  });

  test("a missing config file exits 1 with one line naming it", () => {
    const r = failure(["print-ca", "-config", join(dir, "nope.yaml")]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("nope.yaml does not exist");
  });

  test("a short runtime PSK exits 1 and says at least 32 bytes", () => {
    const path = join(dir, "short.yaml");
    writeFileSync(
      path,
      "runtimePSKs: [too-short]\nbootstrap:\n  hostPSK: cli-test-host-psk-0001\n",
    );
    const r = failure(["print-ca", "-config", path]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("runtimePSKs[0]");
    expect(r.stderr).toContain("at least 32 bytes");
  });

  test("an unset environment variable exits 1 and names it", () => {
    const r = runScript("bun", MAIN, ["print-ca", "-config", yamlPath]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("PSK_A");
    expect(r.stderr).toContain("ERR_CONFIG_ENV_UNSET");
  });

  test("several problems are reported on one line", () => {
    const path = join(dir, "bad.yaml");
    writeFileSync(path, "runtimePSKs: [too-short]\nbogus: 1\nbootstrap:\n  hostPSK: x\n");
    const r = failure(["print-ca", "-config", path]);
    expect(r.status).toBe(1);
    const line = r.stderr.trim();
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toContain("bogus");
    expect(line).toContain("bootstrap.hostPSK");
  });
});
