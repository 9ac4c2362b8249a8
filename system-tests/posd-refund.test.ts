import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backOfficeCli, type Instance, spawnInstance } from "../test-support/fleet.js";
import { cardState } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const world = systemWorld({
  name: "posd-refund",
  posd: true,
  cards: { alice: { walletId: "W-ALICE-0001", balance: "50.00" } },
});
const db = join(world.dir, "acquirer.sqlite");
const card = world.cardPath("alice");
let acquirer: Instance;

const backOffice = backOfficeCli(db);

beforeAll(async () => {
  await backOffice("wallet", "issue", "W-ALICE-0001", "--currency", "EUR", "--opening", "50.00");
  acquirer = await spawnInstance(db);
}, 60_000);
afterAll(async () => {
  await acquirer?.stop();
});

describe("posd refund of returned goods", () => {
  it("credits the wallet's online account after the next upload, never the card", async () => {
    const paid = await world.posd(["pay", "--virtual", "--card", card, "--amount", "4.50", "--json"]);
    expect(paid.code).toBe(0);
    const seq = (JSON.parse(paid.stdout) as { record: { seq: number } }).record.seq;

    const refund = await world.posd(["refund", "--seq", String(seq), "--amount", "2.00", "--json"]);
    expect(refund.stderr).not.toContain("posd:");
    expect(refund.code).toBe(0);
    expect(JSON.parse(refund.stdout)).toMatchObject({
      status: "ok",
      refundId: 1,
      seq,
      amount: 200,
      state: "stored",
    });

    // More than the 2.50 left of the payment: refused here, nothing stored.
    const over = await world.posd(["refund", "--seq", String(seq), "--amount", "2.51"]);
    expect(over.code).toBe(3);
    expect(over.stderr).toContain("[TERM_ERR_REFUND_OVER_ORIGINAL]");
    const unknown = await world.posd(["refund", "--seq", String(seq + 10), "--amount", "1.00"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("[TERM_ERR_REFUND_UNKNOWN_RECORD]");

    const up = await world.posd(["upload", "--acquirer", acquirer.url]);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain("refund 1 settled");

    const shown = await backOffice("wallet", "show", "W-ALICE-0001");
    expect(shown).toMatchObject({ accounts: { offline: 5_000 - 450, online: 200 } });
    expect(cardState(card).balance).toBe(5_000 - 450);
  });

  it("sends a refund alone when there is nothing else to upload, and it settles once", async () => {
    const refund = await world.posd(["refund", "--seq", "1", "--amount", "2.50"]);
    expect(refund.code).toBe(0);
    expect(refund.stdout).toMatch(/^refund 2 of 2\.50 EUR for seq 1 \(wallet W-ALICE-0001\) stored/);
    const up = await world.posd(["upload", "--acquirer", acquirer.url, "--json"]);
    expect(JSON.parse(up.stdout)).toMatchObject({ batches: 1, records: 0 });
    expect((await world.posd(["upload", "--acquirer", acquirer.url])).stdout).toBe("nothing to upload\n");
    const shown = await backOffice("wallet", "show", "W-ALICE-0001");
    expect(shown).toMatchObject({ accounts: { online: 450 } });
  });

  it("posd records lists each payment's refunds under it, with where each stands", async () => {
    const text = await world.posd(["records"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^1 +complete +W-ALICE-0001 +4\.50 EUR .*$/m);
    expect(text.stdout).toMatch(/^ +refund +#1 +-2\.00 EUR +\S+ \S+ +[0-9a-f]{8} +settled$/m);
    expect(text.stdout).toMatch(/^ +refund +#2 +-2\.50 EUR +\S+ \S+ +[0-9a-f]{8} +settled$/m);
    const json = JSON.parse((await world.posd(["records", "--json"])).stdout) as {
      seq: number;
      refunds?: { refundId: number; amount: number; state: string }[];
    }[];
    expect(json.find((r) => r.seq === 1)?.refunds).toMatchObject([
      { refundId: 1, amount: 200, state: "settled" },
      { refundId: 2, amount: 250, state: "settled" },
    ]);
  });
});
