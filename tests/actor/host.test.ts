import { describe, expect, test } from "bun:test";
import { type Actor, ActorRuntime, type ActorTypeOptions } from "../../lib/actor/mod.ts";
import { FrancisError } from "../../lib/errors.ts";
import { createLogger } from "../../lib/log.ts";
import { memoryService, rejectionOf, sleep } from "./helpers.ts";

/** A runtime with one actor type whose instances are recorded in creation order. */
function runtimeWith(
  make: (actorId: string, instance: number) => Actor,
  options?: ActorTypeOptions,
  extra: { maxQueuedPerType?: number; logLines?: Record<string, unknown>[] } = {},
): { runtime: ActorRuntime; created: string[] } {
  const created: string[] = [];
  const logger = createLogger({
    level: "debug",
    json: true,
    sink: (line) => extra.logLines?.push(JSON.parse(line)),
  });
  const runtime = new ActorRuntime({
    service: memoryService(),
    logger,
    maxQueuedPerType: extra.maxQueuedPerType,
  });
  runtime.registerActor("test", (actorId) => {
    created.push(actorId);
    return make(actorId, created.length);
  }, options);
  return { runtime, created };
}

describe("ActorRuntime turns", () => {
  test("50 concurrent increments of one actor that awaits between read and write end at exactly 50, in call order", async () => {
    const runtime = new ActorRuntime({ service: memoryService() });
    const order: unknown[] = [];
    runtime.registerActor("counter", (actorId, service) => ({
      async invoke(_method, data) {
        order.push(data);
        const count = (await service.getState<number>("counter", actorId, "count")) ?? 0;
        await sleep(Math.random() * 4);
        await service.setState("counter", actorId, "count", count + 1);
        return { count: count + 1 };
      },
    }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => runtime.invoke("counter", "c1", "increment", i)),
    );
    expect(results.map((r) => (r as { count: number }).count)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await runtime.close();
  });

  test("different actors run in parallel", async () => {
    let running = 0;
    let peak = 0;
    const { runtime } = runtimeWith(() => ({
      async invoke() {
        peak = Math.max(peak, ++running);
        await sleep(80);
        running--;
      },
    }));
    const started = performance.now();
    await Promise.all([runtime.invoke("test", "a", "slow"), runtime.invoke("test", "b", "slow")]);
    expect(peak).toBe(2);
    expect(performance.now() - started).toBeLessThan(160);
    await runtime.close();
  });

  test("alarms take turns with invocations on the same lock", async () => {
    const events: string[] = [];
    const step = async (what: string) => {
      events.push(`start ${what}`);
      await sleep(15);
      events.push(`end ${what}`);
    };
    const { runtime } = runtimeWith(() => ({
      invoke: (method) => step(method),
      alarm: (name) => step(name),
    }));
    await Promise.all([
      runtime.invoke("test", "a", "first"),
      runtime.alarm("test", "a", "reminder", { n: 1 }),
      runtime.invoke("test", "a", "second"),
    ]);
    expect(events).toEqual([
      "start first",
      "end first",
      "start reminder",
      "end reminder",
      "start second",
      "end second",
    ]);
    await runtime.close();
  });

  test("passes the alarm's name and data to the actor", async () => {
    const seen: unknown[] = [];
    const { runtime } = runtimeWith(() => ({ alarm: (name, data) => void seen.push(name, data) }));
    await runtime.alarm("test", "a", "tick", { n: 7 });
    expect(seen).toEqual(["tick", { n: 7 }]);
    await runtime.close();
  });
});

describe("ActorRuntime errors", () => {
  test("an actor that throws gives ERR_ACTOR_FAILED with its message and keeps serving on the same instance", async () => {
    const { runtime, created } = runtimeWith(() => ({
      invoke(method) {
        if (method === "fail") throw new Error("Counter is read-only");
        return "ok";
      },
    }));
    const err = await rejectionOf(runtime.invoke("test", "a", "fail"));
    expect([err.code, err.message]).toEqual(["ERR_ACTOR_FAILED", "Counter is read-only"]);
    expect(await runtime.invoke("test", "a", "work")).toBe("ok");
    expect(created).toEqual(["a"]);
    await runtime.close();
  });

  test("a FrancisError thrown by an actor reaches the caller as ERR_ACTOR_FAILED", async () => {
    const nested = new FrancisError("ERR_NOT_OWNER", "Host h2 does not own counter/c1");
    const { runtime } = runtimeWith(() => ({ invoke: () => Promise.reject(nested) }));
    const err = await rejectionOf(runtime.invoke("test", "a", "nested"));
    expect([err.code, err.message, err.cause]).toEqual([
      "ERR_ACTOR_FAILED",
      "Host h2 does not own counter/c1",
      nested,
    ]);
    await runtime.close();
  });

  test("an alarm that throws gives ERR_ACTOR_FAILED", async () => {
    const { runtime } = runtimeWith(() => ({
      alarm: () => Promise.reject(new Error("Alarm failed")),
    }));
    const err = await rejectionOf(runtime.alarm("test", "a", "tick"));
    expect([err.code, err.message]).toEqual(["ERR_ACTOR_FAILED", "Alarm failed"]);
    await runtime.close();
  });

  test("a factory that throws gives ERR_ACTOR_FAILED, leaves nothing active, and is retried on the next call", async () => {
    let calls = 0;
    const runtime = new ActorRuntime({ service: memoryService() });
    runtime.registerActor("flaky", () => {
      if (++calls === 1) throw new Error("Cannot load the model");
      return { invoke: () => "loaded" };
    });
    const err = await rejectionOf(runtime.invoke("flaky", "a", "run"));
    expect([err.code, err.message]).toEqual(["ERR_ACTOR_FAILED", "Cannot load the model"]);
    expect([runtime.isActive("flaky", "a"), runtime.activeCount]).toEqual([false, 0]);
    expect(await runtime.invoke("flaky", "a", "run")).toBe("loaded");
    expect(calls).toBe(2);
    await runtime.close();
  });

  test("an unknown type gives ERR_ACTOR_TYPE_UNKNOWN naming it", async () => {
    const { runtime } = runtimeWith(() => ({}));
    const err = await rejectionOf(runtime.invoke("nope", "a", "run"));
    expect([err.code, err.message]).toEqual([
      "ERR_ACTOR_TYPE_UNKNOWN",
      'Actor type "nope" is not registered on this host',
    ]);
    await runtime.close();
  });

  test("an actor without invoke or alarm gives ERR_ACTOR_METHOD_UNKNOWN", async () => {
    const { runtime } = runtimeWith(() => ({}));
    const invoked = await rejectionOf(runtime.invoke("test", "a", "run"));
    expect([invoked.code, invoked.message]).toEqual([
      "ERR_ACTOR_METHOD_UNKNOWN",
      'Actors of type "test" do not implement invoke',
    ]);
    const alarmed = await rejectionOf(runtime.alarm("test", "a", "tick"));
    expect([alarmed.code, alarmed.message]).toEqual([
      "ERR_ACTOR_METHOD_UNKNOWN",
      'Actors of type "test" do not implement alarm',
    ]);
    await runtime.close();
  });

  test("an invalid actor ID, method or alarm name gives ERR_BAD_REQUEST and activates nothing", async () => {
    const { runtime, created } = runtimeWith(() => ({ invoke: () => 1, alarm: () => {} }));
    for (
      const call of [
        runtime.invoke("test", "a/b", "run"),
        runtime.invoke("test", "a", ""),
        runtime.alarm("test", "a", "tick tock"),
      ]
    ) {
      expect((await rejectionOf(call)).code).toBe("ERR_BAD_REQUEST");
    }
    expect(created).toEqual([]);
    await runtime.close();
  });
});

describe("ActorRuntime deactivation", () => {
  test("idle deactivation runs deactivate once, then the next call activates a fresh instance", async () => {
    const deactivated: number[] = [];
    const { runtime, created } = runtimeWith((_id, instance) => ({
      invoke: () => instance,
      deactivate: () => void deactivated.push(instance),
    }), { idleTimeoutMs: 30 });
    expect(await runtime.invoke("test", "a", "which")).toBe(1);
    expect(runtime.isActive("test", "a")).toBe(true);
    await sleep(100);
    expect(deactivated).toEqual([1]);
    expect([runtime.isActive("test", "a"), runtime.activeCount]).toEqual([false, 0]);
    expect(await runtime.invoke("test", "a", "which")).toBe(2);
    expect(created).toEqual(["a", "a"]);
    await runtime.close();
    expect(deactivated).toEqual([1, 2]);
  });

  test("an actor that keeps getting calls is not deactivated", async () => {
    const deactivated: number[] = [];
    const { runtime } = runtimeWith((_id, instance) => ({
      invoke: () => undefined,
      deactivate: () => void deactivated.push(instance),
    }), { idleTimeoutMs: 100 });
    for (let i = 0; i < 8; i++) {
      await runtime.invoke("test", "a", "poke");
      await sleep(15);
    }
    expect([deactivated, runtime.isActive("test", "a")]).toEqual([[], true]);
    await runtime.close();
  });

  test("an idle timeout that expires during a long turn waits for the turn, then a full idle period", async () => {
    const deactivated: number[] = [];
    const { runtime } = runtimeWith((_id, instance) => ({
      invoke: (method) => method === "long" ? sleep(120) : undefined,
      deactivate: () => void deactivated.push(instance),
    }), { idleTimeoutMs: 60 });
    await runtime.invoke("test", "a", "quick");
    await runtime.invoke("test", "a", "long");
    await sleep(20);
    expect([deactivated, runtime.isActive("test", "a")]).toEqual([[], true]);
    await sleep(100);
    expect([deactivated, runtime.isActive("test", "a")]).toEqual([[1], false]);
    await runtime.close();
  });

  test("halt waits for the turns queued before it; calls queued after it run on a fresh instance", async () => {
    const events: string[] = [];
    const { runtime } = runtimeWith((_id, instance) => ({
      async invoke(method) {
        await sleep(method === "slow" ? 40 : 1);
        events.push(`${method} on ${instance}`);
      },
      deactivate: () => void events.push(`deactivate ${instance}`),
    }));
    const slow = runtime.invoke("test", "a", "slow");
    const queued = runtime.invoke("test", "a", "queued");
    const halted = runtime.deactivate("test", "a");
    const after = runtime.invoke("test", "a", "after");
    await Promise.all([slow, queued, after]);
    expect(await halted).toBe(true);
    expect(events).toEqual(["slow on 1", "queued on 1", "deactivate 1", "after on 2"]);
    expect(await runtime.deactivate("test", "missing")).toBe(false);
    await runtime.close();
  });

  test("a deactivate slower than the deactivation timeout is logged and the actor dropped anyway", async () => {
    const logLines: Record<string, unknown>[] = [];
    const { runtime } = runtimeWith(
      () => ({
        invoke: () => 1,
        deactivate: () => sleep(1_000),
      }),
      { deactivationTimeoutMs: 40 },
      { logLines },
    );
    await runtime.invoke("test", "a", "run");
    const started = performance.now();
    expect(await runtime.deactivate("test", "a")).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
    expect(runtime.isActive("test", "a")).toBe(false);
    expect(logLines.find((l) => l.level === "warn")).toMatchObject({
      message: "Actor deactivate timed out; activation dropped",
      actorType: "test",
      actorId: "a",
      limitMs: 40,
    });
    await runtime.close();
  });

  test("a deactivate that throws is logged and the actor dropped anyway", async () => {
    const logLines: Record<string, unknown>[] = [];
    const { runtime } = runtimeWith(
      () => ({
        invoke: () => 1,
        deactivate() {
          throw new Error("Flush failed");
        },
      }),
      {},
      { logLines },
    );
    await runtime.invoke("test", "a", "run");
    expect(await runtime.deactivate("test", "a")).toBe(true);
    expect(runtime.activeCount).toBe(0);
    expect(logLines.find((l) => l.level === "warn")).toMatchObject({
      message: "Actor deactivate failed; activation dropped",
      error: "Flush failed",
    });
    await runtime.close();
  });
});

describe("ActorRuntime concurrency limit", () => {
  test("with concurrency 2, never runs more than 2 calls of the type at once and starts waiters in FIFO order", async () => {
    let running = 0;
    let peak = 0;
    const started: string[] = [];
    const { runtime } = runtimeWith((actorId) => ({
      async invoke() {
        started.push(actorId);
        peak = Math.max(peak, ++running);
        await sleep(15);
        running--;
      },
    }), { concurrency: 2 });
    const ids = ["a", "b", "c", "d", "e", "f"];
    await Promise.all(ids.map((id) => runtime.invoke("test", id, "work")));
    expect(peak).toBe(2);
    expect(started).toEqual(ids);
    await runtime.close();
  });

  test("refuses a call with ERR_ACTOR_OVERLOADED once the queue of the type is full", async () => {
    const { runtime } = runtimeWith(() => ({ invoke: () => sleep(20) }), { concurrency: 1 }, {
      maxQueuedPerType: 2,
    });
    const admitted = ["a", "b", "c"].map((id) => runtime.invoke("test", id, "work"));
    const err = await rejectionOf(runtime.invoke("test", "d", "work"));
    expect(err.code).toBe("ERR_ACTOR_OVERLOADED");
    expect(err.message).toBe('Too many calls wait for actor type "test" on this host (limit 2)');
    await Promise.all(admitted);
    await runtime.invoke("test", "d", "work");
    await runtime.close();
  });

  test("counts calls waiting for one busy actor against the same bound", async () => {
    const { runtime } = runtimeWith(() => ({ invoke: () => sleep(20) }), {}, {
      maxQueuedPerType: 2,
    });
    const admitted = [1, 2, 3].map(() => runtime.invoke("test", "a", "work"));
    expect((await rejectionOf(runtime.invoke("test", "a", "work"))).code).toBe(
      "ERR_ACTOR_OVERLOADED",
    );
    await Promise.all(admitted);
    await runtime.close();
  });
});

describe("ActorRuntime registration and close", () => {
  test("registers types with their options, defaults applied", async () => {
    const { runtime } = runtimeWith(() => ({}), { idleTimeoutMs: 1_000, concurrency: 4 });
    runtime.registerActor("other", () => ({}));
    expect(runtime.actorTypes).toEqual(["test", "other"]);
    expect(runtime.typeOptions("test")).toEqual({
      idleTimeoutMs: 1_000,
      deactivationTimeoutMs: 5_000,
      alarmMaxAttempts: 3,
      alarmInitialRetryDelayMs: 2_000,
      concurrency: 4,
    });
    expect(runtime.typeOptions("missing")).toBeUndefined();
    await runtime.close();
  });

  test("rejects a duplicate or invalid type, a missing factory and bad options", () => {
    const runtime = new ActorRuntime({ service: memoryService() });
    runtime.registerActor("counter", () => ({}));
    expect(() => runtime.registerActor("counter", () => ({}))).toThrow(
      'Actor type "counter" is already registered',
    );
    expect(() => runtime.registerActor("a/b", () => ({}))).toThrow(TypeError);
    expect(() => runtime.registerActor("x", undefined as never)).toThrow(TypeError);
    expect(() => runtime.registerActor("y", () => ({}), { concurrency: 0 })).toThrow(RangeError);
    expect(runtime.actorTypes).toEqual(["counter"]);
  });

  test("close runs the calls already queued, deactivates every actor, then refuses calls with ERR_HOST_STOPPED", async () => {
    const events: string[] = [];
    const { runtime } = runtimeWith((actorId) => ({
      async invoke() {
        await sleep(20);
        events.push(`invoke ${actorId}`);
      },
      deactivate: () => void events.push(`deactivate ${actorId}`),
    }));
    const queued = [runtime.invoke("test", "a", "work"), runtime.invoke("test", "b", "work")];
    await runtime.close();
    await Promise.all(queued);
    expect(events.toSorted()).toEqual(["deactivate a", "deactivate b", "invoke a", "invoke b"]);
    expect(events.indexOf("invoke a")).toBeLessThan(events.indexOf("deactivate a"));
    expect(runtime.activeCount).toBe(0);
    for (const call of [runtime.invoke("test", "a", "work"), runtime.alarm("test", "a", "t")]) {
      const err = await rejectionOf(call);
      expect([err.code, err.message]).toEqual(["ERR_HOST_STOPPED", "The actor host is stopped"]);
    }
  });
});
