/**
 * The reconciliation's pure rules on hand-made facts: the cases the end-to-end tests cannot make
 * without breaking the database by hand (money in another currency on an account, sums beyond a
 * single amount), and how amounts are printed.
 */
import { describe, expect, it } from "vitest";
import { type ReconciliationFacts, reconcile } from "./reconciliation.js";
import { describePlatformDifference, money } from "./reconciliation-text.js";

const EUR = 978;
const USD = 840;

const facts = (over: Partial<ReconciliationFacts> = {}): ReconciliationFacts => ({
  wallets: [{ walletId: "W-1", currency: EUR }],
  bankAccounts: [],
  heldHolds: new Map(),
  openings: new Map([["issue:W-1", { amount: 5_000, currency: EUR }]]),
  bookedLoads: [],
  pendingLoads: [],
  settledDebits: [],
  notOnPlatform: [],
  bookedDebits: [],
  settledRefunds: [],
  bookedRefunds: [],
  ledger: [
    { account: "issuer:float", currency: EUR, balance: -5_000 },
    { account: "wallet:W-1:offline", currency: EUR, balance: 5_000 },
  ],
  brokenBookings: [],
  ...over,
});

describe("platform reconciliation › rules", () => {
  it("finds nothing to say about a wallet holding its opening balance", () => {
    expect(reconcile(facts())).toMatchObject({ balanced: true, differences: [] });
  });

  it("names money booked on a wallet's account in another currency, which its EUR balance hides", () => {
    const r = reconcile(
      facts({
        ledger: [...facts().ledger, { account: "wallet:W-1:offline", currency: USD, balance: 300 }],
      }),
    );
    expect(r.wallets[0]).toMatchObject({ offline: 5_000, expected: 5_000 });
    expect(r.differences).toEqual([
      {
        kind: "account",
        subject: "wallet:W-1:offline",
        currency: USD,
        expected: 0,
        actual: 300,
        difference: 300,
      },
    ]);
  });

  it("names a cash drawer nobody loaded from", () => {
    const r = reconcile(
      facts({ ledger: [...facts().ledger, { account: "drawer:T09", currency: EUR, balance: -700 }] }),
    );
    expect(r.drawers).toEqual([{ teller: "T09", currency: EUR, takenIn: 0, paidOut: 0, balance: -700 }]);
    expect(r.differences.map(describePlatformDifference)).toEqual([
      "drawer:T09: its operations book 0.00 EUR, its entries sum to -7.00 EUR, difference -7.00 EUR",
    ]);
  });
});

describe("platform reconciliation › amounts in text", () => {
  const cases: [number, number, string][] = [
    [0, EUR, "0.00 EUR"],
    [1, EUR, "0.01 EUR"],
    [-1, EUR, "-0.01 EUR"],
    [500, 392, "500 JPY"],
    [999_999_999_999, EUR, "9999999999.99 EUR"],
    [1_000_000_000_000, EUR, "10000000000.00 EUR"],
    [-1_000_000_000_000, EUR, "-10000000000.00 EUR"],
    [450, 999, "450 (minor units of currency 999)"],
  ];
  for (const [minor, currency, text] of cases)
    it(`prints ${minor} minor units of ${currency} as ${text}`, () =>
      expect(money(minor, currency)).toBe(text));
});
