// Host IDs share one table in the store: an outsider (another PSK) started with
// the ID of a live cluster host must not take over its entry (the cluster's
// actors on that host would become unreachable).
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type LocalHostProcess, OUTSIDER_PSKS, startLocalHost } from "../support/local.ts";
import { SLOW } from "../support/cluster.ts";
import { tempDir } from "../support/tmp.ts";
import { runToExit } from "../support/worker_process.ts";

describe("a host ID already used by a live host of another cluster", () => {
  let host: LocalHostProcess | undefined;
  afterAll(async () => {
    await host?.kill();
  });

  test("is refused, and the cluster host keeps serving", async () => {
    const dbPath = join(tempDir("francis-hostid-"), "francis.sqlite");
    host = await startLocalHost({
      dbPath,
      flags: ["--host-id", "h-shared", "--health-check-deadline", "5s"],
    });
    const r = await runToExit(
      ["--topology", "local", "--connection-string", dbPath, "--host-id", "h-shared"],
      { FRANCIS_RUNTIME_PSKS: OUTSIDER_PSKS.join(",") },
      15_000,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Host ID h-shared is in use by a live host of another cluster");
    expect((await host.status()).hostId).toBe("h-shared");
  }, SLOW);
});
