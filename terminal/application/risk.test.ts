import { afterEach, describe, expect, it } from "vitest";
import { fixtureCard } from "../../test-support/card-fixture.js";
import type { WorldClock } from "../../test-support/clock.js";
import { FIXED_TIME, type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { amountLimit, checkHotlist, checkRisk, type HotlistPolicy, type RiskLimits } from "./risk.js";
import { runPayment } from "./run-payment.js";

const EUR = 978;
const USD = 840;
const HOUR = 3_600_000;
const T0 = FIXED_TIME * 1000;

let now = T0;
const world: WorldClock = {
  ms: () => now,
  seconds: () => Math.floor(now / 1000),
  date: () => new Date(now),
};

let t: TestTerminal;
afterEach(() => t.cleanup());

function terminal(limits: RiskLimits, policy?: HotlistPolicy): void {
  now = T0;
  t = testTerminal({ clock: world, store: "memory" });
  t.deps = {
    ...t.deps,
    riskCheck: (r) =>
      checkRisk(t.stores.risk, limits, r, now) ??
      (policy ? checkHotlist(t.stores.hotlist, policy, r, now) : undefined),
  };
}

const LIMITS = { singleLimit: 100_000, balanceLimit: 200_000, autoLoadThreshold: 0, autoLoadAmount: 0 };
const eurCard = () => fixtureCard({ balance: 100_000, limits: LIMITS });
const usdCard = () =>
  fixtureCard({ balance: 100_000, currency: USD, limits: LIMITS }, { fixture: "cards/bob" });
const pay = (card: ReturnType<typeof fixtureCard>, amount: number, currency: number) =>
  runPayment(card.transport, t.deps, { amount, currency });

describe("offline value limits per currency (checkRisk)", () => {
  it("refuses a currency it has no limit for once the EUR limit is reached: 60.00 USD then 35.00 USD are declined", async () => {
    terminal({ currency: EUR, maxOfflineAmount: 3_000 });
    const eur = eurCard();
    expect((await pay(eur, 3_000, EUR)).status).toBe("approved");
    expect(await pay(eur, 100, EUR)).toMatchObject({ status: "declined", code: "TERM_ERR_RISK_LIMIT" });
    const usd = usdCard();
    for (const amount of [6_000, 3_500])
      expect(await pay(usd, amount, USD)).toMatchObject({
        status: "declined",
        code: "TERM_ERR_CURRENCY_NOT_ACCEPTED",
      });
    expect(usd.store.load().balance).toBe(100_000);
    expect(t.store.counts()).toEqual({ pending: 0, complete: 1, voided: 0 });
  });

  it("counts USD against its own limit: 35.00 USD approved, the next 35.00 USD past 50.00 declined", async () => {
    terminal({ currency: EUR, maxOfflineAmount: 3_000, maxOfflineAmounts: new Map([[USD, 5_000]]) });
    expect((await pay(eurCard(), 3_000, EUR)).status).toBe("approved");
    const usd = usdCard();
    expect(await pay(usd, 6_000, USD)).toMatchObject({ status: "declined", code: "TERM_ERR_RISK_LIMIT" });
    expect((await pay(usd, 3_500, USD)).status).toBe("approved");
    const third = await pay(usd, 3_500, USD);
    expect(third).toMatchObject({ status: "declined", code: "TERM_ERR_RISK_LIMIT" });
    expect(usd.store.load().balance).toBe(100_000 - 3_500);
  });

  const cases: [string, RiskLimits, number, number | undefined | "refused"][] = [
    ["the terminal's currency, its limit", { currency: EUR, maxOfflineAmount: 500 }, EUR, 500],
    ["another currency with no limit at all", { currency: EUR }, USD, undefined],
    [
      "another currency once the own one has a limit",
      { currency: EUR, maxOfflineAmount: 500 },
      USD,
      "refused",
    ],
    [
      "another currency with its own limit",
      { currency: EUR, maxOfflineAmounts: new Map([[USD, 7]]) },
      USD,
      7,
    ],
    [
      "the own currency given only per currency",
      { currency: EUR, maxOfflineAmounts: new Map([[EUR, 9]]) },
      EUR,
      9,
    ],
    [
      "the own currency without a limit beside others",
      { currency: EUR, maxOfflineAmounts: new Map([[USD, 7]]) },
      EUR,
      undefined,
    ],
  ];
  for (const [what, limits, currency, expected] of cases)
    it(`takes the limit of ${what}: ${String(expected)}`, () => {
      expect(amountLimit(limits, currency)).toBe(expected);
    });
});

describe("the hotlist's freshness (checkHotlist)", () => {
  const policy: HotlistPolicy = { maxAgeHours: 24, floors: new Map([[EUR, 5_000]]) };
  const hotlist = (issuedAt: number) =>
    t.stores.hotlist.replace({ version: 2, issuedAt, revokedSerials: [], blockedWallets: [] });

  it("a terminal that never synced pays up to the floor and declines above it", async () => {
    terminal({ currency: EUR }, policy);
    const card = eurCard();
    expect((await pay(card, 5_000, EUR)).status).toBe("approved");
    expect(await pay(card, 5_001, EUR)).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLIST_STALE" });
    expect(card.store.load().balance).toBe(100_000 - 5_000);
  });

  it("a currency without a floor is declined for any amount while the hotlist is missing", async () => {
    terminal({ currency: EUR }, policy);
    expect(await pay(usdCard(), 1, USD)).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLIST_STALE",
    });
  });

  it("pays above the floor with a hotlist issued within the maximum age, and declines once it is older", async () => {
    terminal({ currency: EUR }, policy);
    hotlist(FIXED_TIME);
    const card = eurCard();
    now = T0 + 24 * HOUR;
    expect((await pay(card, 20_000, EUR)).status).toBe("approved");
    now = T0 + 24 * HOUR + 1_000;
    const late = await pay(card, 20_000, EUR);
    expect(late).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLIST_STALE" });
    expect(late.status === "declined" && late.message).toMatch(/version 2\) is 24 h old \(limit 24 h\)/);
  });

  it("measures the age from the signed issue time, not from when the terminal fetched it", () => {
    terminal({ currency: EUR }, policy);
    now = T0 + 30 * HOUR;
    hotlist(FIXED_TIME); // fetched just now, issued 30 h ago (an old list served again)
    expect(checkHotlist(t.stores.hotlist, policy, { amount: 20_000, currency: EUR }, now)?.code).toBe(
      "TERM_ERR_HOTLIST_STALE",
    );
  });
});
