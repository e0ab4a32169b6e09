import { describe, expect, test } from "bun:test";
import { configCandidates, parseConfigFlag } from "../../lib/config/mod.ts";

describe("configCandidates", () => {
  test("returns only FRANCIS_CONFIG when it is set", () => {
    expect(
      configCandidates({ env: { FRANCIS_CONFIG: "/opt/f.yaml" }, cwd: "/srv", home: "/home/ada" }),
    ).toEqual(["/opt/f.yaml"]);
  });

  test("ignores an empty FRANCIS_CONFIG", () => {
    expect(configCandidates({ env: { FRANCIS_CONFIG: "" }, cwd: "/srv" })[0]).toBe(
      "/srv/config.yaml",
    );
  });

  test("searches cwd, then ~/.francis, then /etc/francis, yaml before yml before json", () => {
    expect(configCandidates({ env: {}, cwd: "/srv", home: "/home/ada" })).toEqual([
      "/srv/config.yaml",
      "/srv/config.yml",
      "/srv/config.json",
      "/home/ada/.francis/config.yaml",
      "/home/ada/.francis/config.yml",
      "/home/ada/.francis/config.json",
      "/etc/francis/config.yaml",
      "/etc/francis/config.yml",
      "/etc/francis/config.json",
    ]);
  });

  test("skips the home directory when it is unknown", () => {
    expect(configCandidates({ env: {}, cwd: "/srv" })).toEqual([
      "/srv/config.yaml",
      "/srv/config.yml",
      "/srv/config.json",
      "/etc/francis/config.yaml",
      "/etc/francis/config.yml",
      "/etc/francis/config.json",
    ]);
  });

  test("does not double a trailing separator", () => {
    const candidates = configCandidates({ env: {}, cwd: "/", home: "/root/" });
    expect(candidates[0]).toBe("/config.yaml");
    expect(candidates[3]).toBe("/root/.francis/config.yaml");
  });
});

describe("parseConfigFlag", () => {
  const forms: string[][] = [
    ["-config", "a.yaml"],
    ["--config", "a.yaml"],
    ["-config=a.yaml"],
    ["--config=a.yaml"],
  ];
  for (const form of forms) {
    test(`accepts ${form.join(" ")} and keeps the other arguments in order`, () => {
      expect(parseConfigFlag(["serve", ...form, "--verbose"])).toEqual({
        path: "a.yaml",
        rest: ["serve", "--verbose"],
      });
    });
  }

  test("keeps an = inside the value", () => {
    expect(parseConfigFlag(["--config=dir=x/a.yaml"]).path).toBe("dir=x/a.yaml");
  });

  test("returns no path when the flag is absent", () => {
    expect(parseConfigFlag(["print-ca"])).toEqual({ rest: ["print-ca"] });
  });

  test("leaves arguments after -- alone", () => {
    expect(parseConfigFlag(["serve", "--", "--config", "x"])).toEqual({
      rest: ["serve", "--", "--config", "x"],
    });
  });

  test("rejects a flag with no value at the end, with a TypeError that says so", () => {
    expect(() => parseConfigFlag(["serve", "--config"])).toThrow(
      new TypeError("Flag --config needs a file path, e.g. --config config.yaml"),
    );
  });

  test("rejects a flag followed by another flag instead of a file", () => {
    expect(() => parseConfigFlag(["-config", "--verbose"])).toThrow(
      new TypeError("Flag -config needs a file path, e.g. -config config.yaml"),
    );
  });

  test("rejects an empty value after =", () => {
    expect(() => parseConfigFlag(["--config="])).toThrow(
      new TypeError("Flag --config needs a file path, got an empty value"),
    );
  });

  test("rejects the flag given twice", () => {
    expect(() => parseConfigFlag(["--config", "a.yaml", "-config=b.yaml"])).toThrow(
      new TypeError("Flag -config was given more than once"),
    );
  });
});
