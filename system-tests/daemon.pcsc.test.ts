/**
 * `posd run` (the built CLI) on the real stack — pcscd + vpcd + `card-emulator serve` — driven through
 * its cash-register API over loopback HTTP, the way a register uses it: a payment, a card left on the
 * reader, a second request while one waits, an abort, the same serviceId twice, a lost answer, a
 * timeout, bad bodies, and SIGTERM with a payment waiting or in progress.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import Database from "../protocol/sqlite.js";
import { describePcsc, VPCD_READER_0, VPCD_READER_1 } from "../test-support/pcsc.js";
import { cardState, type PosdDaemon, until } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const payment = (serviceId: string, amount = 100) => ({ serviceId, amount, currency: "EUR" });

describePcsc("posd run on pcscd + vpcd: the cash-register API", () => {
  const world = systemWorld({
    name: "daemon-pcsc",
    pcsc: { readers: [VPCD_READER_0, VPCD_READER_1] },
    posd: true,
    cards: {
      alice: { walletId: "W-ALICE-0001", balance: "50.00" },
      bob: { walletId: "W-BOB-0001", balance: "20.00" },
    },
  });
  const data = world.data;
  const alice = world.cardPath("alice");
  const bob = world.cardPath("bob");
  let daemon: PosdDaemon;

  beforeAll(async () => {
    await world.serve(alice);
    daemon = await world.startDaemon(["--reader", VPCD_READER_0], {
      env: { TAPWALLET_CARD_WAIT_MS: "3000" },
    });
  });

  it("takes a payment: approved with the stored record, the card moved by exactly one debit", async () => {
    expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await daemon.waitForLog((l) => l.msg === "reader found")).toMatchObject({ reader: VPCD_READER_0 });
    const r = await daemon.post("/v1/payments?wait=10", payment("S-1", 450));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      serviceId: "S-1",
      state: "approved",
      seq: 1,
      outcome: { walletId: "W-ALICE-0001", record: { amount: 450, cardCounter: 1, balanceAfter: 4_550 } },
    });
    expect(cardState(alice)).toEqual({ balance: 4_550, counter: 1 });
    expect((await daemon.get("/v1/totals")).body.records).toEqual([
      { status: "complete", currency: 978, count: 1, amount: 450, amountText: "4.50 EUR" },
    ]);
    await daemon.waitForLog((l) => l.msg === "payment approved" && l.serviceId === "S-1");
  });

  it("a card left lying on the reader is not charged by the next sale: that one waits for a new tap", async () => {
    const created = await daemon.post("/v1/payments", payment("S-2"));
    expect(created.body.state).toBe("waiting_for_card");
    expect((await daemon.get("/v1/payments/S-2?wait=1")).body.state).toBe("waiting_for_card");
    expect(cardState(alice).counter).toBe(1);
    await world.takeOut();
    await world.putBack();
    expect((await daemon.get("/v1/payments/S-2?wait=10")).body).toMatchObject({ state: "approved", seq: 2 });
    expect(cardState(alice)).toEqual({ balance: 4_450, counter: 2 });
  });

  it("while one payment waits: a different one gets 409, the same one again is that payment; abort ends it", async () => {
    await world.takeOut();
    expect((await daemon.post("/v1/payments", payment("S-3"))).status).toBe(201);
    const busy = await daemon.post("/v1/payments", payment("S-4"));
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe("TERM_ERR_ECR_BUSY");
    const same = await daemon.post("/v1/payments", payment("S-3"));
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ serviceId: "S-3", state: "waiting_for_card" });
    const changed = await daemon.post("/v1/payments", payment("S-3", 999));
    expect(changed.status).toBe(409);
    expect(changed.body.code).toBe("TERM_ERR_ECR_CONFLICT");

    const aborted = await daemon.post("/v1/payments/S-3/abort");
    expect(aborted.status).toBe(200);
    expect(aborted.body.state).toBe("aborted");
    // The customer taps after all: nothing is charged, the terminal is free.
    await world.putBack();
    const status = await daemon.get("/v1/status");
    expect(status.body).toMatchObject({ busy: false, current: null, reader: { cardPresent: true } });
    expect(cardState(alice).counter).toBe(2);
  });

  it("the same serviceId sent twice is one charge", async () => {
    const first = await daemon.post("/v1/payments?wait=10", payment("S-5", 200));
    expect(first.body).toMatchObject({ state: "approved", seq: 3 });
    const again = await daemon.post("/v1/payments?wait=10", payment("S-5", 200));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ state: "approved", seq: 3 });
    expect(cardState(alice)).toEqual({ balance: 4_250, counter: 3 });
    expect((await daemon.get("/v1/totals")).body.records).toMatchObject([{ status: "complete", count: 3 }]);
  });

  it("a register that lost the answer asks for the status and gets the result", async () => {
    await world.takeOut();
    // The register's long-poll dies (its connection drops) while the terminal waits for the tap.
    const lost = new AbortController();
    const request = fetch(`${daemon.url}/v1/payments?wait=30`, {
      method: "POST",
      body: JSON.stringify(payment("S-6", 300)),
      headers: { "content-type": "application/json" },
      signal: lost.signal,
    });
    await until(
      async () => (await daemon.get("/v1/payments/S-6")).body.state === "waiting_for_card",
      "S-6 to wait",
    );
    lost.abort();
    await expect(request).rejects.toThrow();
    await world.putBack();
    const status = await daemon.get("/v1/payments/S-6?wait=10");
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ state: "approved", seq: 4, amount: 300 });
    expect(cardState(alice).counter).toBe(4);
  });

  it("times out when no card comes within reader.cardWaitMs", async () => {
    await world.takeOut();
    const started = Date.now();
    await daemon.post("/v1/payments", payment("S-7"));
    const r = await daemon.get("/v1/payments/S-7?wait=15");
    expect(r.body.state).toBe("timed_out");
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(cardState(alice).counter).toBe(4);
    expect((await daemon.get("/v1/status")).body.busy).toBe(false);
  });

  it("rejects a malformed request with 400 and the reason, and stores nothing", async () => {
    const bad = [
      { serviceId: "S-X", amount: "4.50", currency: "EUR" },
      { serviceId: "S-X", amount: 450 },
      { serviceId: "S-X", amount: 450, currency: "XXX" },
      { serviceId: "S-X", amount: 0, currency: "EUR" },
      { serviceId: "S X", amount: 450, currency: "EUR" },
      { serviceId: "S-X", amount: 450, currency: "EUR", tip: 100 },
    ];
    for (const body of bad) {
      const r = await daemon.post("/v1/payments", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe("TERM_ERR_ECR_BAD_REQUEST");
      expect(String(r.body.message).length).toBeGreaterThan(10);
    }
    expect((await daemon.get("/v1/payments/S-X")).status).toBe(404);
  });

  it("SIGTERM while a payment waits for a card: aborted, the database closed cleanly, exit 0", async () => {
    await daemon.post("/v1/payments", payment("S-8"));
    const stopped = await daemon.stop("SIGTERM");
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(3_000);
    expect(daemon.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(["stopping", "payment aborted", "stopped; database closed"]),
    );
    // The last connection closed the database: SQLite checkpointed and removed the WAL.
    expect(existsSync(join(data, "records.sqlite-wal"))).toBe(false);
    const db = new Database(join(data, "records.sqlite"), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    expect(db.prepare("SELECT state FROM ecr_payments WHERE service_id = 'S-8'").get()).toEqual({
      state: "aborted",
    });
    db.close();
    expect(cardState(alice).counter).toBe(4);
  });

  it("SIGTERM while a payment is in progress: it finishes, then posd exits 0 (through the threadpool wrapper)", async () => {
    // A card that answers every APDU 150 ms late: the tap takes over a second.
    await world.serve(bob, { reader: VPCD_READER_1, faults: ["--delay-ms", "150"] });
    const second = await world.startDaemon(["--reader", VPCD_READER_1], { wrapped: true });
    await second.post("/v1/payments", payment("S-9", 125));
    await until(
      async () => (await second.get("/v1/payments/S-9")).body.state === "in_progress",
      "S-9 in progress",
    );
    const stopped = await second.stop("SIGTERM");
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 0, signal: null });
    expect(cardState(bob)).toEqual({ balance: 1_875, counter: 1 });
    const db = new Database(join(data, "records.sqlite"), { readonly: true });
    expect(db.prepare("SELECT state, seq FROM ecr_payments WHERE service_id = 'S-9'").get()).toEqual({
      state: "approved",
      seq: 5,
    });
    expect(db.prepare("SELECT status, amount FROM transactions WHERE seq = 5").get()).toEqual({
      status: "complete",
      amount: 125,
    });
    db.close();
  });
});
