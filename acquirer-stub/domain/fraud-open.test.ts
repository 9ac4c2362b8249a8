/**
 * The report's open items, pure (domain/fraud.ts): which counter gaps are open too long, from what
 * they are aged, and the balance drop across them; how an unresolved intent is aged and shown.
 */
import { describe, expect, it } from "vitest";
import {
  type FraudSection,
  type KnownCounter,
  openCounterGaps,
  renderFraud,
  unresolvedIntentLine,
} from "./fraud.js";

const DAY = 86_400;
const NOW = Date.UTC(2026, 10, 24, 8, 0, 0) / 1000;
const W = "W-ALICE-0001";
const EUR = 978;

const record = (cardCounter: number, at: number, balanceAfter: number, amount: number): KnownCounter => ({
  walletId: W,
  cardCounter,
  source: "record",
  at,
  balanceAfter,
  amount,
  currency: EUR,
});
const online = (cardCounter: number, at: number, source: "load" | "reversal" | "command"): KnownCounter => ({
  walletId: W,
  cardCounter,
  source,
  at,
});

describe("open counter gaps", () => {
  it("names a gap between two records with its age from the record above and what it took", () => {
    const gaps = openCounterGaps(
      [record(1, NOW - 20 * DAY, 4_550, 450), record(4, NOW - 10 * DAY, 3_000, 100)],
      NOW,
      7,
    );
    expect(gaps).toEqual([
      {
        walletId: W,
        from: 2,
        to: 3,
        countersText: "2-3",
        above: { cardCounter: 4, source: "record", at: "2026-11-14T08:00:00.000Z" },
        ageDays: 10,
        // 45.50 after #1, 31.00 before #4 (30.00 after it, plus its 1.00): 14.50 missing.
        balanceDrop: { amount: 1_450, currency: EUR, text: "14.50 EUR" },
      },
    ]);
  });

  // The gap above is 10 days old to the second: listed only past the limit, never at it.
  const limits: [number, boolean][] = [
    [0, true],
    [1, true],
    [9, true],
    [10, false],
    [11, false],
  ];
  for (const [gapDays, listed] of limits)
    it(`${listed ? "lists" : "leaves out"} a 10-day-old gap with --gap-days ${gapDays}`, () => {
      const known = [record(1, NOW - 20 * DAY, 4_550, 450), record(3, NOW - 10 * DAY, 4_000, 100)];
      expect(openCounterGaps(known, NOW, gapDays)).toHaveLength(listed ? 1 : 0);
    });

  it("counts a load, a reversal or a delivered command as known: the gap they fill is no gap", () => {
    const known = [
      record(1, NOW - 30 * DAY, 4_550, 450),
      online(2, NOW - 29 * DAY, "load"),
      online(3, NOW - 28 * DAY, "reversal"),
      online(4, NOW - 27 * DAY, "command"),
      record(5, NOW - 26 * DAY, 4_000, 100),
    ];
    expect(openCounterGaps(known, NOW, 7)).toEqual([]);
  });

  it("ages a gap from the load above it, with no balance drop (a load carries no balance here)", () => {
    const known = [record(1, NOW - 30 * DAY, 4_550, 450), online(3, NOW - 8 * DAY - 1, "load")];
    expect(openCounterGaps(known, NOW, 7)).toEqual([
      {
        walletId: W,
        from: 2,
        to: 2,
        countersText: "2",
        above: { cardCounter: 3, source: "load", at: "2026-11-16T07:59:59.000Z" },
        ageDays: 8,
      },
    ]);
  });

  it("says a gap that raised the balance (a load the back office never saw) with a minus", () => {
    const known = [record(1, NOW - 20 * DAY, 1_000, 450), record(3, NOW - 10 * DAY, 2_900, 100)];
    expect(openCounterGaps(known, NOW, 7)[0]?.balanceDrop).toEqual({
      amount: -2_000,
      currency: EUR,
      text: "-20.00 EUR",
    });
  });

  it("keeps wallets apart and in order, and needs no gap below the first counter known", () => {
    const bob = (cardCounter: number, at: number): KnownCounter => ({
      ...record(cardCounter, at, 100, 1),
      walletId: "W-BOB-0002",
    });
    const known = [bob(5, NOW - 40 * DAY), bob(9, NOW - 30 * DAY), record(7, NOW - 20 * DAY, 1, 1)];
    expect(openCounterGaps(known, NOW, 7).map((g) => [g.walletId, g.countersText])).toEqual([
      ["W-BOB-0002", "6-8"],
    ]);
  });
});

describe("unresolved intents in the report", () => {
  it("shows the amount with its currency and the age from the intent's terminal time", () => {
    const line = unresolvedIntentLine(
      {
        terminalId: "T-0001",
        seq: 12,
        walletId: W,
        amount: 450,
        currency: EUR,
        cardCounterSeen: 7,
        reason: "the card's log starts at counter 9",
        batchId: "b-1",
        terminalTime: NOW - 3 * DAY - 5,
        receivedAt: NOW - DAY,
      },
      NOW,
    );
    expect(line).toMatchObject({
      amountText: "4.50 EUR",
      ageDays: 3,
      terminalTime: "2026-11-21T07:59:55.000Z",
    });
    const section: FraudSection = {
      blockedWallets: [],
      evidence: [],
      losses: [],
      asOf: "2026-11-24T08:00:00.000Z",
      gapDays: 7,
      openCounterGaps: [],
      unresolvedIntents: [line],
    };
    expect(renderFraud(section)).toEqual([
      "",
      "Fraud",
      "",
      "  none",
      "",
      "  Counter gaps open more than 7 days (as of 2026-11-24T08:00:00.000Z)",
      "    none",
      "",
      "  Unresolved torn intents reported by terminals",
      "    T-0001 seq 12  wallet W-ALICE-0001  4.50 EUR  3 days old (2026-11-21T07:59:55.000Z): the card's log starts at counter 9",
    ]);
  });
});

describe("blocked wallets in the fraud section", () => {
  it("shows one wallet id blocked at two issuers as two lines, each naming its issuer, and an every-issuer block as such", () => {
    const since = "2026-11-24T07:00:00.000Z";
    const section: FraudSection = {
      blockedWallets: [
        { walletId: W, issuer: null, reason: "clone", source: "clone-detection", since },
        { walletId: W, issuer: "a".repeat(64), reason: "fraud", source: "shadow-balance", since },
        { walletId: W, issuer: "b".repeat(64), reason: "fraud", source: "shadow-balance", since },
      ],
      evidence: [],
      losses: [],
      asOf: "2026-11-24T08:00:00.000Z",
      gapDays: 7,
      openCounterGaps: [],
      unresolvedIntents: [],
    };
    expect(renderFraud(section).slice(3, 6)).toEqual([
      `  wallet ${W} blocked (clone, clone-detection) at every issuer since ${since}`,
      `  wallet ${W} blocked (fraud, shadow-balance) at issuer ${"a".repeat(16)} since ${since}`,
      `  wallet ${W} blocked (fraud, shadow-balance) at issuer ${"b".repeat(16)} since ${since}`,
    ]);
  });
});
