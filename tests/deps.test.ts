// Third-party code enters through lib/deps.ts only, at the versions package.json pins, and
// every module loads by URL (relative imports name their `.ts` file).
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEPS = "lib/deps.ts";

// Keywords after which a `/` starts a regex literal rather than a division.
const BEFORE_REGEX =
  /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|void|yield|await|throw|new)\s*$/;

/**
 * Reduces TypeScript source to its code: comments, template text and regex literals
 * become spaces, and each quoted string becomes `"<n>"` with its text in `strings[n]`,
 * so that only real import statements match the patterns below.
 */
function lex(source: string): { code: string; strings: string[] } {
  const strings: string[] = [];
  const templateDepths: number[] = []; // the brace depth at each open `${`
  let code = "";
  let i = 0;
  let braces = 0;
  let lastSignificant = ""; // the last code character other than whitespace
  // Consumes source up to (not including) the first character where `stop` holds,
  // stepping over backslash escapes, and returns it.
  const take = (stop: (at: number) => boolean, escapes = true): string => {
    const from = i;
    while (i < source.length && !stop(i)) i += escapes && source[i] === "\\" ? 2 : 1;
    return source.slice(from, i);
  };
  const blank = (text: string): string => text.replace(/[^\n]/g, " ");
  const templateText = (): void => {
    code += blank(take((at) => source[at] === "`" || source.startsWith("${", at)));
    if (source.startsWith("${", i)) {
      code += "${";
      i += 2;
      templateDepths.push(braces++);
    } else code += source[i++] ?? "";
    lastSignificant = "`";
  };
  while (i < source.length) {
    const c = source[i];
    if (source.startsWith("//", i)) {
      code += blank(take((at) => source[at] === "\n", false));
    } else if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      code += blank(take((at) => at === (end === -1 ? source.length : end + 2), false));
    } else if (c === '"' || c === "'") {
      i++;
      const text = take((at) => source[at] === c || source[at] === "\n");
      i++;
      code += `"${strings.push(text) - 1}"`;
      lastSignificant = '"';
    } else if (c === "`") {
      code += source[i++];
      templateText();
    } else if (c === "}" && templateDepths.at(-1) === braces - 1) {
      templateDepths.pop();
      braces--;
      code += source[i++];
      templateText();
    } else if (
      c === "/" &&
      ("(,=:[!&|?{};+-*%<>~^".includes(lastSignificant) || BEFORE_REGEX.test(code.slice(-16)))
    ) {
      let inClass = false;
      i++;
      const body = take((at) => {
        if (source[at] === "[") inClass = true;
        if (source[at] === "]") inClass = false;
        return (source[at] === "/" && !inClass) || source[at] === "\n";
      });
      i++;
      code += "/" + blank(body) + "/";
      lastSignificant = "/";
    } else {
      if (c === "{") braces++;
      if (c === "}") braces--;
      if (!/\s/.test(c)) lastSignificant = c;
      code += source[i++];
    }
  }
  return { code, strings };
}

