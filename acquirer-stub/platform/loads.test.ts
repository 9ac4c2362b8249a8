/**
 * The wallet platform's loads end to end: an online terminal (signed requests through the real
 * HTTP app) in front of a real software card, which commits the platform's LOAD and answers the
 * signed record the terminal forwards. After every test: every booking sums to zero and every bank
 * account's balance is the sum of its entries.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { LoadCommand, LoadState, PresentedAnswer } from "../../protocol/platform/api.js";
import { INS } from "../../protocol/wallet/constants.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { countRows, TEST_NOW } from "../testing.js";
import { walletOnline } from "./accounts.js";
import {
  BOUND_ACCOUNT,
  bankBalanceBreaks,
  fieldCard,
  moneySnapshot,
  OTHER_ACCOUNT,
  type PlatformWorld,
  platformWorld,
  unbalancedBookings,
} from "./testing.js";
import { walletView } from "./wallets.js";

const ALICE = "W-ALICE-0001";
const clock = frozenClock(TEST_NOW).date;
const certificate = Buffer.from(loadFixturePki().der("cards/alice")).toString("base64");

let card: ReturnType<typeof fixtureCard>;
let world: PlatformWorld;

const field = (c: ReturnType<typeof fixtureCard>) => fieldCard(c, ALICE, loadFixturePki().der("cards/alice"));

beforeEach(async () => {
  card = fixtureCard();
  world = await platformWorld(field(card), clock);
});
afterEach(async () => {
  expect(await unbalancedBookings(world.acq.store)).toEqual([]);
  expect(await bankBalanceBreaks(world.acq.store)).toEqual([]);
  await world.close();
});

const balances = async () => (await moneySnapshot(world.acq.store)).balances;
const account = async (number: string) =>
  (
    await world.acq.store.db.selectFrom("bank_accounts").selectAll().where("number", "=", number).execute()
  )[0]!;

describe("wallet platform › a cash load", () => {
  it("puts the money on the card and moves the offline account and the teller's drawer together", async () => {
    const { command, completed } = await world.terminal.load({ type: "cash", amount: 2_000, teller: "T01" });
    expect(command.status).toBe(200);
    expect(command.body).toMatchObject({
      amount: 2_000,
      currency: 978,
      serial: 1,
      issuedAt: clock().getTime() / 1000,
    });
    expect(card.applet.state.balance).toBe(7_000);
    expect(completed.status).toBe(200);
    expect(completed.body).toEqual({
      loadId: command.body.loadId,
      walletId: ALICE,
      type: "cash",
      amount: 2_000,
      currency: 978,
      state: "loaded",
      cardCounter: 1,
      offlineBalance: 7_000,
    } satisfies LoadState);
    expect(await balances()).toMatchObject({
      "wallet:W-ALICE-0001:offline": 7_000,
      "drawer:T01": -2_000,
      "issuer:float": -5_000,
    });
  });

  it("numbers the platform's operations in order", async () => {
    const first = await world.terminal.load({ type: "cash", amount: 100 });
    const second = await world.terminal.load({ type: "cash", amount: 100 });
    expect([first.command.body.serial, second.command.body.serial]).toEqual([1, 2]);
    expect(second.completed.body).toMatchObject({ cardCounter: 2, offlineBalance: 5_200 });
  });
});

describe("wallet platform › bank-funded loads", () => {
  it("holds the bound account's money when it signs, and takes it when the card's record comes", async () => {
    const request = await world.terminal.loadRequest({ type: "bound", amount: 3_000 });
    const command = await world.terminal.askLoad(request);
    expect(command.status).toBe(200);
    expect(await account(BOUND_ACCOUNT)).toMatchObject({ balance: 50_000, held: 3_000 });

    const answer = await world.terminal.card.relay(INS.LOAD, command.body.command);
    const completed = await world.terminal.complete(request.loadId, answer.proof!);
    expect(completed.body).toMatchObject({ state: "loaded", offlineBalance: 8_000 });
    expect(await account(BOUND_ACCOUNT)).toMatchObject({ balance: 47_000, held: 0 });
    expect(await balances()).toMatchObject({ "bank:NL-0001": 47_000, "wallet:W-ALICE-0001:offline": 8_000 });
    const hold = await world.acq.store.db.selectFrom("bank_holds").selectAll().executeTakeFirstOrThrow();
    expect(hold).toMatchObject({
      load_id: request.loadId,
      account: BOUND_ACCOUNT,
      amount: 3_000,
      state: "posted",
    });
  });

  it("tells the bank what the seed's load request message carries: code, serial, date and time, counter, wallet, card", async () => {
    await world.terminal.load({ type: "cash", amount: 100, teller: "T01", branch: "BR-7" });
    await world.terminal.load({ type: "bound", amount: 3_000 });
    const loads = (await walletView(world.store, ALICE)).loads;
    const stamp = TEST_NOW.toISOString();
    expect(loads.map((l) => l.bankMessage)).toEqual([
      {
        transactionCode: "LOAD_CASH",
        serial: 1,
        date: stamp.slice(0, 10),
        time: stamp.slice(11, 19),
        teller: "T01",
        branch: "BR-7",
        walletStatus: "active",
        cardState: "active",
        cardNumber: null,
        loadType: "cash",
        amount: 100,
        currency: 978,
        cardBalance: 5_000,
        balanceLimit: card.applet.state.limits.balanceLimit,
      },
      expect.objectContaining({
        transactionCode: "LOAD_BOUND",
        serial: 2,
        teller: null,
        cardNumber: BOUND_ACCOUNT,
        amount: 3_000,
        cardBalance: 5_100,
      }),
    ]);
  });

  it("takes a non-bound load from the account the terminal names", async () => {
    const { completed } = await world.terminal.load({
      type: "non-bound",
      amount: 1_500,
      fromAccount: OTHER_ACCOUNT,
    });
    expect(completed.body.state).toBe("loaded");
    expect(await account(OTHER_ACCOUNT)).toMatchObject({ balance: 8_500, held: 0 });
    expect(await account(BOUND_ACCOUNT)).toMatchObject({ balance: 50_000, held: 0 });
  });
});

describe("wallet platform › a supplementary load", () => {
  it("moves money from the wallet's online account onto the card", async () => {
    // A refund as the returns of goods will book it: into the wallet's online account.
    await world.store.write("refund", (tx) =>
      tx.ledger.transfer(
        {
          bookingId: "refund:R-1",
          kind: "deposit",
          from: "merchant:M-0001",
          to: walletOnline(ALICE),
          amount: 1_000,
          currency: 978,
          walletId: ALICE,
          loadId: null,
        },
        clock().getTime() / 1000,
      ),
    );
    const { completed } = await world.terminal.load({ type: "supplementary", amount: 600 });
    expect(completed.body).toMatchObject({ state: "loaded", offlineBalance: 5_600 });
    expect(await balances()).toMatchObject({
      "wallet:W-ALICE-0001:online": 400,
      "wallet:W-ALICE-0001:offline": 5_600,
    });
    expect(card.applet.state.balance).toBe(5_600);
    const more = await world.terminal.askLoad(
      await world.terminal.loadRequest({ type: "supplementary", amount: 401 }),
    );
    expect(more.body.code).toBe("ACQ_ERR_INSUFFICIENT_FUNDS");
  });
});

describe("wallet platform › a card presented at an online terminal", () => {
  it("registers the card, notes its counter and answers its accounts with no load in doubt", async () => {
    const res = await world.terminal.present();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      walletId: ALICE,
      status: "active",
      offlineBalance: 5_000,
      onlineBalance: 0,
      autoLoad: { on: false, threshold: 0, amount: 0 },
      loadsInDoubt: [],
      pendingCommands: [],
    } satisfies PresentedAnswer);
    const view = await walletView(world.store, ALICE);
    expect(view.cardCertificate).toBe(loadFixturePki().cert("cards/alice").fingerprint);
    expect(view.lastCounter).toBe(0);
  });

  it("lists the loads whose proof never came, oldest first", async () => {
    const first = await world.terminal.askLoad(
      await world.terminal.loadRequest({ type: "bound", amount: 100 }),
    );
    const second = await world.terminal.askLoad(
      await world.terminal.loadRequest({ type: "cash", amount: 200 }),
    );
    const res = await world.terminal.present();
    expect(res.body.loadsInDoubt).toEqual([
      { loadId: first.body.loadId, amount: 100, currency: 978, type: "bound" },
      { loadId: second.body.loadId, amount: 200, currency: 978, type: "cash" },
    ]);
  });

  it("answers a retried presentation the same way, and another one with its id is a conflict", async () => {
    const first = await world.terminal.present("00".repeat(16));
    await world.terminal.askLoad(await world.terminal.loadRequest({ type: "cash", amount: 200 }));
    const again = await world.terminal.present("00".repeat(16));
    expect(again).toEqual(first);
    // The same id, now with another counter read: not the same presentation.
    const other = await world.terminal.post(`/v1/platform/wallets/${ALICE}/presented`, {
      requestId: "00".repeat(16),
      cardCertificate: certificate,
      card: { ...field(card).view(), counter: 99 },
      time: world.terminal.time(),
    });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe("ACQ_ERR_IDEMPOTENCY_CONFLICT");
  });

  it("answers 404 ACQ_ERR_WALLET_UNKNOWN for a wallet the platform never issued", async () => {
    const res = await world.terminal.post("/v1/platform/wallets/W-NOBODY/presented", {
      requestId: "11".repeat(16),
      cardCertificate: certificate,
      card: field(card).view(),
      time: world.terminal.time(),
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("ACQ_ERR_WALLET_UNKNOWN");
  });
});

describe("wallet platform › retries book once", () => {
  it("answers a retried load request with the same signed command and holds the money once", async () => {
    const request = await world.terminal.loadRequest({ type: "bound", amount: 3_000 });
    const first = await world.terminal.askLoad(request);
    const again = await world.terminal.askLoad(JSON.parse(JSON.stringify(request)));
    expect(again).toEqual(first);
    const reordered = Object.fromEntries(Object.entries(request).reverse()) as typeof request;
    expect((await world.terminal.askLoad(reordered)).body).toEqual(first.body);
    expect(await account(BOUND_ACCOUNT)).toMatchObject({ held: 3_000 });
    expect(await countRows(world.acq.store, "platform_loads")).toBe(1);
  });

  it("refuses another request under a load id already used (409), storing nothing", async () => {
    const request = await world.terminal.loadRequest({ type: "cash", amount: 3_000 });
    const first = await world.terminal.askLoad(request);
    const before = await moneySnapshot(world.acq.store);
    const other = await world.terminal.askLoad({ ...request, amount: 3_001 });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe("ACQ_ERR_IDEMPOTENCY_CONFLICT");
    expect(await moneySnapshot(world.acq.store)).toEqual(before);
    expect((await world.terminal.askLoad(request)).body).toEqual(first.body as LoadCommand);
  });

  it("answers the same proof again with the same state and books it once", async () => {
    const { request, proof, completed } = await world.terminal.load({ type: "bound", amount: 3_000 });
    const before = await moneySnapshot(world.acq.store);
    const again = await world.terminal.complete(request.loadId, proof);
    expect(again).toEqual(completed);
    expect(await moneySnapshot(world.acq.store)).toEqual(before);
    expect(await countRows(world.acq.store, "platform_bookings")).toBe(4); // 2 deposits, issue, load
  });

  it("answers the same load request sent twice at once with one command, held once", async () => {
    const request = await world.terminal.loadRequest({ type: "bound", amount: 3_000 });
    const [a, b] = await Promise.all([world.terminal.askLoad(request), world.terminal.askLoad(request)]);
    expect(a.status).toBe(200);
    expect(b).toEqual(a);
    expect(await account(BOUND_ACCOUNT)).toMatchObject({ held: 3_000 });
  });

  it("books a proof sent twice at once exactly once", async () => {
    const request = await world.terminal.loadRequest({ type: "bound", amount: 3_000 });
    const command = await world.terminal.askLoad(request);
    const { proof } = await world.terminal.card.relay(INS.LOAD, command.body.command);
    const [a, b] = await Promise.all([
      world.terminal.complete(request.loadId, proof!),
      world.terminal.complete(request.loadId, proof!),
    ]);
    expect(a).toEqual(b);
    expect(a.body.state).toBe("loaded");
    expect(await account(BOUND_ACCOUNT)).toMatchObject({ balance: 47_000, held: 0 });
  });

  it("holds an account's last funds for one of two loads asked at once", async () => {
    const first = await world.terminal.loadRequest({
      type: "non-bound",
      amount: 6_000,
      fromAccount: OTHER_ACCOUNT,
    });
    const second = await world.terminal.loadRequest({
      type: "non-bound",
      amount: 6_000,
      fromAccount: OTHER_ACCOUNT,
    });
    const answers = await Promise.all([world.terminal.askLoad(first), world.terminal.askLoad(second)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 422]);
    expect(answers.find((a) => a.status === 422)!.body.code).toBe("ACQ_ERR_INSUFFICIENT_FUNDS");
    expect(await account(OTHER_ACCOUNT)).toMatchObject({ balance: 10_000, held: 6_000 });
  });

  it("refuses a second, different proof for a completed load (ACQ_ERR_LOAD_STATE)", async () => {
    const first = await world.terminal.load({ type: "cash", amount: 100 });
    const second = await world.terminal.load({ type: "cash", amount: 100 });
    const before = await moneySnapshot(world.acq.store);
    const res = await world.terminal.complete(first.request.loadId, second.proof);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ACQ_ERR_LOAD_STATE");
    expect(await moneySnapshot(world.acq.store)).toEqual(before);
  });
});

describe("wallet platform › the operator's view of a wallet", () => {
  it("shows the wallet's accounts, bound account and loads, behind the operator token", async () => {
    await world.close();
    card = fixtureCard();
    world = await platformWorld(field(card), clock, {}, { operatorToken: "s3cret-operator-token-loads" });
    const cash = await world.terminal.load({ type: "cash", amount: 2_000 });
    const pending = await world.terminal.askLoad(
      await world.terminal.loadRequest({ type: "bound", amount: 1_000 }),
    );
    const url = `/v1/platform/wallets/${ALICE}`;
    expect((await world.acq.app.inject({ method: "GET", url })).statusCode).toBe(401);
    const res = await world.acq.app.inject({
      method: "GET",
      url,
      headers: { authorization: "Bearer s3cret-operator-token-loads" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      walletId: ALICE,
      status: "active",
      accounts: { offline: 7_000, online: 0 },
      boundAccount: { number: BOUND_ACCOUNT, balance: 50_000, held: 1_000, available: 49_000 },
      lastCounter: 1,
      loads: [
        {
          loadId: cash.request.loadId,
          type: "cash",
          amount: 2_000,
          state: "loaded",
          cardCounter: 1,
          teller: "T01",
        },
        {
          loadId: pending.body.loadId,
          type: "bound",
          amount: 1_000,
          state: "pending",
          account: BOUND_ACCOUNT,
        },
      ],
    });
    const unknown = await world.acq.app.inject({
      method: "GET",
      url: "/v1/platform/wallets/W-NOBODY",
      headers: { authorization: "Bearer s3cret-operator-token-loads" },
    });
    expect(unknown.statusCode).toBe(404);
  });
});
