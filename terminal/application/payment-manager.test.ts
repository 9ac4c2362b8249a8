/**
 * The cash register's payments across a crash of posd, on both stores: a payment whose intent was
 * written follows it (torn with its seq, then approved or declined), one without a seq never
 * reached the card, and the tap that resolves an earlier torn payment names it in its answer.
 * A crash is played by abandoning a manager in the middle of a tap and building a new one over the
 * same stores, as posd does when it starts again (system-tests/posd-kill.test.ts kills the process).
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import { type FixtureCard, fixtureCard } from "../../test-support/card-fixture.js";
import { STORE_KINDS, type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { VirtualCardSource } from "../adapters/virtual/virtual-card-source.js";
import { type EcrPayment, PaymentManager } from "./payment-manager.js";
import { recoverPending, runPayment } from "./run-payment.js";

const INS_DEBIT = 0x54;
const INS_SELECT = 0xa4;

/** The card commits the DEBIT, then the process "dies": the answer never comes back. */
function diesAfter(ins: number, card: Transport): Transport {
  return {
    async exchange(command) {
      const answer = await card.exchange(command);
      if (command[1] === ins) return new Promise<Uint8Array>(() => {});
      return answer;
    },
  };
}

describe.each(STORE_KINDS)("cash-register payments across a crash of posd (%s store)", (kind) => {
  let t: TestTerminal;
  let card: FixtureCard;
  afterEach(() => t.cleanup());

  function manager(transport: Transport): PaymentManager {
    return new PaymentManager({
      payments: t.ecrPayments,
      records: t.store,
      cardSource: new VirtualCardSource(transport),
      pay: (link, request) => runPayment(link, t.deps, request),
      recover: (link) => recoverPending(link, t.deps),
      cardWaitMs: 5_000,
      logger: silentLogger(),
    });
  }

  async function until(m: PaymentManager, serviceId: string, state: string): Promise<EcrPayment> {
    for (let i = 0; i < 200; i++) {
      const p = m.get(serviceId);
      if (p?.state === state) return p;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`${serviceId} never reached ${state}: ${JSON.stringify(m.get(serviceId))}`);
  }

  function setUp(): void {
    t = testTerminal({ store: kind });
    card = fixtureCard({ balance: 10_000 });
  }

  it("a payment cut off after the card committed is torn with its seq after the restart, then approved; the retry names it and charges once", async () => {
    setUp();
    const before = manager(diesAfter(INS_DEBIT, card.transport));
    before.start({ serviceId: "till3-000042", amount: 450, currency: 978 });
    await until(before, "till3-000042", "in_progress");
    for (let i = 0; i < 50 && card.store.load().balance === 10_000; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(card.store.load().balance).toBe(9_550); // the card committed; posd never saw the answer

    const after = manager(card.transport); // posd starts again
    const torn = after.get("till3-000042")!;
    expect(torn).toMatchObject({ state: "torn", amount: 450 });
    expect(torn.seq).toBeGreaterThan(0);

    // The cashier asks again with a new serviceId; the same wallet is tapped.
    after.start({ serviceId: "till3-000043", amount: 450, currency: 978 });
    const retry = await until(after, "till3-000043", "approved");
    expect(retry.outcome).toMatchObject({
      resolvedPayments: [
        { serviceId: "till3-000042", seq: torn.seq, outcome: "approved", amount: 450, currency: 978 },
      ],
    });
    expect(after.get("till3-000042")).toMatchObject({ state: "approved", seq: torn.seq });
    // Both payments charged the card once each: the register sees that the first one already paid.
    expect(card.store.load().balance).toBe(9_100);
    expect(t.store.list().filter((r) => r.status === "complete")).toHaveLength(2);
    await after.shutdown();
  });

  it("the cashier resolves a torn payment without charging again: the wallet's log says it was paid", async () => {
    setUp();
    const before = manager(diesAfter(INS_DEBIT, card.transport));
    before.start({ serviceId: "S-7", amount: 800, currency: 978 });
    await until(before, "S-7", "in_progress");
    for (let i = 0; i < 50 && card.store.load().balance === 10_000; i++)
      await new Promise((r) => setTimeout(r, 5));

    const after = manager(card.transport);
    expect(after.get("S-7")!.state).toBe("torn");
    const resolved = await after.recover("S-7");
    expect(resolved).toMatchObject({ state: "approved", amount: 800 });
    expect(card.store.load().balance).toBe(9_200); // charged once, by the first tap only
    // Asking again changes nothing.
    expect(await after.recover("S-7")).toMatchObject({ state: "approved" });
    expect(card.store.load().counter).toBe(1);
    await after.shutdown();
  });

  it("a payment cut off before DEBIT has no seq after the restart: error TERM_ERR_INTERRUPTED, nothing charged", async () => {
    setUp();
    const before = manager(diesAfter(INS_SELECT, card.transport));
    before.start({ serviceId: "S-1", amount: 450, currency: 978 });
    await until(before, "S-1", "in_progress");
    await new Promise((r) => setTimeout(r, 20));

    const after = manager(card.transport);
    expect(after.get("S-1")).toMatchObject({
      state: "error",
      seq: null,
      outcome: { code: "TERM_ERR_INTERRUPTED" },
    });
    expect(card.store.load().balance).toBe(10_000);
    expect(t.store.list()).toHaveLength(0);
    await after.shutdown();
  });

  it("a failure after the intent was written is torn, never an error that invites a second charge", async () => {
    setUp();
    const m = new PaymentManager({
      payments: t.ecrPayments,
      records: t.store,
      cardSource: new VirtualCardSource(card.transport),
      pay: async (_link, request) => {
        // The tap wrote its intent (DEBIT may have gone out), then something threw.
        t.store.createIntent({
          walletId: "W-ALICE-0001",
          amount: request.amount,
          currency: request.currency,
          terminalTime: 1_780_000_000,
          transcriptHash: new Uint8Array(32),
          ...(request.serviceId === undefined ? {} : { serviceId: request.serviceId }),
        });
        throw new Error("a bug after the intent");
      },
      cardWaitMs: 5_000,
      logger: silentLogger(),
    });
    m.start({ serviceId: "S-2", amount: 100, currency: 978 });
    const p = await until(m, "S-2", "torn");
    expect(p.seq).toBe(1);
    expect(p.outcome).toMatchObject({ code: "TERM_ERR_INTERNAL" });
    await m.shutdown();
  });
});
