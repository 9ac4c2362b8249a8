/**
 * A card that is not ours on the real stack: vsmartcard's `vicc`, a plain ISO 7816 card, in a vpcd
 * reader of pcscd. The terminal declines it cleanly as "not a tapwallet card" — through `posd run`
 * and through `posd pay --reader` — and the daemon goes on serving the next customer.
 */
import { beforeAll, expect, it } from "vitest";
import { describePcsc, VPCD_PORT_0, VPCD_READER_0 } from "../test-support/pcsc.js";
import { cardState, type PosdDaemon } from "../test-support/posd-process.js";
import { startVicc, VICC_ATR } from "../test-support/vicc.js";
import { systemWorld } from "./world.js";

describePcsc("a foreign ISO 7816 card (vicc) in a vpcd reader", () => {
  const world = systemWorld({
    name: "foreign-pcsc",
    pcsc: true,
    posd: true,
    cards: { alice: { walletId: "W-ALICE-0001", balance: "50.00" } },
  });
  const alice = world.cardPath("alice");
  let daemon: PosdDaemon;

  beforeAll(async () => {
    await world.insertCard(() => startVicc(VPCD_PORT_0));
  });

  it("posd readers shows the foreign card's ATR", async () => {
    const r = await world.posd(["readers", "--json"]);
    expect(JSON.parse(r.stdout).readers).toContainEqual({
      name: VPCD_READER_0,
      cardPresent: true,
      atr: VICC_ATR,
      acr122: false,
    });
  });

  it("posd pay --reader declines it: exit 3, one line saying it is not a tapwallet card", async () => {
    const r = await world.posd(["pay", "--reader", VPCD_READER_0, "--amount", "1.00"]);
    expect(r.stdout).toBe(
      "DECLINED  not a tapwallet card (the application is not on it) [TERM_ERR_NOT_TAPWALLET]\n",
    );
    expect(r.code).toBe(3);
  });

  it("posd run declines it and keeps serving: the next customer's wallet pays", async () => {
    daemon = await world.startDaemon(["--reader", VPCD_READER_0]);
    const declined = await daemon.post("/v1/payments?wait=10", {
      serviceId: "S-1",
      amount: 100,
      currency: "EUR",
    });
    expect(declined.body).toMatchObject({
      state: "declined",
      seq: null,
      outcome: {
        status: "declined",
        code: "TERM_ERR_NOT_TAPWALLET",
        message: expect.stringContaining("not a tapwallet card"),
      },
    });
    const status = await daemon.get("/v1/status");
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ busy: false, pending: 0 });

    // vicc leaves the field (pcscd sees the reader empty), and the customer's wallet is tapped.
    await world.serve(alice);
    const approved = await daemon.post("/v1/payments?wait=10", {
      serviceId: "S-2",
      amount: 100,
      currency: "EUR",
    });
    expect(approved.body).toMatchObject({ state: "approved", seq: 1 });
    expect(cardState(alice)).toEqual({ balance: 4_900, counter: 1 });
    expect((await daemon.get("/v1/totals")).body.records).toEqual([
      { status: "complete", currency: 978, count: 1, amount: 100, amountText: "1.00 EUR" },
    ]);
    expect(daemon.child.exitCode).toBeNull();
  });
});
