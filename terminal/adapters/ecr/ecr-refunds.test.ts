/**
 * Refunds on the cash-register API (POST /v1/refunds, GET /v1/refunds/:serviceId): the register's
 * serviceId makes a refund idempotent like a payment, and a refund the terminal refuses stores
 * nothing. Through fastify's inject() on posd's SQLite store.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../protocol/logger.js";
import { fixtureCard } from "../../../test-support/card-fixture.js";
import { type TestTerminal, testTerminal } from "../../../test-support/terminal-fixture.js";
import { PaymentManager } from "../../application/payment-manager.js";
import { runPayment } from "../../application/run-payment.js";
import { VirtualCardSource } from "../virtual/virtual-card-source.js";
import { buildEcrApp } from "./ecr-server.js";

let t: TestTerminal;
let manager: PaymentManager;
let app: ReturnType<typeof buildEcrApp>;
let seq: number;

beforeEach(async () => {
  t = testTerminal();
  manager = new PaymentManager({
    payments: t.ecrPayments,
    records: t.store,
    cardSource: new VirtualCardSource(undefined, { alwaysPresent: false }),
    pay: (transport, request) => runPayment(transport, t.deps, request),
    cardWaitMs: 5_000,
    logger: silentLogger(),
  });
  app = buildEcrApp({
    manager,
    stores: t,
    logger: silentLogger(),
    status: () => ({ terminalId: "T-0001" }),
    refunds: {
      refunds: t.stores.refunds,
      identity: t.identity,
      terminalId: "T-0001",
      logger: silentLogger(),
    },
  });
  const paid = await runPayment(fixtureCard({ balance: 20_000 }).transport, t.deps, {
    amount: 450,
    currency: 978,
  });
  if (paid.status !== "approved") throw new Error("payment failed");
  seq = paid.record.seq;
});
afterEach(async () => {
  await manager.shutdown();
  await app.close();
  t.cleanup();
});

const post = (body: unknown) => app.inject({ method: "POST", url: "/v1/refunds", payload: body as object });

describe("ECR API › refunds", () => {
  it("stores a refund once per serviceId and answers its state on the status query", async () => {
    const body = { serviceId: "R-1", seq, amount: 200, currency: "EUR" };
    const created = await post(body);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ refundId: 1, state: "stored", seq, amount: 200, currency: 978 });
    const again = await post(body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ refundId: 1 });
    const status = await app.inject({ method: "GET", url: "/v1/refunds/R-1" });
    expect(status.json()).toMatchObject({ refundId: 1, serviceId: "R-1", state: "stored" });
    expect(t.stores.refunds.forSeq(seq)).toHaveLength(1);
  });

  it("refuses a serviceId used for other terms, a refund over the payment and one of an unknown seq", async () => {
    await post({ serviceId: "R-1", seq, amount: 200, currency: "EUR" });
    const conflict = await post({ serviceId: "R-1", seq, amount: 250, currency: "EUR" });
    expect([conflict.statusCode, conflict.json().code]).toEqual([409, "TERM_ERR_ECR_CONFLICT"]);
    const over = await post({ serviceId: "R-2", seq, amount: 251, currency: "EUR" });
    expect([over.statusCode, over.json().code]).toEqual([422, "TERM_ERR_REFUND_OVER_ORIGINAL"]);
    const unknown = await post({ serviceId: "R-3", seq: seq + 5, amount: 1, currency: "EUR" });
    expect([unknown.statusCode, unknown.json().code]).toEqual([422, "TERM_ERR_REFUND_UNKNOWN_RECORD"]);
    expect(t.stores.refunds.forSeq(seq).map((r) => r.amount)).toEqual([200]);
    const missing = await app.inject({ method: "GET", url: "/v1/refunds/R-2" });
    expect(missing.statusCode).toBe(404);
  });

  it("answers 400 for a malformed refund body", async () => {
    for (const body of [
      { serviceId: "R-1", seq, amount: "2.00", currency: "EUR" },
      { serviceId: "R-1", seq: 0, amount: 100, currency: "EUR" },
      { serviceId: "R-1", seq, amount: 100, currency: "EUR", extra: 1 },
    ]) {
      const res = await post(body);
      expect([res.statusCode, res.json().code]).toEqual([400, "TERM_ERR_ECR_BAD_REQUEST"]);
    }
  });
});
