// Preloaded by `bun test` (bunfig.toml): bun test fires neither process "exit"
// nor "unload" for test files, so children a failed test left behind are killed
// here, after all tests.
import { afterAll } from "bun:test";
import { killAll } from "./processes.ts";

afterAll(killAll);
