/**
 * Settled consumption forwarded to the wallet platform: a terminal's batch of real signed records
 * through POST /v1/batches, and what the platform's ledger then holds. A debit of a wallet the
 * platform issued leaves its offline account once, for the merchant, however the batch is
 * retried and on whichever instance settles it; a wallet the platform did not issue is not booked.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { TerminalSim, withNewBatchId } from "../../test-support/batch-builder.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { TEST_NOW } from "../testing.js";
import { debitTransfer, merchant, walletOffline } from "./accounts.js";
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
const BOB = "W-BOB-0002";
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

/** The platform's debit bookings, each as the transfer its booking and entries make. */
async function debitBookings() {
  const db = world.acq.store.db;
  const bookings = await db
    .selectFrom("platform_bookings")
    .selectAll()
    .where("kind", "=", "debit")
    .orderBy("booking_id")
    .execute();
  const out = [];
  for (const b of bookings) {
    const entries = await db
      .selectFrom("platform_entries")
      .select(["account", "amount"])
      .where("booking_id", "=", b.booking_id)
      .execute();
    out.push({
      bookingId: b.booking_id,
      kind: b.kind,
      from: entries.find((e) => e.amount < 0)?.account,
      to: entries.find((e) => e.amount > 0)?.account,
      amount: b.amount,
      currency: b.currency,
      walletId: b.wallet_id,
      loadId: b.load_id,
      legs: entries.length,
    });
  }
  return out;
}

/** Alice pays 4.50 and 12.50, Bob (not on the platform) 3.99, at T-0001 of M-0001. */
function threePayments(sim = new TerminalSim()) {
  sim.debit({ card: "cards/alice", amount: 450 });
  sim.debit({ card: "cards/alice", amount: 1250 });
  sim.debit({ card: "cards/bob", amount: 399 });
  return sim.closeBatch();
}

describe("wallet platform › consumption the acquirer settles", () => {
  it("takes each payment of a settled batch off the wallet's offline account, for the merchant", async () => {
    const { status, body } = await postBatch(world.acq.app, threePayments());
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "settled", accepted: 3 });

    expect(await balances()).toMatchObject({
      [walletOffline(ALICE)]: 5_000 - 1_700,
      [merchant("M-0001")]: 1_700,
    });
    const at = { walletId: ALICE, merchantId: "M-0001", currency: 978 };
    expect(await debitBookings()).toEqual(
      [
        debitTransfer({ ...at, cardCounter: 1, amount: 450 }),
        debitTransfer({ ...at, cardCounter: 2, amount: 1_250 }),
      ].map((t) => ({ ...t, legs: 2 })),
    );
  });

  it("books nothing for a wallet the platform did not issue", async () => {
    await postBatch(world.acq.app, threePayments());
    const all = await balances();
    expect(Object.keys(all).filter((a) => a.includes(BOB))).toEqual([]);
    expect((await debitBookings()).map((b) => b.walletId)).toEqual([ALICE, ALICE]);
  });

  it("takes nothing more when the terminal retries the batch or sends the same records again", async () => {
    const sim = new TerminalSim();
    const upload = threePayments(sim);
    const first = await postBatch(world.acq.app, upload);
    const retried = await postBatch(world.acq.app, upload);
    expect(retried).toEqual(first);

    // The same records under a new batch id: a replayed batch, refused as a whole.
    const replayed = await postBatch(world.acq.app, withNewBatchId(upload, sim.key));
    expect(replayed).toMatchObject({ status: 422, body: { reason: "ACQ_ERR_REPLAYED_BATCH" } });

    // The same card records chained by another terminal into a batch that settles: duplicates.
    const other = new TerminalSim({ terminal: "terminals/term-0002" });
    for (const r of upload.records) other.rechain(r);
    other.debit({ card: "cards/alice", amount: 100, counter: 3 });
    const copied = await postBatch(world.acq.app, other.closeBatch());
    expect(copied.status).toBe(200);
    expect(copied.body.records.map((r) => r.status)).toEqual([
      "rejected",
      "rejected",
      "rejected",
      "accepted",
    ]);

    expect(await balances()).toMatchObject({
      [walletOffline(ALICE)]: 5_000 - 1_700 - 100,
      [merchant("M-0001")]: 1_700,
      [merchant("M-0002")]: 100,
    });
    expect((await debitBookings()).map((b) => b.bookingId)).toEqual([
      "debit:W-ALICE-0001:1",
      "debit:W-ALICE-0001:2",
      "debit:W-ALICE-0001:3",
    ]);
  });

  it("books a batch once when two instances settle it at the same time", async () => {
    await withSecondInstance(world.acq.dbPath, clock, async (second) => {
      const upload = threePayments();
      const [a, b] = await Promise.all([postBatch(world.acq.app, upload), postBatch(second, upload)]);
      expect(a).toEqual(b);
      expect(a.body).toMatchObject({ status: "settled", accepted: 3 });
      expect(await debitBookings()).toHaveLength(2);
      expect((await balances())[walletOffline(ALICE)]).toBe(5_000 - 1_700);
    });
  });
});
