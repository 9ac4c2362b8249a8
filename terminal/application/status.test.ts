import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../protocol/logger.js";
import { type FixtureCard, fixtureCard } from "../../test-support/card-fixture.js";
import type { WorldClock } from "../../test-support/clock.js";
import {
  FIXED_TIME,
  STORE_KINDS,
  type TestTerminal,
  testTerminal,
} from "../../test-support/terminal-fixture.js";
import { formatStatus } from "../output.js";
import type { AcquirerPort } from "./ports.js";
import { runRefund } from "./refund.js";
import type { HotlistPolicy, RiskLimits } from "./risk.js";
import { runPayment } from "./run-payment.js";
import { type StatusInput, terminalStatus } from "./status.js";
import { uploadBatches } from "./upload.js";

const EUR = 978;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = FIXED_TIME * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

/** One clock for the whole world (stores, card session, status), frozen, moved only by the test. */
let now = T0;
const world: WorldClock = {
  ms: () => now,
  seconds: () => Math.floor(now / 1000),
  date: () => new Date(now),
};

const LIMITS: RiskLimits = {
  currency: EUR,
  maxOfflineAmount: 50_000,
  maxOfflineRecords: 500,
  maxOfflineHours: 24,
};

const HOTLIST_POLICY: HotlistPolicy = { maxAgeHours: 24, floors: new Map([[EUR, 5_000]]) };

const NEVER_SYNCED = {
  version: null,
  issuedAt: null,
  ageHours: null,
  maxAgeHours: 24,
  nextUpdate: null,
  fetchedAt: null,
  stale: true,
};

/** An acquirer that settles every batch: each complete record accepted, each voided one noted. */
const settlingAcquirer: AcquirerPort = {
  async uploadBatch(upload) {
    const records = upload.records.map((r) => ({
      seq: r.seq,
      status: r.status === "complete" ? ("accepted" as const) : ("voided" as const),
    }));
    const accepted = records.filter((r) => r.status === "accepted").length;
    return { batchId: upload.manifest.batchId, status: "settled", accepted, rejected: 0, records };
  },
  async fetchHotlist() {
    return undefined;
  },
};

let t: TestTerminal;
afterEach(() => t.cleanup());

function status(input: Partial<StatusInput> = {}) {
  return terminalStatus(
    {
      records: t.stores.records,
      risk: t.stores.risk,
      batches: t.stores.batches,
      hotlist: t.stores.hotlist,
      loads: t.stores.loads,
      refunds: t.stores.refunds,
      attention: t.stores.attention,
      clock: t.stores.clock,
    },
    {
      terminalId: "T-0001",
      merchantId: "M-0001",
      merchantCategory: "5411",
      region: "TW",
      certificateNotAfter: new Date(T0 + 30 * DAY),
      dataDir: "/var/lib/posd",
      limits: LIMITS,
      hotlistPolicy: HOTLIST_POLICY,
      ...input,
    },
  );
}

const pay = (card: FixtureCard, amount: number) =>
  runPayment(card.transport, t.deps, { amount, currency: EUR });

const upload = () =>
  uploadBatches(
    {
      batches: t.batches,
      identity: t.identity,
      terminalId: "T-0001",
      merchantId: "M-0001",
      logger: silentLogger(),
    },
    settlingAcquirer,
    { maxRecords: 100 },
  );

/**
 * A morning: 4.50 approved and 30.00 declined (voided), uploaded an hour later; then 2.25 and
 * 1.10 approved and a 3.75 torn right after the card committed (pending). Ends at 07:30.
 */
async function aMorning(): Promise<void> {
  const card = fixtureCard({ balance: 20_000 });
  expect((await pay(card, 450)).status).toBe("approved");
  expect((await pay(card, 3_000)).status).toBe("declined"); // over the card's single-payment limit
  now = T0 + HOUR;
  await upload();
  now = T0 + 2 * HOUR;
  expect((await pay(card, 225)).status).toBe("approved");
  expect((await pay(card, 110)).status).toBe("approved");
  card.applet.faults = { tearAfterDebitCommit: true };
  expect((await pay(card, 375)).status).toBe("torn");
  now = T0 + 5.5 * HOUR;
}

