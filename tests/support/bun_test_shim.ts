// Runs our bun:test suites under `deno test`: deno.json maps "bun:test" here.
// It implements only the part of the bun:test API the suites use; an unknown
// matcher fails loudly rather than passing.
import { isDeepStrictEqual } from "node:util";

type Fn = () => unknown | Promise<unknown>;
const prefixes: string[] = [];
const hooks: { before: Fn[]; after: Fn[] }[] = [];

/** Groups tests; the group name prefixes each test name. */
export function describe(name: string, body: () => void): void {
  prefixes.push(name);
  hooks.push({ before: [], after: [] });
  body();
  const { after } = hooks.pop()!;
  if (after.length > 0) {
    Deno.test(`${[...prefixes].join(" > ")} > (afterAll)`, async () => {
      for (const f of after) await f();
    });
  }
  prefixes.pop();
}

/** Runs `f` once before the first test of the enclosing group. */
export function beforeAll(f: Fn): void {
  const scope = hooks.at(-1);
  if (!scope) {
    Deno.test("(beforeAll)", async () => void await f());
    return;
  }
  scope.before.push(f);
}

/** Runs `f` after the tests of the enclosing group. */
export function afterAll(f: Fn): void {
  const scope = hooks.at(-1);
  if (!scope) {
    globalThis.addEventListener("unload", () => void f());
    return;
  }
  scope.after.push(f);
}

/** Registers one test; `timeout` is accepted and ignored. */
export function test(name: string, fn: Fn, _timeout?: number | { timeout?: number }): void {
  const pending = hooks.flatMap((h) => h.before.splice(0));
  Deno.test({
    name: [...prefixes, name].join(" > "),
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      for (const f of pending) await f();
      await fn();
    },
  });
}
test.skip = (name: string, _fn: Fn): void => Deno.test({ name, ignore: true, fn: () => {} });
export const it = test;

class AssertionError extends Error {
  override name = "AssertionError";
}

function show(v: unknown): string {
  try {
    return typeof v === "string" ? JSON.stringify(v) : Deno.inspect(v, { depth: 4 });
  } catch {
    return String(v);
  }
}

function matchesObject(actual: unknown, pattern: unknown): boolean {
  if (typeof pattern !== "object" || pattern === null) return isDeepStrictEqual(actual, pattern);
  if (typeof actual !== "object" || actual === null) return false;
  if (Array.isArray(pattern)) {
    return Array.isArray(actual) && actual.length === pattern.length &&
      pattern.every((p, i) => matchesObject(actual[i], p));
  }
  return Object.entries(pattern).every(([k, p]) =>
    matchesObject((actual as Record<string, unknown>)[k], p)
  );
}

function thrownMatches(err: unknown, expected: unknown): boolean {
  if (expected === undefined) return true;
  if (typeof expected === "function") return err instanceof expected;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof expected === "string") return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  if (expected instanceof Error) return message === expected.message;
  return matchesObject(err, expected);
}

interface Matchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toStrictEqual(expected: unknown): void;
  toMatchObject(expected: unknown): void;
  toContain(expected: unknown): void;
  toMatch(expected: RegExp | string): void;
  toHaveLength(n: number): void;
  // deno-lint-ignore no-explicit-any
  toBeInstanceOf(c: abstract new (...a: any[]) => unknown): void;
  toBeGreaterThan(n: number): void;
  toBeGreaterThanOrEqual(n: number): void;
  toBeLessThan(n: number): void;
  toBeLessThanOrEqual(n: number): void;
  toBeUndefined(): void;
  toBeDefined(): void;
  toBeNull(): void;
  toBeTrue(): void;
  toBeFalse(): void;
  toBeTruthy(): void;
  toBeFalsy(): void;
  toHaveProperty(key: string): void;
  toThrow(expected?: unknown): void;
}
type AsyncMatchers = { [K in keyof Matchers]: (...args: Parameters<Matchers[K]>) => Promise<void> };

