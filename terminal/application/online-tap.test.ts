/**
 * A payment at an online terminal (online-tap.ts), with a real software card and the real wallet
 * platform over loopback HTTP: the automatic load, and the platform's work for a wallet on the
 * attention list (issuer commands, loads in doubt) done in a plain payment before its DEBIT, a
 * hotlisted card handed its BLOCK first and declined. Every other tap stays offline.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { releaseWallet, reportLost, setParameters } from "../../acquirer-stub/platform/commands.js";
import { unbalancedBookings } from "../../acquirer-stub/platform/testing.js";
import { walletView } from "../../acquirer-stub/platform/wallets.js";
import { silentLogger } from "../../protocol/logger.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { EUR, type OnlineWorld, onlineWorld, WALLET } from "../../test-support/online-world.js";
import { syncAttention } from "./attention-sync.js";
import { runLoad } from "./run-load.js";
import { type PaymentOutcome, runPayment } from "./run-payment.js";

let w: OnlineWorld;
beforeEach(async () => {
  w = await onlineWorld();
});
afterEach(async () => {
  await w.close();
});

const pay = (amount = 300): Promise<PaymentOutcome> =>
  runPayment(w.card.transport, { ...w.t.deps, online: w.deps }, { amount, currency: EUR });
const sync = () => syncAttention(w.t.stores.attention, w.deps, silentLogger());
const platformWallet = () => walletView(w.platformStore, WALLET);

describe("the automatic load in a payment at an online terminal", () => {
  const lowCard = () =>
    fixtureCard({
      balance: 500,
      limits: { singleLimit: 3_000, balanceLimit: 50_000, autoLoadThreshold: 1_000, autoLoadAmount: 2_000 },
    });

  it("loads the auto-load amount from the bound account in the same tap, before the debit, and says so", async () => {
    w.card = lowCard();
    const o = await runPayment(
      w.card.transport,
      { ...w.t.deps, online: w.deps },
      { amount: 300, currency: EUR },
    );
    expect(o).toMatchObject({
      status: "approved",
      autoLoad: { status: "loaded", amount: 2_000, balanceAfter: 2_500 },
    });
    expect(o.status === "approved" && o.record.balanceAfter).toBe(2_200);
    expect(w.card.applet.state.balance).toBe(2_200);
    const view = await platformWallet();
    expect(view.boundAccount).toMatchObject({ balance: 48_000, held: 0 });
    expect(view.accounts.offline).toBe(5_000 + 2_000);
    expect(view.loads.map((l) => [l.type, l.amount, l.state])).toEqual([["auto", 2_000, "loaded"]]);
  });

  it("an offline terminal never auto-loads: the payment goes on as usual and is declined for the balance", async () => {
    w.card = lowCard();
    const o = await runPayment(w.card.transport, w.t.deps, { amount: 800, currency: EUR });
    expect(o).toMatchObject({ status: "declined", code: "TERM_ERR_INSUFFICIENT_FUNDS" });
    expect(o.autoLoad).toBeUndefined();
    expect((await platformWallet()).loads).toEqual([]);
  });

  it("a card above its threshold pays without asking the platform", async () => {
    const o = await runPayment(
      w.card.transport,
      { ...w.t.deps, online: w.deps },
      { amount: 300, currency: EUR },
    );
    expect(o.status).toBe("approved");
    expect(o.autoLoad).toBeUndefined();
    expect((await platformWallet()).lastCounter).toBeNull();
  });

  it("an unreachable platform skips the auto-load, and the payment goes on offline", async () => {
    w.card = lowCard();
    w.http.close();
    await w.acquirer.app.close();
    const o = await runPayment(
      w.card.transport,
      { ...w.t.deps, online: w.deps },
      { amount: 300, currency: EUR },
    );
    expect(o).toMatchObject({ status: "approved", autoLoad: { status: "skipped" } });
    expect(w.card.applet.state.balance).toBe(200);
  });
});

describe("a plain payment at an online terminal", () => {
  it("presents a wallet on the attention list: its queued set-params reaches the card before the debit, and the tap says so", async () => {
    await setParameters(w.platformStore, WALLET, { singleLimit: 1_500 }, w.clock.seconds());
    expect(await sync()).toMatchObject({ wallets: 1, truncated: false });
    const o = await pay();
    expect(o).toMatchObject({
      status: "approved",
      online: { delivered: [{ kind: "parameters", confirmed: true }], settled: [] },
    });
    expect(w.card.applet.state.limits.singleLimit).toBe(1_500);
    expect((await platformWallet()).commands).toMatchObject([{ state: "delivered", kind: "parameters" }]);
    // Done here: the next tap is offline again, without waiting for the next sync.
    expect(w.t.stores.attention.has(WALLET)).toBe(false);
    expect((await pay()).online).toBeUndefined();
    // The new single-spend limit holds in the very next payments.
    expect(await pay(1_800)).toMatchObject({ status: "declined", code: "TERM_ERR_OVER_SINGLE_LIMIT" });
  });

  it("new parameters that turn the auto-load on take effect in the same tap: delivered, then loaded, then debited", async () => {
    // The agreement off first (an auto-load amount of 0), delivered by a sync-card-like tap.
    await setParameters(w.platformStore, WALLET, { autoLoadAmount: 0 }, w.clock.seconds());
    await sync();
    expect((await pay(100)).online).toMatchObject({ delivered: [{ kind: "parameters" }] });
    expect((await platformWallet()).autoLoad.on).toBe(false);
    // On again, with a threshold above the card's 49.00.
    await setParameters(
      w.platformStore,
      WALLET,
      { autoLoadThreshold: 6_000, autoLoadAmount: 2_000 },
      w.clock.seconds(),
    );
    await sync();
    const o = await pay();
    expect(o).toMatchObject({
      status: "approved",
      online: { delivered: [{ kind: "parameters" }] },
      autoLoad: { status: "loaded", amount: 2_000, balanceAfter: 6_900 },
    });
    expect(w.card.applet.state.balance).toBe(6_600);
  });

  it("does not ask the platform for a wallet that is not on the list: its command waits for the terminal's next sync", async () => {
    await setParameters(w.platformStore, WALLET, { singleLimit: 1_500 }, w.clock.seconds());
    const o = await pay();
    expect(o.status).toBe("approved");
    expect(o.online).toBeUndefined();
    expect((await platformWallet()).lastCounter).toBeNull(); // never presented
    await sync();
    expect((await pay()).online).toMatchObject({ delivered: [{ kind: "parameters" }] });
  });

  it("settles a load in doubt of a listed wallet before the debit: the card gives it back and the books agree", async () => {
    w.card.applet.faults = { tearAfterOnlineCommit: true };
    expect(
      (await runLoad(w.card.transport, w.deps, { type: "bound", amount: 1_000, currency: EUR })).status,
    ).toBe("in_doubt");
    w.card.applet.faults = {};
    w.card.transport.insert();
    await sync();
    const o = await pay();
    expect(o).toMatchObject({
      status: "approved",
      online: { settled: [{ amount: 1_000, outcome: "reversed" }] },
    });
    expect(o.status === "approved" && o.record.balanceAfter).toBe(4_700);
    expect(w.t.stores.loads.inDoubt()).toEqual([]);
    expect((await platformWallet()).boundAccount).toMatchObject({ balance: 50_000, held: 0 });
    expect(await unbalancedBookings(w.acquirer.store)).toEqual([]);
  });

  it("hands a lost card on the terminal's hotlist its BLOCK, then declines it without charging anything", async () => {
    await reportLost(w.platformStore, WALLET, w.clock.seconds());
    w.hotlisted.push(WALLET);
    await sync();
    const o = await pay();
    expect(o).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
      online: { delivered: [{ kind: "block", confirmed: true }] },
    });
    expect(o.status === "declined" && o.message).toContain("BLOCK delivered to the card first");
    expect(w.card.applet.state).toMatchObject({ blocked: true, balance: 5_000 });
    expect(w.t.stores.records.pendingIntents(WALLET)).toEqual([]);
    // Delivered: the next tap is declined at authentication, offline.
    const again = await pay();
    expect(again).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
    expect(again.online).toBeUndefined();
  });

  it("delivers UNBLOCK after a release; the terminal declines the card until its hotlist no longer has it", async () => {
    await reportLost(w.platformStore, WALLET, w.clock.seconds());
    w.hotlisted.push(WALLET);
    await sync();
    await pay();
    await releaseWallet(w.platformStore, WALLET, w.clock.seconds());
    await sync();
    const o = await pay();
    expect(o).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
      online: { delivered: [{ kind: "unblock" }] },
    });
    expect(o.status === "declined" && o.message).toContain("leaves this terminal's hotlist at the next sync");
    expect(w.card.applet.state.blocked).toBe(false);
    expect((await platformWallet()).status).toBe("active");
    w.hotlisted.length = 0; // the next hotlist sync
    expect(await pay()).toMatchObject({ status: "approved" });
    expect(w.card.applet.state.balance).toBe(4_700);
  });

  it("goes on offline when the platform is unreachable, and keeps the wallet listed for the next tap", async () => {
    await setParameters(w.platformStore, WALLET, { singleLimit: 1_500 }, w.clock.seconds());
    await sync();
    w.http.close();
    await w.acquirer.app.close();
    const o = await pay();
    expect(o.status).toBe("approved");
    expect(o.online).toBeUndefined();
    expect(w.card.applet.state.limits.singleLimit).toBe(2_000); // the card's own, unchanged
    expect(w.t.stores.attention.has(WALLET)).toBe(true);
  });

  it("declines a listed card on the hotlist even when the platform cannot be reached", async () => {
    await reportLost(w.platformStore, WALLET, w.clock.seconds());
    w.hotlisted.push(WALLET);
    await sync();
    w.http.close();
    await w.acquirer.app.close();
    const o = await pay();
    expect(o).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
    expect(w.card.applet.state).toMatchObject({ blocked: false, balance: 5_000 });
  });
});
