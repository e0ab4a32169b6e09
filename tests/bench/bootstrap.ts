// bootstrap_psk_*: 100 workers' clients bootstrapping at once against one
// runtime process under Deno, each on its own TLS connection, as a fleet does
// when it starts together.
import { deriveBootstrapKeys } from "../../lib/bootstrap/mod.ts";
import { TrustStore } from "../../lib/pki/verify.ts";
import { RuntimeClient } from "../../worker/runtime_client.ts";
import { printCA, startRuntimeProcess } from "../support/runtime_process.ts";
import type { Row } from "./harness.ts";

const HOST_PSK = "bench-host-bootstrap-psk-000001";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
}

/** Runs `workers` concurrent PSK bootstraps and returns the p50/p99/failure rows. */
export async function benchBootstrap(workers = 100): Promise<Row[]> {
  const runtime = await startRuntimeProcess({
    config: {
      runtimeId: "bench",
      runtimePSKs: ["bench-runtime-psk-0000000000000000000001"],
      bootstrap: { method: "psk", hostPSK: HOST_PSK },
      provider: { connectionString: "memory" },
    },
  });
  try {
    const pinned = await TrustStore.fromPem(printCA(runtime.configPath));
    const keys = await deriveBootstrapKeys(HOST_PSK);
    const latencies: number[] = [];
    let failures = 0;
    await Promise.all(Array.from({ length: workers }, async () => {
      const client = new RuntimeClient([runtime.address], pinned);
      const t0 = performance.now();
      try {
        await client.bootstrap({ method: "psk", keys }, { actorTypes: [] });
        latencies.push(performance.now() - t0);
      } catch {
        failures++;
      } finally {
        client.close();
      }
    }));
    latencies.sort((a, b) => a - b);
    const ms = (v: number) => Math.round(v * 10) / 10;
    return [
      { name: "bootstrap_psk_p50", value: ms(percentile(latencies, 50) ?? NaN), unit: "ms" },
      { name: "bootstrap_psk_p99", value: ms(percentile(latencies, 99) ?? NaN), unit: "ms" },
      { name: "bootstrap_psk_failures", value: failures, unit: "count" },
    ];
  } finally {
    await runtime.stop();
  }
}
