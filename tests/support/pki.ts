// Certificates for tests that need real TLS identities.
import type { ClusterCA } from "../../lib/pki/ca.ts";
import { generateEd25519KeyPair, privateKeyToPem, rawPublicKey } from "../../lib/pki/ed25519.ts";
import { issueWorkloadCert } from "../../lib/pki/issue.ts";
import type { TlsIdentity } from "../../lib/transport/server.ts";

/** A fresh key and a certificate from `ca` for `spiffeId`. */
export async function mintIdentity(
  ca: ClusterCA,
  spiffeId: string,
  ttlMs?: number,
): Promise<TlsIdentity & { notAfter: Date }> {
  const keys = await generateEd25519KeyPair(true);
  const cert = await issueWorkloadCert({
    ca,
    spiffeId,
    publicKey: await rawPublicKey(keys.publicKey),
    ttlMs,
  });
  return {
    certPem: cert.certPem,
    keyPem: await privateKeyToPem(keys.privateKey),
    notAfter: cert.notAfter,
  };
}