describe.each(STORE_KINDS)("posd status (terminalStatus, %s store)", (kind) => {
  const fresh = () => {
    now = T0;
    t = testTerminal({ clock: world, store: kind });
  };

  it("shows a new terminal with nothing stored, never uploaded, every limit at zero", () => {
    fresh();
    expect(status()).toEqual({
      terminalId: "T-0001",
      merchantId: "M-0001",
      merchantCategory: "5411",
      region: "TW",
      certificate: { notAfter: iso(T0 + 30 * DAY), daysLeft: 30 },
      dataDir: "/var/lib/posd",
      lastSeq: 0,
      counts: { pending: 0, complete: 0, voided: 0 },
      pending: [],
      loadsInDoubt: [],
      refundsOutstanding: [],
      unbatched: { count: 0, totals: [] },
      lastUpload: null,
      limits: {
        offlineRecords: { current: 0, max: 500 },
        offlineAmount: { current: "0.00 EUR", max: "500.00 EUR" },
        offlineHours: { current: 0, max: 24 },
        offlineAmounts: [],
      },
      hotlist: NEVER_SYNCED,
      attention: null,
      warnings: [],
    });
  });

  it("counts complete, voided and pending payments and lists the torn one", async () => {
    fresh();
    await aMorning();
    const s = status();
    expect(s.lastSeq).toBe(5);
    expect(s.counts).toEqual({ pending: 1, complete: 3, voided: 1 });
    // Key order is what `posd status --json` prints.
    expect(Object.keys(s.counts)).toEqual(["pending", "complete", "voided"]);
    expect(s.pending).toEqual([{ seq: 5, walletId: "W-ALICE-0001", amount: "3.75 EUR" }]);
  });

  it("lists the loads in doubt, oldest first, and says which the card has (its record kept here)", () => {
    fresh();
    const load = { walletId: "W-ALICE-0001", type: "cash" as const, currency: EUR, teller: "T01" };
    t.stores.loads.begin({ ...load, loadId: "00000000000000a1", amount: 2_000 });
    t.stores.loads.begin({ ...load, loadId: "00000000000000a2", amount: 500 });
    t.stores.loads.keepProof("00000000000000a2", {
      record: new Uint8Array(3),
      signature: new Uint8Array(64),
    });
    t.stores.loads.begin({ ...load, loadId: "00000000000000a3", amount: 100 });
    t.stores.loads.resolve("00000000000000a3", "loaded");
    const s = status();
    expect(s.loadsInDoubt).toEqual([
      {
        loadId: "00000000000000a1",
        walletId: "W-ALICE-0001",
        type: "cash",
        amount: "20.00 EUR",
        teller: "T01",
        since: iso(world.ms()),
        recordKept: false,
      },
      {
        loadId: "00000000000000a2",
        walletId: "W-ALICE-0001",
        type: "cash",
        amount: "5.00 EUR",
        teller: "T01",
        since: iso(world.ms()),
        recordKept: true,
      },
    ]);
    expect(formatStatus(s).filter((l) => l.includes("load in doubt"))).toHaveLength(2);
  });

  it("lists a refund signed here until the acquirer settles it", async () => {
    fresh();
    await aMorning();
    runRefund(
      { refunds: t.stores.refunds, identity: t.identity, terminalId: "T-0001", logger: silentLogger() },
      { seq: 1, amount: 200, currency: EUR },
    );
    const s = status();
    expect(s.refundsOutstanding).toEqual([
      { refundId: 1, seq: 1, walletId: "W-ALICE-0001", amount: "2.00 EUR", state: "stored" },
    ]);
    expect(formatStatus(s).filter((l) => l.includes("refund"))).toEqual([
      "  refund     1  seq 1  wallet W-ALICE-0001  2.00 EUR  (goes up with the next upload)",
    ]);
  });

  it("shows what awaits a batch (complete records only, not the pending one) and when the last upload was answered", async () => {
    fresh();
    await aMorning();
    const s = status();
    expect(s.unbatched).toEqual({ count: 2, totals: [{ currency: EUR, count: 2, amount: "3.35 EUR" }] });
    expect(s.lastUpload).toBe(iso(T0 + HOUR));
  });

  it("measures the offline limits from the oldest record the acquirer has not answered", async () => {
    fresh();
    await aMorning();
    expect(status().limits).toEqual({
      offlineRecords: { current: 2, max: 500 },
      offlineAmount: { current: "3.35 EUR", max: "500.00 EUR" },
      offlineHours: { current: 3.5, max: 24 },
      offlineAmounts: [],
    });
  });

  it("shows a limit that is not configured as null", () => {
    fresh();
    expect(status({ limits: { currency: EUR } }).limits).toEqual({
      offlineRecords: { current: 0, max: null },
      offlineAmount: { current: "0.00 EUR", max: null },
      offlineHours: { current: 0, max: null },
      offlineAmounts: [],
    });
  });

  it("shows the hotlist's version, signed issue time and age, and calls it stale past the maximum age", () => {
    fresh();
    const issuedAt = FIXED_TIME - 2 * 3600;
    t.stores.hotlist.replace({
      version: 7,
      issuedAt,
      revokedSerials: [],
      blockedWallets: ["W-LOST-0001"],
      nextUpdate: issuedAt + 6 * 3600,
    });
    expect(status().hotlist).toEqual({
      version: 7,
      issuedAt: iso(issuedAt * 1000),
      ageHours: 2,
      maxAgeHours: 24,
      nextUpdate: iso((issuedAt + 6 * 3600) * 1000),
      fetchedAt: iso(T0),
      stale: false,
    });
    now = T0 + 22.5 * HOUR;
    expect(status().hotlist).toMatchObject({ ageHours: 24.5, stale: true });
  });

  it("shows the value limits of other currencies beside the terminal's own", () => {
    fresh();
    const limits = { ...LIMITS, maxOfflineAmounts: new Map([[840, 30_000]]) };
    expect(status({ limits }).limits.offlineAmounts).toEqual([
      { currency: 840, current: "0.00 USD", max: "300.00 USD" },
    ]);
  });

  it("shows null for certificate attributes the terminal certificate does not carry", () => {
    fresh();
    expect(status({ merchantCategory: undefined, region: undefined })).toMatchObject({
      merchantCategory: null,
      region: null,
    });
  });

  const expiries: [string, number, number][] = [
    ["30 days ahead", 30 * DAY, 30],
    ["1 ms short of 30 days", 30 * DAY - 1, 29],
    ["1 ms ahead", 1, 0],
    ["exactly now", 0, 0],
    ["1 ms ago (expired)", -1, -1],
    ["2 days ago", -2 * DAY, -2],
  ];
  for (const [what, offset, daysLeft] of expiries) {
    it(`counts whole days left on a certificate that expires ${what}: ${daysLeft}`, () => {
      fresh();
      now = T0 + 12 * HOUR;
      const notAfter = new Date(now + offset);
      expect(status({ certificateNotAfter: notAfter }).certificate).toEqual({
        notAfter: notAfter.toISOString(),
        daysLeft,
      });
    });
  }
});

