/**
 * The wallet platform's commands as an operator runs them: `node dist/acquirer-stub/cli.js wallet …`
 * and `… bank …` on a database of the engine under test (npm test builds dist first; run
 * `npm run build` before running this file alone).
 */

import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { packageRoot } from "../../protocol/paths.js";
import { DEFAULT_DAY, TerminalSim } from "../../test-support/batch-builder.js";
import { runCli } from "../../test-support/run-cli.js";
import { BatchProcessor } from "../application/batches.js";
import { AcquirerStore } from "../db/store.js";
import { TEST_NOW, type TestDatabase, testDatabase, testPki } from "../testing.js";
import { bankBalanceBreaks, unbalancedBookings } from "./testing.js";

const CLI = join(packageRoot(), "dist", "acquirer-stub", "cli.js");
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "platform-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let database: TestDatabase;
beforeEach(async () => {
  database = await testDatabase();
});
afterEach(async () => {
  if (existsSync(database.target) || database.kind === "postgres") {
    const store = await AcquirerStore.open(database.target);
    try {
      expect(await unbalancedBookings(store)).toEqual([]);
      expect(await bankBalanceBreaks(store)).toEqual([]);
    } finally {
      await store.close();
    }
  }
  await database.drop();
});

const cli = (...args: string[]) => runCli(CLI, [...args, "--db", database.target]);

const ISSUE = [
  "wallet",
  "issue",
  "W-ALICE-0001",
  "--currency",
  "EUR",
  "--opening",
  "50.00",
  "--bound-account",
  "NL-0001",
  "--balance-limit",
  "200.00",
];

