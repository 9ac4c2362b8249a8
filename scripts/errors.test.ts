import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";
import { allCodes, renderErrorsDoc } from "./error-registry.js";

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

describe("error codes", () => {
  it("docs/errors.md lists exactly the codes the registries declare (run npm run docs:errors)", () => {
    const doc = readFileSync(join(packageRoot(), "docs", "errors.md"), "utf8");
    expect(doc).toBe(renderErrorsDoc());
  });

  it("every code the source code uses is declared in a registry", () => {
    const declared = allCodes();
    const used = new Set<string>();
    for (const folder of ["protocol", "terminal", "card-emulator", "acquirer-stub"]) {
      for (const file of sourceFiles(join(packageRoot(), folder))) {
        for (const m of readFileSync(file, "utf8").matchAll(/"((?:PROTO|TERM|CARD|ACQ)_ERR_[A-Z0-9_]+)"/g)) {
          used.add(m[1]!);
        }
      }
    }
    const undeclared = [...used].filter((c) => !declared.has(c));
    expect(undeclared).toEqual([]);
  });

  it("every code carries its program's prefix", () => {
    const prefixes: Record<string, string> = {
      "protocol/": "PROTO_ERR_",
      "terminal/": "TERM_ERR_",
      "card-emulator/": "CARD_ERR_",
      "acquirer-stub/": "ACQ_ERR_",
    };
    for (const [code, { area }] of allCodes()) expect(code.startsWith(prefixes[area]!)).toBe(true);
  });
});