describe("posd status as text (formatStatus)", () => {
  it("prints the hotlist's age, STALE past the maximum, and each warning on its own line", () => {
    now = T0;
    t = testTerminal({ clock: world, store: "memory" });
    t.stores.hotlist.replace({ version: 3, issuedAt: FIXED_TIME, revokedSerials: [], blockedWallets: [] });
    now = T0 + 30 * HOUR;
    const lines = formatStatus(status({ warnings: ["the key passphrase is stored next to the key"] }));
    expect(lines.slice(-2)).toEqual([
      `hotlist      version 3 issued ${iso(T0)} (30 h old, max 24 h); STALE: payments above the floor are declined until posd sync`,
      "warning      the key passphrase is stored next to the key",
    ]);
  });

  it("prints one line per topic and one per torn payment", async () => {
    now = T0;
    t = testTerminal({ clock: world, store: "memory" });
    await aMorning();
    expect(formatStatus(status())).toEqual([
      "terminal     T-0001   merchant M-0001   MCC 5411   region TW",
      `certificate  valid until ${iso(T0 + 30 * DAY)} (29 days left)`,
      "last seq     5   complete 3   voided 1   pending 1",
      "  pending    seq 5  wallet W-ALICE-0001  3.75 EUR (resolved when the wallet is presented again)",
      "unbatched    2 records   3.35 EUR (2)",
      `last upload  ${iso(T0 + HOUR)}`,
      "limits       2/500 records   3.35 EUR/500.00 EUR   3.5/24 h offline",
      "hotlist      none (never synced): payments above the floor are declined until posd sync",
    ]);
  });

  it("prints how many wallets the platform's attention list holds once posd sync fetched it", () => {
    now = T0;
    t = testTerminal({ clock: world, store: "memory" });
    t.stores.attention.replace(["W-ALICE-0001", "W-BOB-0002"], FIXED_TIME);
    expect(status().attention).toEqual({ wallets: 2, fetchedAt: iso(T0) });
    expect(formatStatus(status()).at(-1)).toBe(
      `attention    2 wallets the platform has work for (fetched ${iso(T0)}): presented to it before the debit`,
    );
  });

  it("prints ∞ for a limit that is not configured and never for no upload", () => {
    now = T0;
    t = testTerminal({ clock: world, store: "memory" });
    const lines = formatStatus(status({ limits: { currency: EUR } }));
    expect(lines.slice(-4, -1)).toEqual([
      "unbatched    0 records",
      "last upload  never",
      "limits       0/∞ records   0.00 EUR/∞   0/∞ h offline",
    ]);
  });
});
