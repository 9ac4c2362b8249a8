/**
 * A card that is not ours on the real stack: vsmartcard's `vicc`, a plain ISO 7816 card, in a vpcd
 * reader of pcscd. The terminal declines it cleanly as "not a tapwallet card" — through `posd run`
 * and through `posd pay --reader` — and the daemon goes on serving the next customer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  cardShown,
  describePcsc,
  startPcscd,
  VPCD_PORT_0,
  VPCD_READER_0,
  waitForEmptyReader,
} from "../test-support/pcsc.js";
import {
  cardState,
  PosdDaemon,
  personalize,
  posdInit,
  runPosd,
  type ServedCard,
  serveCard,
  until,
} from "../test-support/posd-process.js";
import { startVicc, VICC_ATR, type Vicc } from "../test-support/vicc.js";

describePcsc("a foreign ISO 7816 card (vicc) in a vpcd reader", () => {
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-foreign-pcsc-"));
  const data = join(dir, "posd");
  const alice = join(dir, "alice.card.json");
  let vicc: Vicc | undefined;
  let card: ServedCard | undefined;
  let daemon: PosdDaemon | undefined;

  beforeAll(async () => {
    await startPcscd();
    await waitForEmptyReader(VPCD_READER_0);
    await posdInit(data);
    await personalize(alice, "W-ALICE-0001", "50.00");
    vicc = startVicc(VPCD_PORT_0);
    await until(() => cardShown(VPCD_READER_0), "vicc in the field");
  });

  afterAll(async () => {
    await daemon?.kill();
    await vicc?.stop();
    await card?.stop();
    await waitForEmptyReader(VPCD_READER_0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("posd readers shows the foreign card's ATR", async () => {
    const r = await runPosd(data, ["readers", "--json"]);
    expect(JSON.parse(r.stdout).readers).toContainEqual({
      name: VPCD_READER_0,
      cardPresent: true,
      atr: VICC_ATR,
      acr122: false,
    });
  });

  it("posd pay --reader declines it: exit 3, one line saying it is not a tapwallet card", async () => {
    const r = await runPosd(data, ["pay", "--reader", VPCD_READER_0, "--amount", "1.00"]);
    expect(r.stdout).toBe(
      "DECLINED  not a tapwallet card (the application is not on it) [TERM_ERR_NOT_TAPWALLET]\n",
    );
    expect(r.code).toBe(3);
  });

  it("posd run declines it and keeps serving: the next customer's wallet pays", async () => {
    daemon = await PosdDaemon.start(data, ["--reader", VPCD_READER_0]);
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

    await vicc!.stop();
    vicc = undefined;
    await waitForEmptyReader(VPCD_READER_0);
    card = await serveCard(alice, VPCD_PORT_0);
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
