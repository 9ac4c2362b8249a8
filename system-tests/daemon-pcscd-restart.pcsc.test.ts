/**
 * `posd run` while pcscd goes away and comes back (a pcscd restart, or a package upgrade): the daemon
 * notices, re-creates its PC/SC context by itself within a few seconds and says so in its log; the
 * API keeps answering meanwhile, and the next payment goes through without restarting posd.
 */
import { beforeAll, expect, it } from "vitest";
import { describePcsc, killPcscd, restartPcscd, startPcscd, VPCD_READER_0 } from "../test-support/pcsc.js";
import { cardState, type PosdDaemon } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

describePcsc("posd run across pcscd restarts", () => {
  // Whatever happens to pcscd here, the world starts it again in afterAll: the next file needs it.
  const world = systemWorld({
    name: "restart-pcsc",
    pcsc: true,
    posd: true,
    cards: { alice: { walletId: "W-ALICE-0001", balance: "50.00" } },
  });
  const alice = world.cardPath("alice");
  let daemon: PosdDaemon;

  beforeAll(async () => {
    await world.serve(alice);
    daemon = await world.startDaemon(["--reader", VPCD_READER_0], {
      env: { TAPWALLET_CARD_WAIT_MS: "20000" },
    });
  });

  const pay = (serviceId: string, wait = 15) =>
    daemon.post(`/v1/payments?wait=${wait}`, { serviceId, amount: 100, currency: "EUR" });

  it("pcscd restarted: posd logs the re-created context and the next payment succeeds", async () => {
    expect((await pay("S-1")).body).toMatchObject({ state: "approved", seq: 1 });
    const from = daemon.logs.length;
    const t0 = Date.now();
    await restartPcscd();
    const recreated = await daemon.nextLog(from, (l) => l.msg === "PC/SC context re-created", 10_000);
    console.info(`pcscd restart → "PC/SC context re-created" in ${Number(recreated.time) - t0} ms`);
    expect(Number(recreated.time) - t0).toBeLessThan(5_000);
    await daemon.nextLog(from, (l) => l.msg === "reader found" && l.reader === VPCD_READER_0);
    // The card reconnects to the new vpcd by itself: a new presentation.
    expect((await pay("S-2")).body).toMatchObject({ state: "approved", seq: 2 });
    expect(cardState(alice)).toEqual({ balance: 4_800, counter: 2 });
    expect(daemon.child.exitCode).toBeNull();
  });

  it("pcscd down: posd readers says so, the API answers, a payment waits and completes once pcscd is back", async () => {
    const from = daemon.logs.length;
    await killPcscd();
    await daemon.nextLog(from, (l) => l.msg === "reader lost", 5_000);

    const readers = await world.posd(["readers"]);
    expect(readers.code).toBe(1);
    expect(readers.stderr).toMatch(/^posd: pcscd is not running .*\[TERM_ERR_PCSC_UNAVAILABLE\]$/m);

    const status = await daemon.get("/v1/status");
    expect(status.status).toBe(200);
    expect(status.body.reader).toMatchObject({ name: null, connected: false, cardPresent: false });
    const waiting = await daemon.post("/v1/payments", { serviceId: "S-3", amount: 100, currency: "EUR" });
    expect(waiting.body.state).toBe("waiting_for_card");

    await startPcscd();
    const done = await daemon.get("/v1/payments/S-3?wait=15");
    expect(done.body).toMatchObject({ state: "approved", seq: 3 });
    expect(daemon.logs.slice(from).map((l) => l.msg)).toEqual(
      expect.arrayContaining(["PC/SC context lost; re-creating it", "PC/SC context re-created"]),
    );
    expect(cardState(alice)).toEqual({ balance: 4_700, counter: 3 });
  });
});
