/**
 * Refunds of returned goods at the back office: terminal-signed refunds riding in real batches
 * through POST /v1/batches, on the engine under test (TAPWALLET_TEST_ENGINE). A settled refund
 * moves money from the merchant to the wallet's online account once; the attacks (more than the
 * payment, another terminal's payment, a replayed refund id, an altered signature) book nothing.
 */
import type { KeyObject } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hex } from "../../protocol/bytes.js";
import { ecdsaSign } from "../../protocol/crypto.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { type BatchUpload, manifestMessage } from "../../protocol/wallet/batch.js";
import { type RefundWire, refundMessage } from "../../protocol/wallet/refund.js";
import { DEFAULT_DAY, TerminalSim } from "../../test-support/batch-builder.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { TEST_NOW } from "../testing.js";
import { merchant, walletOnline } from "./accounts.js";
import { platformReconciliation } from "./reports.js";
import {
  bankBalanceBreaks,
  fieldCard,
  moneySnapshot,
  type PlatformWorld,
  platformWorld,
  postBatch,
  unbalancedBookings,
  withSecondInstance,
} from "./testing.js";

const ALICE = "W-ALICE-0001";
const EUR = 978;
const clock = frozenClock(TEST_NOW).date;

let world: PlatformWorld;
beforeEach(async () => {
  world = await platformWorld(fieldCard(fixtureCard(), ALICE, loadFixturePki().der("cards/alice")), clock);
});
afterEach(async () => {
  expect(await unbalancedBookings(world.acq.store)).toEqual([]);
  expect(await bankBalanceBreaks(world.acq.store)).toEqual([]);
  await world.close();
});

const balances = async () => (await moneySnapshot(world.acq.store)).balances;

/** A refund signed by `sim`'s terminal key (or `key`), of Alice's debit at `seq` with `counter`. */
function refund(
  sim: TerminalSim,
  fields: Partial<Omit<RefundWire, "signature">> & { refundId: number; originalSeq: number },
  key: KeyObject = sim.key,
): RefundWire {
  const body = {
    walletId: ALICE,
    cardCounter: fields.originalSeq,
    amount: 100,
    currency: EUR,
    createdAt: Math.floor(TEST_NOW.getTime() / 1000),
    ...fields,
  };
  return { ...body, signature: hex(ecdsaSign(key, refundMessage(sim.terminalId, body))) };
}

const withRefunds = (upload: BatchUpload, refunds: RefundWire[]): BatchUpload => ({ ...upload, refunds });

/** A batch of `sim` with no record, only refunds: the chain where the last batch left it. */
function refundsOnly(sim: TerminalSim, refunds: RefundWire[]): BatchUpload {
  const base = sim.closeBatch();
  const manifest = {
    ...base.manifest,
    count: 0,
    totals: [],
    firstSeq: 0,
    lastSeq: 0,
    previousHash: hex(sim.chainHead),
    chainHead: hex(sim.chainHead),
  };
  return {
    ...base,
    manifest,
    manifestSignature: hex(ecdsaSign(sim.key, manifestMessage(manifest))),
    records: [],
    certificates: {},
    refunds,
  };
}

async function refundRows() {
  return (
    await world.acq.store.db
      .selectFrom("refunds")
      .selectAll()
      .orderBy("terminal_id")
      .orderBy("refund_id")
      .execute()
  ).map((r) => ({ terminalId: r.terminal_id, refundId: r.refund_id, status: r.status, reason: r.reason }));
}

