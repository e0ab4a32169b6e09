/**
 * The one place that touches `node:tls` and `node:https`: HTTPS servers that
 * learn the verified client identity, and a pooled mTLS client.
 *
 * @module
 */
export * from "./client.ts";
export { type Platform, platform } from "./platform.ts";
export * from "./server.ts";