describe.skipIf(!existsSync(CLI))("acquirer-stub wallet and bank", () => {
  it("opens a bank account with its opening deposit booked, and shows it with its entries", async () => {
    const opened = await cli(
      "bank",
      "open",
      "NL-0001",
      "--holder",
      "Alice",
      "--currency",
      "EUR",
      "--balance",
      "500.00",
    );
    expect(opened).toMatchObject({ code: 0, stderr: "" });
    expect(opened.stdout).toBe("bank account NL-0001 opened for Alice: balance 500.00 EUR\n");

    const shown = await cli("bank", "show", "NL-0001");
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^bank account NL-0001 {2}Alice {2}EUR {2}open$/m);
    expect(shown.stdout).toMatch(/balance 500\.00 EUR {2}held 0\.00 EUR {2}available 500\.00 EUR/);
    expect(shown.stdout).toMatch(/deposit:NL-0001 +\+500\.00/);

    const json = JSON.parse((await cli("bank", "show", "NL-0001", "--json")).stdout);
    expect(json).toMatchObject({ number: "NL-0001", balance: 50_000, held: 0, available: 50_000 });
    expect(json.entries).toEqual([expect.objectContaining({ bookingId: "deposit:NL-0001", amount: 50_000 })]);
    expect((await cli("bank", "list")).stdout).toMatch(/^bank account NL-0001 /);
  });

  it("issues a wallet bound to an account, and shows its accounts, parameters and loads", async () => {
    await cli("bank", "open", "NL-0001", "--holder", "Alice", "--currency", "EUR", "--balance", "500.00");
    const issued = await cli(...ISSUE);
    expect(issued).toMatchObject({ code: 0, stderr: "" });
    expect(issued.stdout).toBe(
      "wallet W-ALICE-0001 issued: EUR, opening balance 50.00 EUR, bound to NL-0001\n",
    );

    const shown = await cli("wallet", "show", "W-ALICE-0001");
    expect(shown.code).toBe(0);
    for (const line of [
      /^wallet W-ALICE-0001 {2}active {2}EUR/m,
      /offline balance +50\.00 EUR/,
      /online balance +0\.00 EUR/,
      /bound account +NL-0001 \(Alice, open, available 500\.00 EUR\)/,
      /balance limit +200\.00 EUR/,
      /card certificate +not presented yet/,
      /last counter seen +none/,
      /loads: none/,
    ])
      expect(shown.stdout).toMatch(line);
    const json = JSON.parse((await cli("wallet", "show", "W-ALICE-0001", "--json")).stdout);
    expect(json).toMatchObject({ accounts: { offline: 5_000, online: 0 }, balanceLimit: 20_000, loads: [] });
  });

  it("treats issuing and opening again with the same values as done, and other values as an error", async () => {
    await cli("bank", "open", "NL-0001", "--holder", "Alice", "--currency", "EUR", "--balance", "500.00");
    await cli(...ISSUE);
    const again = await cli(...ISSUE);
    expect(again).toMatchObject({
      code: 0,
      stdout: "wallet W-ALICE-0001 was already issued with these values\n",
    });
    const other = await cli(...ISSUE.slice(0, -1), "300.00");
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/another balance limit \[ACQ_ERR_WALLET_EXISTS\]/);
    const reopened = await cli(
      "bank",
      "open",
      "NL-0001",
      "--holder",
      "Alice",
      "--currency",
      "EUR",
      "--balance",
      "500.00",
    );
    expect(reopened.stdout).toBe("bank account NL-0001 was already open with these values\n");
    const otherBank = await cli("bank", "open", "NL-0001", "--holder", "Mallory", "--currency", "EUR");
    expect(otherBank.code).toBe(1);
    expect(otherBank.stderr).toMatch(/ACQ_ERR_ACCOUNT_EXISTS/);
    // One opening balance each, however many times they were asked for.
    expect(JSON.parse((await cli("wallet", "show", "W-ALICE-0001", "--json")).stdout).accounts.offline).toBe(
      5_000,
    );
  });

  it("refuses a wallet bound to an account nobody opened (exit 1, ACQ_ERR_ACCOUNT_UNKNOWN)", async () => {
    const r = await cli(...ISSUE);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no bank account NL-0001 \[ACQ_ERR_ACCOUNT_UNKNOWN\]/);
  });

  it("answers an unknown wallet or account with exit 1 and its code", async () => {
    await cli("bank", "open", "NL-0001", "--holder", "Alice", "--currency", "EUR");
    expect(await cli("wallet", "show", "W-NOBODY")).toMatchObject({ code: 1, stdout: "" });
    expect((await cli("wallet", "show", "W-NOBODY")).stderr).toMatch(/ACQ_ERR_WALLET_UNKNOWN/);
    expect((await cli("bank", "show", "NL-0404")).stderr).toMatch(/ACQ_ERR_ACCOUNT_UNKNOWN/);
  });

  const usage: [string, string[]][] = [
    [
      "an amount with a comma",
      ["bank", "open", "NL-0001", "--holder", "A", "--currency", "EUR", "--balance", "5,00"],
    ],
    [
      "more decimals than the currency has",
      ["wallet", "issue", "W-1", "--currency", "EUR", "--opening", "1.005"],
    ],
    ["an unknown currency", ["wallet", "issue", "W-1", "--currency", "XXX"]],
    ["a missing currency", ["wallet", "issue", "W-1"]],
    ["a malformed wallet id", ["wallet", "show", "not a wallet!"]],
    ["a lower-case account number", ["bank", "show", "nl-0001"]],
    [
      "an opening balance above the balance limit",
      ["wallet", "issue", "W-1", "--currency", "EUR", "--opening", "10.00", "--balance-limit", "5.00"],
    ],
  ];
  for (const [what, args] of usage)
    it(`answers ${what} with one line on stderr and exit code 2`, async () => {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    });

  it("reports the platform's reconciliation after the settlement, and names a broken bank column", async () => {
    await cli("bank", "open", "NL-0001", "--holder", "Alice", "--currency", "EUR", "--balance", "500.00");
    await cli(...ISSUE);
    // A terminal's batch settled on the same database: Alice pays 4.50, Bob (not issued) 3.99.
    const store = await AcquirerStore.open(database.target);
    try {
      const sim = new TerminalSim();
      sim.debit({ card: "cards/alice", amount: 450 });
      sim.debit({ card: "cards/bob", amount: 399 });
      const processor = new BatchProcessor({ store, trust: testPki().trust, clock: () => TEST_NOW });
      expect((await processor.submit(sim.closeBatch())).httpStatus).toBe(200);

      const text = await cli("report", "--date", DEFAULT_DAY);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/M-0001\s+EUR\s+2\s+8\.49/);
      expect(text.stdout).toContain("Wallet platform: reconciliation of every account");
      expect(text.stdout).toMatch(/EUR\s+1 for 4\.50 EUR\s+1 for 4\.50 EUR\s+1 for 3\.99 EUR/);
      expect(text.stdout).toMatch(
        /W-ALICE-0001\s+50\.00 EUR\s+0\.00 EUR\s+0\.00 EUR\s+4\.50 EUR\s+45\.50 EUR/,
      );
      expect(text.stdout).toMatch(/Differences\n\n {2}no differences\n$/);
      const json = JSON.parse((await cli("report", "--date", DEFAULT_DAY, "--json")).stdout);
      expect(json.settlement).toHaveLength(1);
      expect(json.platform).toMatchObject({ balanced: true, differences: [] });
      expect(json.platform.wallets).toEqual([
        expect.objectContaining({ walletId: "W-ALICE-0001", consumption: 450, offline: 4_550 }),
      ]);

      const bump = (by: number) =>
        store.db
          .updateTable("bank_accounts")
          .set((eb) => ({ balance: eb("balance", "+", by) }))
          .where("number", "=", "NL-0001")
          .execute();
      await bump(-1);
      try {
        const broken = await cli("report", "--date", DEFAULT_DAY);
        expect(broken.code).toBe(0);
        expect(broken.stdout).toContain(
          "  - bank account NL-0001: deposits − loads + reversals = 500.00 EUR, its balance column says 499.99 EUR, difference -0.01 EUR\n",
        );
      } finally {
        await bump(1);
      }
    } finally {
      await store.close();
    }
  });

  it("refuses to show from a database that does not exist, and creates none", async () => {
    const missing = join(dir, "missing.sqlite");
    const { code, stderr } = await run(process.execPath, [CLI, "bank", "list", "--db", missing]).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/ACQ_ERR_STORE/);
    expect(existsSync(missing)).toBe(false);
  });
});
