// A process outside the cluster: it holds a certificate of a CA derived from a
// PSK of its own, and tries to invoke an actor on a worker's peer port and to
// read its registration at the runtime. Prints one JSON line with what happened.
import { readFileSync } from "node:fs";
import { deriveCA } from "../lib/pki/ca.ts";
import { generateEd25519KeyPair, privateKeyToPem, rawPublicKey } from "../lib/pki/ed25519.ts";
import { issueWorkloadCert } from "../lib/pki/issue.ts";
import { TrustStore } from "../lib/pki/verify.ts";
import { FrancisError } from "../lib/errors.ts";
import { MtlsClient } from "../lib/transport/client.ts";
import { PeerRoutes, Routes } from "../lib/protocol/wire.ts";
import { genPSK } from "../runtime/main.ts";

const [peerAddress, peerHostId, runtimeAddress, caFile] = process.argv.slice(2);
const foreign = await deriveCA(genPSK());
const keys = await generateEd25519KeyPair(true);
const cert = await issueWorkloadCert({
  ca: foreign,
  spiffeId: "spiffe://francis/host/outsider",
  publicKey: await rawPublicKey(keys.publicKey),
});
const client = new MtlsClient({
  identity: { certPem: cert.certPem, keyPem: await privateKeyToPem(keys.privateKey) },
  trust: await TrustStore.fromPem(readFileSync(caFile, "utf8")),
  timeoutMs: 5_000,
});
const outcome = async (p: Promise<{ status: number; body: unknown }>) => {
  try {
    const r = await p;
    const code = (r.body as { error?: { code?: string } })?.error?.code;
    return `HTTP ${r.status}${code ? ` ${code}` : ""}`;
  } catch (err) {
    return err instanceof FrancisError ? err.code : String(err);
  }
};
const peer = await outcome(client.request(peerAddress, {
  method: "POST",
  path: PeerRoutes.invoke,
  body: {
    requestId: "outsider-request-0001",
    actorType: "counter",
    actorId: "demo",
    method: "increment",
  },
  expect: { kind: "host", id: peerHostId },
}));
const runtime = await outcome(client.request(runtimeAddress, {
  method: "GET",
  path: Routes.self,
  expect: { kind: "runtime" },
}));
client.close();
console.log(JSON.stringify({ peer, runtime }));
