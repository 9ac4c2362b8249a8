/**
 * The wallet platform's shadow balance decides (issue 14): a holder who edits her software
 * wallet's state file (its balance, its counter) pays at terminals that never saw her wallet, and
 * the platform catches it when the batches are settled, through POST /v1/batches: the wallet is
 * blocked for fraud and hotlisted at once, the evidence names the exposure, and the report says
 * it. Runs on the engine under test.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { TerminalSim } from "../../test-support/batch-builder.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { renderReport } from "../domain/settle.js";
import { TEST_NOW } from "../testing.js";
import { fieldCard, type PlatformWorld, platformWorld, postBatch } from "./testing.js";

const ALICE = "W-ALICE-0001";
const clock = frozenClock(TEST_NOW).date;

let world: PlatformWorld;
beforeEach(async () => {
  // Alice's wallet is issued with 50.00 on the platform, as on her card.
  world = await platformWorld(fieldCard(fixtureCard(), ALICE, loadFixturePki().der("cards/alice")), clock);
});
afterEach(async () => {
  await world.close();
});

const evidence = () => world.acq.store.db.selectFrom("fraud_evidence").selectAll().orderBy("id").execute();
const blocked = () =>
  world.acq.store.db
    .selectFrom("blocked_wallets")
    .selectAll()
    .where("wallet_id", "=", ALICE)
    .executeTakeFirst();

describe("the platform's shadow balance", () => {
  it("catches a balance edited up: 4.50 paid, then 400.00 from an edited 5000.00; blocked for fraud, hotlisted", async () => {
    // No grace period, so that a debit dated just after the block is past it.
    await world.close();
    world = await platformWorld(
      fieldCard(fixtureCard(), ALICE, loadFixturePki().der("cards/alice")),
      clock,
      {},
      { hotlistGraceSeconds: 0 },
    );
    const t1 = new TerminalSim();
    t1.debit({ card: "cards/alice", amount: 450, balanceAfter: 4_550 });
    expect((await postBatch(world.acq.app, t1.closeBatch())).body).toMatchObject({ accepted: 1 });
    expect(await blocked()).toBeUndefined();
    // She edits her balance to 5000.00 and pays 400.00 at another terminal that never saw her.
    const t2 = new TerminalSim({ terminal: "terminals/term-0002" });
    t2.debit({ card: "cards/alice", counter: 2, amount: 40_000, balanceAfter: 460_000 });
    const result = await postBatch(world.acq.app, t2.closeBatch());
    // Dated before the block: accepted, and the issuer's loss is named.
    expect(result.body).toMatchObject({ status: "settled", accepted: 1 });
    // Counter 2 does not follow from counter 1 (45.50 − 400.00 is not 4600.00), and the account is
    // 354.50 below zero: the issuer's exposure is the overspending, the break only names the edit.
    expect(await evidence()).toMatchObject([
      {
        wallet_id: ALICE,
        kind: "balance-break",
        terminal_id: "T-0002",
        card_counter: 2,
        exposure: 0,
        detail: expect.stringContaining("made up 4954.50 EUR"),
      },
      { wallet_id: ALICE, kind: "overspent", terminal_id: "T-0002", card_counter: 2, exposure: 35_450 },
    ]);
    expect(await blocked()).toMatchObject({ reason: "fraud", source: "fraud-detection" });
    const hotlist = await world.acq.app.inject({ method: "GET", url: "/v1/hotlist" });
    expect(hotlist.json().blockedWallets).toContain(ALICE);
    // Her next payment, dated after the block (and its grace period, none here), is rejected.
    t2.debit({
      card: "cards/alice",
      counter: 3,
      amount: 100,
      time: Math.floor(TEST_NOW.getTime() / 1000) + 30,
    });
    const late = await postBatch(world.acq.app, t2.closeBatch());
    expect(late.body.records).toMatchObject([{ status: "rejected", reason: "ACQ_ERR_WALLET_BLOCKED" }]);
  });

  it("catches a copy whose counter was set to 1000: blocked at the jump, before its overspending adds up", async () => {
    const t1 = new TerminalSim();
    t1.debit({ card: "cards/alice", amount: 450 });
    await postBatch(world.acq.app, t1.closeBatch());
    const copy = new TerminalSim({ terminal: "terminals/term-0002" });
    copy.debit({ card: "cards/alice", counter: 1_000, amount: 1_999, balanceAfter: 498_001 });
    await postBatch(world.acq.app, copy.closeBatch());
    expect(await evidence()).toMatchObject([
      { wallet_id: ALICE, kind: "counter-jump", card_counter: 1_000, exposure: 1_999 },
    ]);
    expect(await blocked()).toMatchObject({ reason: "fraud", source: "fraud-detection" });
    const day = TEST_NOW.toISOString().slice(0, 10); // the day it was detected
    const report = await world.acq.store.settlementReport(day);
    expect(report.fraud.blockedWallets).toMatchObject([
      { walletId: ALICE, reason: "fraud", source: "fraud-detection" },
    ]);
    expect(report.fraud.evidence).toMatchObject([
      { walletId: ALICE, kind: "counter-jump", exposureText: "19.99 EUR" },
    ]);
    expect(renderReport(report)).toContain(
      "  evidence  wallet W-ALICE-0001 counter-jump at T-0002 seq 1: exposure 19.99 EUR",
    );
  });

  it("leaves an honest wallet alone: payments within its loads, counters with small gaps", async () => {
    const t1 = new TerminalSim();
    t1.debit({ card: "cards/alice", counter: 1, amount: 450 });
    t1.debit({ card: "cards/alice", counter: 5, amount: 1_000 }); // 2..4 are on another terminal
    await postBatch(world.acq.app, t1.closeBatch());
    expect(await evidence()).toEqual([]);
    expect(await blocked()).toBeUndefined();
  });
  it("re-checks a gap when it fills: a record uploaded late whose balance does not follow is evidence", async () => {
    const t1 = new TerminalSim();
    t1.debit({ card: "cards/alice", counter: 1, amount: 450, balanceAfter: 4_550 });
    await postBatch(world.acq.app, t1.closeBatch());
    // Counter 3 arrives first (honest: 45.50 − 1.00 at counter 2 − 1.00); counter 2 is still elsewhere.
    const t2 = new TerminalSim({ terminal: "terminals/term-0002" });
    t2.debit({ card: "cards/alice", counter: 3, amount: 100, balanceAfter: 4_350 });
    await postBatch(world.acq.app, t2.closeBatch());
    expect(await evidence()).toEqual([]);
    // The gap fills with a record whose balance was edited: it breaks from counter 1.
    t1.debit({ card: "cards/alice", counter: 2, amount: 100, balanceAfter: 400_000 });
    await postBatch(world.acq.app, t1.closeBatch());
    expect(await evidence()).toMatchObject([
      { wallet_id: ALICE, kind: "balance-break", terminal_id: "T-0001", card_counter: 2, exposure: 0 },
    ]);
    expect(await blocked()).toMatchObject({ reason: "fraud", source: "fraud-detection" });
  });
});
