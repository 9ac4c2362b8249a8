/**
 * Issue 14's overspending attacks, played as a holder plays them, with the real CLIs from dist/ on
 * the real clock: `acquirer-stub wallet issue --opening` and `serve` (loopback HTTP, SQLite file),
 * `card-emulator personalize`, an edit or a copy of the software card's state JSON, `posd pay
 * --virtual` at initialized terminals that never saw the wallet (approved offline: a terminal cannot
 * tell), `posd upload`, `posd sync`, `acquirer-stub report | ledger | hotlist | wallet show`.
 *
 * - Edited balance: 4.50 at T-0001, then 400.00 from a balance edited to 5000.00 at T-0002. The
 *   platform's shadow balance catches it when the second batch settles: overspent by 354.50 EUR,
 *   blocked for fraud, hotlisted; after `posd sync` both terminals decline the wallet.
 * - Counter jump: a copy of a fresh wallet with its counter set to 1000 is caught at its first
 *   upload, whatever its balance says.
 * - The hotlist binds: a terminal that did not sync takes the blocked wallet's debit; the acquirer
 *   accepts and flags it inside the grace period (24 h by default), and rejects it with
 *   ACQ_ERR_WALLET_BLOCKED when started with `--hotlist-grace-hours 0`.
 */
import { execFile } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { ACQUIRER_CLI, backOfficeCli, type Instance, spawnInstance } from "../test-support/fleet.js";
import { cardState, posdInit, runPosd } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const run = promisify(execFile);
const ALICE = "W-ALICE-0001";
const BOB = "W-BOB-0002";
const CAROL = "W-CAROL-0003";

const world = systemWorld({
  name: "shadow-fraud",
  cards: {
    alice: { walletId: ALICE },
    bob: { walletId: BOB },
    carol: { walletId: CAROL },
  },
});
// The default acquirer (24 h grace) and one started with --hotlist-grace-hours 0, each its own file.
const db = join(world.dir, "acquirer.sqlite");
const strictDb = join(world.dir, "strict.sqlite");
const backOffice = backOfficeCli(db);
const strictBackOffice = backOfficeCli(strictDb);
// posd data directories; STRICT is a T-0001 of the strict acquirer.
const T1 = join(world.dir, "t-0001");
const T2 = join(world.dir, "t-0002");
const T3 = join(world.dir, "t-0003");
const STRICT = join(world.dir, "strict-t-0001");
let acquirer: Instance;
let strict: Instance;

beforeAll(async () => {
  for (const w of [ALICE, BOB])
    await backOffice("wallet", "issue", w, "--currency", "EUR", "--opening", "50.00");
  await strictBackOffice("wallet", "issue", CAROL, "--currency", "EUR", "--opening", "50.00");
  [acquirer, strict] = await Promise.all([
    spawnInstance(db),
    spawnInstance(strictDb, {}, ["--hotlist-grace-hours", "0"]),
  ]);
  world.cleanup(() => Promise.all([acquirer.stop(), strict.stop()]).then(() => undefined));
  const terminals: [string, string, string][] = [
    [T1, "T-0001", acquirer.url],
    [T2, "T-0002", acquirer.url],
    [T3, "T-0003", acquirer.url],
    [STRICT, "T-0001", strict.url],
  ];
  await Promise.all(
    terminals.map(async ([dir, id, url]) => {
      await posdInit(dir, ["--terminal-id", id, "--acquirer", url]);
      // A fresh hotlist, so that 400.00 is not declined as stale before the card is even touched.
      expect((await runPosd(dir, ["sync"])).code).toBe(0);
    }),
  );
}, 60_000);

interface PayAnswer {
  exit: number | null;
  status: string;
  code?: string;
  /** An approved payment's stored record (minor units). */
  record?: { seq: number; amount: number; cardCounter: number; balanceAfter: number; terminalTime: string };
}

async function pay(dir: string, card: string, amount: string): Promise<PayAnswer> {
  const r = await runPosd(dir, ["pay", "--virtual", "--card", card, "--amount", amount, "--json"]);
  return { exit: r.code, ...(JSON.parse(r.stdout) as Omit<PayAnswer, "exit">) };
}

interface UploadAnswer {
  exit: number | null;
  accepted: number;
  rejected: number;
  results: { status: string; records: { seq: number; status: string; reason?: string }[] }[];
}

async function upload(dir: string): Promise<UploadAnswer> {
  const r = await runPosd(dir, ["upload", "--json"]);
  return { exit: r.code, ...(JSON.parse(r.stdout) as Omit<UploadAnswer, "exit">) };
}

