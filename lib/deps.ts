/**
 * Every third-party module the project uses, in one place.
 *
 * Specifiers are `npm:name@range` so that Deno resolves them when `mod.ts` is
 * imported by URL with no configuration on the importing side; Bun resolves
 * them through `scripts/bun-npm-plugin.ts` (preloaded from `bunfig.toml`).
 * `tests/deps.test.ts` checks that every range here equals the one in
 * `package.json`.
 *
 * @module
 */
// pkijs and asn1js serve the tests, as an independent X.509 oracle for lib/pki.
export * as asn1js from "npm:asn1js@^4.0.0";
export * as pkijs from "npm:pkijs@^4.0.0";
export * as v from "npm:valibot@^1.5.0";
export { parse as parseYAML } from "npm:yaml@^2.9.1";
export { Hono } from "npm:hono@^4.13.23";
export type { Context, MiddlewareHandler } from "npm:hono@^4.13.23";
export { getRequestListener } from "npm:@hono/node-server@^2.1.11";
export * as jose from "npm:jose@^6.2.19";
