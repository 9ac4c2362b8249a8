import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TEST_NOW, testAcquirer } from "../../acquirer-stub/testing.js";
import { FaultyApplet } from "../../card-emulator/applet/faulty.js";
import { type CardState, MemoryCardStateStore } from "../../card-emulator/applet/state.js";
import { InProcessTransport } from "../../card-emulator/inprocess.js";
import { silentLogger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { HostileCard } from "../../test-support/hostile-card.js";
import { STORE_KINDS, type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { AcquirerClient } from "../adapters/http/acquirer-client.js";
import { judgeRecord, type SeenWallet } from "../domain/wallet-watch.js";
import { runPayment } from "./run-payment.js";
import { uploadBatches } from "./upload.js";

const EUR = 978;
const WALLET = "W-ALICE-0001";
/** One frozen clock for the terminal and its acquirer. */
const world = frozenClock(TEST_NOW);

/** A card whose state is `state`: what restoring a backup of the state file, or editing it, gives. */
function cardFrom(state: CardState) {
  const store = new MemoryCardStateStore(state);
  const applet = new FaultyApplet(store);
  return { store, applet, transport: new InProcessTransport(applet) };
}

describe("the rule: what a terminal can tell from the last record it verified", () => {
  const seen: SeenWallet = { walletId: WALLET, seq: 7, cardCounter: 5, balanceAfter: 4_550, currency: EUR };

  it("finds nothing on a wallet it never saw", () => {
    expect(
      judgeRecord(undefined, { cardCounter: 1, balanceAfter: 1, amount: 1, currency: EUR }),
    ).toBeUndefined();
  });

  it("calls a counter that does not move forward a rollback", () => {
    for (const cardCounter of [5, 4, 0])
      expect(judgeRecord(seen, { cardCounter, balanceAfter: 4_000, amount: 550, currency: EUR })).toBe(
        "rollback",
      );
  });

  it("at the next counter, wants the last balance minus the amount, in the same currency", () => {
    expect(
      judgeRecord(seen, { cardCounter: 6, balanceAfter: 4_000, amount: 550, currency: EUR }),
    ).toBeUndefined();
    expect(judgeRecord(seen, { cardCounter: 6, balanceAfter: 460_000, amount: 40_000, currency: EUR })).toBe(
      "balance-forged",
    );
    expect(judgeRecord(seen, { cardCounter: 6, balanceAfter: 4_001, amount: 550, currency: EUR })).toBe(
      "balance-forged",
    );
    expect(judgeRecord(seen, { cardCounter: 6, balanceAfter: 4_000, amount: 550, currency: 840 })).toBe(
      "balance-forged",
    );
  });

  it("says nothing about the balance when the counter jumped (a load or a payment elsewhere)", () => {
    expect(
      judgeRecord(seen, { cardCounter: 7, balanceAfter: 99_000, amount: 550, currency: EUR }),
    ).toBeUndefined();
  });
});

describe.each(STORE_KINDS)("a terminal that remembers each wallet (%s store)", (kind) => {
  let t: TestTerminal;
  beforeEach(() => {
    t = testTerminal({ store: kind, clock: world });
  });
  afterEach(() => t.cleanup());
  const pay = (transport: Transport, amount: number) =>
    runPayment(transport, t.deps, { amount, currency: EUR });

  it("declines a restored wallet before DEBIT from the counter it announces, and refuses it afterwards", async () => {
    const card = fixtureCard({ balance: 10_000 });
    expect((await pay(card.transport, 100)).status).toBe("approved");
    const backup = card.store.load();
    expect((await pay(card.transport, 200)).status).toBe("approved");

    const restored = cardFrom(backup);
    const o = await pay(restored.transport, 300);
    expect(o).toMatchObject({ status: "declined", code: "TERM_ERR_CARD_ROLLBACK" });
    if (o.status !== "declined") return;
    expect(o.message).toMatch(/\(1 at SELECT, this terminal already verified 2\).*before DEBIT/);
    // Nothing committed: the card is where the backup left it.
    expect(restored.store.load()).toMatchObject({ counter: 1, balance: 9_900 });
    expect(t.store.get(o.seq!)).toMatchObject({ status: "voided" });
    expect(t.store.get(o.seq!)?.resolution).toMatch(/before DEBIT: TERM_ERR_CARD_ROLLBACK.*finding 1/);
    expect(t.walletWatch.unreported([o.seq!])).toMatchObject([
      {
        walletId: WALLET,
        kind: "rollback",
        seen: { cardCounter: 2, balanceAfter: 9_700 },
        claimed: { cardCounter: 1, balanceAfter: 9_900, amount: 300 },
        cardRecord: new Uint8Array(0),
      },
    ]);

    const again = await pay(restored.transport, 300);
    expect(again).toMatchObject({ status: "declined", code: "TERM_ERR_LOCAL_BLOCKLIST" });
    expect(restored.store.load().counter).toBe(1);
    // The acquirer's hotlist is another list: replacing it leaves this one.
    t.hotlist.replace({ version: 9, issuedAt: world.seconds(), revokedSerials: [], blockedWallets: [] });
    expect(t.walletWatch.isBlocked(WALLET)).toBe(true);
  });

  it("catches a card that does not announce its counter on its signed DEBIT record, and keeps that record", async () => {
    // HostileCard: no counter in its FCI (a card from before DF22); each instance starts at counter 1.
    expect((await pay(new HostileCard(), 100)).status).toBe("approved");
    const o = await pay(new HostileCard(), 100);
    expect(o).toMatchObject({ status: "declined", code: "TERM_ERR_CARD_ROLLBACK" });
    if (o.status !== "declined") return;
    expect(o.message).toMatch(/counter went backwards \(1, this terminal already verified 1\)/);
    expect(t.store.get(o.seq!)).toMatchObject({ status: "voided" });
    const [finding] = t.walletWatch.unreported([o.seq!]);
    expect(finding).toMatchObject({ kind: "rollback", claimed: { cardCounter: 1 } });
    expect(finding!.cardRecord.length).toBeGreaterThan(0);
    expect(finding!.cardSignature.length).toBe(64);
  });

  it("declines an edited balance at the next counter (45.50 edited to 5000.00, then 400.00)", async () => {
    const card = fixtureCard({
      balance: 5_000,
      limits: { singleLimit: 100_000, balanceLimit: 1_000_000, autoLoadThreshold: 0, autoLoadAmount: 0 },
    });
    expect((await pay(card.transport, 450)).status).toBe("approved");
    const edited = cardFrom({ ...card.store.load(), balance: 500_000 });
    const o = await pay(edited.transport, 40_000);
    expect(o).toMatchObject({ status: "declined", code: "TERM_ERR_CARD_BALANCE_FORGED" });
    expect(o.status === "declined" && o.message).toMatch(/5000\.00|4600\.00/);
    expect(t.store.list().filter((r) => r.status === "complete")).toHaveLength(1);
    expect(t.walletWatch.blocklist()).toMatchObject([{ walletId: WALLET, findingId: 1 }]);
  });

  it("still approves an honest wallet that was loaded between two taps", async () => {
    const card = fixtureCard({ balance: 5_000 });
    expect((await pay(card.transport, 450)).status).toBe("approved");
    // What a LOAD does on the card: counter + 1, balance + the load.
    const s = card.store.load();
    const loaded = cardFrom({ ...s, counter: s.counter + 1, balance: s.balance + 10_000 });
    const o = await pay(loaded.transport, 1_000);
    expect(o.status).toBe("approved");
    expect(t.walletWatch.last(WALLET)).toMatchObject({ cardCounter: 3, balanceAfter: 13_550 });
    expect(t.walletWatch.isBlocked(WALLET)).toBe(false);
  });

  it("does not let a torn tap of an edited wallet become approved when it is recovered", async () => {
    const card = fixtureCard({ balance: 5_000 });
    expect((await pay(card.transport, 450)).status).toBe("approved");
    const edited = cardFrom({ ...card.store.load(), balance: 150_000 });
    edited.applet.faults = { tearAfterDebitCommit: true };
    const torn = await pay(edited.transport, 1_000);
    expect(torn.status).toBe("torn");
    edited.applet.faults = {};
    edited.transport.insert();
    const next = await pay(edited.transport, 1_000);
    expect(next).toMatchObject({ status: "declined", code: "TERM_ERR_LOCAL_BLOCKLIST" });
    expect(next.recovered).toMatchObject([{ outcome: "voided" }]);
    expect(t.store.get(torn.status === "torn" ? torn.seq : 0)?.status).toBe("voided");
    expect(edited.store.load().counter).toBe(2);
  });

  it("remembers the newest record by terminal seq, and reports each finding once", () => {
    const w = t.walletWatch;
    w.remember({ walletId: "W-X", seq: 5, cardCounter: 9, balanceAfter: 100, currency: EUR });
    w.remember({ walletId: "W-X", seq: 3, cardCounter: 7, balanceAfter: 300, currency: EUR });
    expect(w.last("W-X")).toMatchObject({ seq: 5, cardCounter: 9 });
    const f = w.flag({
      walletId: "W-X",
      kind: "rollback",
      seq: 6,
      seen: w.last("W-X")!,
      claimed: { cardCounter: 8, balanceAfter: 50, amount: 50, currency: EUR },
      cardRecord: Uint8Array.of(1, 2),
      cardSignature: Uint8Array.of(3),
      cardCertificate: Uint8Array.of(4),
    });
    expect(f).toMatchObject({ id: 1, foundAt: world.ms(), reportedIn: undefined });
    expect(w.unreported([5])).toEqual([]);
    expect(w.unreported([6]).map((x) => x.id)).toEqual([1]);
    w.markReported([1], "b-1");
    expect(w.unreported([6])).toEqual([]);
    expect(w.isBlocked("W-X")).toBe(true);
  });
});

describe("the finding travels with the next upload", () => {
  it("reaches the acquirer with its card-signed proof, which the acquirer verifies and keeps", async () => {
    const t = testTerminal({ store: "sqlite", clock: world });
    const acquirer = await testAcquirer({ clock: world.date });
    await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = acquirer.app.server.address() as AddressInfo;
    const client = new AcquirerClient({
      baseUrl: `http://127.0.0.1:${port}`,
      retries: 1,
      baseDelayMs: 10,
      logger: silentLogger(),
    });
    try {
      // A card without DF22 caught on its signed record, and a restored one caught before DEBIT.
      await runPayment(new HostileCard(), t.deps, { amount: 100, currency: EUR });
      const o = await runPayment(new HostileCard(), t.deps, { amount: 300, currency: EUR });
      expect(o.status).toBe("declined");
      const bob = fixtureCard({ balance: 10_000 }, { fixture: "cards/bob" });
      const backup = bob.store.load();
      await runPayment(bob.transport, t.deps, { amount: 100, currency: EUR });
      const early = await runPayment(cardFrom(backup).transport, t.deps, { amount: 100, currency: EUR });
      expect(early).toMatchObject({ status: "declined", code: "TERM_ERR_CARD_ROLLBACK" });
      const ctx = {
        batches: t.batches,
        identity: t.identity,
        terminalId: "T-0001",
        merchantId: "M-0001",
        logger: silentLogger(),
        walletWatch: t.walletWatch,
      };
      const summary = await uploadBatches(ctx, client, { maxRecords: 100 });
      expect(summary).toMatchObject({ accepted: 2 });
      expect(await acquirer.store.findings()).toMatchObject([
        {
          terminalId: "T-0001",
          walletId: WALLET,
          kind: "rollback",
          counterSeen: 1,
          counterClaimed: 1,
          amount: 300,
          reason: null,
          // The ledger already holds counter 1 of this wallet with other content: two card signatures.
          fork: true,
        },
        {
          walletId: "W-BOB-0002",
          kind: "rollback",
          counterClaimed: 0,
          reason: "ACQ_ERR_FINDING_UNPROVEN",
          fork: false,
        },
      ]);
      expect(await acquirer.store.walletBlock(WALLET)).not.toBeNull();
      expect(await acquirer.store.walletBlock("W-BOB-0002")).toBeNull();
      // Reported once: nothing left to send.
      expect(t.walletWatch.unreported(t.store.list().map((r) => r.seq))).toEqual([]);
    } finally {
      client.close();
      await acquirer.close();
      t.cleanup();
    }
  });
});
