import { describe, expect, test } from "bun:test";
import { expandEnv } from "../../lib/config/mod.ts";
import { errorOf, startingWith } from "./helpers.ts";

describe("expandEnv", () => {
  test("expands references in strings inside nested objects and arrays", () => {
    const doc = {
      runtimePSKs: ["${PSK_A}", "${PSK_B}"],
      bootstrap: { jwt: { audience: ["x", ["${AUD}"]], issuer: "https://${HOST}/" } },
    };
    expect(expandEnv(doc, { PSK_A: "a", PSK_B: "b", AUD: "aud", HOST: "idp" })).toEqual({
      runtimePSKs: ["a", "b"],
      bootstrap: { jwt: { audience: ["x", ["aud"]], issuer: "https://idp/" } },
    });
  });

  test("expands several references and surrounding text in one string", () => {
    expect(expandEnv("${A}-${B}:${A}", { A: "1", B: "2" })).toBe("1-2:1");
  });

  test("leaves object keys alone", () => {
    expect(expandEnv({ "${K}": "v" }, { K: "k" })).toEqual({ "${K}": "v" });
  });

  test("turns $${ into a literal ${ without looking up a variable", () => {
    expect(expandEnv("$${NOT_SET} and $${", {})).toBe("${NOT_SET} and ${");
    expect(expandEnv(["a$${B}c"], {})).toEqual(["a${B}c"]);
  });

  test("keeps a $ that does not start a reference", () => {
    expect(expandEnv("cost: $5, $HOME, $", {})).toBe("cost: $5, $HOME, $");
  });

  test("expands a variable set to the empty string to nothing", () => {
    expect(expandEnv("[${EMPTY}]", { EMPTY: "" })).toBe("[]");
  });

  test("does not expand references that come from the environment", () => {
    expect(expandEnv("${A}", { A: "${B}", B: "no" })).toBe("${B}");
  });

  test("returns numbers, booleans and null unchanged", () => {
    expect(expandEnv({ n: 1, b: true, z: null, list: [2, false] }, {})).toEqual({
      n: 1,
      b: true,
      z: null,
      list: [2, false],
    });
  });

  test("does not modify the input document", () => {
    const doc = { a: ["${A}"] };
    expandEnv(doc, { A: "x" });
    expect(doc).toEqual({ a: ["${A}"] });
  });

  test("keeps a __proto__ key as a plain key instead of changing the prototype", () => {
    const doc: unknown = JSON.parse('{"__proto__": {"polluted": "${A}"}}');
    const out = expandEnv(doc, { A: "x" }) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("rejects an unset variable, naming it and the key path", () => {
    const err = errorOf(() => expandEnv({ runtimePSKs: ["${FRANCIS_PSK}"] }, {}));
    expect(err.code).toBe("ERR_CONFIG_ENV_UNSET");
    expect(err.message).toBe("runtimePSKs[0]: environment variable FRANCIS_PSK is not set");
  });

  test("names the full path of an unset variable deep in nested arrays", () => {
    const doc = { bootstrap: { jwt: { audience: ["a", "${AUD}"] } } };
    const err = errorOf(() => expandEnv(doc, {}));
    expect(err.code).toBe("ERR_CONFIG_ENV_UNSET");
    expect(err.message).toBe("bootstrap.jwt.audience[1]: environment variable AUD is not set");
  });

  test("treats a variable whose value is undefined as unset", () => {
    const err = errorOf(() => expandEnv({ a: "${X}" }, { X: undefined }));
    expect(err.code).toBe("ERR_CONFIG_ENV_UNSET");
  });

  test("does not read names inherited from Object.prototype as variables", () => {
    const err = errorOf(() => expandEnv({ a: "${constructor}" }, {}));
    expect(err.code).toBe("ERR_CONFIG_ENV_UNSET");
    expect(err.message).toBe("a: environment variable constructor is not set");
  });

  test("prefixes the path given by the caller", () => {
    const err = errorOf(() => expandEnv(["${X}"], {}, "bootstrap.jwt.audience"));
    expect(err.message).toBe("bootstrap.jwt.audience[0]: environment variable X is not set");
  });

  test("rejects ${ without a closing brace, naming the key path", () => {
    const err = errorOf(() => expandEnv({ bootstrap: { hostPSK: "abc${HOST_PSK" } }, {}));
    expect(err.code).toBe("ERR_CONFIG_INVALID");
    expect(err.message).toMatch(startingWith("bootstrap.hostPSK: unterminated"));
    expect(err.message).toContain("$${");
  });

  for (const ref of ["${1X}", "${}", "${A-B}", "${ A}", "${A.B}"]) {
    test(`rejects the malformed reference ${ref}, naming the key path`, () => {
      const err = errorOf(() => expandEnv({ log: { level: `x${ref}` } }, { A: "a" }));
      expect(err.code).toBe("ERR_CONFIG_INVALID");
      expect(err.message).toMatch(startingWith("log.level: malformed environment reference"));
      expect(err.message).toContain(JSON.stringify(ref));
    });
  }
});
