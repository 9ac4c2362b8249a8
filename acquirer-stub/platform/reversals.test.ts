/**
 * Load reversals end to end, with a real software card answering LOAD REVERSAL: a load in doubt
 * settled at the next presentation (the card never saw it: 930E; or it did: its LOAD_REVERSAL
 * record), and a cash load a teller takes back at the counter. After every test: every booking
 * sums to zero and every bank account's balance is the sum of its entries.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { LoadState } from "../../protocol/platform/api.js";
import { INS, WALLET_SW } from "../../protocol/wallet/constants.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { TEST_NOW } from "../testing.js";
import {
  BOUND_ACCOUNT,
  bankBalanceBreaks,
  fieldCard,
  moneySnapshot,
  type PlatformWorld,
  platformWorld,
  unbalancedBookings,
} from "./testing.js";

const ALICE = "W-ALICE-0001";
let now = TEST_NOW.getTime();
const clock = () => new Date(now);

let card: ReturnType<typeof fixtureCard>;
let world: PlatformWorld;

beforeEach(async () => {
  now = TEST_NOW.getTime();
  card = fixtureCard();
  world = await platformWorld(fieldCard(card, ALICE, loadFixturePki().der("cards/alice")), clock);
});
afterEach(async () => {
  expect(await unbalancedBookings(world.acq.store)).toEqual([]);
  expect(await bankBalanceBreaks(world.acq.store)).toEqual([]);
  await world.close();
});

const snapshot = () => moneySnapshot(world.acq.store);
const bank = async () =>
  (
    await world.acq.store.db
      .selectFrom("bank_accounts")
      .selectAll()
      .where("number", "=", BOUND_ACCOUNT)
      .execute()
  )[0]!;
const bookings = async () =>
  (await snapshot()).bookings.filter((b) => !b.startsWith("deposit:") && !b.startsWith("issue:"));

/** A bank load signed by the platform whose command never reached the card (the card left the field). */
async function signedNeverSent(amount = 3_000) {
  const command = await world.terminal.askLoad(await world.terminal.loadRequest({ type: "bound", amount }));
  expect(command.status).toBe(200);
  return command.body.loadId;
}

/** A bank load the card committed whose record never reached the platform. */
async function committedNeverProven(amount = 3_000) {
  const command = await world.terminal.askLoad(await world.terminal.loadRequest({ type: "bound", amount }));
  expect((await world.terminal.card.relay(INS.LOAD, command.body.command)).proof).toBeDefined();
  return command.body.loadId;
}

