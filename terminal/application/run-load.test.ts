/**
 * Loads through the terminal's use case, a real software card and the real wallet platform over
 * loopback HTTP (acquirer-stub's app, its SQLite or PostgreSQL database): each step of the flow
 * in run-load.ts, and each place it can be cut off, ending with the card, the platform's accounts
 * and the terminal's own rows in agreement.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { releaseWallet, reportLost, setParameters } from "../../acquirer-stub/platform/commands.js";
import type { PlatformStore } from "../../acquirer-stub/platform/store/platform-store.js";
import { moneySnapshot, unbalancedBookings } from "../../acquirer-stub/platform/testing.js";
import { walletView } from "../../acquirer-stub/platform/wallets.js";
import type { TestAcquirer } from "../../acquirer-stub/testing.js";
import type { FixtureCard } from "../../test-support/card-fixture.js";
import { EUR, type OnlineWorld, onlineWorld, WALLET } from "../../test-support/online-world.js";
import type { TestTerminal } from "../../test-support/terminal-fixture.js";
import type { WalletPlatform } from "./ports.js";
import { type LoadDeps, runLoad, runRevoke, runSyncCard } from "./run-load.js";

let w: OnlineWorld;
let t: TestTerminal;
let acquirer: TestAcquirer;
let platformStore: PlatformStore;
let card: FixtureCard;
let deps: LoadDeps;
let world: OnlineWorld["clock"];
const loadDeps = (platform: WalletPlatform): LoadDeps => w.depsWith(platform);

beforeEach(async () => {
  w = await onlineWorld();
  ({ t, acquirer, platformStore, deps, card, clock: world } = w);
});
afterEach(async () => {
  await w.close();
});

const offline = async () => (await walletView(platformStore, WALLET)).accounts.offline;

async function expectBooksAgree(): Promise<void> {
  expect(await unbalancedBookings(acquirer.store)).toEqual([]);
  // The platform's mirror of the card's money is the card's money, once nothing is in doubt.
  expect(await offline()).toBe(card.applet.state.balance);
}

describe("posd load (runLoad) against the wallet platform over loopback HTTP", () => {
  it("a cash load puts the money on the card, and the teller's drawer and the offline account move with it", async () => {
    const o = await runLoad(card.transport, deps, {
      type: "cash",
      amount: 2_000,
      currency: EUR,
      teller: "T01",
    });
    expect(o).toMatchObject({
      status: "loaded",
      walletId: WALLET,
      amount: 2_000,
      balanceAfter: 7_000,
      booked: true,
    });
    expect(card.applet.state.balance).toBe(7_000);
    const view = await walletView(platformStore, WALLET);
    expect(view.accounts.offline).toBe(7_000);
    // The cash is in the teller's drawer: the drawer's account moved by the same amount, the other way.
    expect((await moneySnapshot(acquirer.store)).balances["drawer:T01"]).toBe(-2_000);
    expect(t.stores.loads.inDoubt()).toEqual([]);
    expect(o.status === "loaded" && t.stores.loads.get(o.loadId)?.state).toBe("loaded");
    await expectBooksAgree();
  });

  it("a load from the bound account takes the money from the bank account, once", async () => {
    const o = await runLoad(card.transport, deps, { type: "bound", amount: 1_500, currency: EUR });
    expect(o.status).toBe("loaded");
    const bank = (await walletView(platformStore, WALLET)).boundAccount;
    expect(bank).toMatchObject({ number: "TW-0001", balance: 48_500, held: 0 });
    await expectBooksAgree();
  });

  it("a load over the wallet's balance limit is declined by the platform: nothing on the card, nothing booked", async () => {
    const before = await moneySnapshot(acquirer.store);
    const o = await runLoad(card.transport, deps, {
      type: "cash",
      amount: 46_000,
      currency: EUR,
      teller: "T01",
    });
    expect(o).toMatchObject({ status: "declined", code: "TERM_ERR_LOAD_REFUSED" });
    expect(o.status === "declined" && o.message).toContain("ACQ_ERR_OVER_BALANCE_LIMIT");
    expect(card.applet.state.balance).toBe(5_000);
    expect((await moneySnapshot(acquirer.store)).bookings).toEqual(before.bookings);
    expect(t.stores.loads.inDoubt()).toEqual([]);
  });

  it("a card torn from the field after it committed the LOAD leaves the load in doubt; the next presentation reverses it", async () => {
    card.applet.faults = { tearAfterOnlineCommit: true };
    const o = await runLoad(card.transport, deps, { type: "bound", amount: 1_000, currency: EUR });
    expect(o).toMatchObject({ status: "in_doubt", code: "TERM_ERR_LOAD_IN_DOUBT" });
    expect(card.applet.state.balance).toBe(6_000); // the card has it
    expect(t.stores.loads.inDoubt()).toHaveLength(1);
    // The bank account is held, not posted, while the load is in doubt.
    expect((await walletView(platformStore, WALLET)).boundAccount).toMatchObject({
      balance: 50_000,
      held: 1_000,
    });

    card.applet.faults = {};
    card.transport.insert();
    const sync = await runSyncCard(card.transport, deps);
    expect(sync).toMatchObject({ status: "ok", settled: [{ amount: 1_000, outcome: "reversed" }] });
    expect(card.applet.state.balance).toBe(5_000);
    expect((await walletView(platformStore, WALLET)).boundAccount).toMatchObject({
      balance: 50_000,
      held: 0,
    });
    expect(t.stores.loads.inDoubt()).toEqual([]);
    await expectBooksAgree();
  });

  it("a load the platform signed that never reached the card is voided at the next presentation (930E), its hold released", async () => {
    // The terminal asked and got the command, then died before relaying it: the platform's load is pending.
    const dead: WalletPlatform = {
      ...deps.platform,
      presented: (w, r) => deps.platform.presented(w, r),
      requestLoad: async (r) => {
        await deps.platform.requestLoad(r);
        throw new Error("terminal died before relaying the LOAD");
      },
      completeLoad: (id, p) => deps.platform.completeLoad(id, p),
      requestReversal: (id, r) => deps.platform.requestReversal(id, r),
      completeReversal: (id, r) => deps.platform.completeReversal(id, r),
      signCommand: (id, r) => deps.platform.signCommand(id, r),
      completeCommand: (id, r) => deps.platform.completeCommand(id, r),
      attention: (r) => deps.platform.attention(r),
    };
    const o = await runLoad(card.transport, loadDeps(dead), { type: "bound", amount: 700, currency: EUR });
    expect(o.status).toBe("error");
    expect((await walletView(platformStore, WALLET)).boundAccount).toMatchObject({ held: 700 });
    const next = await runLoad(card.transport, deps, {
      type: "cash",
      amount: 300,
      currency: EUR,
      teller: "T01",
    });
    expect(next).toMatchObject({ status: "loaded", settled: [{ amount: 700, outcome: "voided" }] });
    expect((await walletView(platformStore, WALLET)).boundAccount).toMatchObject({
      balance: 50_000,
      held: 0,
    });
    expect(card.applet.state.balance).toBe(5_300);
    await expectBooksAgree();
  });

  it("with the platform unreachable after the card answered, the record is kept and booked at the next online session", async () => {
    const lost: WalletPlatform = {
      presented: (w, r) => deps.platform.presented(w, r),
      requestLoad: (r) => deps.platform.requestLoad(r),
      completeLoad: async () => {
        const { TerminalError } = await import("../errors.js");
        throw new TerminalError("TERM_ERR_ACQUIRER_UNREACHABLE", "cut");
      },
      requestReversal: (id, r) => deps.platform.requestReversal(id, r),
      completeReversal: (id, r) => deps.platform.completeReversal(id, r),
      signCommand: (id, r) => deps.platform.signCommand(id, r),
      completeCommand: (id, r) => deps.platform.completeCommand(id, r),
      attention: (r) => deps.platform.attention(r),
    };
    const o = await runLoad(card.transport, loadDeps(lost), {
      type: "cash",
      amount: 1_200,
      currency: EUR,
      teller: "T02",
    });
    expect(o).toMatchObject({ status: "loaded", booked: false });
    expect(t.stores.loads.inDoubt()[0]?.proof).toBeDefined();
    const sync = await runSyncCard(card.transport, deps);
    expect(sync).toMatchObject({ status: "ok", settled: [] });
    expect(t.stores.loads.inDoubt()).toEqual([]);
    expect(card.applet.state.balance).toBe(6_200);
    await expectBooksAgree();
  });

  it("a cash load is revoked the same day with the card present: the card gives it back and the drawer pays it out", async () => {
    const o = await runLoad(card.transport, deps, {
      type: "cash",
      amount: 2_000,
      currency: EUR,
      teller: "T01",
    });
    if (o.status !== "loaded") throw new Error(`not loaded: ${o.status}`);
    const r = await runRevoke(card.transport, deps, { loadId: o.loadId, teller: "T01" });
    expect(r).toMatchObject({ status: "ok", settled: [{ loadId: o.loadId, outcome: "reversed" }] });
    expect(card.applet.state.balance).toBe(5_000);
    expect(t.stores.loads.get(o.loadId)?.state).toBe("loaded"); // its first resolution stands
    await expectBooksAgree();
  });

  it("a platform that answers a LOAD for another amount is caught: nothing is sent to the card", async () => {
    const { fromHex, hex } = await import("../../protocol/bytes.js");
    const { encodeIssuerCommand, encodeLoadPayload, parseIssuerCommand, parseLoadPayload } = await import(
      "../../protocol/wallet/messages.js"
    );
    const inflating: WalletPlatform = {
      ...deps.platform,
      presented: (w, r) => deps.platform.presented(w, r),
      requestLoad: async (r) => {
        const answer = await deps.platform.requestLoad(r);
        const { payload, signature } = parseIssuerCommand(fromHex(answer.command));
        const load = parseLoadPayload(payload);
        const forged = encodeIssuerCommand(
          encodeLoadPayload({ ...load, amount: load.amount * 10 }),
          signature,
        );
        return { ...answer, command: hex(forged) };
      },
      completeLoad: (id, p) => deps.platform.completeLoad(id, p),
      requestReversal: (id, r) => deps.platform.requestReversal(id, r),
      completeReversal: (id, r) => deps.platform.completeReversal(id, r),
      signCommand: (id, r) => deps.platform.signCommand(id, r),
      completeCommand: (id, r) => deps.platform.completeCommand(id, r),
      attention: (r) => deps.platform.attention(r),
    };
    const o = await runLoad(card.transport, loadDeps(inflating), {
      type: "cash",
      amount: 100,
      currency: EUR,
      teller: "T01",
    });
    expect(o).toMatchObject({ status: "error", code: "TERM_ERR_ISSUER_COMMAND" });
    expect(card.applet.state.balance).toBe(5_000);
    expect(card.applet.state.counter).toBe(0);
  });
});

describe("issuer commands queued at the platform", () => {
  it("posd sync-card delivers UPDATE PARAMETERS: the card's limits change and the platform takes its record", async () => {
    await setParameters(platformStore, WALLET, { singleLimit: 1_500, balanceLimit: 30_000 }, world.seconds());
    const sync = await runSyncCard(card.transport, deps);
    expect(sync).toMatchObject({
      status: "ok",
      delivered: [{ kind: "parameters", cardCounter: 1, confirmed: true }],
    });
    expect(card.applet.state.limits).toMatchObject({ singleLimit: 1_500, balanceLimit: 30_000 });
    const view = await walletView(platformStore, WALLET);
    expect(view).toMatchObject({ singleLimit: 1_500, balanceLimit: 30_000 });
    expect(view.commands).toMatchObject([{ state: "delivered", cardCounter: 1 }]);
    // Delivered once: the next presentation has nothing to do.
    expect(await runSyncCard(card.transport, deps)).toMatchObject({ status: "ok", delivered: [] });
  });

  it("a loss report blocks the card at its next load attempt, which is then refused; release unblocks it", async () => {
    await reportLost(platformStore, WALLET, world.seconds());
    const load = await runLoad(card.transport, deps, {
      type: "cash",
      amount: 500,
      currency: EUR,
      teller: "T01",
    });
    expect(load).toMatchObject({ status: "declined", delivered: [{ kind: "block" }] });
    expect(card.applet.state.blocked).toBe(true);
    expect(card.applet.state.balance).toBe(5_000);
    await releaseWallet(platformStore, WALLET, world.seconds());
    expect(await runSyncCard(card.transport, deps)).toMatchObject({ delivered: [{ kind: "unblock" }] });
    expect(card.applet.state.blocked).toBe(false);
    expect((await walletView(platformStore, WALLET)).status).toBe("active");
    await expectBooksAgree();
  });

  it("a card on this terminal's hotlist is handed BLOCK at a load attempt, and the load is refused before any is signed", async () => {
    await reportLost(platformStore, WALLET, world.seconds());
    w.hotlisted.push(WALLET);
    const load = await runLoad(card.transport, deps, {
      type: "cash",
      amount: 500,
      currency: EUR,
      teller: "T01",
    });
    expect(load).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
      delivered: [{ kind: "block" }],
    });
    expect(card.applet.state).toMatchObject({ blocked: true, balance: 5_000 });
    expect((await walletView(platformStore, WALLET)).loads).toEqual([]);
    // sync-card still settles and delivers for a hotlisted card: the release's UNBLOCK reaches it.
    await releaseWallet(platformStore, WALLET, world.seconds());
    expect(await runSyncCard(card.transport, deps)).toMatchObject({
      status: "ok",
      delivered: [{ kind: "unblock" }],
    });
    expect(card.applet.state.blocked).toBe(false);
  });

  it("a card torn after it executed the command leaves it pending; the next presentation delivers it again", async () => {
    await setParameters(platformStore, WALLET, { singleLimit: 1_200 }, world.seconds());
    card.applet.faults = { tearAfterOnlineCommit: true };
    const torn = await runSyncCard(card.transport, deps);
    expect(torn.status).toBe("error");
    expect(card.applet.state.limits.singleLimit).toBe(1_200);
    expect((await walletView(platformStore, WALLET)).commands).toMatchObject([{ state: "pending" }]);
    card.applet.faults = {};
    card.transport.insert();
    const again = await runSyncCard(card.transport, deps);
    expect(again, JSON.stringify(again)).toMatchObject({ delivered: [{ kind: "parameters" }] });
    expect((await walletView(platformStore, WALLET)).commands).toMatchObject([{ state: "delivered" }]);
    expect((await walletView(platformStore, WALLET)).singleLimit).toBe(1_200);
  });
});
