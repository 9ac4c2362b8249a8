import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acceptedTotals, TEST_NOW, type TestAcquirer, testAcquirer } from "../../acquirer-stub/testing.js";
import { silentLogger } from "../../protocol/logger.js";
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { HostileCard } from "../../test-support/hostile-card.js";
import { type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { AcquirerClient, verifyFetchedHotlist } from "../adapters/http/acquirer-client.js";
import type { AcquirerPort } from "./ports.js";
import { checkRisk } from "./risk.js";
import { runPayment } from "./run-payment.js";
import { syncHotlist, uploadBatches } from "./upload.js";

let t: TestTerminal;
let acquirer: TestAcquirer;
let client: AcquirerClient;
/** One clock for the terminal and its acquirer, frozen. */
const world = frozenClock(TEST_NOW);

beforeEach(async () => {
  t = testTerminal({ clock: world, store: "memory" });
  acquirer = await testAcquirer({ clock: world.date });
  await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = acquirer.app.server.address() as AddressInfo;
  client = new AcquirerClient({
    baseUrl: `http://127.0.0.1:${port}`,
    retries: 2,
    baseDelayMs: 10,
    logger: silentLogger(),
  });
});
afterEach(async () => {
  client.close();
  await acquirer.close();
  t.cleanup();
});

const ctx = () => ({
  batches: t.batches,
  hotlist: t.hotlist,
  identity: t.identity,
  terminalId: "T-0001",
  merchantId: "M-0001",
  logger: silentLogger(),
});

async function takePayments(amounts: number[]): Promise<void> {
  const card = fixtureCard({ balance: 20_000 });
  for (const amount of amounts) await runPayment(card.transport, t.deps, { amount, currency: 978 });
}

/** What the acquirer settled for this terminal, whatever the day. */
function settledTotal(): Promise<{ count: number; amount: number }> {
  return acceptedTotals(acquirer.store, "T-0001");
}

describe("posd upload (uploadBatches) against the acquirer over loopback HTTP", () => {
  it("uploads every complete and voided record in chain order and marks each with the acquirer's verdict", async () => {
    await takePayments([450, 3_000, 100]); // 3 000 is over the single limit: voided
    const summary = await uploadBatches(ctx(), client, { maxRecords: 2 });
    expect(summary).toMatchObject({ batches: 2, records: 3, accepted: 2, rejected: 0 });
    expect(t.store.list().map((r) => [r.seq, r.uploadStatus])).toEqual([
      [3, "accepted"],
      [2, "voided"],
      [1, "accepted"],
    ]);
    expect(await settledTotal()).toEqual({ count: 2, amount: 550 });
    expect(t.batches.lastUploadAt()).toBe(world.ms());
    expect(await uploadBatches(ctx(), client, { maxRecords: 2 })).toMatchObject({ batches: 0, records: 0 });
  });

  it("re-sends an interrupted batch under the same id and it settles exactly once", async () => {
    await takePayments([100, 200, 300]);
    const seen: string[] = [];
    // The acquirer commits, then the answer is lost on the way back.
    const lossy: AcquirerPort = {
      async uploadBatch(upload: BatchUpload) {
        seen.push(upload.manifest.batchId);
        await client.uploadBatch(upload);
        throw new Error("connection reset after the acquirer committed");
      },
      fetchHotlist: (v) => client.fetchHotlist(v),
    };
    await expect(uploadBatches(ctx(), lossy, { maxRecords: 10 })).rejects.toThrow("connection reset");
    expect(t.batches.pending().map((b) => b.batchId)).toEqual(seen);
    const again = await uploadBatches(ctx(), client, { maxRecords: 10 });
    expect(again).toMatchObject({ batches: 1, accepted: 3 });
    expect(t.batches.pending()).toEqual([]);
    expect(await settledTotal()).toEqual({ count: 3, amount: 600 });
  });

  it("rejects a record whose amount the merchant edited in the database, and keeps it visible with the reason", async () => {
    await takePayments([100, 200, 300]);
    const r = t.store.get(2)!.cardRecord!;
    // layout: version, type, wallet id length, wallet id, counter (4), amount (6 BCD) …
    r[3 + r[2]! + 4 + 5] = 0x99; // 2.00 EUR becomes 2.99 EUR
    t.editCardRecord(2, r);
    const summary = await uploadBatches(ctx(), client, { maxRecords: 10 });
    expect(summary.rejected).toBe(1);
    const edited = t.store.get(2)!;
    expect(edited.uploadStatus).toBe("rejected");
    expect(edited.uploadReason).toMatch(/^ACQ_ERR_/);
    expect(t.store.get(1)!.uploadStatus).toBe("accepted");
    expect(t.store.get(3)!.uploadStatus).toBe("accepted");
    expect(await settledTotal()).toEqual({ count: 2, amount: 400 });
  });

  it("after posd sync, declines a wallet the acquirer blocked (lost phone), offline, with a clear reason", async () => {
    const block = await acquirer.app.inject({
      method: "POST",
      url: "/v1/wallets/W-ALICE-0001/block",
      payload: { reason: "lost" },
    });
    expect(block.statusCode).toBe(200);
    const sync = await syncHotlist(ctx(), client, (wire) => verifyFetchedHotlist(wire, t.identity.chain[0]!));
    expect(sync).toMatchObject({ changed: true, wallets: 1 });
    t.deps = {
      ...t.deps,
      trust: {
        ...t.trust,
        isHotlisted: (walletId, serial, issuer) => t.hotlist.isHotlisted(walletId, serial, issuer),
      },
    };
    const outcome = await runPayment(new HostileCard(), t.deps, { amount: 100, currency: 978 });
    expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
    expect(
      await syncHotlist(ctx(), client, (wire) => verifyFetchedHotlist(wire, t.identity.chain[0]!)),
    ).toMatchObject({
      changed: false,
      wallets: 1,
    });
  });

  it("declines new offline payments past a risk limit until an upload succeeds", async () => {
    const limits = { currency: 978, maxOfflineRecords: 2 };
    t.deps = { ...t.deps, riskCheck: (r) => checkRisk(t.stores.risk, limits, r, world.ms()) };
    await takePayments([100, 100]);
    const card = fixtureCard({ balance: 20_000 }, { fixture: "cards/bob" });
    expect(await runPayment(card.transport, t.deps, { amount: 100, currency: 978 })).toMatchObject({
      status: "declined",
      code: "TERM_ERR_RISK_LIMIT",
    });
    await uploadBatches(ctx(), client, { maxRecords: 10 });
    expect((await runPayment(card.transport, t.deps, { amount: 100, currency: 978 })).status).toBe(
      "approved",
    );
  });
});
