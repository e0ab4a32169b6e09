// Bun does not understand `npm:name@range` specifiers; this preload plugin maps
// them to the packages that `npm ci` installed. Bun hands plugins in the "npm"
// namespace the specifier without its prefix.
import { plugin } from "bun";

/** Splits `@scope/name@range/sub/path` into `@scope/name/sub/path`. */
export function bareSpecifier(spec: string): string {
  const scoped = spec.startsWith("@");
  const nameEnd = spec.indexOf("/", scoped ? spec.indexOf("/") + 1 : 0);
  const head = nameEnd === -1 ? spec : spec.slice(0, nameEnd);
  const subpath = nameEnd === -1 ? "" : spec.slice(nameEnd);
  const at = head.indexOf("@", scoped ? 1 : 0);
  return (at === -1 ? head : head.slice(0, at)) + subpath;
}

plugin({
  name: "npm-specifiers",
  setup(build) {
    build.onResolve({ filter: /.*/, namespace: "npm" }, (args) => ({
      path: Bun.resolveSync(bareSpecifier(args.path), args.importer || process.cwd()),
    }));
  },
});
