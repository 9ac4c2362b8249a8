import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../protocol/logger.js";
import { HostileCard } from "../../../test-support/hostile-card.js";
import { type TestTerminal, testTerminal } from "../../../test-support/terminal-fixture.js";
import { PaymentManager } from "../../application/payment-manager.js";
import { recoverPending, runPayment } from "../../application/run-payment.js";
import { VirtualCardSource } from "../virtual/virtual-card-source.js";
import { buildEcrApp } from "./ecr-server.js";

let t: TestTerminal;
let source: VirtualCardSource;
let manager: PaymentManager;
let app: ReturnType<typeof buildEcrApp>;

function build(cardWaitMs = 5_000) {
  source = new VirtualCardSource(undefined, { alwaysPresent: false });
  manager = new PaymentManager({
    payments: t.ecrPayments,
    records: t.store,
    cardSource: source,
    pay: (transport, request) => runPayment(transport, t.deps, request),
    recover: (transport) => recoverPending(transport, t.deps),
    cardWaitMs,
    logger: silentLogger(),
  });
  app = buildEcrApp({
    manager,
    stores: t,
    logger: silentLogger(),
    status: () => ({ terminalId: "T-0001" }),
  });
}

beforeEach(() => {
  t = testTerminal();
  build();
});
afterEach(async () => {
  await manager.shutdown();
  await app.close();
  t.cleanup();
});

const post = (body: unknown, query = "") =>
  app.inject({ method: "POST", url: `/v1/payments${query}`, payload: body as object });
const get = (id: string, query = "") => app.inject({ method: "GET", url: `/v1/payments/${id}${query}` });
const settle = () => new Promise<void>((resolve) => manager.once("idle", () => resolve()));

