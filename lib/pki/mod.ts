/**
 * The cluster PKI: CA derivation, CSRs, workload certificate issuance and
 * peer verification.
 *
 * @module
 */
export * from "./ca.ts";
export * from "./csr.ts";
export * from "./ed25519.ts";
export * from "./issue.ts";
export * from "./pem.ts";
export * from "./spiffe.ts";
export * from "./verify.ts";
export { parseCertificate, type ParsedCertificate } from "./x509.ts";
