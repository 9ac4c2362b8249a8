/**
 * The wallet platform's reconciliation (`acquirer-stub report`, GET /v1/platform/reconciliation)
 * after real operations: loads and reversals through the platform's signed routes with a real
 * software card, payments through POST /v1/batches. A sound platform says "no differences"; a
 * ledger or a bank column broken behind the platform's back is named, exactly.
 */
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { INS } from "../../protocol/wallet/constants.js";
import { TerminalSim, USD } from "../../test-support/batch-builder.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { TEST_NOW } from "../testing.js";
import { walletOffline } from "./accounts.js";
import type { PlatformReconciliation } from "./reconciliation.js";
import { renderReconciliation } from "./reconciliation-text.js";
import {
  BOUND_ACCOUNT,
  fieldCard,
  OTHER_ACCOUNT,
  type PlatformWorld,
  platformWorld,
  postBatch,
} from "./testing.js";

const ALICE = "W-ALICE-0001";
const clock = frozenClock(TEST_NOW).date;

let card: ReturnType<typeof fixtureCard>;
let world: PlatformWorld;
beforeEach(async () => {
  card = fixtureCard();
  world = await platformWorld(fieldCard(card, ALICE, loadFixturePki().der("cards/alice")), clock);
});
afterEach(async () => {
  await world.close();
});

async function reconciliation(): Promise<PlatformReconciliation> {
  const res = await world.acq.app.inject({ method: "GET", url: "/v1/platform/reconciliation" });
  expect(res.statusCode).toBe(200);
  return res.json();
}

/**
 * A day at the platform: cash loads at T01 (one revoked by T02), a bound and a non-bound load, a
 * bound load the card made whose record was lost (reversed at the next presentation), a bound load
 * still in flight; then Alice pays 4.50 and 12.50 and Bob (not on the platform) 3.99.
 */
async function aDay() {
  const t = world.terminal;
  await t.load({ type: "cash", amount: 2_000, teller: "T01" });
  await t.load({ type: "bound", amount: 3_000 });
  await t.load({ type: "non-bound", amount: 1_500, fromAccount: OTHER_ACCOUNT });
  const revoked = await t.load({ type: "cash", amount: 1_000, teller: "T01" });
  expect((await t.reverse(revoked.request.loadId, { teller: "T02" })).completed.status).toBe(200);
  const lost = await t.askLoad(await t.loadRequest({ type: "bound", amount: 800 }));
  expect((await t.card.relay(INS.LOAD, lost.body.command)).proof).toBeDefined();
  expect((await t.reverse(lost.body.loadId)).completed.body.state).toBe("reversed");
  const inFlight = await t.askLoad(await t.loadRequest({ type: "bound", amount: 500 }));
  expect(inFlight.status).toBe(200);

  // The payments the card makes next carry the counters after its online operations.
  const sim = new TerminalSim();
  const next = card.applet.state.counter;
  sim.debit({ card: "cards/alice", amount: 450, counter: next + 1 });
  sim.debit({ card: "cards/alice", amount: 1_250, counter: next + 2 });
  sim.debit({ card: "cards/bob", amount: 399 });
  expect((await postBatch(world.acq.app, sim.closeBatch())).body).toMatchObject({ accepted: 3 });
  return { inFlight: inFlight.body.loadId };
}

/** Alice's offline account after aDay(): 50.00 + 20.00 + 30.00 + 15.00 + 10.00 − 10.00 − 17.00. */
const OFFLINE = 5_000 + 2_000 + 3_000 + 1_500 + 1_000 + 800 - 1_000 - 800 - 1_700;

