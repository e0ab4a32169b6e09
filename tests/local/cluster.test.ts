// The local topology end to end, as real processes: two hosts under Bun
// (`worker/main.ts --topology local`) on one SQLite file, no runtime. Each
// derives the CAs from the runtime PSKs, issues its own certificate and runs
// placement, alarms and the health sweep over the shared file. Then a third
// host with another PSK on the same file: an outsider, refused by the cluster's
// peer ports and kept apart in the store.
import { describe, expect, test } from "bun:test";
import { deriveCA, deriveCABundle } from "../../lib/pki/ca.ts";
import { TrustStore, verifyPeerChain } from "../../lib/pki/verify.ts";
import { PeerRoutes } from "../../lib/protocol/wire.ts";
import { MtlsClient } from "../../lib/transport/client.ts";
import {
  after,
  before,
  call,
  type CounterView,
  type ErrorAnswer,
  get,
  invoke,
  openDb,
  sleep,
  SLOW,
  waitFor,
} from "../support/cluster.ts";
import {
  CLUSTER_PSKS,
  LOCAL_ALARM_POLL_MS,
  type LocalHostProcess,
  OUTSIDER_PSKS,
  presentedCertificate,
  printCAFor,
  rowsAbout,
  startLocalHost,
  startLocalHosts,
  storedAlarms,
  storedLocalCount,
} from "../support/local.ts";
import { mintIdentity } from "../support/pki.ts";
import { tempDir } from "../support/tmp.ts";

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => new Error("expected a rejection"), (err) => err);
}

/** Long enough for any cluster host to lease and deliver an alarm that is due again. */
const QUIET_MS = 2 * LOCAL_ALARM_POLL_MS + 500;

