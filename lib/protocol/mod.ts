/**
 * What the runtime and the worker say to each other: routes, payload schemas
 * and error bodies.
 *
 * @module
 */
export * from "./body.ts";
export * from "./errors.ts";
export * from "./wire.ts";