describe("wallet platform › a load in doubt, settled at the next presentation", () => {
  it("voids a load the card never saw (930E) and releases its hold, booking nothing", async () => {
    const loadId = await signedNeverSent();
    expect(await bank()).toMatchObject({ balance: 50_000, held: 3_000 });
    expect((await world.terminal.present()).body.loadsInDoubt.map((l) => l.loadId)).toEqual([loadId]);

    const { answer, completed } = await world.terminal.reverse(loadId);
    expect(answer.sw).toBe(WALLET_SW.LOAD_NOT_FOUND);
    expect(completed.status).toBe(200);
    expect(completed.body).toEqual({
      loadId,
      walletId: ALICE,
      type: "bound",
      amount: 3_000,
      currency: 978,
      state: "voided",
      offlineBalance: 5_000,
    } satisfies LoadState);
    expect(await bank()).toMatchObject({ balance: 50_000, held: 0 });
    expect(await bookings()).toEqual([]);
    expect(card.applet.state.balance).toBe(5_000);
    expect((await world.terminal.present()).body.loadsInDoubt).toEqual([]);
  });

  it("books a load the card did make and its reversal together (net zero), and releases the hold", async () => {
    const loadId = await committedNeverProven();
    expect(card.applet.state.balance).toBe(8_000);

    const { answer, completed } = await world.terminal.reverse(loadId);
    expect(answer.proof).toBeDefined();
    expect(completed.body).toMatchObject({ state: "reversed", offlineBalance: 5_000 });
    expect(card.applet.state.balance).toBe(5_000);
    expect(await bank()).toMatchObject({ balance: 50_000, held: 0 });
    expect(await bookings()).toEqual([`load:${loadId}`, `reversal:${loadId}`]);
    expect((await snapshot()).balances).toMatchObject({
      "wallet:W-ALICE-0001:offline": 5_000,
      "bank:NL-0001": 50_000,
    });
  });

  it("refuses 930E for a load the card's record proved (ACQ_ERR_LOAD_STATE), changing nothing", async () => {
    const { request } = await world.terminal.load({ type: "cash", amount: 1_000 });
    const asked = await world.terminal.askReversal(request.loadId, { teller: "T01" });
    const before = await snapshot();
    const res = await world.terminal.completeReversal(request.loadId, {
      requestId: asked.request.requestId,
      outcome: "not-found",
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ACQ_ERR_LOAD_STATE");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a card record that answers another reversal command of the load, then takes the right one", async () => {
    const loadId = await committedNeverProven();
    const first = await world.terminal.askReversal(loadId);
    const second = await world.terminal.askReversal(loadId);
    const answer = await world.terminal.card.relay(INS.LOAD_REVERSAL, second.body.command);
    const before = await snapshot();
    const wrong = await world.terminal.completeReversal(loadId, {
      requestId: first.request.requestId,
      outcome: "reversed",
      proof: answer.proof!,
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toMatchObject({
      code: "ACQ_ERR_LOAD_RECORD_MISMATCH",
      details: { fields: ["binding"] },
    });
    expect(await snapshot()).toEqual(before);
    const right = await world.terminal.completeReversal(loadId, {
      requestId: second.request.requestId,
      outcome: "reversed",
      proof: answer.proof!,
    });
    expect(right.body.state).toBe("reversed");
  });
});

describe("wallet platform › a cash load taken back at the counter", () => {
  it("pays the cash back out of the teller's drawer and takes the money off the card, the same day", async () => {
    const { request } = await world.terminal.load({ type: "cash", amount: 2_000, teller: "T01" });
    expect(card.applet.state.balance).toBe(7_000);
    const { completed } = await world.terminal.reverse(request.loadId, { teller: "T01" });
    expect(completed.body).toMatchObject({ state: "reversed", cardCounter: 1, offlineBalance: 5_000 });
    expect(card.applet.state.balance).toBe(5_000);
    expect((await snapshot()).balances).toMatchObject({
      "drawer:T01": 0,
      "wallet:W-ALICE-0001:offline": 5_000,
    });
  });

  it("refuses it on another business day (ACQ_ERR_REVERSAL_DAY), spending no challenge", async () => {
    const { request } = await world.terminal.load({ type: "cash", amount: 2_000 });
    now += 24 * 3600 * 1000;
    const before = await snapshot();
    const res = await world.terminal.askReversal(request.loadId, { teller: "T01" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ACQ_ERR_REVERSAL_DAY");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses to take back a completed bank load, or a cash load without a teller (ACQ_ERR_LOAD_STATE)", async () => {
    const bound = await world.terminal.load({ type: "bound", amount: 2_000 });
    const cash = await world.terminal.load({ type: "cash", amount: 2_000 });
    const before = await snapshot();
    for (const [loadId, fields] of [
      [bound.request.loadId, { teller: "T01" }],
      [cash.request.loadId, {}],
    ] as const) {
      const res = await world.terminal.askReversal(loadId, fields);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("ACQ_ERR_LOAD_STATE");
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe("wallet platform › reversal retries settle once", () => {
  it("answers a retried reversal request with the same command; its id with another body is a conflict", async () => {
    const loadId = await signedNeverSent();
    const first = await world.terminal.askReversal(loadId);
    const again = await world.terminal.post(`/v1/platform/loads/${loadId}/reversal`, first.request);
    expect(again.body).toEqual(first.body);
    const other = await world.terminal.post(`/v1/platform/loads/${loadId}/reversal`, {
      ...first.request,
      time: first.request.time + 1,
    });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe("ACQ_ERR_IDEMPOTENCY_CONFLICT");
  });

  it("answers a repeated outcome with the same state and books it once; another outcome is refused", async () => {
    const loadId = await committedNeverProven();
    const { outcome, completed } = await world.terminal.reverse(loadId);
    const before = await snapshot();
    const again = await world.terminal.completeReversal(loadId, outcome);
    expect(again).toEqual(completed);
    const other = await world.terminal.completeReversal(loadId, {
      requestId: outcome.requestId,
      outcome: "not-found",
    });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe("ACQ_ERR_LOAD_STATE");
    expect(await snapshot()).toEqual(before);
  });

  it("answers 404 ACQ_ERR_REVERSAL_UNKNOWN for a reversal the platform never signed", async () => {
    const loadId = await signedNeverSent();
    const res = await world.terminal.completeReversal(loadId, {
      requestId: "ab".repeat(16),
      outcome: "not-found",
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("ACQ_ERR_REVERSAL_UNKNOWN");
  });
});
