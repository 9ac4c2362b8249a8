/**
 * Issue 11, item 3, through the real commands on pcscd + vpcd: a debit torn after the card
 * committed it, then 32 payments at another terminal push it out of the card's 32-entry log. The
 * next tap at this terminal must not void it ("never committed" would lose a charge the customer
 * paid): it stays unresolved, pending, for the back office.
 */
import { join } from "node:path";
import { expect, it } from "vitest";
import { describePcsc, VPCD_READER_0 } from "../test-support/pcsc.js";
import { cardState, posdInit, runPosd } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

describePcsc("a torn debit after the card's log rolled over, through pcscd + vpcd", () => {
  const world = systemWorld({
    name: "torn-rollover",
    pcsc: true,
    posd: true,
    cards: { alice: { walletId: "W-ROLL-0001", balance: "100.00" } },
  });
  const alice = world.cardPath("alice");
  const pay = (dataDir: string, amount: string) =>
    runPosd(dataDir, ["pay", "--reader", VPCD_READER_0, "--amount", amount, "--json"]);

  it("is not voided at the next tap: it stays unresolved and pending, and the customer's 8.00 is not lost", async () => {
    const other = join(world.dir, "t2");
    await posdInit(other, ["--terminal-id", "T-0002"]);

    await world.serve(alice, { faults: ["--tear-after-debit"] });
    const torn = await pay(world.data, "8.00");
    expect(torn.code, torn.stderr).toBe(4); // torn
    expect(cardState(alice)).toEqual({ balance: 9_200, counter: 1 }); // the card committed

    await world.serve(alice);
    for (let i = 0; i < 32; i++) {
      const r = await pay(other, "0.10");
      expect(r.code, r.stderr).toBe(0);
    }
    expect(cardState(alice).counter).toBe(33); // counter 1 has left the 32-entry log

    const next = await pay(world.data, "1.00");
    expect(next.code, next.stderr).toBe(0);
    const outcome = JSON.parse(next.stdout) as {
      recovered: { seq: number; outcome: string; reason?: string }[];
    };
    expect(outcome.recovered).toEqual([
      expect.objectContaining({ seq: 1, outcome: "unresolved", reason: expect.stringContaining("log") }),
    ]);
    const records = JSON.parse((await world.posd(["records", "--json"])).stdout) as {
      seq: number;
      status: string;
    }[];
    expect(records.find((r) => r.seq === 1)).toMatchObject({ status: "pending" });
  }, 180_000);
});
