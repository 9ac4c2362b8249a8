/**
 * The card leaves the field mid-exchange on the real stack: `card-emulator serve --tear-after-debit`
 * commits the DEBIT and drops its vpcd connection instead of answering. The payment ends torn (the
 * terminal cannot know whether the card committed), and the next tap of the same wallet recovers it
 * from the card's own log: charged exactly once, and the register's status follows it to approved.
 */
import { expect, it } from "vitest";
import { describePcsc, VPCD_READER_0 } from "../test-support/pcsc.js";
import { cardState, type PosdDaemon } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

describePcsc("a card torn from the field mid-exchange, through pcscd + vpcd", () => {
  const world = systemWorld({
    name: "torn-pcsc",
    pcsc: true,
    posd: true,
    cards: { alice: { walletId: "W-ALICE-0001", balance: "50.00" } },
  });
  const alice = world.cardPath("alice");
  let daemon: PosdDaemon;

  /** (Re)insert alice into reader 0, with or without the tear fault. */
  const serve = (faults: string[] = []) => world.serve(alice, { faults });

  it("posd run: the payment ends torn, the next tap recovers it, the register sees it approved", async () => {
    await serve(["--tear-after-debit"]);
    daemon = await world.startDaemon(["--reader", VPCD_READER_0]);
    const torn = await daemon.post("/v1/payments?wait=10", {
      serviceId: "S-1",
      amount: 450,
      currency: "EUR",
    });
    expect(torn.body).toMatchObject({ state: "torn", seq: 1, outcome: { status: "torn" } });
    expect(torn.body.outcome).toMatchObject({
      code: "TERM_ERR_CARD_REMOVED",
      message: expect.stringContaining("pending until the same wallet is presented again"),
    });
    // The card did commit before it left; the terminal holds a pending intent for it.
    expect(cardState(alice)).toEqual({ balance: 4_550, counter: 1 });
    expect((await daemon.get("/v1/status")).body.pending).toBe(1);
    await daemon.waitForLog((l) => l.serviceId === "S-1" && l.state === "torn");

    // The customer taps again (a card that no longer tears).
    await serve();
    const next = await daemon.post("/v1/payments?wait=10", {
      serviceId: "S-2",
      amount: 100,
      currency: "EUR",
    });
    expect(next.body).toMatchObject({
      state: "approved",
      seq: 2,
      outcome: { recovered: [{ seq: 1, outcome: "complete", amount: 450 }] },
    });
    const first = await daemon.get("/v1/payments/S-1");
    expect(first.body).toMatchObject({ state: "approved", seq: 1, outcome: { resolution: "recovered" } });
    expect(cardState(alice)).toEqual({ balance: 4_450, counter: 2 });
    expect((await daemon.get("/v1/totals")).body.records).toEqual([
      { status: "complete", currency: 978, count: 2, amount: 550, amountText: "5.50 EUR" },
    ]);
    expect((await daemon.get("/v1/status")).body.pending).toBe(0);
    expect((await daemon.stop()).code).toBe(0);
  });

  it("posd pay --reader: exit 4 torn; posd recover --reader resolves it from the card's log", async () => {
    await serve(["--tear-after-debit"]);
    const torn = await world.posd(["pay", "--reader", VPCD_READER_0, "--amount", "2.00"]);
    expect(torn.stdout).toMatch(/^TORN {2}.*pending until the same wallet is presented again/m);
    expect(torn.code).toBe(4);
    expect(cardState(alice)).toEqual({ balance: 4_250, counter: 3 });
    await serve();
    const recovered = await world.posd(["recover", "--reader", VPCD_READER_0]);
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toBe("seq 3: complete\n");
    const records = JSON.parse((await world.posd(["records", "--json"])).stdout) as { status: string }[];
    expect(records.map((r) => r.status)).toEqual(["complete", "complete", "complete"]);
    expect(cardState(alice)).toEqual({ balance: 4_250, counter: 3 });
  });
});
