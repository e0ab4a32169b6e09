// mtls_echo, invoke_cross_host and handshakes_per_1k_invokes: the actor plane's
// host-to-host cost against a bare mTLS echo, same client runtime (Bun), same
// concurrency, servers in their own Bun processes.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { silentLogger } from "../../lib/log.ts";
import { TrustStore } from "../../lib/pki/verify.ts";
import { MtlsClient } from "../../lib/transport/client.ts";
import { RemoteHost } from "../../worker/host.ts";
import { BUN, ROOT } from "../support/processes.ts";
import { printCA, startRuntimeProcess } from "../support/runtime_process.ts";
import { tempDir } from "../support/tmp.ts";
import { startWorker } from "../support/worker_process.ts";
import type { Row } from "./harness.ts";

const CONCURRENCY = 16;
const SECONDS = 3;

/** Calls `fn` from `concurrency` loops for `seconds` (after a 1 s warm-up); returns calls/s. */
async function concurrentRate(fn: (loop: number) => Promise<unknown>, seconds: number) {
  const run = async (ms: number) => {
    const end = performance.now() + ms;
    let calls = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, loop) => {
      while (performance.now() < end) {
        await fn(loop);
        calls++;
      }
    }));
    return calls;
  };
  await run(1_000);
  const t0 = performance.now();
  const calls = await run(seconds * 1000);
  return { rate: calls / ((performance.now() - t0) / 1000), calls };
}

async function echoBaseline(): Promise<number> {
  const child = spawn(BUN, [`${ROOT}tests/bench/echo_server.ts`], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const line = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout! }).once("line", resolve)
    );
    const { port, client, caPem } = JSON.parse(line);
    const mtls = new MtlsClient({
      identity: client,
      trust: await TrustStore.fromPem(caPem),
      maxSockets: CONCURRENCY,
    });
    const { rate } = await concurrentRate(
      (i) =>
        mtls.request(`127.0.0.1:${port}`, {
          method: "POST",
          path: "/echo",
          body: { i },
          expect: { kind: "host", id: "echo" },
        }),
      SECONDS,
    );
    mtls.close();
    return rate;
  } finally {
    child.kill("SIGKILL");
  }
}

/** The three rows. */
export async function benchActors(): Promise<Row[]> {
  const echo = await echoBaseline();
  const HOST_PSK = "bench-actors-host-psk-001";
  const runtime = await startRuntimeProcess({
    config: {
      runtimePSKs: ["bench-actors-runtime-psk-000000000000000001"],
      bootstrap: { method: "psk", hostPSK: HOST_PSK },
      provider: { connectionString: "memory" },
    },
  });
  const dir = tempDir("francis-bench-");
  const pin = join(dir, "ca.pem");
  writeFileSync(pin, printCA(runtime.configPath));
  const worker = await startWorker({
    flags: ["--runtime-address", runtime.address, "--pinned-ca", pin],
    env: { FRANCIS_HOST_BOOTSTRAP_PSK: HOST_PSK },
  });
  // The caller is a host in this process with no actor types of its own, so every
  // echo actor is placed on the worker and every call crosses hosts.
  const caller = new RemoteHost({
    runtimeAddresses: [runtime.address],
    hostBootstrapPSK: HOST_PSK,
    pinnedCA: printCA(runtime.configPath),
    logger: silentLogger,
  });
  try {
    await caller.start();
    const invoke = (loop: number) => caller.service.invoke("echo", `e${loop}`, "echo", { loop });
    const handshakesBefore = caller.peerHandshakes;
    const { rate, calls } = await concurrentRate(invoke, SECONDS);
    const handshakes = caller.peerHandshakes - handshakesBefore;
    return [
      { name: "mtls_echo", value: Math.round(echo), unit: "req/s" },
      {
        name: "invoke_cross_host",
        value: Math.round(rate),
        unit: "req/s",
        baseline: Math.round(echo),
        ratio: Math.round(rate / echo * 10_000) / 10_000,
      },
      {
        name: "handshakes_per_1k_invokes",
        value: Math.round(handshakes / calls * 1000 * 1000) / 1000,
        unit: "handshakes",
      },
    ];
  } finally {
    await caller.stop();
    await worker.kill();
    await runtime.kill();
  }
}
