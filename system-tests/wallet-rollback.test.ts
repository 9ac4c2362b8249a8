/**
 * Issue 11, item 2, played as the attacker plays it, with the real CLIs from dist/ on real state
 * files: `card-emulator personalize`, a copy or an edit of the card's state JSON, `posd pay
 * --virtual` at two initialized terminals (T-0001, T-0002), and `posd upload` to a real acquirer
 * over loopback HTTP.
 *
 * - Rollback: back up the wallet's state file, pay at T-0002, pay at T-0001, restore the backup, pay
 *   at T-0001 again → declined TERM_ERR_CARD_ROLLBACK before DEBIT (the counter the card announces
 *   at SELECT is behind), never approved; the next tap is refused (TERM_ERR_LOCAL_BLOCKLIST); the
 *   finding reaches the acquirer with the upload.
 * - Edited balance: 45.50 edited to 5000.00, then 400.00 at the same terminal → declined
 *   TERM_ERR_CARD_BALANCE_FORGED.
 * - An honest wallet loaded between two taps (counter + 2) still pays.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, serve } from "../acquirer-stub/server.js";
import { silentLogger } from "../protocol/logger.js";
import { fixturesDir } from "../protocol/paths.js";
import { cardState, personalize, posdInit, runPosd } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const world = systemWorld({ name: "wallet-rollback" });
const T1 = join(world.dir, "t-0001");
const T2 = join(world.dir, "t-0002");
let acquirer: RunningServer;
const OPERATOR_TOKEN = "wallet-rollback-operator";

beforeAll(async () => {
  acquirer = await serve({
    port: 0,
    host: "127.0.0.1",
    db: join(world.dir, "acquirer.sqlite"),
    pkiDir: fixturesDir("pki"),
    logger: silentLogger(),
    operator: { token: OPERATOR_TOKEN },
  });
  world.cleanup(() => acquirer.close());
  await posdInit(T1, ["--terminal-id", "T-0001", "--acquirer", acquirer.url]);
  await posdInit(T2, ["--terminal-id", "T-0002", "--acquirer", acquirer.url]);
  // A fresh hotlist, so that 400.00 is not declined as stale before the card is even touched.
  for (const t of [T1, T2]) expect((await runPosd(t, ["sync"])).code).toBe(0);
}, 60_000);

interface PayAnswer {
  exit: number | null;
  status: string;
  code?: string;
  message?: string;
  seq?: number | null;
}

async function pay(terminal: string, card: string, amount: string): Promise<PayAnswer> {
  const r = await runPosd(terminal, ["pay", "--virtual", "--card", card, "--amount", amount, "--json"]);
  const json = JSON.parse(r.stdout) as Omit<PayAnswer, "exit">;
  return { exit: r.code, ...json };
}

/** What an attacker does with a text editor on the state file. */
function editState(path: string, edit: (s: Record<string, unknown>) => void): void {
  const s = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  edit(s);
  writeFileSync(path, JSON.stringify(s, null, 2));
}

