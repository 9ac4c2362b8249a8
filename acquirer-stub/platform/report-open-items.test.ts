/**
 * The report's fraud section names what is still open (issue 14): a wallet's card counters that no
 * uploaded record, platform load or reversal has filled for more than `gapDays` (a debit never
 * uploaded, or a torn one), and the torn intents terminals reported unresolved. Through the real
 * routes (POST /v1/batches, the platform's loads) on the engine under test; one frozen clock for
 * the world, which the report is aged to as well.
 */
import { afterEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { resignManifest, TerminalSim } from "../../test-support/batch-builder.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { renderReport } from "../domain/settle.js";
import { TEST_NOW } from "../testing.js";
import { fieldCard, type PlatformWorld, platformWorld, postBatch } from "./testing.js";

const ALICE = "W-ALICE-0001";
const DAY = 86_400;
const worldClock = frozenClock(TEST_NOW);
const NOW = worldClock.seconds();
const TODAY = TEST_NOW.toISOString().slice(0, 10);

let world: PlatformWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Alice's wallet on the platform (50.00, as on her card; the card at `counter`), all on the world's clock. */
async function aliceWorld(counter = 0): Promise<PlatformWorld> {
  const card = fixtureCard({ counter });
  world = await platformWorld(fieldCard(card, ALICE, loadFixturePki().der("cards/alice")), worldClock.date);
  return world;
}

/** A terminal on the world's clock (the batch's time); each debit says its own, older, time. */
const terminal = () => new TerminalSim({ clock: worldClock });

const report = (w: PlatformWorld, gapDays: number) =>
  w.acq.store.settlementReport(TODAY, { now: NOW, gapDays });

describe("the report's open counter gaps", () => {
  it("names a wallet whose counters 2-3 nobody has filled for 10 days, with the balance drop across them", async () => {
    const w = await aliceWorld();
    const t = terminal();
    t.debit({ card: "cards/alice", counter: 1, amount: 450, balanceAfter: 4_550, time: NOW - 20 * DAY });
    t.debit({ card: "cards/alice", counter: 4, amount: 100, balanceAfter: 3_000, time: NOW - 10 * DAY });
    expect((await postBatch(w.acq.app, t.closeBatch())).body).toMatchObject({ accepted: 2 });

    const r = await report(w, 7);
    expect(r.fraud.openCounterGaps).toEqual([
      {
        walletId: ALICE,
        from: 2,
        to: 3,
        countersText: "2-3",
        above: { cardCounter: 4, source: "record", at: new Date((NOW - 10 * DAY) * 1000).toISOString() },
        ageDays: 10,
        balanceDrop: { amount: 1_450, currency: 978, text: "14.50 EUR" },
      },
    ]);
    expect(renderReport(r)).toContain(
      `    wallet ${ALICE} counters 2-3: open 10 days (since #4, record of 2026-11-14T08:00:00.000Z); ` +
        "balance drop 14.50 EUR",
    );
  });

  it("over GET /v1/reports/settlement ages the gaps to the server's clock and takes gapDays from the query", async () => {
    const w = await aliceWorld();
    const t = terminal();
    t.debit({ card: "cards/alice", counter: 1, amount: 450, balanceAfter: 4_550, time: NOW - 20 * DAY });
    t.debit({ card: "cards/alice", counter: 4, amount: 100, balanceAfter: 3_000, time: NOW - 10 * DAY });
    await postBatch(w.acq.app, t.closeBatch());
    // A business day 5 days back: as of its own end the gap was 5 days old; as of the server's clock, 10.
    const day = new Date((NOW - 5 * DAY) * 1000).toISOString().slice(0, 10);
    const get = async (query: string) => {
      const res = await w.acq.app.inject({
        method: "GET",
        url: `/v1/reports/settlement?date=${day}${query}`,
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { fraud: { openCounterGaps: { from: number; ageDays: number }[] } };
    };
    expect((await get("")).fraud.openCounterGaps).toMatchObject([{ from: 2, ageDays: 10 }]);
    expect((await get("&gapDays=11")).fraud.openCounterGaps).toEqual([]);
    const bad = await w.acq.app.inject({
      method: "GET",
      url: `/v1/reports/settlement?date=${TODAY}&gapDays=-1`,
    });
    expect(bad.statusCode).toBe(400);
  });

  it("leaves out a gap younger than the limit", async () => {
    const w = await aliceWorld();
    const t = terminal();
    t.debit({ card: "cards/alice", counter: 1, amount: 450, balanceAfter: 4_550, time: NOW - 20 * DAY });
    t.debit({ card: "cards/alice", counter: 3, amount: 100, balanceAfter: 4_000, time: NOW - 3 * DAY });
    await postBatch(w.acq.app, t.closeBatch());
    expect((await report(w, 7)).fraud.openCounterGaps).toEqual([]);
    expect((await report(w, 2)).fraud.openCounterGaps).toMatchObject([{ walletId: ALICE, from: 2, to: 2 }]);
    expect(renderReport(await report(w, 7))).toContain(
      "  Counter gaps open more than 7 days (as of 2026-11-24T08:00:00.000Z)\n    none",
    );
  });

  it("leaves out a gap a platform load filled", async () => {
    // The card took counter 1 for a debit; the load takes counter 2 on it; a later debit takes 3.
    const w = await aliceWorld(1);
    const t = terminal();
    t.debit({ card: "cards/alice", counter: 1, amount: 450, balanceAfter: 4_550, time: NOW - 20 * DAY });
    t.debit({ card: "cards/alice", counter: 3, amount: 100, balanceAfter: 6_450, time: NOW - 10 * DAY });
    await postBatch(w.acq.app, t.closeBatch());
    expect((await report(w, 7)).fraud.openCounterGaps).toMatchObject([{ walletId: ALICE, from: 2, to: 2 }]);

    const { completed } = await w.terminal.load({ type: "cash", amount: 2_000, teller: "T01" });
    expect(completed.body).toMatchObject({ state: "loaded", cardCounter: 2 });
    expect((await report(w, 7)).fraud.openCounterGaps).toEqual([]);
  });
});

describe("the report's unresolved torn intents", () => {
  it("lists the open one a terminal reported, not the one settled since", async () => {
    const w = await aliceWorld();
    const t = terminal();
    t.debit({ card: "cards/alice", counter: 1, amount: 450, balanceAfter: 4_550, time: NOW - 2 * DAY });
    const upload = resignManifest(t.closeBatch(), t.key, {
      unresolvedIntents: [
        {
          seq: 41,
          walletId: ALICE,
          amount: 1_250,
          currency: 978,
          terminalTime: NOW - 3 * DAY,
          cardCounterSeen: 7,
          reason: "the card's log starts at counter 40",
        },
        {
          seq: 42,
          walletId: ALICE,
          amount: 300,
          currency: 978,
          terminalTime: NOW - 3 * DAY,
          reason: "the card's log starts at counter 40",
        },
      ],
    });
    expect((await postBatch(w.acq.app, upload)).body).toMatchObject({ status: "settled" });
    await w.acq.store.db
      .updateTable("unresolved_intents")
      .set({ status: "resolved" })
      .where("seq", "=", 42)
      .execute();

    const r = await report(w, 7);
    expect(r.fraud.unresolvedIntents).toEqual([
      {
        terminalId: "T-0001",
        seq: 41,
        walletId: ALICE,
        amount: 1_250,
        currency: 978,
        amountText: "12.50 EUR",
        cardCounterSeen: 7,
        reason: "the card's log starts at counter 40",
        batchId: upload.manifest.batchId,
        terminalTime: "2026-11-21T08:00:00.000Z",
        receivedAt: TEST_NOW.toISOString(),
        ageDays: 3,
      },
    ]);
    expect(renderReport(r)).toContain(
      `    T-0001 seq 41  wallet ${ALICE}  12.50 EUR  3 days old (2026-11-21T08:00:00.000Z): ` +
        "the card's log starts at counter 40",
    );
  });
});
