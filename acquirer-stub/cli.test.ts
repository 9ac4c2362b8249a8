/**
 * The acquirer CLI as an operator runs it: `node dist/acquirer-stub/cli.js …` (npm test builds dist
 * first; run `npm run build` before running this file alone).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";
import { AcquirerClient } from "../terminal/adapters/http/acquirer-client.js";
import { TerminalSim } from "../test-support/batch-builder.js";
import { frozenClock, realClock } from "../test-support/clock.js";
import { runCli } from "../test-support/run-cli.js";
import { testDatabase, testEngine, testPostgresUrl } from "./testing.js";

const CLI = join(packageRoot(), "dist", "acquirer-stub", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "acquirer-cli-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(CLI, args);

/** `serve --port 0` with an operator token; resolves with its URL once it prints it. */
function serve(db: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--db", db], {
    env: {
      ...process.env,
      TAPWALLET_LOG_LEVEL: "warn",
      TAPWALLET_ACQUIRER_OPERATOR_TOKEN: "cli-test-operator",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

describe.skipIf(!existsSync(CLI))("acquirer-stub CLI", () => {
  it("tells the truth in --help", async () => {
    const help = await cli("--help");
    expect(help.code).toBe(0);
    for (const command of [
      "serve",
      "report",
      "block",
      "unblock",
      "revoke-terminal",
      "ledger",
      "hotlist",
      "audit",
    ])
      expect(help.stdout).toContain(command);
    const report = await cli("report", "--help");
    expect(report.stdout).toMatch(/--date <YYYY-MM-DD>/);
    expect(report.stdout).toMatch(/--json/);
    expect(report.stdout).toMatch(/--db <file\|url>[\s\S]*default:\s+"acquirer\.sqlite"/);
    const block = await cli("block", "--help");
    expect(block.stdout).toMatch(/choices: "lost", "stolen", "fraud", "clone", "other"/);
  });

  const usage: [string, string[]][] = [
    ["an unknown command", ["settle"]],
    ["a missing --date", ["report"]],
    ["a date that is not a calendar date", ["report", "--date", "2026-02-30"]],
    ["a block reason outside the list", ["block", "W-ALICE-0001", "--reason", "bored"]],
    ["a block without a reason", ["block", "W-ALICE-0001"]],
    ["a malformed wallet id", ["unblock", "not a wallet!"]],
    ["a port that is not a port", ["serve", "--port", "http"]],
    ["an unknown option", ["hotlist", "--yaml"]],
  ];
  for (const [what, args] of usage)
    it(`answers ${what} with one line on stderr and exit code 2`, async () => {
      const r = await cli(...args, "--db", join(dir, "none.sqlite"));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^acquirer-stub: /);
    });

  it("refuses to report on a database that does not exist (exit 1) instead of creating one", async () => {
    const db = join(dir, "missing.sqlite");
    const r = await cli("report", "--date", "2026-11-23", "--db", db);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ACQ_ERR_STORE/);
    expect(existsSync(db)).toBe(false);
  });

  it.runIf(testEngine() === "postgres")(
    "refuses to report on a PostgreSQL database that does not exist (exit 1, unreachable)",
    async () => {
      const url = new URL(testPostgresUrl()!);
      url.pathname = "/tw_no_such_database";
      const r = await cli("report", "--date", "2026-11-23", "--db", url.href);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/ACQ_ERR_STORE_UNREACHABLE/);
    },
  );

  it("serves batches, and blocks, reports, revokes on the same database while serving", async () => {
    // The engine under test: a SQLite file, or (TAPWALLET_TEST_ENGINE=postgres) a database URL.
    const database = await testDatabase();
    const db = database.target;
    const { url, child } = await serve(db);
    if (database.kind === "sqlite") expect(statSync(db).mode & 0o777).toBe(0o600);
    const client = new AcquirerClient({ baseUrl: url, baseDelayMs: 5 });
    try {
      // `serve` runs on the real clock, so the simulated terminal does too (read once, so that the
      // records and the report's day agree even at midnight).
      const sim = new TerminalSim({ clock: frozenClock(realClock.ms()) });
      sim.debit({ card: "cards/alice", amount: 1250 });
      sim.debit({ card: "cards/bob", amount: 399 });
      sim.debit({ card: "cards/alice", amount: 1, counter: 5 });
      expect(await client.uploadBatch(sim.closeBatch())).toMatchObject({ status: "settled", accepted: 3 });

      const blocked = await cli("block", "W-BOB-0002", "--reason", "lost", "--db", db);
      expect(blocked.code, blocked.stderr).toBe(0);
      expect(blocked.stdout).toMatch(/wallet W-BOB-0002 blocked \(lost\); hotlist version \d+/);
      expect((await client.fetchHotlist())!.blockedWallets).toEqual(["W-BOB-0002"]);

      const day = new Date(sim.clock.ms()).toISOString().slice(0, 10);
      const json = await cli("report", "--date", day, "--json", "--db", db);
      expect(json.code, json.stderr).toBe(0);
      const report = JSON.parse(json.stdout);
      expect(report.settlement).toEqual([
        {
          merchantId: "M-0001",
          currency: 978,
          currencyCode: "EUR",
          count: 3,
          amount: 1650,
          amountText: "16.50",
          refundCount: 0,
          refunds: 0,
          refundsText: "0.00",
          net: 1650,
          netText: "16.50",
        },
      ]);
      expect(report.outstandingCounters).toEqual([{ walletId: "W-ALICE-0001", gaps: [{ from: 2, to: 4 }] }]);

      const text = await cli("report", "--date", day, "--db", db);
      expect(text.stdout).toMatch(/M-0001\s+EUR\s+3\s+16\.50/);
      expect(text.stdout).toMatch(/wallet W-ALICE-0001: counters 2-4/);

      const ledger = await cli("ledger", "W-ALICE-0001", "--db", db);
      expect(ledger.stdout).toMatch(/#1 .* 12\.50 EUR/);
      expect(ledger.stdout).toMatch(/outstanding counters: 2-4/);

      const revoked = await cli("revoke-terminal", "T-0001", "--reason", "stolen", "--db", db);
      expect(revoked.stdout).toMatch(/terminal T-0001 revoked/);
      sim.debit();
      const refused = await client.uploadBatch(sim.closeBatch()).catch((e: unknown) => e);
      expect(refused).toMatchObject({ details: { status: 403, code: "ACQ_ERR_TERMINAL_REVOKED" } });

      const unblocked = await cli("unblock", "W-BOB-0002", "--db", db);
      expect(unblocked.stdout).toMatch(/wallet W-BOB-0002 unblocked/);
      const hotlist = await cli("hotlist", "--json", "--db", db);
      expect(JSON.parse(hotlist.stdout)).toMatchObject({ blockedWallets: [], revokedSerials: ["c005"] });
    } finally {
      client.close();
      const exited = new Promise<number | null>((r) => child.on("exit", r));
      child.kill("SIGTERM");
      const code = await exited;
      await database.drop();
      expect(code).toBe(0);
    }
  });
});
