// Benchmarks, one JSON line per row (`npm run bench`): compare ratios within one run,
// not absolute figures across machines.
import { deriveCA } from "../../lib/pki/ca.ts";
import { createCSR, verifyCSR } from "../../lib/pki/csr.ts";
import { generateEd25519KeyPair } from "../../lib/pki/ed25519.ts";
import { issueWorkloadCert, type WorkloadCert } from "../../lib/pki/issue.ts";
import process from "node:process";
import { benchActors } from "./actors.ts";
import { benchBootstrap } from "./bootstrap.ts";
import { measure, relativeTo, report } from "./harness.ts";

const SECONDS = 2;
const PSK = "francis-benchmark-runtime-psk-0123456789";
const SPIFFE_ID = "spiffe://francis/host/bench";

const ca = await deriveCA(PSK);
const csr = await createCSR(await generateEd25519KeyPair(false));

// What the runtime does per bootstrap or renewal: check proof of possession, then sign.
async function issueFromCSR(): Promise<WorkloadCert> {
  const { publicKey } = await verifyCSR(csr);
  return await issueWorkloadCert({ ca, spiffeId: SPIFFE_ID, publicKey });
}

// The floor under issuance: one Ed25519 signature over a certificate-sized message.
const message = (await issueFromCSR()).certDer;
const sign = await measure(
  "ed25519_sign",
  () => crypto.subtle.sign("Ed25519", ca.privateKey, message),
  SECONDS,
  "signs/s",
);
report(relativeTo(await measure("issue_cert", issueFromCSR, SECONDS, "certs/s"), sign));
report(await measure("ca_derive", () => deriveCA(PSK), SECONDS, "derivations/s"));
for (const row of await benchBootstrap(100)) report(row);
for (const row of await benchActors()) report(row);
process.exit(0);
