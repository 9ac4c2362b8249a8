/**
 * The platform's rules on their own (rules.ts): the boundaries of the amount, the balance limit,
 * the available funds and the terminal's clock, and when a load may be reversed.
 */
import { describe, expect, it } from "vitest";
import { MAX_AMOUNT_MINOR } from "../../protocol/amount.js";
import type { LoadRequest } from "../../protocol/platform/api.js";
import { codeOf, NO_ERROR } from "../../test-support/errors.js";
import type { BankAccount, Load, Wallet } from "./model.js";
import { checkFunding, checkLoadRequest, checkRequestTime, checkReversible } from "./rules.js";

const wallet: Wallet = {
  walletId: "W-1",
  currency: 978,
  status: "active",
  boundAccount: "NL-1",
  balanceLimit: MAX_AMOUNT_MINOR,
  singleLimit: MAX_AMOUNT_MINOR,
  autoLoadThreshold: 0,
  autoLoadAmount: 0,
  autoLoadOn: false,
  cardCertificate: null,
  lastCounter: null,
  createdAt: 0,
};

const request = (amount: number, card: Partial<LoadRequest["card"]> = {}): LoadRequest => ({
  loadId: "00".repeat(8),
  walletId: "W-1",
  cardCertificate: "",
  type: "bound",
  amount,
  currency: 978,
  card: { balance: 0, balanceLimit: MAX_AMOUNT_MINOR, counter: 0, state: "active", ...card },
  challenge: "00".repeat(16),
  time: 0,
});

const account: BankAccount = {
  number: "NL-1",
  holder: "A",
  currency: 978,
  balance: 1_000,
  held: 400,
  status: "open",
  createdAt: 0,
};

describe("platform rules › the load amount", () => {
  const cases: [number, string][] = [
    [-1, "ACQ_ERR_LOAD_AMOUNT"],
    [0, "ACQ_ERR_LOAD_AMOUNT"],
    [1, NO_ERROR],
    [MAX_AMOUNT_MINOR, NO_ERROR],
    [MAX_AMOUNT_MINOR + 1, "ACQ_ERR_LOAD_AMOUNT"],
    [2 ** 53, "ACQ_ERR_LOAD_AMOUNT"],
  ];
  for (const [amount, code] of cases)
    it(`${amount} minor units → ${code}`, () =>
      expect(codeOf(() => checkLoadRequest(request(amount), wallet))).toBe(code));
});

describe("platform rules › the balance limit: the lower of the card's and the wallet's", () => {
  const cases: [number, number, number, string][] = [
    // card balance, card limit, wallet limit, outcome of a load of 100
    [900, 1_000, 2_000, NO_ERROR],
    [901, 1_000, 2_000, "ACQ_ERR_OVER_BALANCE_LIMIT"],
    [900, 2_000, 1_000, NO_ERROR],
    [901, 2_000, 1_000, "ACQ_ERR_OVER_BALANCE_LIMIT"],
  ];
  for (const [balance, cardLimit, walletLimit, code] of cases)
    it(`card ${balance} of ${cardLimit}, wallet limit ${walletLimit}: a load of 100 → ${code}`, () =>
      expect(
        codeOf(() =>
          checkLoadRequest(request(100, { balance, balanceLimit: cardLimit }), {
            ...wallet,
            balanceLimit: walletLimit,
          }),
        ),
      ).toBe(code));
});

describe("platform rules › available funds", () => {
  const cases: [number, string][] = [
    [600, NO_ERROR],
    [601, "ACQ_ERR_INSUFFICIENT_FUNDS"],
  ];
  for (const [amount, code] of cases)
    it(`balance 1000 with 400 held: ${amount} → ${code}`, () =>
      expect(
        codeOf(() => checkFunding({ kind: "bank", number: "NL-1" }, { amount, currency: 978 }, account, 0)),
      ).toBe(code));

  it("the online account's available balance is what its pending loads leave", () => {
    expect(codeOf(() => checkFunding({ kind: "online" }, { amount: 50, currency: 978 }, undefined, 50))).toBe(
      NO_ERROR,
    );
    expect(codeOf(() => checkFunding({ kind: "online" }, { amount: 51, currency: 978 }, undefined, 50))).toBe(
      "ACQ_ERR_INSUFFICIENT_FUNDS",
    );
  });
});

describe("platform rules › the terminal's clock", () => {
  const cases: [number, string][] = [
    [-301, "ACQ_ERR_REQUEST_TIME"],
    [-300, NO_ERROR],
    [300, NO_ERROR],
    [301, "ACQ_ERR_REQUEST_TIME"],
  ];
  for (const [skew, code] of cases)
    it(`${skew} s off → ${code}`, () =>
      expect(codeOf(() => checkRequestTime(1_000_000 + skew, 1_000_000))).toBe(code));
});

describe("platform rules › what may be reversed", () => {
  const day = Date.UTC(2026, 10, 24) / 1000;
  const load = (fields: Partial<Load>): Load =>
    ({ loadId: "00".repeat(8), type: "cash", state: "loaded", issuedAt: day + 3_600, ...fields }) as Load;
  const cases: [string, Partial<Load>, string | undefined, number, string][] = [
    ["a pending load", { state: "pending", type: "bound" }, undefined, day + 90_000, NO_ERROR],
    ["a cash load by a teller the same day", {}, "T01", day + 86_399, NO_ERROR],
    ["a cash load by a teller the next day", {}, "T01", day + 86_400, "ACQ_ERR_REVERSAL_DAY"],
    ["a cash load without a teller", {}, undefined, day + 7_200, "ACQ_ERR_LOAD_STATE"],
    ["a completed bank load", { type: "bound" }, "T01", day + 7_200, "ACQ_ERR_LOAD_STATE"],
    ["a voided load", { state: "voided" }, "T01", day + 7_200, "ACQ_ERR_LOAD_STATE"],
    ["a reversed load", { state: "reversed" }, "T01", day + 7_200, "ACQ_ERR_LOAD_STATE"],
  ];
  for (const [what, fields, teller, now, code] of cases)
    it(`${what} → ${code}`, () =>
      expect(codeOf(() => checkReversible(load(fields), teller, now))).toBe(code));
});
