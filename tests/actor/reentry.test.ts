import { describe, expect, test } from "bun:test";
import { ActorRuntime } from "../../lib/actor/host.ts";
import { memoryService, rejectionOf } from "./helpers.ts";

describe("an actor calling itself from inside its own turn", () => {
  function runtime(): ActorRuntime {
    const rt = new ActorRuntime({ service: memoryService() });
    rt.registerActor("loop", (id) => ({
      async invoke(method) {
        if (method === "self") return await rt.invoke("loop", id, "ping");
        if (method === "halt-self") return await rt.deactivate("loop", id);
        if (method === "other") return await rt.invoke("loop", `${id}-other`, "ping");
        if (method === "later") {
          setTimeout(() => void rt.invoke("loop", id, "ping"), 0);
          return "scheduled";
        }
        return "pong";
      },
    }));
    return rt;
  }

  test("is refused at once with ERR_ACTOR_REENTRANT instead of waiting forever", async () => {
    const err = await rejectionOf(runtime().invoke("loop", "a", "self"));
    expect(err.code).toBe("ERR_ACTOR_FAILED"); // what the actor let escape, wrapped
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    expect(cause?.code).toBe("ERR_ACTOR_REENTRANT");
    expect(cause?.message).toContain("loop/a cannot invoke itself");
  });

  test("halting itself is refused the same way", async () => {
    const err = await rejectionOf(runtime().invoke("loop", "b", "halt-self"));
    const cause = (err as Error & { cause?: { code?: string } }).cause;
    expect(cause?.code).toBe("ERR_ACTOR_REENTRANT");
  });

  test("calling another actor of the same type still works", async () => {
    expect(await runtime().invoke("loop", "c", "other")).toBe("pong");
  });

  test("a call it starts for after its turn is not mistaken for re-entry", async () => {
    const rt = runtime();
    expect(await rt.invoke("loop", "d", "later")).toBe("scheduled");
    expect(await rt.invoke("loop", "d", "ping")).toBe("pong");
  });
});