describe("acquirer-stub report › the wallet platform's reconciliation", () => {
  it("balances after loads, payments and reversals, showing every part, and says no differences", async () => {
    const { inFlight } = await aDay();
    const r = await reconciliation();
    expect(r.differences).toEqual([]);
    expect(r.balanced).toBe(true);
    expect(r.consumption).toEqual([
      {
        currency: 978,
        settled: { count: 2, amount: 1_700 },
        booked: { count: 2, amount: 1_700 },
        notOnPlatform: { count: 1, amount: 399 },
      },
    ]);
    expect(r.drawers).toEqual([
      { teller: "T01", currency: 978, takenIn: 3_000, paidOut: 0, balance: -3_000 },
      { teller: "T02", currency: 978, takenIn: 0, paidOut: 1_000, balance: 1_000 },
    ]);
    expect(r.bankAccounts).toEqual([
      {
        number: BOUND_ACCOUNT,
        currency: 978,
        deposits: 50_000,
        loads: 3_800,
        reversals: 800,
        expected: 47_000,
        balance: 47_000,
        held: 500,
        holds: 500,
      },
      {
        number: OTHER_ACCOUNT,
        currency: 978,
        deposits: 10_000,
        loads: 1_500,
        reversals: 0,
        expected: 8_500,
        balance: 8_500,
        held: 0,
        holds: 0,
      },
    ]);
    expect(r.wallets).toEqual([
      {
        walletId: ALICE,
        currency: 978,
        opening: 5_000,
        loads: 8_300,
        reversals: 1_800,
        consumption: 1_700,
        expected: OFFLINE,
        offline: OFFLINE,
        refunds: 0,
        online: 0,
        pendingLoads: 1,
      },
    ]);
    expect(r.pendingLoads).toEqual([
      expect.objectContaining({ loadId: inFlight, walletId: ALICE, type: "bound", amount: 500 }),
    ]);

    const text = renderReconciliation(r);
    expect(text).toMatch(/EUR\s+2 for 17\.00 EUR\s+2 for 17\.00 EUR\s+1 for 3\.99 EUR/);
    expect(text).toMatch(/T01\s+30\.00 EUR\s+0\.00 EUR\s+-30\.00 EUR/);
    expect(text).toMatch(
      /NL-0001\s+500\.00 EUR\s+38\.00 EUR\s+8\.00 EUR\s+470\.00 EUR\s+5\.00 EUR\s+5\.00 EUR/,
    );
    expect(text).toMatch(
      /W-ALICE-0001\s+50\.00 EUR\s+83\.00 EUR\s+18\.00 EUR\s+17\.00 EUR\s+98\.00 EUR\s+0\.00 EUR/,
    );
    expect(text).toContain(
      `${inFlight}  wallet W-ALICE-0001  bound 5.00 EUR from bank account NL-0001 (held)`,
    );
    expect(text).toMatch(/Differences\n\n {2}no differences\n$/);
  });

  it("names a bank account whose balance column was changed behind the ledger's back", async () => {
    await aDay();
    await world.acq.store.db
      .updateTable("bank_accounts")
      .set((eb) => ({ balance: eb("balance", "+", 100) }))
      .where("number", "=", BOUND_ACCOUNT)
      .execute();
    const r = await reconciliation();
    expect(r.balanced).toBe(false);
    expect(r.differences).toEqual([
      {
        kind: "bank-balance",
        subject: "bank:NL-0001",
        currency: 978,
        expected: 47_000,
        actual: 47_100,
        difference: 100,
      },
    ]);
    expect(renderReconciliation(r)).toContain(
      "  - bank account NL-0001: deposits − loads + reversals = 470.00 EUR, its balance column says 471.00 EUR, difference +1.00 EUR\n",
    );
  });

  it("names a bank account holding money for no load", async () => {
    await aDay();
    await world.acq.store.db
      .updateTable("bank_accounts")
      .set({ held: 0 })
      .where("number", "=", BOUND_ACCOUNT)
      .execute();
    expect((await reconciliation()).differences).toEqual([
      {
        kind: "bank-held",
        subject: "bank:NL-0001",
        currency: 978,
        expected: 500,
        actual: 0,
        difference: -500,
      },
    ]);
  });

  it("names an entry booked on one side only, and the wallet account it moved", async () => {
    await aDay();
    const db = world.acq.store.db;
    await db
      .insertInto("platform_bookings")
      .values({
        booking_id: "manual:1",
        kind: sql<"load">`'manual'`,
        wallet_id: ALICE,
        load_id: null,
        amount: 500,
        currency: 978,
        at: 0,
      })
      .execute();
    await db
      .insertInto("platform_entries")
      .values({ booking_id: "manual:1", account: walletOffline(ALICE), amount: 500 })
      .execute();
    const r = await reconciliation();
    expect(r.differences).toEqual([
      {
        kind: "account",
        subject: walletOffline(ALICE),
        currency: 978,
        expected: OFFLINE,
        actual: OFFLINE + 500,
        difference: 500,
      },
      { kind: "booking-sum", subject: "manual:1", currency: 978, expected: 0, actual: 500, difference: 500 },
    ]);
    const text = renderReconciliation(r);
    expect(text).toContain(
      "  - wallet:W-ALICE-0001:offline: its operations book 98.00 EUR, its entries sum to 103.00 EUR, difference +5.00 EUR\n",
    );
    expect(text).toContain(
      "  - booking manual:1: its entries sum to 5.00 EUR instead of 0.00 EUR, difference +5.00 EUR\n",
    );
  });

  it("names settled consumption the platform did not book, on the wallet and the merchant", async () => {
    await aDay();
    const db = world.acq.store.db;
    const lost = (await db
      .selectFrom("platform_bookings")
      .select("booking_id")
      .where("kind", "=", "debit")
      .where("amount", "=", 450)
      .executeTakeFirstOrThrow())!.booking_id;
    await db.deleteFrom("platform_entries").where("booking_id", "=", lost).execute();
    await db.deleteFrom("platform_bookings").where("booking_id", "=", lost).execute();
    const r = await reconciliation();
    expect(r.differences).toEqual([
      {
        kind: "account",
        subject: "merchant:M-0001",
        currency: 978,
        expected: 1_700,
        actual: 1_250,
        difference: -450,
      },
      {
        kind: "account",
        subject: walletOffline(ALICE),
        currency: 978,
        expected: OFFLINE,
        actual: OFFLINE + 450,
        difference: 450,
      },
      {
        kind: "consumption",
        subject: "consumption",
        currency: 978,
        expected: 1_700,
        actual: 1_250,
        difference: -450,
      },
    ]);
    expect(renderReconciliation(r)).toContain(
      "  - consumption in EUR: the acquirer settled 17.00 EUR of issued wallets, the platform booked 12.50 EUR, difference -4.50 EUR\n",
    );
  });

  it("names settled debits the platform cannot book: in another currency than the wallet's", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 300, currency: USD });
    expect((await postBatch(world.acq.app, sim.closeBatch())).body).toMatchObject({ accepted: 1 });
    const r = await reconciliation();
    expect(r.wallets[0]).toMatchObject({ consumption: 0, offline: 5_000 });
    expect(r.differences).toEqual([
      {
        kind: "consumption",
        subject: "consumption",
        currency: USD,
        expected: 300,
        actual: 0,
        difference: -300,
      },
      {
        kind: "debit-currency",
        subject: walletOffline(ALICE),
        currency: USD,
        expected: 300,
        actual: 0,
        difference: -300,
      },
    ]);
  });
});
