// Prints the PEM bundle of the CAs derived from the runtime PSKs given as arguments,
// exactly as derived (no added newline), so runtimes can be compared byte for byte.
import process from "node:process";
import { deriveCABundle } from "../../lib/pki/ca.ts";

process.stdout.write((await deriveCABundle(process.argv.slice(2))).pem);