describe("two local hosts on one SQLite file", () => {
  let dir: string;
  let dbPath: string;
  let a: LocalHostProcess;
  let b: LocalHostProcess;

  before(async () => {
    dir = tempDir("francis-local-");
    dbPath = `${dir}/francis.sqlite`;
    [a, b] = await startLocalHosts(2, { dbPath });
  }, SLOW);

  after(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
  }, SLOW);

  test("both hosts share one namespace and report the local topology", async () => {
    expect(a.hostId).not.toBe(b.hostId);
    expect(a.namespace).toMatch(/^\S+$/);
    expect(b.namespace).toBe(a.namespace);
    const primary = (await deriveCA(CLUSTER_PSKS[0])).fingerprint;
    expect(a.caFingerprint).toBe(primary);
    expect(b.caFingerprint).toBe(primary);
    for (const h of [a, b]) {
      expect(await h.status()).toMatchObject({
        hostId: h.hostId,
        spiffeId: `spiffe://francis/host/${h.hostId}`,
        runtime: "local",
      });
    }
  }, SLOW);

  test(
    "60 concurrent increments of one actor, half through each host, end at exactly 60",
    async () => {
      const id = "hot";
      const answers = await Promise.all(
        range(1, 60).map((i) => call<{ count: number }>(i % 2 ? a : b, id, "increment")),
      );
      // Every increment ran alone: each saw a different count, none was lost.
      expect(answers.map((r) => r.count).sort((x, y) => x - y)).toEqual(range(1, 60));
      const viaA = await get(a, id);
      const viaB = await get(b, id);
      expect(viaA.count).toBe(60);
      expect(viaB).toEqual(viaA); // one activation: the same host answers through both
      expect([a.hostId, b.hostId]).toContain(viaA.hostId);
      // In the shared file, under the cluster's namespace.
      expect(storedLocalCount(dbPath, a.namespace, id)).toBe(60);
      expect(rowsAbout(dbPath, id).sort()).toEqual([
        `actor_state ${a.namespace}/counter`,
        `placements ${a.namespace}/counter`,
      ]);
    },
    SLOW,
  );

  test("each host's certificate chains to print-ca's CA and names its host ID", async () => {
    // What `runtime/main.ts print-ca` prints for these PSKs, and the same derived here.
    const clusterCAPem = printCAFor(dir, CLUSTER_PSKS);
    expect(clusterCAPem).toBe((await deriveCABundle([...CLUSTER_PSKS])).pem);
    const printed = await TrustStore.fromPem(clusterCAPem);
    expect(printed.anchors).toHaveLength(2);
    const primary = await deriveCA(CLUSTER_PSKS[0]);
    const outsiderTrust = await TrustStore.fromCAs([await deriveCA(OUTSIDER_PSKS[0])]);
    // A certificate to show the peer ports (they take no connection without one).
    const caller = await mintIdentity(primary, "spiffe://francis/host/h-cert-reader");

    for (const [host, other] of [[a, b], [b, a]]) {
      const status = await host.status();
      const der = await presentedCertificate(host.peerAddress, caller);
      const peer = await verifyPeerChain([der], printed, { kind: "host", id: status.hostId });
      expect(peer).toMatchObject({
        kind: "host",
        id: status.hostId,
        spiffeId: `spiffe://francis/host/${status.hostId}`,
        // Self-issued from the primary CA, not the previous one.
        issuerFingerprint: primary.fingerprint,
      });
      expect(peer.notAfter.toISOString()).toBe(status.certNotAfter);
      // A short lifetime: the default 1 h (notAfter is whole seconds).
      const ttl = peer.notAfter.getTime() - Date.now();
      expect(ttl).toBeGreaterThan(55 * 60_000);
      expect(ttl).toBeLessThanOrEqual(60 * 60_000);
      // It names exactly this host: not the other one, and no other cluster's CA made it.
      expect(
        await rejection(verifyPeerChain([der], printed, { kind: "host", id: other.hostId })),
      ).toMatchObject({ code: "ERR_CERT_WRONG_IDENTITY" });
      expect(await rejection(verifyPeerChain([der], printed, { kind: "runtime" }))).toMatchObject({
        code: "ERR_CERT_WRONG_IDENTITY_KIND",
      });
      expect(
        await rejection(verifyPeerChain([der], outsiderTrust, { kind: "host", id: host.hostId })),
      ).toMatchObject({ code: "ERR_CERT_UNTRUSTED_CA" });

      // And over MtlsClient pinned to print-ca's bundle, the host answers as itself.
      const client = new MtlsClient({ identity: caller, trust: printed, timeoutMs: 5_000 });
      try {
        const r = await client.request(host.peerAddress, {
          method: "GET",
          path: PeerRoutes.ping,
          expect: { kind: "host", id: status.hostId },
        });
        expect(r.status).toBe(200);
        expect(r.body).toEqual({
          hostId: status.hostId,
          caller: "spiffe://francis/host/h-cert-reader",
        });
        expect(r.serverCertDer).toEqual(der);
      } finally {
        client.close();
      }
    }
  }, SLOW);

  describe("with an outsider (another PSK) on the same file", () => {
    const id = "shared";
    let outsider: LocalHostProcess;
    let clusterView: CounterView;
    const clients: MtlsClient[] = [];

    before(async () => {
      // The cluster's counter has a value and a placement before the outsider comes.
      for (let i = 1; i <= 5; i++) {
        expect(await call(i % 2 ? a : b, id, "increment")).toEqual({ count: i });
      }
      clusterView = await get(a, id);
      outsider = await startLocalHost({ dbPath, psks: OUTSIDER_PSKS });
    }, SLOW);

    after(async () => {
      for (const c of clients) c.close();
      await outsider?.kill();
    }, SLOW);

    test("it gets a namespace of its own in the store", () => {
      expect(outsider.namespace).toMatch(/^\S+$/);
      expect(outsider.namespace).not.toBe(a.namespace);
      expect([a.hostId, b.hostId]).not.toContain(outsider.hostId);
      return Promise.resolve();
    }, SLOW);

    test(
      "a certificate of the outsider's CA is refused at TLS by both cluster hosts: ERR_UNREACHABLE",
      async () => {
        const outsiderCA = await deriveCA(OUTSIDER_PSKS[0]);
        const clusterCA = await deriveCA(CLUSTER_PSKS[0]);
        // The caller trusts the cluster's CAs, so only the server side can refuse.
        const trust = await TrustStore.fromPem((await deriveCABundle([...CLUSTER_PSKS])).pem);
        const client = (identity: { certPem: string; keyPem: string }) => {
          const c = new MtlsClient({ identity, trust, timeoutMs: 5_000 });
          clients.push(c);
          return c;
        };
        // The outsider's own host identity, as its CA issues it.
        const foreign = client(
          await mintIdentity(outsiderCA, `spiffe://francis/host/${outsider.hostId}`),
        );
        // The control case: the same name from the cluster's CA is answered.
        const member = client(
          await mintIdentity(clusterCA, `spiffe://francis/host/${outsider.hostId}`),
        );
        const owner = clusterView.hostId === a.hostId ? a : b;
        for (const host of [a, b]) {
          const expect_ = { kind: "host" as const, id: host.hostId };
          const ok = await member.request(host.peerAddress, {
            method: "GET",
            path: PeerRoutes.ping,
            expect: expect_,
          });
          expect(ok.status).toBe(200);
          expect(
            await rejection(
              foreign.request(host.peerAddress, {
                method: "GET",
                path: PeerRoutes.ping,
                expect: expect_,
              }),
            ),
          ).toMatchObject({ code: "ERR_UNREACHABLE" });
        }
        expect(
          await rejection(
            foreign.request(owner.peerAddress, {
              method: "POST",
              path: PeerRoutes.invoke,
              body: {
                requestId: "outsider-invoke-000000000001",
                actorType: "counter",
                actorId: id,
                method: "increment",
              },
              expect: { kind: "host", id: owner.hostId },
            }),
          ),
        ).toMatchObject({ code: "ERR_UNREACHABLE" });
        // Nothing ran.
        expect(await get(a, id)).toEqual(clusterView);
        expect(storedLocalCount(dbPath, a.namespace, id)).toBe(5);
      },
      SLOW,
    );

    test(
      "the outsider's own actor of the same ID is separate, and the cluster's keeps its value and placement",
      async () => {
        for (let i = 1; i <= 3; i++) {
          expect(await call(outsider, id, "increment")).toEqual({ count: i });
        }
        expect(await get(outsider, id)).toEqual({ count: 3, hostId: outsider.hostId });
        // For a few health rounds and sweeps, through both cluster hosts: the same answer.
        const until = Date.now() + 2 * LOCAL_ALARM_POLL_MS;
        do {
          expect(await get(a, id)).toEqual(clusterView);
          expect(await get(b, id)).toEqual(clusterView);
          await sleep(200);
        } while (Date.now() < until);
        expect([a.hostId, b.hostId]).toContain(clusterView.hostId);
        expect(clusterView.count).toBe(5);
        expect(storedLocalCount(dbPath, a.namespace, id)).toBe(5);
        expect(storedLocalCount(dbPath, outsider.namespace, id)).toBe(3);
        expect(await get(outsider, id)).toEqual({ count: 3, hostId: outsider.hostId });
      },
      SLOW,
    );

    test(
      "an alarm of the cluster fires once on the cluster, the outsider's once on the outsider",
      async () => {
        const setAt = Date.now();
        expect(await call(b, id, "schedule", { name: "tick", dueInMs: 300 })).toEqual({
          scheduled: "tick",
        });
        expect(await call(outsider, id, "schedule", { name: "tick", dueInMs: 300 })).toEqual({
          scheduled: "tick",
        });
        expect(storedAlarms(dbPath, id)).toEqual(
          [`${a.namespace}/counter tick`, `${outsider.namespace}/counter tick`].sort(),
        );
        await waitFor(
          "both alarms to fire",
          async () => (await get(a, id)).count >= 6 && (await get(outsider, id)).count >= 4,
          10_000,
          100,
        );
        expect(Date.now() - setAt).toBeLessThan(300 + LOCAL_ALARM_POLL_MS + 3_000);
        await waitFor(
          "the alarms to leave the store",
          () => storedAlarms(dbPath, id).length === 0,
          5_000,
        );
        await sleep(QUIET_MS);
        // Exactly once each, on its own side; the cluster's actor stayed where it was.
        expect(await get(a, id)).toEqual({ count: 6, hostId: clusterView.hostId });
        expect(await get(b, id)).toEqual({ count: 6, hostId: clusterView.hostId });
        expect(await get(outsider, id)).toEqual({ count: 4, hostId: outsider.hostId });
        expect(storedLocalCount(dbPath, a.namespace, id)).toBe(6);
        expect(storedLocalCount(dbPath, outsider.namespace, id)).toBe(4);
      },
      SLOW,
    );

    test(
      "the outsider pointed at a cluster host by the store still cannot invoke there",
      async () => {
        // Place an actor of the outsider's namespace on a cluster host by hand:
        // the outsider resolves it to that host's address, and its call must be
        // refused at TLS (each side's CA is unknown to the other) and run nowhere.
        const lured = "lured";
        const db = openDb(dbPath);
        try {
          db.prepare("INSERT INTO placements (actor_type, actor_id, host_id) VALUES (?, ?, ?)")
            .run(`${outsider.namespace}/counter`, lured, a.hostId);
        } finally {
          db.close();
        }
        const r = await invoke<ErrorAnswer>(outsider, "counter", lured, "increment");
        // The outsider's caller trusts only its own CA: it refuses the cluster host's
        // certificate before sending anything (and the cluster host would refuse its).
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe("ERR_CERT_UNTRUSTED_CA");
        // It ran nowhere: the counter writes its state on every increment, and none was written.
        expect(rowsAbout(dbPath, lured)).toEqual([`placements ${outsider.namespace}/counter`]);
        expect(await get(a, id)).toEqual({ count: 6, hostId: clusterView.hostId });
      },
      SLOW,
    );
  });
});
