// Users import Francis by URL from Deno with no configuration of their own: `mod.ts` and
// everything it loads must resolve from plain HTTP, third-party modules as `npm:` specifiers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative, sep } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { tempDir } from "../support/tmp.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DENO = join(ROOT, "node_modules/.bin/deno");
const KAT_PSK = "francis-known-answer-test-psk-0001";
const KAT_PEM = await readFile(new URL("../fixtures/ca-kat.pem", import.meta.url), "utf8");
// The first run may download the npm packages into Deno's cache.
const TIMEOUT_MS = 60_000;

/** The file under ROOT that `urlPath` names, if it is a `.ts` file outside node_modules. */
function servable(urlPath: string): string | undefined {
  let path: string;
  try {
    path = join(ROOT, decodeURIComponent(urlPath));
  } catch {
    return undefined; // malformed percent-encoding
  }
  const inRepo = relative(ROOT, path);
  const parts = inRepo.split(sep);
  if (inRepo.startsWith("..") || parts.includes("node_modules") || !inRepo.endsWith(".ts")) {
    return undefined;
  }
  return path;
}

/** A read-only loopback server for the repository's `.ts` files. */
function serveRepo(): Server {
  return createServer(async (req, res) => {
    const path = req.method === "GET" || req.method === "HEAD"
      ? servable(new URL(req.url ?? "/", "http://127.0.0.1").pathname)
      : undefined;
    const body = path && await readFile(path).catch(() => undefined);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/typescript" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
}

let server: Server;
let origin: string;

beforeAll(async () => {
  server = serveRepo();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe("importing mod.ts by URL", () => {
  test("the test server serves only .ts files outside node_modules", async () => {
    const status = async (path: string) => (await fetch(`http://${origin}${path}`)).status;
    expect(await status("/mod.ts")).toBe(200);
    expect(await status("/lib/deps.ts")).toBe(200);
    expect(await status("/package.json")).toBe(404);
    expect(await status("/node_modules/pkijs/package.json")).toBe(404);
    expect(await status("/lib/missing.ts")).toBe(404);
    expect(await status("/..%2f..%2fetc%2fpasswd.ts")).toBe(404);
  });

  test("Deno with no config derives the known-answer CA from http://…/mod.ts", async () => {
    const dir = tempDir("francis-url-import-");
    const script = join(dir, "main.ts");
    await writeFile(
      script,
      `import { deriveCA } from "http://${origin}/mod.ts";\n` +
        `const ca = await deriveCA(${JSON.stringify(KAT_PSK)});\n` +
        `await Deno.stdout.write(new TextEncoder().encode(ca.certPem));\n`,
    );
    const { stdout, stderr, error } = await new Promise<
      { stdout: string; stderr: string; error: Error | null }
    >((resolve) =>
      execFile(
        DENO,
        ["run", "--no-config", `--allow-import=${origin}`, script],
        { cwd: dir, timeout: TIMEOUT_MS, env: { ...process.env, NO_COLOR: "1" } },
        (error, stdout, stderr) => resolve({ stdout, stderr, error }),
      )
    );
    if (error) throw new Error(`deno run failed: ${error.message}\n${stderr}`);
    expect(stdout).toBe(KAT_PEM);
  }, TIMEOUT_MS + 5_000);
});
