/**
 * The card leaves the field mid-exchange on the real stack: `card-emulator serve --tear-after-debit`
 * commits the DEBIT and drops its vpcd connection instead of answering. The payment ends torn (the
 * terminal cannot know whether the card committed), and the next tap of the same wallet recovers it
 * from the card's own log: charged exactly once, and the register's status follows it to approved.
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

describePcsc("a card torn from the field mid-exchange, through pcscd + vpcd", () => {
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-torn-pcsc-"));
  const data = join(dir, "posd");
  const alice = join(dir, "alice.card.json");
  let card: ServedCard | undefined;
  let daemon: PosdDaemon | undefined;

  /** (Re)insert alice into reader 0, with or without the tear fault. */
  async function serve(faults: string[] = []): Promise<void> {
    await card?.stop();
    await waitForEmptyReader(VPCD_READER_0);
    card = await serveCard(alice, VPCD_PORT_0, faults);
    await until(() => cardShown(VPCD_READER_0), `a card in ${VPCD_READER_0}`);
  }

  beforeAll(async () => {
    await startPcscd();
    await waitForEmptyReader(VPCD_READER_0);
    await posdInit(data);
    await personalize(alice, "W-ALICE-0001", "50.00");
  });

  afterAll(async () => {
    await daemon?.kill();
    await card?.stop();
    await waitForEmptyReader(VPCD_READER_0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("posd run: the payment ends torn, the next tap recovers it, the register sees it approved", async () => {
    await serve(["--tear-after-debit"]);
    daemon = await PosdDaemon.start(data, ["--reader", VPCD_READER_0]);
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
    daemon = undefined;
  });

  it("posd pay --reader: exit 4 torn; posd recover --reader resolves it from the card's log", async () => {
    await serve(["--tear-after-debit"]);
    const torn = await runPosd(data, ["pay", "--reader", VPCD_READER_0, "--amount", "2.00"]);
    expect(torn.stdout).toMatch(/^TORN {2}.*pending until the same wallet is presented again/m);
    expect(torn.code).toBe(4);
    expect(cardState(alice)).toEqual({ balance: 4_250, counter: 3 });
    await serve();
    const recovered = await runPosd(data, ["recover", "--reader", VPCD_READER_0]);
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toBe("seq 3: complete\n");
    const records = JSON.parse((await runPosd(data, ["records", "--json"])).stdout) as { status: string }[];
    expect(records.map((r) => r.status)).toEqual(["complete", "complete", "complete"]);
    expect(cardState(alice)).toEqual({ balance: 4_250, counter: 3 });
  });
});