describe("a rolled-back or edited wallet at a terminal that has the proof", () => {
  it("declines a wallet restored from a backup before DEBIT, blocks it here, and reports it with the upload", async () => {
    const card = world.cardPath("rollback");
    const backup = join(world.dir, "rollback.backup.json");
    await personalize(card, "W-ROLL-0001", "50.00");
    copyFileSync(card, backup);
    expect(await pay(T2, card, "5.00")).toMatchObject({ exit: 0, status: "approved" });
    expect(await pay(T1, card, "5.00")).toMatchObject({ exit: 0, status: "approved" });
    expect(cardState(card)).toEqual({ balance: 4_000, counter: 2 });

    copyFileSync(backup, card);
    const replayed = await pay(T1, card, "5.00");
    expect(replayed).toMatchObject({ exit: 3, status: "declined", code: "TERM_ERR_CARD_ROLLBACK" });
    expect(replayed.message).toMatch(
      /counter went backwards \(0 at SELECT, this terminal already verified 2\)/,
    );
    // Declined before DEBIT: the restored card committed nothing.
    expect(cardState(card)).toEqual({ balance: 5_000, counter: 0 });

    // On the blocklist of T-0001: refused before DEBIT, the card's state does not move.
    const before = cardState(card);
    const again = await pay(T1, card, "5.00");
    expect(again).toMatchObject({ exit: 3, status: "declined", code: "TERM_ERR_LOCAL_BLOCKLIST" });
    expect(cardState(card)).toEqual(before);

    // The declined payment is voided in T-0001's records, with the reason.
    const records = await runPosd(T1, ["records", "--json"]);
    const rows = JSON.parse(records.stdout) as { seq: number; status: string; resolution: string | null }[];
    const row = (Array.isArray(rows) ? rows : (rows as { records: typeof rows }).records).find(
      (r) => r.seq === replayed.seq,
    );
    expect(row).toMatchObject({ status: "voided" });
    expect(row?.resolution).toMatch(/TERM_ERR_CARD_ROLLBACK/);

    // The finding travels with the next upload; the acquirer checks the card's signature on it.
    expect((await runPosd(T2, ["upload"])).code).toBe(0);
    expect((await runPosd(T1, ["upload"])).code).toBe(0);
    const answer = await fetch(`${acquirer.url}/v1/wallets/W-ROLL-0001/findings`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    const { findings } = (await answer.json()) as { findings: Record<string, unknown>[] };
    expect(findings).toMatchObject([
      {
        terminalId: "T-0001",
        walletId: "W-ROLL-0001",
        kind: "rollback",
        seq: replayed.seq,
        counterSeen: 2,
        counterClaimed: 0,
        balanceClaimed: 5_000,
        amount: 500,
        // Caught before DEBIT: no card-signed record, so the acquirer keeps it as T-0001's word.
        reason: "ACQ_ERR_FINDING_UNPROVEN",
        fork: false,
      },
    ]);
  }, 120_000);

  it("declines a balance edited from 45.50 to 5000.00 when 400.00 is paid at the same terminal", async () => {
    const card = world.cardPath("edited");
    await personalize(card, "W-EDIT-0001", "50.00");
    expect(await pay(T1, card, "4.50")).toMatchObject({ exit: 0, status: "approved" });
    expect(cardState(card)).toEqual({ balance: 4_550, counter: 1 });
    editState(card, (s) => {
      s.balance = 500_000;
    });
    const forged = await pay(T1, card, "400.00");
    expect(forged).toMatchObject({ exit: 3, status: "declined", code: "TERM_ERR_CARD_BALANCE_FORGED" });
    expect(forged.message).toMatch(/4600\.00.*45\.50.*counter 1/);
    expect((await pay(T1, card, "1.00")).code).toBe("TERM_ERR_LOCAL_BLOCKLIST");
    // Another terminal never saw this wallet: it cannot tell (the acquirer's shadow balance can).
  }, 60_000);

  it("still approves an honest wallet that was loaded between two taps", async () => {
    const card = world.cardPath("loaded");
    await personalize(card, "W-LOAD-0001", "50.00");
    expect(await pay(T1, card, "4.50")).toMatchObject({ exit: 0, status: "approved" });
    // What a LOAD of 20.00 does to the card: counter + 1, balance + 20.00.
    editState(card, (s) => {
      s.counter = (s.counter as number) + 1;
      s.balance = (s.balance as number) + 2_000;
    });
    expect(await pay(T1, card, "10.00")).toMatchObject({ exit: 0, status: "approved" });
    expect(cardState(card)).toEqual({ balance: 5_550, counter: 3 });
    // And one that paid elsewhere in between: counter + 2 at T-0001, no balance check.
    expect(await pay(T2, card, "1.00")).toMatchObject({ exit: 0, status: "approved" });
    expect(await pay(T1, card, "1.00")).toMatchObject({ exit: 0, status: "approved" });
  }, 60_000);
});
