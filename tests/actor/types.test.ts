import { describe, expect, test } from "bun:test";
import {
  DEFAULT_ACTOR_CONCURRENCY,
  DEFAULT_ALARM_INITIAL_RETRY_DELAY_MS,
  DEFAULT_ALARM_MAX_ATTEMPTS,
  DEFAULT_DEACTIVATION_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  resolveActorTypeOptions,
  validateActorName,
} from "../../lib/actor/mod.ts";
import { errorOf } from "./helpers.ts";

describe("validateActorName", () => {
  for (const name of ["counter", "user:42", "a.b_c-d", "A9", "x".repeat(128)]) {
    test(`accepts ${JSON.stringify(name.length > 20 ? `${name.length} characters` : name)}`, () => {
      expect(validateActorName("id", name)).toBe(name);
    });
  }

  const rejected: [string, unknown][] = [
    ["an empty name", ""],
    ["129 characters", "x".repeat(129)],
    ["a slash", "a/b"],
    ["a space", "a b"],
    ["a non-ASCII letter", "é"],
    ["a number", 42],
    ["null", null],
  ];
  for (const [what, value] of rejected) {
    test(`rejects ${what} with ERR_BAD_REQUEST naming the kind of name`, () => {
      const err = errorOf(() => validateActorName("method", value));
      expect(err.code).toBe("ERR_BAD_REQUEST");
      expect(err.message).toMatch(/^Invalid actor method .*: expected 1 to 128 characters/);
    });
  }

  test("shortens a long invalid name in the message", () => {
    const err = errorOf(() => validateActorName("id", "/".repeat(10_000)));
    expect(err.message.length).toBeLessThan(200);
  });
});

describe("resolveActorTypeOptions", () => {
  test("fills in the documented defaults", () => {
    expect(resolveActorTypeOptions()).toEqual({
      idleTimeoutMs: 300_000,
      deactivationTimeoutMs: 5_000,
      alarmMaxAttempts: 3,
      alarmInitialRetryDelayMs: 2_000,
      concurrency: Infinity,
    });
    expect([
      DEFAULT_IDLE_TIMEOUT_MS,
      DEFAULT_DEACTIVATION_TIMEOUT_MS,
      DEFAULT_ALARM_MAX_ATTEMPTS,
      DEFAULT_ALARM_INITIAL_RETRY_DELAY_MS,
      DEFAULT_ACTOR_CONCURRENCY,
    ]).toEqual([300_000, 5_000, 3, 2_000, Infinity]);
  });

  test("keeps the values given", () => {
    expect(resolveActorTypeOptions({ idleTimeoutMs: 50, concurrency: 2, alarmMaxAttempts: 1 }))
      .toMatchObject({ idleTimeoutMs: 50, concurrency: 2, alarmMaxAttempts: 1 });
  });

  test("rejects an unknown option with a TypeError naming it", () => {
    expect(() => resolveActorTypeOptions({ idleTimeout: 5 } as never)).toThrow(
      'Unknown actor type option "idleTimeout"',
    );
  });

  test("rejects a value that is not a number with a TypeError", () => {
    expect(() => resolveActorTypeOptions({ idleTimeoutMs: "5m" } as never)).toThrow(TypeError);
  });

  const outOfRange: [string, Record<string, number>][] = [
    ["a zero idle timeout", { idleTimeoutMs: 0 }],
    ["an idle timeout past what timers can hold", { idleTimeoutMs: 2 ** 31 }],
    ["a NaN deactivation timeout", { deactivationTimeoutMs: NaN }],
    ["zero alarm attempts", { alarmMaxAttempts: 0 }],
    ["a negative retry delay", { alarmInitialRetryDelayMs: -1 }],
    ["a fractional concurrency", { concurrency: 1.5 }],
    ["a zero concurrency", { concurrency: 0 }],
  ];
  for (const [what, options] of outOfRange) {
    test(`rejects ${what} with a RangeError`, () => {
      expect(() => resolveActorTypeOptions(options)).toThrow(RangeError);
    });
  }
});
