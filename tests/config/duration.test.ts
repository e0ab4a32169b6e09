import { describe, expect, test } from "bun:test";
import { formatDuration, parseDuration } from "../../lib/config/mod.ts";
import { errorOf } from "./helpers.ts";

describe("parseDuration", () => {
  const accepted: [string, number][] = [
    ["1ms", 1],
    ["1500ms", 1_500],
    ["1s", 1_000],
    ["0.5s", 500],
    [".5s", 500],
    ["20s", 20_000],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["365d", 31_536_000_000],
    ["1h30m", 5_400_000],
    ["1m30s", 90_000],
    ["2h45m30s500ms", 9_930_500],
    ["1m1ms", 60_001],
    ["1.5h", 5_400_000],
    ["1.1h", 3_960_000],
    ["0s", 0],
    ["007s", 7_000],
  ];
  for (const [text, ms] of accepted) {
    test(`parses ${JSON.stringify(text)} as ${ms} ms`, () => {
      expect(parseDuration(text)).toBe(ms);
    });
  }

  test("rounds sub-millisecond totals to the nearest millisecond", () => {
    expect(parseDuration("1.4ms")).toBe(1);
    expect(parseDuration("0.0005s")).toBe(1);
  });

  const rejected: [string, string][] = [
    ["", "empty"],
    ["10", "a unit is required"],
    ["1.5", "a unit is required"],
    ["-1s", "offset 0"],
    ["+1s", "offset 0"],
    [" 1s", "offset 0"],
    ["1s ", "offset 2"],
    ["1 s", "offset 0"],
    ["1h 30m", "offset 2"],
    ["1x", "offset 0"],
    ["1H", "offset 0"],
    ["1us", "offset 0"],
    ["1w", "offset 0"],
    ["h", "offset 0"],
    ["1hh", "offset 2"],
    ["1.s", "offset 0"],
    ["1e3s", "offset 0"],
    ["Infinitys", "offset 0"],
    ["NaNms", "offset 0"],
    [`${"9".repeat(400)}h`, "too large"],
  ];
  for (const [text, why] of rejected) {
    test(`rejects ${JSON.stringify(text.length > 20 ? `${text.slice(0, 12)}…` : text)} and quotes it`, () => {
      const err = errorOf(() => parseDuration(text));
      expect(err.code).toBe("ERR_DURATION_INVALID");
      expect(err.message).toContain(JSON.stringify(text));
      expect(err.message).toContain(why);
    });
  }
});

describe("formatDuration", () => {
  const table: [number, string][] = [
    [0, "0s"],
    [1, "1ms"],
    [1_500, "1s500ms"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [5_400_000, "1h30m"],
    [86_400_000, "1d"],
    [90_061_001, "1d1h1m1s1ms"],
    [-1_500, "-1s500ms"],
    [1_499.6, "1s500ms"],
  ];
  for (const [ms, text] of table) {
    test(`formats ${ms} ms as ${JSON.stringify(text)}`, () => {
      expect(formatDuration(ms)).toBe(text);
    });
  }

  test("produces text that parses back to the same milliseconds", () => {
    for (const ms of [0, 1, 999, 1_000, 61_001, 3_599_999, 86_400_001, 31_536_000_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  test("throws a RangeError for a non-finite number", () => {
    expect(() => formatDuration(Number.NaN)).toThrow(RangeError);
    expect(() => formatDuration(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
