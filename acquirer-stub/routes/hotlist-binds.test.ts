/**
 * The hotlist binds (issue 14): a wallet's debits dated after its block are settled only inside
 * the grace period (accepted, flagged as the issuer's loss), and rejected after it with
 * ACQ_ERR_WALLET_BLOCKED (the terminal's liability). A blocked wallet paying at a terminal that did
 * not sync, uploaded through POST /v1/batches.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { BatchResult } from "../../protocol/wallet/batch.js";
import { DEFAULT_TIME, TerminalSim } from "../../test-support/batch-builder.js";
import { frozenClock } from "../../test-support/clock.js";
import { againstBlock } from "../domain/block-binding.js";
import { renderReport } from "../domain/settle.js";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../testing.js";

const HOUR = 3600;
const clock = frozenClock(TEST_NOW).date;
let acq: TestAcquirer | undefined;
afterEach(async () => {
  await acq?.close();
  acq = undefined;
});

async function post(a: TestAcquirer, upload: unknown) {
  const res = await a.app.inject({ method: "POST", url: "/v1/batches", payload: upload as object });
  return res.json() as BatchResult;
}

describe("againstBlock", () => {
  it("is before-block without a block or before it, in-grace up to block + grace, after-grace past it", () => {
    expect(againstBlock(1_000, undefined, HOUR)).toBe("before-block");
    expect(againstBlock(999, 1_000, HOUR)).toBe("before-block");
    // The block's own second: the terminal could not have known.
    expect(againstBlock(1_000, 1_000, HOUR)).toBe("before-block");
    expect(againstBlock(1_001, 1_000, HOUR)).toBe("in-grace");
    expect(againstBlock(1_000 + HOUR, 1_000, HOUR)).toBe("in-grace");
    expect(againstBlock(1_001 + HOUR, 1_000, HOUR)).toBe("after-grace");
    expect(againstBlock(1_001, 1_000, 0)).toBe("after-grace");
  });
});

describe("a blocked wallet paying at a terminal that has not synced", () => {
  it("is accepted and flagged inside the grace period, rejected after it; debits before the block settle", async () => {
    acq = await testAcquirer({ clock });
    await acq.store.blockWallet("W-ALICE-0001", "lost", DEFAULT_TIME - 30 * HOUR);
    await acq.store.blockWallet("W-BOB-0002", "lost", DEFAULT_TIME - HOUR);
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 100, time: DEFAULT_TIME - 31 * HOUR }); // before its block
    sim.debit({ card: "cards/alice", amount: 200, time: DEFAULT_TIME }); // 30 h after: past the 24 h grace
    sim.debit({ card: "cards/bob", amount: 300, time: DEFAULT_TIME }); // 1 h after: inside it
    const result = await post(acq, sim.closeBatch());
    expect(result).toMatchObject({ status: "settled", accepted: 2, rejected: 1 });
    expect(result.records.map((r) => [r.status, r.reason ?? null])).toEqual([
      ["accepted", null],
      ["rejected", "ACQ_ERR_WALLET_BLOCKED"],
      ["accepted", null],
    ]);
    const flagged = await acq.store.db.selectFrom("after_block_records").selectAll().execute();
    expect(flagged).toMatchObject([
      { wallet_id: "W-BOB-0002", amount: 300, record_time: DEFAULT_TIME, blocked_at: DEFAULT_TIME - HOUR },
    ]);
    // The day's report says who bears what: the issuer Bob's 3.00, the terminal Alice's 2.00.
    const day = new Date(DEFAULT_TIME * 1000).toISOString().slice(0, 10);
    const report = await acq.store.settlementReport(day);
    expect(report.fraud.losses).toEqual([
      {
        party: "issuer",
        walletId: "W-BOB-0002",
        terminalId: "T-0001",
        currency: 978,
        count: 1,
        amount: 300,
        amountText: "3.00 EUR",
      },
      {
        party: "terminal",
        walletId: "W-ALICE-0001",
        terminalId: "T-0001",
        currency: 978,
        count: 1,
        amount: 200,
        amountText: "2.00 EUR",
      },
    ]);
    const text = renderReport(report);
    expect(text).toContain(
      "  issuer's loss     wallet W-BOB-0002 at T-0001: 1 debit for 3.00 EUR dated after the block (inside the grace period: accepted)",
    );
    expect(text).toContain(
      "  terminal's loss   wallet W-ALICE-0001 at T-0001: 1 debit for 2.00 EUR dated after the block (after the grace period: rejected)",
    );
  });

  it("takes the grace period from the acquirer's setting: with none, a debit after the block is rejected", async () => {
    acq = await testAcquirer({ clock, hotlistGraceSeconds: 0 });
    await acq.store.blockWallet("W-BOB-0002", "lost", DEFAULT_TIME - 60);
    const sim = new TerminalSim();
    sim.debit({ card: "cards/bob", amount: 300, time: DEFAULT_TIME });
    const result = await post(acq, sim.closeBatch());
    expect(result.records).toEqual([{ seq: 1, status: "rejected", reason: "ACQ_ERR_WALLET_BLOCKED" }]);
  });

  it("lists a wallet that clone detection blocked in the report's fraud section", async () => {
    acq = await testAcquirer({ clock, hotlistGraceSeconds: 0 });
    const sim = new TerminalSim();
    sim.debit({ card: "cards/bob", counter: 7, amount: 100 });
    sim.debit({ card: "cards/bob", counter: 7, amount: 1 }); // the same counter, other content: a clone
    expect((await post(acq, sim.closeBatch())).records.map((r) => r.reason ?? r.status)).toEqual([
      "accepted",
      "ACQ_ERR_CLONE",
    ]);
    const day = new Date(DEFAULT_TIME * 1000).toISOString().slice(0, 10);
    expect((await acq.store.settlementReport(day)).fraud.blockedWallets).toEqual([
      {
        walletId: "W-BOB-0002",
        // Clone detection blocks the wallet id at the issuer CA of the card it saw (its fingerprint).
        issuer: expect.stringMatching(/^[0-9a-f]{64}$/),
        reason: "clone",
        source: "clone-detection",
        since: TEST_NOW.toISOString(),
      },
    ]);
  });

  it("settles the wallet's debits again once it is unblocked", async () => {
    acq = await testAcquirer({ clock });
    await acq.store.blockWallet("W-ALICE-0001", "lost", DEFAULT_TIME - 30 * HOUR);
    await acq.store.unblockWallet("W-ALICE-0001", DEFAULT_TIME - 29 * HOUR);
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 200, time: DEFAULT_TIME });
    expect(await post(acq, sim.closeBatch())).toMatchObject({ accepted: 1, rejected: 0 });
  });
});