function matchers(actual: unknown, negate: boolean): Matchers {
  const check = (pass: boolean, what: string) => {
    if (pass === negate) {
      throw new AssertionError(`expected ${show(actual)} ${negate ? "not " : ""}${what}`);
    }
  };
  const len = (actual as { length?: number })?.length;
  return {
    toBe: (e: unknown) => check(Object.is(actual, e), `to be ${show(e)}`),
    toEqual: (e) => check(isDeepStrictEqual(actual, e), `to equal ${show(e)}`),
    toStrictEqual: (e: unknown) => check(isDeepStrictEqual(actual, e), `to equal ${show(e)}`),
    toMatchObject: (e: unknown) => check(matchesObject(actual, e), `to match ${show(e)}`),
    toContain: (e: unknown) =>
      check(
        typeof actual === "string"
          ? actual.includes(e as string)
          : Array.from(actual as Iterable<unknown>).includes(e),
        `to contain ${show(e)}`,
      ),
    toMatch: (e: RegExp | string) =>
      check(
        typeof e === "string" ? String(actual).includes(e) : e.test(String(actual)),
        `to match ${e}`,
      ),
    toHaveLength: (n: number) => check(len === n, `to have length ${n}`),
    toBeInstanceOf: (c) => check(actual instanceof c, `to be a ${c.name}`),
    toBeGreaterThan: (n: number) => check((actual as number) > n, `to be > ${n}`),
    toBeGreaterThanOrEqual: (n: number) => check((actual as number) >= n, `to be >= ${n}`),
    toBeLessThan: (n: number) => check((actual as number) < n, `to be < ${n}`),
    toBeLessThanOrEqual: (n: number) => check((actual as number) <= n, `to be <= ${n}`),
    toBeUndefined: () => check(actual === undefined, "to be undefined"),
    toBeDefined: () => check(actual !== undefined, "to be defined"),
    toBeNull: () => check(actual === null, "to be null"),
    toBeTrue: () => check(actual === true, "to be true"),
    toBeFalse: () => check(actual === false, "to be false"),
    toBeTruthy: () => check(Boolean(actual), "to be truthy"),
    toBeFalsy: () => check(!actual, "to be falsy"),
    toHaveProperty: (k: string) => check(actual != null && k in Object(actual), `to have ${k}`),
    toThrow: (e?: unknown) => {
      let thrown = false;
      let err: unknown;
      try {
        (actual as () => unknown)();
      } catch (x) {
        thrown = true;
        err = x;
      }
      check(thrown && thrownMatches(err, e), `to throw ${show(e)} (threw ${show(err)})`);
    },
  };
}

function settled(promise: unknown, rejects: boolean, negate: boolean): AsyncMatchers {
  const out: Partial<Record<keyof Matchers, unknown>> = {};
  for (const name of Object.keys(matchers(undefined, false)) as (keyof Matchers)[]) {
    out[name] = async (...args: unknown[]) => {
      let value: unknown;
      let rejected = false;
      try {
        value = await promise;
      } catch (err) {
        value = err;
        rejected = true;
      }
      if (rejected !== rejects) {
        throw new AssertionError(`expected the promise to ${rejects ? "reject" : "resolve"}`);
      }
      const subject = name === "toThrow"
        ? () => {
          throw value;
        }
        : value;
      (matchers(subject, negate)[name] as (...a: unknown[]) => void)(...args);
    };
  }
  return out as AsyncMatchers;
}

/** bun:test's `expect`, for the matchers our suites use. */
export function expect(actual: unknown): Matchers & {
  not: Matchers;
  rejects: AsyncMatchers & { not: AsyncMatchers };
  resolves: AsyncMatchers & { not: AsyncMatchers };
} {
  const base = matchers(actual, false);
  return Object.assign(base, {
    not: matchers(actual, true),
    rejects: Object.assign(settled(actual, true, false), { not: settled(actual, true, true) }),
    resolves: Object.assign(settled(actual, false, false), { not: settled(actual, false, true) }),
  });
}
