// `npm start`: the whole system on the embedded default, as a demo that checks
// itself. A runtime under Deno on a fresh SQLite file in a temporary folder, two
// workers under Bun pinned to the CA it prints, counters invoked through both
// workers (one activation), an alarm, and an outsider with a foreign-CA
// certificate refused. Exits 0 when every step passed; cleans up its processes.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { genPSK } from "../runtime/main.ts";
import { printCA, startRuntimeProcess } from "../tests/support/runtime_process.ts";
import {
  controlRequest,
  startWorker,
  type WorkerProcess,
} from "../tests/support/worker_process.ts";
import { BUN, ROOT } from "../tests/support/processes.ts";
import { tempDir } from "../tests/support/tmp.ts";

const results: { step: string; ok: boolean; detail: string }[] = [];
function record(step: string, ok: boolean, detail: string): void {
  results.push({ step, ok, detail });
  console.log(`${ok ? "PASS" : "FAIL"}  ${step}: ${detail}`);
}

// deno-lint-ignore no-explicit-any
type Json = any; // the demo reads fields of JSON answers it just asked for

function post(
  w: WorkerProcess,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  return controlRequest(w.controlAddress, "POST", path, body, 30_000) as Promise<
    { status: number; body: Json }
  >;
}

const dir = tempDir("francis-demo-");
const hostPSK = genPSK();
console.log(`Francis demo in ${dir}\n`);
const runtime = await startRuntimeProcess({
  dir,
  config: {
    runtimeId: "demo",
    runtimePSKs: [genPSK()],
    bootstrap: { method: "psk", hostPSK },
    provider: { connectionString: join(dir, "francis.sqlite") },
    healthCheckDeadline: "5s",
    alarmsPollInterval: "250ms",
  },
});
const workers: WorkerProcess[] = [];
let exitCode = 1;
try {
  const caPem = printCA(runtime.configPath);
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, caPem);
  record(
    "runtime",
    true,
    `under Deno at ${runtime.address}, SQLite ${join(dir, "francis.sqlite")}`,
  );
  for (let i = 0; i < 2; i++) {
    workers.push(
      await startWorker({
        flags: ["--runtime-address", runtime.address, "--pinned-ca", caFile],
        env: { FRANCIS_HOST_BOOTSTRAP_PSK: hostPSK },
      }),
    );
  }
  const [a, b] = workers;
  const [sa, sb] = [await a.status(), await b.status()];
  record(
    "workers",
    sa.hostId !== sb.hostId,
    `under Bun, pinned to the CA: ${sa.hostId}, ${sb.hostId}`,
  );

  const calls = await Promise.all(
    Array.from({ length: 40 }, (_, i) => post(i % 2 ? b : a, "/invoke/counter/demo/increment")),
  );
  const counts = calls.map((c) => c.body?.count).sort((x, y) => x - y);
  const exact = counts.every((c, i) => c === i + 1);
  const [ga, gb] = [
    await post(a, "/invoke/counter/demo/get"),
    await post(b, "/invoke/counter/demo/get"),
  ];
  record(
    "single activation",
    exact && ga.body.count === 40 && ga.body.hostId === gb.body.hostId,
    `40 concurrent increments through both workers -> count ${ga.body.count}, ` +
      `both see it on ${ga.body.hostId}`,
  );

  await post(a, "/invoke/counter/alarm-demo/schedule", { name: "tick", dueInMs: 300 });
  let fired = 0;
  for (let i = 0; i < 40 && fired === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    fired = (await post(b, "/invoke/counter/alarm-demo/get")).body.count;
  }
  record("alarm", fired === 1, `a one-shot alarm due in 300 ms fired ${fired} time(s)`);

  const target = ga.body.hostId === sa.hostId ? a : b;
  const probe = spawnSync(BUN, [
    `${ROOT}scripts/outsider.ts`,
    target.peerAddress,
    ga.body.hostId,
    runtime.address,
    caFile,
  ], { cwd: ROOT, encoding: "utf8" });
  const seen = JSON.parse(probe.stdout.trim().split("\n").pop() ?? "{}");
  record(
    "outsider refused",
    seen.peer === "ERR_UNREACHABLE" && seen.runtime === "HTTP 401 ERR_CERT_UNTRUSTED_CA",
    `a process with a foreign-CA certificate: peer port ${seen.peer} (no TLS session), ` +
      `runtime ${seen.runtime}`,
  );
  exitCode = results.every((r) => r.ok) ? 0 : 1;
} catch (err) {
  record("demo", false, String(err));
} finally {
  for (const w of workers) await w.stop().catch(() => w.kill());
  await runtime.stop().catch(() => runtime.kill());
  rmSync(dir, { recursive: true, force: true });
}
const passed = results.filter((r) => r.ok).length;
console.log(`\n${passed} of ${results.length} steps passed; processes stopped, ${dir} removed.`);
process.exit(exitCode);
