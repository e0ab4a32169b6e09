// Runs the system `openssl` as an independent second opinion on what we build.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hkdfSha256, utf8 } from "../../lib/bytes.ts";
import { ed25519Pkcs8FromSeed } from "../../lib/pki/ed25519.ts";
import { toPem } from "../../lib/pki/pem.ts";
import { tempDir } from "./tmp.ts";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Uint8Array;
}

/** Runs openssl with `args` in `cwd`; `input` goes to stdin. */
export function openssl(args: string[], cwd: string, input?: Uint8Array | string): Run {
  const r = spawnSync("openssl", args, { cwd, input });
  return {
    code: r.status ?? -1,
    stdout: r.stdout?.toString() ?? "",
    stderr: r.stderr?.toString() ?? "",
    bytes: new Uint8Array(r.stdout ?? []),
  };
}

/** A temp folder holding the given files. */
export function filesIn(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir("francis-openssl-");
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** A folder where OpenSSL can sign leaf certificates with a derived CA key. */
export interface SigningFolder {
  /** Holds ca.pem, ca.key, leaf.key and leaf.csr. */
  dir: string;
  /** OpenSSL making leaf.key. */
  key: Run;
  /** OpenSSL making leaf.csr. */
  csr: Run;
}

/**
 * A temp folder with the CA certificate `caPem` of runtime PSK `psk` and its
 * key, rebuilt from the PSK by the rule in DESIGN.md (not by lib/pki/ca.ts), so
 * OpenSSL can sign with it; and an Ed25519 leaf key and a CSR for `subject`.
 */
export async function signingFolder(
  psk: string,
  caPem: string,
  subject: string,
): Promise<SigningFolder> {
  const seed = await hkdfSha256(utf8(psk), utf8("francis-ca-salt-v1"), utf8("francis-ca-v1"), 32);
  const dir = filesIn({
    "ca.pem": caPem,
    "ca.key": toPem("PRIVATE KEY", ed25519Pkcs8FromSeed(seed)),
  });
  const key = openssl(["genpkey", "-algorithm", "ed25519", "-out", "leaf.key"], dir);
  const csr = openssl(
    ["req", "-new", "-key", "leaf.key", "-subj", subject, "-out", "leaf.csr"],
    dir,
  );
  return { dir, key, csr };
}

let extfiles = 0;

/**
 * OpenSSL signs leaf.csr of a signingFolder with its CA key, adding the
 * extensions in `extensions` (OpenSSL config text; `section` names the section
 * to use, else the unnamed one). The certificate comes out as DER in `bytes`.
 */
export function signLeaf(
  dir: string,
  options: { serial: string; days: number; extensions: string; section?: string },
): Run {
  const extfile = `ext-${extfiles++}.cnf`;
  writeFileSync(join(dir, extfile), options.extensions);
  return openssl([
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-set_serial",
    options.serial,
    "-days",
    String(options.days),
    "-extfile",
    extfile,
    ...(options.section ? ["-extensions", options.section] : []),
    "-outform",
    "DER",
  ], dir);
}
