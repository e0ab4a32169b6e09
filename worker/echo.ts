/**
 * The sample actor type `echo`: `echo` returns its data. It touches no state,
 * so it measures the cost of the actor plane itself (the benchmark uses it).
 *
 * @module
 */
import type { ActorFactory } from "../lib/actor/types.ts";
import { FrancisError } from "../lib/errors.ts";

/** The actor type name. */
export const ECHO = "echo";

/** The echo factory. */
export const echoActor: ActorFactory = () => ({
  invoke(method, data) {
    if (method !== "echo") {
      throw new FrancisError("ERR_ACTOR_METHOD_UNKNOWN", `echo has no method ${method}`);
    }
    return data;
  },
});