const IMPORT_PATTERNS = [
  /\b(?:import|export)\s+(?:type\s+)?[\w$*{}\s,]*?\bfrom\s*"(\d+)"/g,
  /\bimport\s*"(\d+)"/g,
  /\bimport\s*\(\s*"(\d+)"/g,
];

/** Every static, side-effect and dynamic import or re-export specifier in `source`. */
function importSpecifiers(source: string): string[] {
  const { code, strings } = lex(source);
  const found = IMPORT_PATTERNS.flatMap((pattern) =>
    [...code.matchAll(pattern)].map((m) => ({ at: m.index, specifier: strings[Number(m[1])] }))
  );
  return found.sort((a, b) => a.at - b.at).map((f) => f.specifier);
}

/** `npm:name@range/sub/path` → `{ name, range }`; undefined for anything else. */
function parseNpmSpecifier(specifier: string): { name: string; range: string } | undefined {
  const m = /^npm:((?:@[^/@]+\/)?[^/@]+)(?:@([^/]*))?(?:\/.*)?$/.exec(specifier);
  return m ? { name: m[1], range: m[2] ?? "" } : undefined;
}

function tsFilesUnder(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return []; // not written yet
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .filter((path) => !path.split(/[\\/]/).includes("node_modules"));
}

function imports(path: string): string[] {
  return importSpecifiers(readFileSync(join(ROOT, path), "utf8"));
}

const isRelative = (s: string): boolean => s.startsWith("./") || s.startsWith("../");

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const pinned: Record<string, string> = { ...pkg.devDependencies, ...pkg.dependencies };

/** The code that ships: what a user importing `mod.ts` by URL may load. */
const shipped = ["mod.ts", ...["lib", "runtime", "worker"].flatMap(tsFilesUnder)];

describe("import scanner", () => {
  test("finds static, type-only, side-effect, dynamic and re-export specifiers", () => {
    const source = [
      'import { a, type B } from "./a.ts";',
      "import type { C } from './c.ts';",
      'import "./side.ts";',
      'export * as ns from "npm:@scope/pkg@^1.2.3/sub";',
      'export { d } from "node:fs";',
      "const m = await import(\n  './lazy.ts'\n);",
      "import x, {\n  y,\n  z as w,\n} from '../multi.ts';",
    ].join("\n");
    expect(importSpecifiers(source)).toEqual([
      "./a.ts",
      "./c.ts",
      "./side.ts",
      "npm:@scope/pkg@^1.2.3/sub",
      "node:fs",
      "./lazy.ts",
      "../multi.ts",
    ]);
  });

  test("ignores imports inside comments, strings and regex literals", () => {
    const source = [
      "/**",
      " * @example",
      ' * import { deriveCA } from "https://example.com/mod.ts";',
      " */",
      '// import "hono";',
      'const glob = "lib/*/"; const re = /["\']/g; const t = `${"/*"}`;',
      "const s = 'import \"./quoted.ts\"'; // a path like C:\\",
      'import { real } from "./real.ts"; /* import "./fake.ts" */',
      "const half = 1 / 2; const r = /'/.source; const u = `${`import('./t.ts')`}`;",
      'export { last } from "./last.ts";',
    ].join("\n");
    expect(importSpecifiers(source)).toEqual(["./real.ts", "./last.ts"]);
  });

  test("splits npm specifiers into name and range, scoped and with subpaths", () => {
    expect(parseNpmSpecifier("npm:hono@^4.13.23/http-exception")).toEqual({
      name: "hono",
      range: "^4.13.23",
    });
    expect(parseNpmSpecifier("npm:@hono/node-server@^2.1.11")).toEqual({
      name: "@hono/node-server",
      range: "^2.1.11",
    });
    expect(parseNpmSpecifier("npm:yaml")).toEqual({ name: "yaml", range: "" });
    expect(parseNpmSpecifier("node:fs")).toBeUndefined();
  });
});

describe("dependencies", () => {
  test("lib/deps.ts pins every npm package at exactly the range in package.json", () => {
    const specifiers = imports(DEPS).filter((s) => s.startsWith("npm:"));
    expect(specifiers.length).toBeGreaterThan(0);
    const problems = specifiers.flatMap((specifier) => {
      const npm = parseNpmSpecifier(specifier);
      if (!npm || npm.range === "") return [`${DEPS}: ${specifier} has no version range`];
      const expected = pinned[npm.name];
      if (expected === undefined) {
        return [`${DEPS}: ${specifier}: ${npm.name} is not in package.json`];
      }
      if (npm.range !== expected) {
        return [`${DEPS}: ${specifier}: range ${npm.range} differs from package.json ${expected}`];
      }
      return [];
    });
    expect(problems).toEqual([]);
  });

  test("mod.ts, lib/, runtime/ and worker/ import third-party code only through lib/deps.ts", () => {
    expect(shipped).toContain(DEPS);
    const problems = shipped.flatMap((path) =>
      imports(path)
        .filter((s) =>
          !isRelative(s) && !s.startsWith("node:") && !(path === DEPS && s.startsWith("npm:"))
        )
        .map((s) => `${path}: ${s} (import third-party modules through ${DEPS})`)
    );
    expect(problems).toEqual([]);
  });

  test("every relative import names its .ts file, so modules load by URL", () => {
    const everything = [
      ...shipped,
      ...["scripts", "tests"].flatMap(tsFilesUnder),
    ];
    const problems = everything.flatMap((path) =>
      imports(path)
        .filter((s) => isRelative(s) && !s.endsWith(".ts"))
        .map((s) => `${path}: ${s} (relative imports must end in .ts)`)
    );
    expect(problems).toEqual([]);
  });
});
