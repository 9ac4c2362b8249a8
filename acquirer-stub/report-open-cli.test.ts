/**
 * `acquirer-stub report --gap-days` and the operator token's strength at `serve`, on the real CLI
 * of dist/ (npm test builds it first; run `npm run build` before running this file alone). The
 * CLI runs on the machine's clock, so the world here does too: records are dated days before now.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../protocol/logger.js";
import { TerminalSim } from "../test-support/batch-builder.js";
import { realClock } from "../test-support/clock.js";
import { ACQUIRER_CLI, type Instance, spawnInstance } from "../test-support/fleet.js";
import { runCli } from "../test-support/run-cli.js";
import { postBatch } from "./platform/testing.js";
import { serve } from "./server.js";
import { type TestAcquirer, type TestDatabase, testAcquirer, testDatabase } from "./testing.js";

const DAY = 86_400;
const TOKEN_ENV = "TAPWALLET_ACQUIRER_OPERATOR_TOKEN";
const dir = mkdtempSync(join(tmpdir(), "acquirer-report-open-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(ACQUIRER_CLI, args, env);
const today = () => realClock.date().toISOString().slice(0, 10);

let acq: TestAcquirer | undefined;
let database: TestDatabase | undefined;
let instance: Instance | undefined;
afterEach(async () => {
  await instance?.stop();
  instance = undefined;
  await acq?.close();
  acq = undefined;
  await database?.drop();
  database = undefined;
});

describe.skipIf(!existsSync(ACQUIRER_CLI))("acquirer-stub report --gap-days", () => {
  it("lists Alice's counters open 10 days with --gap-days 7, not with 14, and never Bob's 2-day gap", async () => {
    acq = await testAcquirer({ clock: realClock.date });
    const now = realClock.seconds();
    const t = new TerminalSim({ clock: realClock });
    t.debit({ card: "cards/alice", counter: 1, amount: 450, balanceAfter: 4_550, time: now - 20 * DAY });
    t.debit({ card: "cards/alice", counter: 4, amount: 100, balanceAfter: 3_000, time: now - 10 * DAY });
    t.debit({ card: "cards/bob", counter: 1, amount: 200, balanceAfter: 800, time: now - 5 * DAY });
    t.debit({ card: "cards/bob", counter: 3, amount: 200, balanceAfter: 500, time: now - 2 * DAY });
    expect((await postBatch(acq.app, t.closeBatch())).body).toMatchObject({ accepted: 4 });

    const json = await cli(["report", "--date", today(), "--json", "--gap-days", "7", "--db", acq.dbPath]);
    expect(json.code, json.stderr).toBe(0);
    const fraud = JSON.parse(json.stdout).fraud;
    expect(fraud.gapDays).toBe(7);
    expect(fraud.openCounterGaps).toMatchObject([
      {
        walletId: "W-ALICE-0001",
        from: 2,
        to: 3,
        ageDays: 10,
        above: { cardCounter: 4, source: "record" },
        balanceDrop: { amount: 1_450, text: "14.50 EUR" },
      },
    ]);
    expect(fraud.unresolvedIntents).toEqual([]);

    const text = await cli(["report", "--date", today(), "--db", acq.dbPath]); // the default: 7 days
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}Counter gaps open more than 7 days \(as of \d{4}-/m);
    expect(text.stdout).toMatch(
      /^ {4}wallet W-ALICE-0001 counters 2-3: open 10 days \(since #4, record of .*\); balance drop 14\.50 EUR$/m,
    );
    expect(text.stdout).not.toMatch(/wallet W-BOB-0002 counters/);

    const longer = await cli(["report", "--date", today(), "--json", "--gap-days", "14", "--db", acq.dbPath]);
    expect(JSON.parse(longer.stdout).fraud.openCounterGaps).toEqual([]);
    const shorter = await cli(["report", "--date", today(), "--json", "--gap-days", "1", "--db", acq.dbPath]);
    expect(
      JSON.parse(shorter.stdout).fraud.openCounterGaps.map((g: { walletId: string }) => g.walletId),
    ).toEqual(["W-ALICE-0001", "W-BOB-0002"]);
  });

  for (const bad of ["-1", "1.5", "seven", "", "1e3", "100000"])
    it(`answers --gap-days ${JSON.stringify(bad)} with a usage error (exit 2, ACQ_ERR_USAGE)`, async () => {
      const r = await cli([
        "report",
        "--date",
        "2026-11-23",
        "--gap-days",
        bad,
        "--db",
        join(dir, "none.sqlite"),
      ]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^acquirer-stub: /);
      if (bad !== "-1") expect(r.stderr).toMatch(/--gap-days takes whole days .*\[ACQ_ERR_USAGE\]$/m);
    });

  it("says --gap-days in report --help", async () => {
    expect((await cli(["report", "--help"])).stdout).toMatch(/--gap-days <days>[\s\S]*default: "7"/);
  });
});

describe.skipIf(!existsSync(ACQUIRER_CLI))("acquirer-stub serve: the operator token's strength", () => {
  for (const token of ["0123456789", "0123456789abcde"])
    it(`refuses a ${token.length}-character token: exit 2, ACQ_ERR_WEAK_OPERATOR_TOKEN, the token never printed`, async () => {
      const db = join(dir, `weak-${token.length}.sqlite`);
      const r = await cli(["serve", "--port", "0", "--db", db], { [TOKEN_ENV]: token });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/at least 16 characters/);
      expect(r.stderr).toMatch(/openssl rand -hex 32/);
      expect(r.stderr).toMatch(/\[ACQ_ERR_WEAK_OPERATOR_TOKEN\]$/m);
      expect(r.stderr).not.toContain(token);
      expect(existsSync(db)).toBe(false);
    });

  it("starts with a 16-character token, which then lets the operator in", async () => {
    database = await testDatabase();
    const token = "0123456789abcdef";
    instance = await spawnInstance(database.target, { [TOKEN_ENV]: token });
    const url = `${instance.url}/v1/reports/settlement?date=${today()}`;
    expect((await fetch(url)).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ fraud: { openCounterGaps: [], unresolvedIntents: [] } });
  });

  it("refuses a short token in serve() itself, before anything is opened", async () => {
    const db = join(dir, "serve-fn.sqlite");
    const started = serve({
      port: 0,
      host: "127.0.0.1",
      db,
      pkiDir: join(dir, "no-pki"),
      logger: createLogger({ name: "acquirer", level: "silent" }),
      operator: { token: "short-token" },
    });
    await expect(started).rejects.toMatchObject({ code: "ACQ_ERR_WEAK_OPERATOR_TOKEN" });
    expect(existsSync(db)).toBe(false);
  });
});