describe("ECR API", () => {
  it("takes a payment: waiting for a card, then approved with the stored record", async () => {
    const created = await post({ serviceId: "S-1", amount: 450, currency: "EUR", reference: "till 3" });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      serviceId: "S-1",
      state: "waiting_for_card",
      amount: 450,
      currency: 978,
    });
    const done = settle();
    source.present(new HostileCard());
    await done;
    const status = await get("S-1");
    expect(status.json()).toMatchObject({ state: "approved", seq: 1, outcome: { status: "approved" } });
    expect(t.store.list().filter((r) => r.status === "complete")).toHaveLength(1);
  });

  it("answers a long-poll as soon as the payment is final", async () => {
    await post({ serviceId: "S-2", amount: 100, currency: "EUR" });
    setTimeout(() => source.present(new HostileCard()), 100);
    const started = Date.now();
    const r = await get("S-2", "?wait=10");
    expect(r.json().state).toBe("approved");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("never charges twice for the same serviceId: the same request again is the same payment", async () => {
    await post({ serviceId: "S-3", amount: 100, currency: "EUR" });
    const done = settle();
    source.present(new HostileCard());
    await done;
    const again = await post({ serviceId: "S-3", amount: 100, currency: "EUR" });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ state: "approved", seq: 1 });
    expect(t.store.list()).toHaveLength(1);
  });

  it("refuses a serviceId reused for a different amount with 409", async () => {
    await post({ serviceId: "S-4", amount: 100, currency: "EUR" });
    const r = await post({ serviceId: "S-4", amount: 999, currency: "EUR" });
    expect(r.statusCode).toBe(409);
    expect(r.json().code).toBe("TERM_ERR_ECR_CONFLICT");
  });

  it("refuses a second payment while one is waiting for a card with 409", async () => {
    await post({ serviceId: "S-5", amount: 100, currency: "EUR" });
    const r = await post({ serviceId: "S-6", amount: 100, currency: "EUR" });
    expect(r.statusCode).toBe(409);
    expect(r.json().code).toBe("TERM_ERR_ECR_BUSY");
    expect((await get("S-6")).statusCode).toBe(404);
  });

  it("aborts a payment that waits for a card; a card presented afterwards is not charged", async () => {
    await post({ serviceId: "S-7", amount: 100, currency: "EUR" });
    const r = await app.inject({ method: "POST", url: "/v1/payments/S-7/abort" });
    expect(r.statusCode).toBe(200);
    expect(r.json().state).toBe("aborted");
    source.present(new HostileCard());
    expect(t.store.list()).toEqual([]);
    expect(manager.busy).toBe(false);
  });

  it("times out when no card comes", async () => {
    await manager.shutdown();
    build(150);
    await post({ serviceId: "S-8", amount: 100, currency: "EUR" });
    const r = await get("S-8", "?wait=5");
    expect(r.json().state).toBe("timed_out");
    expect(t.store.list()).toEqual([]);
  });

  it("reports a declined payment with the card's reason", async () => {
    await post({ serviceId: "S-9", amount: 100, currency: "EUR" });
    source.present(new HostileCard({ sw: { 84: 0x9305 } }));
    const r = await get("S-9", "?wait=5");
    expect(r.json()).toMatchObject({ state: "declined", outcome: { code: "TERM_ERR_INSUFFICIENT_FUNDS" } });
  });

  it("lets a register that lost the answer ask again, after a restart of posd too", async () => {
    await post({ serviceId: "S-10", amount: 100, currency: "EUR" });
    const done = settle();
    source.present(new HostileCard());
    await done;
    await manager.shutdown();
    await app.close();
    build();
    expect((await get("S-10")).json()).toMatchObject({ state: "approved", seq: 1 });
  });

  it("follows a torn payment to its resolution on the wallet's next tap", async () => {
    await post({ serviceId: "S-11", amount: 100, currency: "EUR" });
    source.present(new HostileCard({ debitRecord: (r) => ({ ...r, amount: 1 }) }));
    expect((await get("S-11", "?wait=5")).json().state).toBe("torn");
    await post({ serviceId: "S-12", amount: 200, currency: "EUR" });
    source.present(new HostileCard()); // the same wallet: its log has no such seq → voided
    expect((await get("S-12", "?wait=5")).json().state).toBe("approved");
    expect((await get("S-11")).json()).toMatchObject({
      state: "declined",
      outcome: { resolution: expect.stringContaining("voided") },
    });
  });

  it("recovers a torn payment on request from the wallet's log, charging nothing", async () => {
    await post({ serviceId: "S-13", amount: 100, currency: "EUR" });
    source.present(new HostileCard({ debitRecord: (r) => ({ ...r, amount: 1 }) }));
    expect((await get("S-13", "?wait=5")).json().state).toBe("torn");
    // (inject() sends when its answer is asked for: then() starts it now)
    const asked = app.inject({ method: "POST", url: "/v1/payments/S-13/recover" }).then((r) => r);
    await new Promise((r) => setTimeout(r, 20));
    expect((await post({ serviceId: "S-14", amount: 100, currency: "EUR" })).statusCode).toBe(409);
    const card = new HostileCard();
    source.present(card); // the same wallet: its log has no such seq, and covers it → never charged
    const answer = await asked;
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ serviceId: "S-13", state: "declined" });
    expect(card.log).not.toContain(0x54); // no DEBIT was sent
    expect((await app.inject({ method: "POST", url: "/v1/payments/NOPE/recover" })).statusCode).toBe(404);
  });

  const bad: [string, unknown, number][] = [
    ["missing fields", { serviceId: "X" }, 400],
    [
      "a decimal amount (money is integer minor units)",
      { serviceId: "X", amount: 4.5, currency: "EUR" },
      400,
    ],
    ["an amount as a string", { serviceId: "X", amount: "450", currency: "EUR" }, 400],
    ["a negative amount", { serviceId: "X", amount: -1, currency: "EUR" }, 400],
    ["an unknown currency", { serviceId: "X", amount: 1, currency: "XXX" }, 400],
    ["unknown fields", { serviceId: "X", amount: 1, currency: "EUR", tip: 5 }, 400],
    ["a serviceId with spaces", { serviceId: "a b", amount: 1, currency: "EUR" }, 400],
  ];
  for (const [what, body, code] of bad) {
    it(`rejects ${what} with ${code} and stores nothing`, async () => {
      const r = await post(body);
      expect(r.statusCode).toBe(code);
      expect(r.json().code).toBe("TERM_ERR_ECR_BAD_REQUEST");
      expect(manager.busy).toBe(false);
      expect(t.ecrPayments.tallySince(0)).toEqual([]);
    });
  }

  it("rejects invalid JSON and oversized bodies", async () => {
    const broken = await app.inject({
      method: "POST",
      url: "/v1/payments",
      headers: { "content-type": "application/json" },
      payload: "{ not json",
    });
    expect(broken.statusCode).toBe(400);
    const huge = await app.inject({
      method: "POST",
      url: "/v1/payments",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ serviceId: "X", amount: 1, currency: "EUR", reference: "x".repeat(100_000) }),
    });
    expect(huge.statusCode).toBe(413);
    expect(manager.busy).toBe(false);
  });

  it("reports totals since the last upload by outcome and currency", async () => {
    await post({ serviceId: "S-13", amount: 100, currency: "EUR" });
    const done = settle();
    source.present(new HostileCard());
    await done;
    const r = await app.inject({ method: "GET", url: "/v1/totals" });
    expect(r.json().records).toEqual([
      { status: "complete", currency: 978, count: 1, amount: 100, amountText: "1.00 EUR" },
    ]);
  });
});
