import { describe, expect, test } from "bun:test";
import { Semaphore, TurnLock } from "../../lib/actor/mod.ts";
import { sleep } from "./helpers.ts";

describe("TurnLock", () => {
  test("runs one turn at a time, in call order", async () => {
    const lock = new TurnLock();
    const events: string[] = [];
    let running = 0;
    await Promise.all([30, 5, 15, 0].map((ms, i) =>
      lock.run(async () => {
        running++;
        events.push(`start ${i} with ${running} running`);
        await sleep(ms);
        running--;
      })
    ));
    expect(events).toEqual([
      "start 0 with 1 running",
      "start 1 with 1 running",
      "start 2 with 1 running",
      "start 3 with 1 running",
    ]);
  });

  test("reports busy and queued turns", async () => {
    const lock = new TurnLock();
    expect([lock.busy, lock.queued]).toEqual([false, 0]);
    const first = lock.run(() => sleep(20));
    const second = lock.run(() => sleep(0));
    expect([lock.busy, lock.queued]).toEqual([true, 1]);
    await Promise.all([first, second]);
    expect([lock.busy, lock.queued]).toEqual([false, 0]);
  });

  test("a turn that throws rejects its caller and releases the lock", async () => {
    const lock = new TurnLock();
    const failing = lock.run(() => Promise.reject(new Error("turn failed")));
    const next = lock.run(() => Promise.resolve("next ran"));
    await expect(failing).rejects.toThrow("turn failed");
    expect(await next).toBe("next ran");
    expect(lock.busy).toBe(false);
  });

  test("a turn that throws synchronously releases the lock", async () => {
    const lock = new TurnLock();
    const failing = lock.run(() => {
      throw new Error("sync failure");
    });
    await expect(failing).rejects.toThrow("sync failure");
    expect(await lock.run(() => Promise.resolve(1))).toBe(1);
  });

  test("a turn queued as the lock is released never overtakes one already waiting", async () => {
    const lock = new TurnLock();
    const order: string[] = [];
    const first = lock.run(async () => {
      await sleep(5);
      order.push("first");
    });
    const waiting = lock.run(() => Promise.resolve(order.push("waiting")));
    await first;
    await lock.run(() => Promise.resolve(order.push("late")));
    await waiting;
    expect(order).toEqual(["first", "waiting", "late"]);
  });

  test("serves 20 000 queued turns in order and ends idle", async () => {
    const lock = new TurnLock();
    let next = 0;
    let outOfOrder = 0;
    const turns = Array.from({ length: 20_000 }, (_, i) =>
      lock.run(() => {
        if (i !== next) outOfOrder++;
        next++;
        return Promise.resolve();
      }));
    expect(lock.queued).toBe(19_999);
    await Promise.all(turns);
    expect([next, outOfOrder, lock.busy, lock.queued]).toEqual([20_000, 0, false, 0]);
  });
});

describe("Semaphore", () => {
  test("runs at most its permits at once and starts waiters in FIFO order", async () => {
    const semaphore = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    await Promise.all(Array.from({ length: 10 }, (_, i) =>
      semaphore.run(async () => {
        started.push(i);
        peak = Math.max(peak, ++running);
        await sleep(5 + (i % 3) * 5);
        running--;
      })));
    expect(peak).toBe(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([semaphore.running, semaphore.queued]).toEqual([0, 0]);
  });

  test("with Infinity permits never makes a call wait", async () => {
    const semaphore = new Semaphore(Infinity);
    const calls = Array.from({ length: 100 }, () => semaphore.run(() => sleep(1)));
    expect([semaphore.running, semaphore.queued]).toEqual([100, 0]);
    await Promise.all(calls);
  });

  for (const permits of [0, -1, 1.5, NaN]) {
    test(`rejects ${permits} permits with a RangeError`, () => {
      expect(() => new Semaphore(permits)).toThrow(RangeError);
    });
  }
});
