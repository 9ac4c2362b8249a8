/**
 * Refunds of returned goods at the terminal (runRefund), on the in-memory store and on posd's
 * SQLite file, and their way up with `posd upload` to a real acquirer over loopback HTTP.
 */
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../../acquirer-stub/testing.js";
import { ecdsaSign, ecdsaVerify } from "../../protocol/crypto.js";
import { silentLogger } from "../../protocol/logger.js";
import { refundMessage } from "../../protocol/wallet/refund.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { STORE_KINDS, type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { AcquirerClient } from "../adapters/http/acquirer-client.js";
import { SqliteTerminalStore } from "../adapters/sqlite/terminal-store.js";
import type { TerminalError } from "../errors.js";
import { refundJson, runRefund } from "./refund.js";
import { runPayment } from "./run-payment.js";
import { uploadBatches } from "./upload.js";

const EUR = 978;
const world = frozenClock(TEST_NOW);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as TerminalError).code;
  }
  return undefined;
}

describe.each(STORE_KINDS)("posd refund (runRefund) on the %s store", (kind) => {
  let t: TestTerminal;
  beforeEach(() => {
    t = testTerminal({ clock: world, store: kind });
  });
  afterEach(() => t.cleanup());

  const deps = () => ({
    refunds: t.stores.refunds,
    identity: t.identity,
    terminalId: "T-0001",
    logger: silentLogger(),
  });

  async function pay(amount: number): Promise<number> {
    const card = fixtureCard({ balance: 20_000 });
    const outcome = await runPayment(card.transport, t.deps, { amount, currency: EUR });
    if (outcome.status !== "approved") throw new Error(`payment ${outcome.status}`);
    return outcome.record.seq;
  }

  it("stores a refund of a payment, signed with the terminal's certificate key", async () => {
    const seq = await pay(450);
    const { refund, created } = runRefund(deps(), { seq, amount: 200, currency: EUR });
    expect(created).toBe(true);
    const original = t.store.get(seq)!;
    expect(refund).toMatchObject({
      refundId: 1,
      originalSeq: seq,
      walletId: original.walletId,
      cardCounter: original.cardCounter,
      amount: 200,
      currency: EUR,
    });
    const message = refundMessage("T-0001", refund);
    expect(ecdsaVerify(t.identity.certificate.publicKey, message, refund.signature)).toBe(true);
    expect(refundJson(refund)).toMatchObject({ state: "stored", seq, amountText: "2.00 EUR" });
  });

  it("a refund the acquirer kept pending ends when a later batch's answer resolves it", async () => {
    const card = fixtureCard({ balance: 20_000 });
    const payOnce = async (amount: number) => {
      const o = await runPayment(card.transport, t.deps, { amount, currency: EUR });
      if (o.status !== "approved") throw new Error(`payment ${o.status}`);
      return o.record.seq;
    };
    const seq = await payOnce(450);
    const { refund } = runRefund(deps(), { seq, amount: 200, currency: EUR });
    const close = () =>
      t.stores.batches.close({
        terminalId: "T-0001",
        merchantId: "M-0001",
        maxRecords: 100,
        sign: (message) => ecdsaSign(t.identity.privateKey, message),
      });
    const [first] = close();
    const answer = { status: "settled", accepted: 1, rejected: 0 } as const;
    t.stores.batches.applyResult({
      ...answer,
      batchId: first!,
      records: [{ seq, status: "accepted" }],
      refunds: [{ refundId: refund.refundId, status: "pending" }],
    });
    expect(t.stores.refunds.outstanding().map((r) => r.uploadStatus)).toEqual(["pending"]);
    const next = await payOnce(100);
    const [second] = close();
    t.stores.batches.applyResult({
      ...answer,
      batchId: second!,
      records: [{ seq: next, status: "accepted" }],
      refundsResolved: [{ refundId: refund.refundId, status: "settled" }],
    });
    expect(t.stores.refunds.get(refund.refundId)).toMatchObject({ uploadStatus: "settled", batchId: first });
    expect(t.stores.refunds.outstanding()).toEqual([]);
  });

  it("allows partial refunds up to the payment's amount and refuses the one that would pass it", async () => {
    const seq = await pay(450);
    runRefund(deps(), { seq, amount: 200, currency: EUR });
    runRefund(deps(), { seq, amount: 250, currency: EUR });
    expect(codeOf(() => runRefund(deps(), { seq, amount: 1, currency: EUR }))).toBe(
      "TERM_ERR_REFUND_OVER_ORIGINAL",
    );
    expect(t.stores.refunds.forSeq(seq).map((r) => r.amount)).toEqual([200, 250]);
  });

  it("refuses a refund of more than the payment at once, and stores nothing", async () => {
    const seq = await pay(450);
    expect(codeOf(() => runRefund(deps(), { seq, amount: 451, currency: EUR }))).toBe(
      "TERM_ERR_REFUND_OVER_ORIGINAL",
    );
    expect(t.stores.refunds.forSeq(seq)).toEqual([]);
  });

  it("refuses a refund of a seq that is not a completed payment of this terminal", async () => {
    const seq = await pay(450);
    expect(codeOf(() => runRefund(deps(), { seq: seq + 1, amount: 100, currency: EUR }))).toBe(
      "TERM_ERR_REFUND_UNKNOWN_RECORD",
    );
    // A payment the card refused leaves a voided record: nothing to refund either.
    const poor = fixtureCard({ balance: 10 });
    const declined = await runPayment(poor.transport, t.deps, { amount: 450, currency: EUR });
    expect(declined.status).toBe("declined");
    const voided = t.store.lastSeq();
    expect(t.store.get(voided)?.status).toBe("voided");
    expect(codeOf(() => runRefund(deps(), { seq: voided, amount: 100, currency: EUR }))).toBe(
      "TERM_ERR_REFUND_UNKNOWN_RECORD",
    );
    expect(codeOf(() => runRefund(deps(), { seq, amount: 100, currency: 840 }))).toBe("TERM_ERR_USAGE");
  });

  it("numbers refunds 1, 2, 3 and never hands a refund id out twice", async () => {
    const seq = await pay(900);
    const ids = [100, 200, 300].map(
      (amount) => runRefund(deps(), { seq, amount, currency: EUR }).refund.refundId,
    );
    expect(ids).toEqual([1, 2, 3]);
    expect(codeOf(() => runRefund(deps(), { seq, amount: 10_000, currency: EUR }))).toBeDefined();
    expect(runRefund(deps(), { seq, amount: 300, currency: EUR }).refund.refundId).toBe(4);
  });

  it("answers the same refund for the same serviceId, and refuses the serviceId for other terms", async () => {
    const seq = await pay(450);
    const first = runRefund(deps(), { seq, amount: 200, currency: EUR, serviceId: "R-1" });
    const again = runRefund(deps(), { seq, amount: 200, currency: EUR, serviceId: "R-1" });
    expect(again.created).toBe(false);
    expect(again.refund.refundId).toBe(first.refund.refundId);
    expect(codeOf(() => runRefund(deps(), { seq, amount: 250, currency: EUR, serviceId: "R-1" }))).toBe(
      "TERM_ERR_ECR_CONFLICT",
    );
    expect(t.stores.refunds.forSeq(seq)).toHaveLength(1);
  });
});

