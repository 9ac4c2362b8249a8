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
import { EXIT_CODES, TERMINAL_ERROR_CODES, TERMINAL_ERRORS } from "../terminal/errors.js";

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
    if (area === "terminal/") {
      lines.push(...terminalSection());
      continue;
    }
    lines.push(`## ${area}`, "", "| code | meaning |", "| --- | --- |");
    for (const [code, meaning] of Object.entries(codes)) lines.push(`| \`${code}\` | ${meaning} |`);
    lines.push("");
  }
  return lines.join("\n");
}

/**
 * The terminal's codes carry their class, the CLI exit code and the cash-register API's HTTP status
 * (terminal/errors.ts TERMINAL_ERRORS).
 */
function terminalSection(): string[] {
  const exits = Object.entries(EXIT_CODES)
    .map(([name, code]) => `${code} ${name}`)
    .join(", ");
  const lines = [
    "## terminal/",
    "",
    `Class: **decline** (the card or the terminal's policy said no; nothing charged), **error**, **usage**. A tap that fails after DEBIT went out, other than by the card's refusal, is *torn* whatever its code (exit 4). posd's exit codes: ${exits}. HTTP is the cash-register API's status when the error ends a request; payment outcomes are returned inside the payment (200).`,
    "",
    "| code | class | exit | HTTP | meaning |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const [code, spec] of Object.entries(TERMINAL_ERRORS)) {
    lines.push(
      `| \`${code}\` | ${spec.class} | ${EXIT_CODES[spec.class]} | ${spec.http} | ${spec.meaning} |`,
    );
  }
  lines.push("");
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(join(packageRoot(), "docs", "errors.md"), renderErrorsDoc());
}
