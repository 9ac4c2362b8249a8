/**
 * `posd readers` and `posd pay --reader` as a user runs them (the built CLI), against
 * `card-emulator serve` in a vpcd reader of the real pcscd: the reader list, one whole payment, the
 * errors for a reader name that matches none or several, and a card that stops answering.
 */
import { expect, it } from "vitest";
import { describePcsc, VPCD_READER_0, VPCD_READER_1 } from "../test-support/pcsc.js";
import { cardState } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

describePcsc("posd readers and posd pay --reader on pcscd + vpcd", () => {
  const world = systemWorld({
    name: "posd-reader",
    pcsc: { readers: [VPCD_READER_0, VPCD_READER_1] },
    posd: true,
    cards: { alice: { walletId: "W-ALICE-0001", balance: "50.00" } },
  });
  const alice = world.cardPath("alice");

  const serve = (faults: string[] = []) => world.serve(alice, { faults });

  it("posd readers lists both virtual readers and shows the one that holds a card", async () => {
    const empty = await world.posd(["readers", "--json"]);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout).readers).toEqual([
      { name: VPCD_READER_0, cardPresent: false, atr: null, acr122: false },
      { name: VPCD_READER_1, cardPresent: false, atr: null, acr122: false },
    ]);
    await serve();
    const withCard = await world.posd(["readers"]);
    expect(withCard.code).toBe(0);
    expect(withCard.stdout).toMatch(/^Virtual PCD 00 00 {2}card present \(ATR 3b80800101\)$/m);
    expect(withCard.stdout).toMatch(/^Virtual PCD 00 01 {2}no card$/m);
  });

  it("posd pay --reader: approved, the record stored, the card debited by exactly one debit", async () => {
    const before = cardState(alice);
    const r = await world.posd(["pay", "--reader", "PCD 00 00", "--amount", "4.50", "--json"]);
    expect(r.stderr).not.toContain("TERM_ERR");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      status: "approved",
      walletId: "W-ALICE-0001",
      record: {
        status: "complete",
        amount: 450,
        currency: 978,
        cardCounter: before.counter + 1,
        balanceAfter: before.balance - 450,
      },
    });
    expect(cardState(alice)).toEqual({ balance: before.balance - 450, counter: before.counter + 1 });
    const records = JSON.parse((await world.posd(["records", "--json"])).stdout);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ seq: out.record.seq, status: "complete", amount: 450 });
    console.info(
      `posd pay --reader: ${r.ms.toFixed(0)} ms for the whole process, tap ${out.stats.totalMs.toFixed(1)} ms`,
    );
  });

  it("a reader name matching several readers, or none, is one clear line and exit 1", async () => {
    const ambiguous = await world.posd(["pay", "--reader", "Virtual PCD", "--amount", "1.00"]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(
      `posd: "Virtual PCD" matches 2 readers: "${VPCD_READER_0}", "${VPCD_READER_1}"; give the full name [TERM_ERR_READER_AMBIGUOUS]`,
    );
    const none = await world.posd(["pay", "--reader", "ACR122", "--amount", "1.00"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no reader matches "ACR122"; readers: .*\[TERM_ERR_READER_NOT_FOUND\]/);
    expect(cardState(alice).counter).toBe(1);
  });

  it("a card that stops answering: the APDU timeout ends the payment and posd pay still exits (1)", async () => {
    await serve(["--silent-after-initiate"]);
    const r = await world.posd(["pay", "--reader", VPCD_READER_0, "--amount", "1.00"], {
      env: { TAPWALLET_APDU_TIMEOUT_MS: "500" },
      timeoutMs: 20_000,
    });
    expect(r.stdout).toContain("ERROR");
    expect(r.stdout).toContain("[TERM_ERR_TIMEOUT]");
    // Without the fix the process never ends (its hung transmit holds a threadpool thread).
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 1, signal: null });
    expect(r.ms).toBeLessThan(5_000);
    expect(cardState(alice).counter).toBe(1);
  });

  it("with UV_THREADPOOL_SIZE already set (as under systemd) it ends itself with SIGTERM", async () => {
    await serve(["--silent-after-initiate"]);
    const r = await world.posd(["pay", "--reader", VPCD_READER_0, "--amount", "1.00"], {
      env: { TAPWALLET_APDU_TIMEOUT_MS: "500", UV_THREADPOOL_SIZE: "16" },
      timeoutMs: 20_000,
    });
    expect(r.stdout).toContain("[TERM_ERR_TIMEOUT]");
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: "SIGTERM" });
    expect(r.ms).toBeLessThan(5_000);
  });
});