async function sync(dir: string): Promise<void> {
  const r = await runPosd(dir, ["sync"]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^hotlist version \d+ \(updated\)/);
}

/** What a holder does with a text editor on her card's state file. */
function editState(path: string, edit: (s: Record<string, unknown>) => void): void {
  const s = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  edit(s);
  writeFileSync(path, JSON.stringify(s, null, 2));
}

/** `acquirer-stub …args --db file` as an operator reads it (text, not --json). */
async function operatorText(file: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [ACQUIRER_CLI, ...args, "--db", file], {
    env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" },
  });
  return stdout;
}

/** Today's (UTC) settlement report, text: the records and the evidence are dated by the real clock. */
const report = (file = db) => operatorText(file, "report", "--date", new Date().toISOString().slice(0, 10));

/** The wire format of the hotlist may group its wallets; the wallet's id is in it either way. */
const hotlisted = async (walletId: string, bo = backOffice) =>
  JSON.stringify(await bo("hotlist")).includes(`"${walletId}"`);

describe("a wallet whose balance was edited up pays at a terminal that never saw it", () => {
  const card = world.cardPath("alice");

  it("is approved offline at both terminals, and blocked for fraud once the second batch settles: overspent by 354.50 EUR", async () => {
    expect(await pay(T1, card, "4.50")).toMatchObject({ exit: 0, status: "approved" });
    expect(cardState(card)).toEqual({ balance: 4_550, counter: 1 });
    editState(card, (s) => {
      s.balance = 500_000;
    });
    // T-0002 has no proof of her last balance: it takes the edited one.
    expect(await pay(T2, card, "400.00")).toMatchObject({
      exit: 0,
      status: "approved",
      record: { amount: 40_000, cardCounter: 2, balanceAfter: 460_000 },
    });
    expect(cardState(card)).toEqual({ balance: 460_000, counter: 2 });

    expect(await upload(T1)).toMatchObject({ exit: 0, accepted: 1, rejected: 0 });
    expect(await hotlisted(ALICE)).toBe(false);
    const second = await upload(T2);
    // The batch settles (the debit is dated before the block: the issuer's loss), then the block.
    expect(second).toMatchObject({
      exit: 0,
      accepted: 1,
      rejected: 0,
      results: [{ status: "settled", records: [{ status: "accepted" }] }],
    });
    expect(await hotlisted(ALICE)).toBe(true);
    expect(await backOffice("wallet", "show", ALICE)).toMatchObject({ accounts: { offline: -35_450 } });
    expect(await operatorText(db, "ledger", ALICE)).toMatch(
      /^wallet W-ALICE-0001 {2}BLOCKED \(fraud, since /,
    );

    const text = await report();
    const fraud = text.slice(text.indexOf("\nFraud\n"));
    expect(fraud).toMatch(
      /^ {2}wallet W-ALICE-0001 blocked \(fraud, fraud-detection\) at issuer [0-9a-f]{16} since /m,
    );
    expect(fraud).toMatch(/^ {2}evidence {2}wallet W-ALICE-0001 overspent at T-0002 .*exposure 354\.50 EUR/m);
    const json = JSON.parse(
      await operatorText(db, "report", "--date", new Date().toISOString().slice(0, 10), "--json"),
    ) as { fraud: { evidence: unknown[] } };
    expect(json.fraud.evidence).toContainEqual(
      expect.objectContaining({ walletId: ALICE, kind: "overspent", terminalId: "T-0002", exposure: 35_450 }),
    );
  });

  it("is declined TERM_ERR_HOTLISTED (exit 3) at both terminals after posd sync, and the card keeps its balance", async () => {
    for (const t of [T1, T2]) {
      await sync(t);
      const r = await runPosd(t, ["pay", "--virtual", "--card", card, "--amount", "1.00"]);
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(/^DECLINED .*\[TERM_ERR_HOTLISTED\]$/m);
      expect(await pay(t, card, "1.00")).toMatchObject({
        exit: 3,
        status: "declined",
        code: "TERM_ERR_HOTLISTED",
      });
    }
    expect(cardState(card)).toEqual({ balance: 460_000, counter: 2 });
  });

  it("still pays at a terminal that has not synced since; the debit is accepted and flagged as the issuer's loss (24 h grace)", async () => {
    // T-0003 last synced before the block.
    expect(await pay(T3, card, "1.00")).toMatchObject({ exit: 0, status: "approved" });
    expect(cardState(card)).toEqual({ balance: 459_900, counter: 3 });
    expect(await upload(T3)).toMatchObject({
      exit: 0,
      accepted: 1,
      rejected: 0,
      results: [{ status: "settled", records: [{ status: "accepted" }] }],
    });
    expect(await report()).toMatch(
      /^ {2}issuer's loss +wallet W-ALICE-0001 at T-0003: 1 debit for 1\.00 EUR dated after the block \(inside the grace period: accepted\)$/m,
    );
    // Once T-0003 syncs, it declines her too.
    await sync(T3);
    expect(await pay(T3, card, "1.00")).toMatchObject({ exit: 3, code: "TERM_ERR_HOTLISTED" });
  });
});

describe("a copy of a fresh wallet with its counter set to 1000 and a balance of 5000.00", () => {
  it("is approved offline for 19.99 and 400.00, caught as a counter jump at its first upload, and declined after sync", async () => {
    const original = world.cardPath("bob");
    const copy = join(world.dir, "bob-copy.card.json");
    copyFileSync(original, copy);
    editState(copy, (s) => {
      s.counter = 1_000;
      s.balance = 500_000;
    });
    expect(await pay(T1, copy, "19.99")).toMatchObject({ exit: 0, status: "approved" });
    expect(await pay(T2, copy, "400.00")).toMatchObject({ exit: 0, status: "approved" });
    expect(cardState(copy)).toEqual({ balance: 458_001, counter: 1_002 });

    expect(await upload(T1)).toMatchObject({ exit: 0, accepted: 1, rejected: 0 });
    expect(await hotlisted(BOB)).toBe(true);
    // Paid before the block (or in its very second): settled, the issuer's loss.
    expect(await upload(T2)).toMatchObject({ exit: 0, accepted: 1, rejected: 0 });
    const json = JSON.parse(
      await operatorText(db, "report", "--date", new Date().toISOString().slice(0, 10), "--json"),
    ) as { fraud: { evidence: unknown[] } };
    expect(json.fraud.evidence).toContainEqual(
      expect.objectContaining({
        walletId: BOB,
        kind: "counter-jump",
        terminalId: "T-0001",
        cardCounter: 1_001,
        exposure: 1_999,
      }),
    );
    expect(await report()).toMatch(
      /^ {2}evidence {2}wallet W-BOB-0002 counter-jump at T-0001 .*exposure 19\.99 EUR \(counter 1001 after 0 /m,
    );
    expect(await operatorText(db, "ledger", BOB)).toMatch(/^wallet W-BOB-0002 {2}BLOCKED \(fraud, since /);

    // The hotlist names the wallet: the copy and the genuine card are both declined.
    for (const t of [T1, T2]) await sync(t);
    expect(await pay(T1, copy, "1.00")).toMatchObject({ exit: 3, code: "TERM_ERR_HOTLISTED" });
    expect(await pay(T2, original, "1.00")).toMatchObject({ exit: 3, code: "TERM_ERR_HOTLISTED" });
    expect(cardState(original)).toEqual({ balance: 5_000, counter: 0 });
  });
});

describe("an acquirer started with --hotlist-grace-hours 0", () => {
  it("rejects ACQ_ERR_WALLET_BLOCKED at upload a debit dated after the block, taken at a terminal that did not sync", async () => {
    const copy = join(world.dir, "carol-copy.card.json");
    copyFileSync(world.cardPath("carol"), copy);
    editState(copy, (s) => {
      s.counter = 1_000;
    });
    expect(await pay(STRICT, copy, "19.99")).toMatchObject({ exit: 0, status: "approved" });
    expect(await upload(STRICT)).toMatchObject({ exit: 0, accepted: 1, rejected: 0 });
    expect(await hotlisted(CAROL, strictBackOffice)).toBe(true);

    // Record and block times are whole seconds: the next payment is dated past the block's second.
    await new Promise((r) => setTimeout(r, 1_100));
    const late = await pay(STRICT, copy, "1.00");
    expect(late).toMatchObject({ exit: 0, status: "approved", record: { amount: 100, cardCounter: 1_002 } });
    const { blocked } = (await strictBackOffice("ledger", CAROL)) as { blocked: { since: string } };
    expect(Date.parse(late.record!.terminalTime)).toBeGreaterThan(Date.parse(blocked.since));
    const r = await runPosd(STRICT, ["upload"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain("uploaded 1 records in 1 batch(es): 0 accepted, 1 rejected\n");
    expect(r.stdout).toContain(`  seq ${late.record!.seq} rejected: ACQ_ERR_WALLET_BLOCKED\n`);
    expect(await report(strictDb)).toMatch(
      /^ {2}terminal's loss +wallet W-CAROL-0003 at T-0001: 1 debit for 1\.00 EUR dated after the block \(after the grace period: rejected\)$/m,
    );
  });
});
