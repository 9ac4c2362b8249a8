/**
 * Every stable error code of the project, gathered from each program's registry, and the
 * generator of docs/errors.md (`npm run docs:errors`). scripts/errors.test.ts fails when the
 * document and the code disagree or a code is used that no registry declares.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ACQUIRER_ERROR_CODES } from "../acquirer-stub/errors.js";
import { CARD_ERROR_CODES } from "../card-emulator/errors.js";
import { PROTOCOL_ERROR_CODES } from "../protocol/errors.js";
import { packageRoot } from "../protocol/paths.js";
import { TERMINAL_ERROR_CODES } from "../terminal/errors.js";

export const REGISTRIES: Record<string, Record<string, string>> = {
  "protocol/": PROTOCOL_ERROR_CODES,
  "terminal/": TERMINAL_ERROR_CODES,
  "card-emulator/": CARD_ERROR_CODES,
  "acquirer-stub/": ACQUIRER_ERROR_CODES,
};

export function allCodes(): Map<string, { area: string; meaning: string }> {
  const out = new Map<string, { area: string; meaning: string }>();
  for (const [area, codes] of Object.entries(REGISTRIES)) {
    for (const [code, meaning] of Object.entries(codes)) out.set(code, { area, meaning });
  }
  return out;
}

export function renderErrorsDoc(): string {
  const lines = [
    "# Error codes",
    "",
    "Every error tapwallet reports carries one of these stable codes (in JSON output, logs and HTTP",
    "bodies). Codes are API: they do not change meaning. Messages may change. This file is generated",
    "by `npm run docs:errors` from the registries in each program's `errors.ts`; a test fails when it",
    "is stale.",
    "",
  ];
  for (const [area, codes] of Object.entries(REGISTRIES)) {
    lines.push(`## ${area}`, "", "| code | meaning |", "| --- | --- |");
    for (const [code, meaning] of Object.entries(codes)) lines.push(`| \`${code}\` | ${meaning} |`);
    lines.push("");
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(join(packageRoot(), "docs", "errors.md"), renderErrorsDoc());
}
