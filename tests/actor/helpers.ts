// Shared fixtures for the actor tests.
import { FrancisError } from "../../lib/errors.ts";
import type { ActorService } from "../../lib/actor/mod.ts";

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The FrancisError that `promise` rejects with; fails the test when it resolves or rejects otherwise. */
export async function rejectionOf(promise: Promise<unknown>): Promise<FrancisError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof FrancisError) return err;
    throw err;
  }
  throw new Error("Expected a FrancisError, but the promise resolved");
}

/** The FrancisError that `fn` throws; fails the test when it throws something else or nothing. */
export function errorOf(fn: () => unknown): FrancisError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FrancisError) return err;
    throw err;
  }
  throw new Error("Expected a FrancisError, but nothing was thrown");
}

function unused(): never {
  throw new Error("Not used by the actor tests");
}

/** An actor service with state in memory; the actor tests use nothing else of it. */
export function memoryService(): ActorService {
  const state = new Map<string, unknown>();
  const keyOf = (type: string, id: string, key: string) => `${type}/${id}/${key}`;
  return {
    invoke: unused,
    getState: <T>(type: string, id: string, key: string) =>
      Promise.resolve(state.get(keyOf(type, id, key)) as T | undefined),
    setState: (type, id, key, value) => {
      state.set(keyOf(type, id, key), value);
      return Promise.resolve();
    },
    deleteState: unused,
    setAlarm: unused,
    getAlarm: unused,
    deleteAlarm: unused,
    halt: unused,
  };
}
