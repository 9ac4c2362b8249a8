/**
 * The card-emulator CLI as a user runs it: `node dist/card-emulator/cli.js …` (npm test builds dist
 * first; run `npm run build` before running this file alone).
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";
import { runCli } from "../test-support/run-cli.js";

const CLI = join(packageRoot(), "dist", "card-emulator", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "tapwallet-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(CLI, args);

describe.skipIf(!existsSync(CLI))("card-emulator CLI", () => {
  it("personalizes a card (state file 0600) and shows it as a table and as JSON, without key material", async () => {
    const state = join(dir, "alice.card.json");
    const made = await cli(
      "personalize",
      "--state",
      state,
      "--wallet-id",
      "W-ALICE-9",
      "--balance",
      "50.00",
      "--currency",
      "EUR",
      "--single-limit",
      "20.00",
      "--balance-limit",
      "200.00",
      "--valid-from",
      "2026-01-01",
      "--valid-to",
      "2028-01-01T00:00:00Z",
      "--regions",
      "TW,JP-13",
      "--categories",
      "5411",
    );
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/personalized W-ALICE-9: 50\.00 EUR/);
    expect(statSync(state).mode & 0o777).toBe(0o600);
    expect(readFileSync(state, "utf8")).toContain("BEGIN ENCRYPTED PRIVATE KEY");

    const table = await cli("show", "--state", state);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/balance\s+50\.00 EUR\s+\(5000 minor units\)/);
    expect(table.stdout).toMatch(/counter\s+0/);
    const json = await cli("show", "--state", state, "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({
      walletId: "W-ALICE-9",
      balance: 5000,
      counter: 0,
      blocked: false,
      limits: { singleLimit: 2000, balanceLimit: 20000 },
      policy: { validFrom: "2026-01-01T00:00:00.000Z", regions: ["TW", "JP-13"], categories: ["5411"] },
    });
    for (const out of [table.stdout, json.stdout]) expect(out).not.toMatch(/PRIVATE KEY|privateKey/);
  });

  it("refuses to overwrite a state file without --force", async () => {
    const state = join(dir, "twice.json");
    const args = [
      "personalize",
      "--state",
      state,
      "--wallet-id",
      "W-2",
      "--balance",
      "1",
      "--currency",
      "978",
    ];
    expect((await cli(...args)).code).toBe(0);
    const again = await cli(...args);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists \[CARD_ERR_STATE\]/);
    expect((await cli(...args, "--force")).code).toBe(0);
  });

  const usageErrors: [string, string[], RegExp][] = [
    ["a missing required option", ["personalize", "--state", "x.json"], /--wallet-id/],
    [
      "an amount with too many decimals",
      ["personalize", "--state", "x.json", "--wallet-id", "W", "--balance", "5.005", "--currency", "EUR"],
      /more than 2 decimals/,
    ],
    [
      "an unknown currency",
      ["personalize", "--state", "x.json", "--wallet-id", "W", "--balance", "5", "--currency", "XXX"],
      /unknown currency/,
    ],
    [
      "a bad region",
      [
        "personalize",
        "--state",
        "x.json",
        "--wallet-id",
        "W",
        "--balance",
        "5",
        "--currency",
        "EUR",
        "--regions",
        "taiwan",
      ],
      /--regions/,
    ],
    [
      "a bad date",
      [
        "personalize",
        "--state",
        "x.json",
        "--wallet-id",
        "W",
        "--balance",
        "5",
        "--currency",
        "EUR",
        "--valid-to",
        "soon",
      ],
      /--valid-to/,
    ],
    ["an unknown crypto", ["serve", "--state", "x.json", "--crypto", "rsa"], /node, noble/],
    [
      "an unknown certificate fault",
      ["serve", "--state", "x.json", "--certificate", "forged"],
      /unknown-issuer, expired, revoked/,
    ],
    ["a bad vpcd address", ["serve", "--state", "x.json", "--vpcd", "localhost"], /host:port/],
    ["an unknown command", ["burn"], /unknown command/],
  ];
  for (const [what, args, message] of usageErrors) {
    it(`answers ${what} with one line on stderr and exit code 2`, async () => {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(dir, "x.json"))).toBe(false);
    });
  }

  it("answers a missing or broken state file with CARD_ERR_STATE and exit code 1", async () => {
    const r = await cli("show", "--state", join(dir, "missing.json"));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^card-emulator: cannot read card state .* \[CARD_ERR_STATE\]$/);
    const s = await cli("serve", "--state", join(dir, "missing.json"));
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/CARD_ERR_STATE/);
  });

  it("--help names the three commands, the control interface and every fault flag", async () => {
    const top = await cli("--help");
    for (const c of ["personalize", "serve", "show"]) expect(top.stdout).toContain(c);
    const serve = await cli("serve", "--help");
    for (const flag of [
      "--vpcd",
      "--crypto",
      "--control",
      "--tear-after-debit",
      "--delay-ms",
      "--corrupt-signature",
      "--certificate",
      "--replay-debit",
      "--silent-after-initiate",
      "SIGUSR1",
      "SIGUSR2",
    ])
      expect(serve.stdout).toContain(flag);
  });
});
