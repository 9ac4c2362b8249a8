/**
 * Where the repository's files are, from both the TypeScript sources (tests) and dist/ (built CLIs).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/** The folder holding package.json (the repository root, or the installed package). */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "fixtures"))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("tapwallet package root not found (no package.json with fixtures/)");
    dir = parent;
  }
}

export function fixturesDir(...parts: string[]): string {
  return join(packageRoot(), "fixtures", ...parts);
}