describe("wallet platform › refunds of returned goods", () => {
  it("credits the wallet's online account, from the merchant, when the refund rides with the payment's batch", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    const { status, body } = await postBatch(
      world.acq.app,
      withRefunds(sim.closeBatch(), [refund(sim, { refundId: 1, originalSeq: 1, amount: 200 })]),
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: "settled",
      accepted: 1,
      refunds: [{ refundId: 1, status: "settled" }],
    });
    expect(await balances()).toMatchObject({ [walletOnline(ALICE)]: 200, [merchant("M-0001")]: 450 - 200 });
    expect((await moneySnapshot(world.acq.store)).bookings).toContain("refund:T-0001:1");
  });

  it("nets the merchant's settlement: a day's sales, less the refunds settled that day", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    sim.debit({ card: "cards/alice", amount: 300 });
    await postBatch(
      world.acq.app,
      withRefunds(sim.closeBatch(), [refund(sim, { refundId: 1, originalSeq: 1, amount: 200 })]),
    );
    // The sales are of the terminal's day; the refund is the merchant's to pay on the day it settled.
    const sales = await world.acq.store.settlementReport(DEFAULT_DAY);
    expect(sales.settlement).toMatchObject([
      { merchantId: "M-0001", count: 2, amount: 750, refunds: 0, net: 750 },
    ]);
    const refundDay = await world.acq.store.settlementReport(TEST_NOW.toISOString().slice(0, 10));
    expect(refundDay.settlement).toMatchObject([
      {
        merchantId: "M-0001",
        count: 0,
        amount: 0,
        refundCount: 1,
        refunds: 200,
        net: -200,
        netText: "-2.00",
      },
    ]);
  });

  it("adds partial refunds up to the payment's amount and rejects one that would pass it", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    const { body } = await postBatch(
      world.acq.app,
      withRefunds(sim.closeBatch(), [
        refund(sim, { refundId: 1, originalSeq: 1, amount: 200 }),
        refund(sim, { refundId: 2, originalSeq: 1, amount: 250 }),
        // A forged batch: signed by the terminal's own key, for more than is left.
        refund(sim, { refundId: 3, originalSeq: 1, amount: 1 }),
      ]),
    );
    expect(body.refunds).toEqual([
      { refundId: 1, status: "settled" },
      { refundId: 2, status: "settled" },
      { refundId: 3, status: "rejected", reason: "ACQ_ERR_REFUND_OVER_ORIGINAL" },
    ]);
    expect((await balances())[walletOnline(ALICE)]).toBe(450);
    const totals = await world.acq.store.db.selectFrom("refund_totals").selectAll().execute();
    expect(totals.map((t) => [t.seq, t.original_amount, t.refunded])).toEqual([[1, 450, 450]]);
  });

  it("books a replayed refund id once, in a later batch or twice in the same one", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    const first = refund(sim, { refundId: 1, originalSeq: 1, amount: 200 });
    const a = await postBatch(world.acq.app, withRefunds(sim.closeBatch(), [first, first]));
    expect(a.body.refunds).toEqual([
      { refundId: 1, status: "settled" },
      { refundId: 1, status: "rejected", reason: "ACQ_ERR_DUPLICATE" },
    ]);
    const other = refund(sim, { refundId: 1, originalSeq: 1, amount: 150 });
    const b = await postBatch(world.acq.app, refundsOnly(sim, [first, other]));
    expect(b.status).toBe(200);
    expect(b.body.refunds).toEqual([
      { refundId: 1, status: "rejected", reason: "ACQ_ERR_DUPLICATE" },
      { refundId: 1, status: "rejected", reason: "ACQ_ERR_REFUND_ID_REUSED" },
    ]);
    expect((await balances())[walletOnline(ALICE)]).toBe(200);
  });

  it("rejects a refund of another terminal's payment", async () => {
    const wallets = new Map();
    const t1 = new TerminalSim({ wallets });
    t1.debit({ card: "cards/alice", amount: 450 });
    await postBatch(world.acq.app, t1.closeBatch());
    const t2 = new TerminalSim({ terminal: "terminals/term-0002", wallets });
    t2.debit({ card: "cards/alice", amount: 100 });
    // T-0002 refunds Alice's counter 1, which T-0001 took (and names it as its own seq 1).
    const { body } = await postBatch(
      world.acq.app,
      withRefunds(t2.closeBatch(), [
        refund(t2, { refundId: 1, originalSeq: 1, cardCounter: 1, amount: 450 }),
      ]),
    );
    expect(body.refunds).toEqual([
      { refundId: 1, status: "rejected", reason: "ACQ_ERR_REFUND_FOREIGN_RECORD" },
    ]);
    expect((await balances())[walletOnline(ALICE)]).toBeUndefined();
    expect(await refundRows()).toEqual([
      { terminalId: "T-0002", refundId: 1, status: "rejected", reason: "ACQ_ERR_REFUND_FOREIGN_RECORD" },
    ]);
  });

  it("rejects a refund whose signature was altered, and stores nothing of it", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    const good = refund(sim, { refundId: 1, originalSeq: 1, amount: 200 });
    const raised = { ...good, amount: 450 }; // the signature is over 200
    const flipped = { ...good, refundId: 2, signature: `${good.signature.slice(0, -2)}00` };
    const otherKey = refund(
      sim,
      { refundId: 3, originalSeq: 1 },
      loadFixturePki().key("terminals/term-0002"),
    );
    const { body } = await postBatch(
      world.acq.app,
      withRefunds(sim.closeBatch(), [raised, flipped, otherKey]),
    );
    expect(body.refunds?.map((r) => r.reason)).toEqual([
      "ACQ_ERR_REFUND_SIGNATURE",
      "ACQ_ERR_REFUND_SIGNATURE",
      "ACQ_ERR_REFUND_SIGNATURE",
    ]);
    expect(await refundRows()).toEqual([]);
    expect((await balances())[walletOnline(ALICE)]).toBeUndefined();
  });

  it("rejects a refund of a voided seq, and of a seq that names another payment", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    sim.voided();
    const { body } = await postBatch(
      world.acq.app,
      withRefunds(sim.closeBatch(), [
        refund(sim, { refundId: 1, originalSeq: 2, cardCounter: 2 }),
        refund(sim, { refundId: 2, originalSeq: 2, cardCounter: 1 }),
      ]),
    );
    expect(body.refunds).toEqual([
      { refundId: 1, status: "rejected", reason: "ACQ_ERR_REFUND_UNKNOWN_RECORD" },
      { refundId: 2, status: "rejected", reason: "ACQ_ERR_REFUND_MISMATCH" },
    ]);
  });

  it("keeps a refund of a payment not settled yet pending, and settles it with the batch that accepts the payment", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    // Refund 1 names seq 2 (counter 2), a payment the acquirer has not seen yet.
    const early = refund(sim, { refundId: 1, originalSeq: 2, cardCounter: 2, amount: 300 });
    const a = await postBatch(world.acq.app, withRefunds(sim.closeBatch(), [early]));
    expect(a.body.refunds).toEqual([{ refundId: 1, status: "pending" }]);
    expect((await balances())[walletOnline(ALICE)]).toBeUndefined();
    expect((await platformReconciliation(world.store)).balanced).toBe(true);

    sim.debit({ card: "cards/alice", amount: 1_250 });
    const b = await postBatch(world.acq.app, sim.closeBatch());
    expect(b.body).toMatchObject({ status: "settled", accepted: 1 });
    // The terminal learns it from this answer: its refund 1 is no longer pending.
    expect(b.body.refundsResolved).toEqual([{ refundId: 1, status: "settled" }]);
    expect(b.body.refunds).toBeUndefined();
    expect(await refundRows()).toEqual([
      { terminalId: "T-0001", refundId: 1, status: "settled", reason: null },
    ]);
    expect((await balances())[walletOnline(ALICE)]).toBe(300);
  });

  it("counts refunds in the reconciliation, which still balances", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 450 });
    await postBatch(
      world.acq.app,
      withRefunds(sim.closeBatch(), [refund(sim, { refundId: 1, originalSeq: 1, amount: 200 })]),
    );
    const r = await platformReconciliation(world.store);
    expect(r.differences).toEqual([]);
    expect(r.refunds).toEqual([
      { currency: EUR, settled: { count: 1, amount: 200 }, booked: { count: 1, amount: 200 } },
    ]);
    expect(r.wallets[0]).toMatchObject({ walletId: ALICE, refunds: 200, online: 200 });

    // A refund credited behind the acquirer's back is named.
    await world.acq.store.db
      .deleteFrom("platform_entries")
      .where("booking_id", "=", "refund:T-0001:1")
      .execute();
    await world.acq.store.db
      .deleteFrom("platform_bookings")
      .where("booking_id", "=", "refund:T-0001:1")
      .execute();
    const broken = await platformReconciliation(world.store);
    expect(broken.differences).toContainEqual({
      kind: "refunds",
      subject: "refunds",
      currency: EUR,
      expected: 200,
      actual: 0,
      difference: -200,
    });
  });

  it("books a refund once when two instances settle its batch at the same time", async () => {
    await withSecondInstance(world.acq.dbPath, clock, async (second) => {
      const sim = new TerminalSim();
      sim.debit({ card: "cards/alice", amount: 450 });
      const upload = withRefunds(sim.closeBatch(), [
        refund(sim, { refundId: 1, originalSeq: 1, amount: 200 }),
      ]);
      const [a, b] = await Promise.all([postBatch(world.acq.app, upload), postBatch(second, upload)]);
      expect(a).toEqual(b);
      expect((await balances())[walletOnline(ALICE)]).toBe(200);
    });
  });
});
