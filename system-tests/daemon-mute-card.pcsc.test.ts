/**
 * A card that stops answering mid-exchange, on the real stack. The wallet lives in this test process
 * behind a VpcdLink in a vpcd reader of pcscd; after committing a DEBIT it never answers. `posd run`'s
 * per-APDU timeout fires, the payment ends torn, and the daemon keeps serving: its API answers at
 * once while the native transmit stays hung (it holds a threadpool thread and pcscd's reader until
 * the card leaves the field), the next tap recovers the torn payment, and SIGTERM still ends the
 * process — with exit code 0 — although the hung transmit would block a normal exit.
 */
import { beforeAll, expect, it } from "vitest";
import { type VirtualCard, VpcdLink } from "../card-emulator/adapters/vpcd.js";
import { WalletApplet } from "../card-emulator/applet/applet.js";
import { FileCardStateStore } from "../card-emulator/applet/state.js";
import { fixtureCardState } from "../card-emulator/personalize.js";
import { CLA, INS } from "../protocol/wallet/constants.js";
import { describePcsc, VPCD_HOST, VPCD_PORT_0, VPCD_READER_0 } from "../test-support/pcsc.js";
import { cardState, type PosdDaemon } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const APDU_TIMEOUT_MS = 1_000;

describePcsc("a card that stops answering mid-exchange, under posd run", () => {
  const world = systemWorld({ name: "mute-pcsc", pcsc: true, posd: true });
  const statePath = world.cardPath("alice");
  let applet: WalletApplet;
  let daemon: PosdDaemon;
  /** When set, the card commits a DEBIT and then never answers (until it leaves the field). */
  let muteAfterDebit = false;
  let debitsSeen = 0;

  beforeAll(async () => {
    FileCardStateStore.create(statePath, fixtureCardState("cards/alice", { balance: 5_000 }));
    applet = new WalletApplet(new FileCardStateStore(statePath));
    const card: VirtualCard = {
      process(apdu) {
        const answer = applet.process(apdu);
        if (apdu[0] === CLA.SECURE && apdu[1] === INS.DEBIT) {
          debitsSeen++;
          if (muteAfterDebit) return new Promise<Uint8Array>(() => {}); // committed, never answered
        }
        return answer;
      },
      powerOff: () => applet.powerOff(),
      reset: () => applet.reset(),
    };
    await world.insertCard(() => {
      const link = new VpcdLink(card, { host: VPCD_HOST, port: VPCD_PORT_0, reconnectMs: 100 });
      link.on("error", () => {});
      link.start();
      return link;
    });
    // Started through the threadpool wrapper, as a user would: the exit code is relayed.
    daemon = await world.startDaemon(["--reader", VPCD_READER_0], {
      wrapped: true,
      env: { TAPWALLET_APDU_TIMEOUT_MS: String(APDU_TIMEOUT_MS), TAPWALLET_CARD_WAIT_MS: "10000" },
    });
  });

  it("the APDU timeout ends the payment as torn; the API keeps answering while the transmit hangs", async () => {
    muteAfterDebit = true;
    const started = Date.now();
    const torn = await daemon.post("/v1/payments?wait=10", {
      serviceId: "S-1",
      amount: 450,
      currency: "EUR",
    });
    const ms = Date.now() - started;
    expect(torn.body).toMatchObject({
      state: "torn",
      seq: 1,
      outcome: { status: "torn", code: "TERM_ERR_TIMEOUT" },
    });
    expect(ms).toBeGreaterThanOrEqual(APDU_TIMEOUT_MS);
    expect(ms).toBeLessThan(APDU_TIMEOUT_MS + 2_000);
    expect(debitsSeen).toBe(1);
    expect(cardState(statePath)).toMatchObject({ balance: 4_550, counter: 1 }); // the card did commit

    // Nothing else in posd waits for the hung transmit.
    for (const path of ["/v1/status", "/v1/totals", "/v1/payments/S-1"]) {
      const t0 = performance.now();
      const r = await daemon.get(path);
      expect(r.status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(250);
    }
    expect((await daemon.get("/v1/status")).body).toMatchObject({
      busy: false,
      pending: 1,
      reader: { hungTransmits: 1 },
    });
    // The abandoned presentation never pays again: the next payment waits for a new tap.
    const next = await daemon.post("/v1/payments", { serviceId: "S-2", amount: 100, currency: "EUR" });
    expect(next.body.state).toBe("waiting_for_card");

    // The card leaves the field (the hung transmit ends with it) and is tapped again.
    muteAfterDebit = false;
    await world.takeOut();
    await world.putBack();
    const done = await daemon.get("/v1/payments/S-2?wait=10");
    expect(done.body).toMatchObject({
      state: "approved",
      seq: 2,
      outcome: { recovered: [{ seq: 1, outcome: "complete", amount: 450 }] },
    });
    expect((await daemon.get("/v1/payments/S-1")).body).toMatchObject({ state: "approved" });
    expect((await daemon.get("/v1/status")).body).toMatchObject({
      pending: 0,
      reader: { hungTransmits: 0 },
    });
    expect(cardState(statePath)).toMatchObject({ balance: 4_450, counter: 2 });
  });

  it("SIGTERM with a transmit still hung: posd ends at once, exit 0, the database closed", async () => {
    await world.takeOut();
    await world.putBack();
    muteAfterDebit = true;
    const torn = await daemon.post("/v1/payments?wait=10", {
      serviceId: "S-3",
      amount: 100,
      currency: "EUR",
    });
    expect(torn.body).toMatchObject({ state: "torn", outcome: { code: "TERM_ERR_TIMEOUT" } });
    expect((await daemon.get("/v1/status")).body).toMatchObject({ reader: { hungTransmits: 1 } });

    const stopped = await daemon.stop("SIGTERM");
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(3_000);
    expect(daemon.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        "a transmit to a mute card is still pending: the process ends itself with SIGTERM",
        "stopped; database closed",
      ]),
    );
    muteAfterDebit = false;
    await world.takeOut();
  });
});