describe("posd refund: the refund counter survives a restart of posd", () => {
  it("continues after the last refund id stored in the SQLite file", async () => {
    const t = testTerminal({ clock: world, store: "sqlite" });
    try {
      const card = fixtureCard({ balance: 20_000 });
      const outcome = await runPayment(card.transport, t.deps, { amount: 450, currency: EUR });
      if (outcome.status !== "approved") throw new Error("payment failed");
      const seq = outcome.record.seq;
      const sqlite = t.stores as SqliteTerminalStore;
      const d = {
        refunds: sqlite.refunds,
        identity: t.identity,
        terminalId: "T-0001",
        logger: silentLogger(),
      };
      runRefund(d, { seq, amount: 100, currency: EUR });
      const reopened = SqliteTerminalStore.open(sqlite.path, { clock: { now: world.ms } });
      try {
        const next = runRefund({ ...d, refunds: reopened.refunds }, { seq, amount: 100, currency: EUR });
        expect(next.refund.refundId).toBe(2);
      } finally {
        reopened.close();
      }
    } finally {
      t.cleanup();
    }
  });
});

describe.each(STORE_KINDS)(
  "posd upload with refunds on the %s store, to the acquirer over loopback HTTP",
  (kind) => {
    let t: TestTerminal;
    let acquirer: TestAcquirer;
    let client: AcquirerClient;
    beforeEach(async () => {
      t = testTerminal({ clock: world, store: kind });
      acquirer = await testAcquirer({ clock: world.date });
      await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = acquirer.app.server.address() as AddressInfo;
      client = new AcquirerClient({
        baseUrl: `http://127.0.0.1:${port}`,
        retries: 2,
        baseDelayMs: 10,
        logger: silentLogger(),
      });
    });
    afterEach(async () => {
      client.close();
      await acquirer.close();
      t.cleanup();
    });

    const upload = () =>
      uploadBatches(
        {
          batches: t.batches,
          identity: t.identity,
          terminalId: "T-0001",
          merchantId: "M-0001",
          logger: silentLogger(),
          refunds: t.stores.refunds,
        },
        client,
        { maxRecords: 100 },
      );
    const refund = (seq: number, amount: number) =>
      runRefund(
        { refunds: t.stores.refunds, identity: t.identity, terminalId: "T-0001", logger: silentLogger() },
        { seq, amount, currency: EUR },
      ).refund;

    it("sends a refund with the batch of the payment it refunds, and keeps the acquirer's verdict", async () => {
      const card = fixtureCard({ balance: 20_000 });
      const paid = await runPayment(card.transport, t.deps, { amount: 450, currency: EUR });
      if (paid.status !== "approved") throw new Error("payment failed");
      const r = refund(paid.record.seq, 200);
      const summary = await upload();
      expect(summary.batches).toBe(1);
      expect(summary.results[0]?.refunds).toEqual([{ refundId: r.refundId, status: "settled" }]);
      expect(t.stores.refunds.get(r.refundId)).toMatchObject({ uploadStatus: "settled" });
      const stored = await acquirer.store.db.selectFrom("refunds").selectAll().execute();
      expect(stored.map((s) => [s.terminal_id, s.refund_id, s.status, s.amount])).toEqual([
        ["T-0001", r.refundId, "settled", 200],
      ]);
    });

    it("sends refunds alone when there is no new payment, continuing the chain for the next batch", async () => {
      const card = fixtureCard({ balance: 20_000 });
      const paid = await runPayment(card.transport, t.deps, { amount: 450, currency: EUR });
      if (paid.status !== "approved") throw new Error("payment failed");
      await upload();
      const r = refund(paid.record.seq, 450);
      const alone = await upload();
      expect(alone).toMatchObject({ batches: 1, records: 0 });
      expect(alone.results[0]).toMatchObject({
        status: "settled",
        refunds: [{ refundId: r.refundId, status: "settled" }],
      });
      // The next payment's batch still continues the acquirer's chain head.
      await runPayment(card.transport, t.deps, { amount: 100, currency: EUR });
      const next = await upload();
      expect(next.results[0]).toMatchObject({ status: "settled", accepted: 1 });
      expect(await upload()).toMatchObject({ batches: 0 });
    });
  },
);
