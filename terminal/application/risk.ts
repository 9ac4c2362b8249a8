/**
 * Offline risk limits (what field terminals cap: stored value per currency, stored count, time
 * offline) and the hotlist's freshness. Past a limit the terminal declines new offline payments
 * until an upload succeeds; with no hotlist, or one older than its maximum age, it declines what is
 * above the floor until a sync succeeds. The limits come from the configuration
 * (terminal/composition/root.ts reads them); the exposure from the RiskView port, the hotlist's
 * dates from the HotlistStore port.
 */
import { TerminalError } from "../errors.js";
import type { HotlistStore, RiskView } from "./ports.js";
import type { PaymentRequest } from "./run-payment.js";

export interface RiskLimits {
  /** The value limit in `currency` (minor units). */
  readonly maxOfflineAmount?: number;
  /** ISO numeric currency the amount limit is in (the terminal's currency). */
  readonly currency: number;
  /**
   * Value limits in other currencies: ISO numeric → minor units. Once any amount limit is set, a
   * payment in a currency without one is refused (TERM_ERR_CURRENCY_NOT_ACCEPTED).
   */
  readonly maxOfflineAmounts?: ReadonlyMap<number, number>;
  readonly maxOfflineRecords?: number;
  readonly maxOfflineHours?: number;
}

/** How fresh the hotlist must be for payments above the floor. */
export interface HotlistPolicy {
  readonly maxAgeHours: number;
  /** ISO numeric → minor units that may be paid without a fresh hotlist (absent: 0). */
  readonly floors: ReadonlyMap<number, number>;
}

export interface RiskState {
  readonly records: number;
  /** Value not yet uploaded in `limits.currency`. */
  readonly amount: number;
  readonly oldestAt: number | undefined;
  readonly hoursOffline: number;
}

const HOUR_MS = 3_600_000;

export function riskState(view: RiskView, limits: RiskLimits, now: number): RiskState {
  const exposure = view.offlineExposure();
  const amount = exposure.byCurrency.find((c) => c.currency === limits.currency)?.amount ?? 0;
  return {
    records: exposure.count,
    amount,
    oldestAt: exposure.oldestAt,
    hoursOffline: exposure.oldestAt === undefined ? 0 : (now - exposure.oldestAt) / HOUR_MS,
  };
}

/**
 * The value limit for a currency: a number, undefined (no amount limit at all), or "refused" when
 * amount limits are set but none for this currency.
 */
export function amountLimit(limits: RiskLimits, currency: number): number | undefined | "refused" {
  const others = limits.maxOfflineAmounts ?? new Map<number, number>();
  const own = currency === limits.currency ? limits.maxOfflineAmount : undefined;
  const limit = own ?? others.get(currency);
  if (limit !== undefined) return limit;
  const anyLimit = limits.maxOfflineAmount !== undefined || others.size > 0;
  return anyLimit && currency !== limits.currency ? "refused" : undefined;
}

/** A decline (TERM_ERR_RISK_LIMIT, TERM_ERR_CURRENCY_NOT_ACCEPTED) when this payment would pass a limit. */
export function checkRisk(
  view: RiskView,
  limits: RiskLimits,
  request: PaymentRequest,
  now: number,
): TerminalError | undefined {
  const s = riskState(view, limits, now);
  const upload = "upload to the acquirer (posd upload) before taking more offline payments";
  if (limits.maxOfflineRecords !== undefined && s.records + 1 > limits.maxOfflineRecords) {
    return new TerminalError(
      "TERM_ERR_RISK_LIMIT",
      `${s.records} payments are not uploaded yet (limit ${limits.maxOfflineRecords}): ${upload}`,
      {
        details: { limit: "records", current: s.records, max: limits.maxOfflineRecords },
      },
    );
  }
  const max = amountLimit(limits, request.currency);
  if (max === "refused") {
    return new TerminalError(
      "TERM_ERR_CURRENCY_NOT_ACCEPTED",
      `this terminal has no offline limit for currency ${request.currency} (limits.maxOfflineAmounts), so it takes no payment in it`,
      { details: { limit: "currency", currency: request.currency } },
    );
  }
  if (max !== undefined) {
    const current =
      view.offlineExposure().byCurrency.find((c) => c.currency === request.currency)?.amount ?? 0;
    if (current + request.amount > max) {
      return new TerminalError(
        "TERM_ERR_RISK_LIMIT",
        `the value not yet uploaded would pass the offline limit: ${upload}`,
        { details: { limit: "amount", currency: request.currency, current, max } },
      );
    }
  }
  if (limits.maxOfflineHours !== undefined && s.hoursOffline > limits.maxOfflineHours) {
    return new TerminalError(
      "TERM_ERR_RISK_LIMIT",
      `the oldest payment not yet uploaded is ${Math.floor(s.hoursOffline)} h old (limit ${limits.maxOfflineHours} h): ${upload}`,
      { details: { limit: "hours", current: s.hoursOffline, max: limits.maxOfflineHours } },
    );
  }
  return undefined;
}

/** The hotlist's freshness, as `posd status` and `/v1/status` show it. */
export interface HotlistFreshness {
  /** null before the first sync. */
  readonly version: number | null;
  /** ISO 8601 of the signed issue time, null before the first sync. */
  readonly issuedAt: string | null;
  /** Hours since the signed issue time, to one decimal; null before the first sync. */
  readonly ageHours: number | null;
  readonly maxAgeHours: number;
  /** ISO 8601: when the acquirer said the next version is due (null: not said, or never synced). */
  readonly nextUpdate: string | null;
  /** ISO 8601: when this terminal stored it. */
  readonly fetchedAt: string | null;
  /** Past maxAgeHours or never synced: payments above the floor are declined. */
  readonly stale: boolean;
}

export function hotlistFreshness(
  hotlist: Pick<HotlistStore, "info">,
  policy: HotlistPolicy,
  now: number,
): HotlistFreshness {
  const info = hotlist.info();
  if (!info)
    return {
      version: null,
      issuedAt: null,
      ageHours: null,
      maxAgeHours: policy.maxAgeHours,
      nextUpdate: null,
      fetchedAt: null,
      stale: true,
    };
  const age = (now - info.issuedAt * 1000) / HOUR_MS;
  return {
    version: info.version,
    issuedAt: new Date(info.issuedAt * 1000).toISOString(),
    ageHours: Math.round(age * 10) / 10,
    maxAgeHours: policy.maxAgeHours,
    nextUpdate: info.nextUpdate === undefined ? null : new Date(info.nextUpdate * 1000).toISOString(),
    fetchedAt: new Date(info.fetchedAt).toISOString(),
    stale: age > policy.maxAgeHours,
  };
}

/**
 * A decline (TERM_ERR_HOTLIST_STALE) when the terminal holds no hotlist, or one older than the
 * policy's maximum age by its signed issue time, and the amount is above the currency's floor.
 * A terminal that cannot tell whether a wallet was reported lost only risks the floor.
 */
export function checkHotlist(
  hotlist: Pick<HotlistStore, "info">,
  policy: HotlistPolicy,
  request: PaymentRequest,
  now: number,
): TerminalError | undefined {
  const floor = policy.floors.get(request.currency) ?? 0;
  if (request.amount <= floor) return undefined;
  const f = hotlistFreshness(hotlist, policy, now);
  if (!f.stale) return undefined;
  const why =
    f.version === null
      ? "this terminal has no hotlist yet"
      : `the hotlist (version ${f.version}) is ${Math.floor(f.ageHours ?? 0)} h old (limit ${policy.maxAgeHours} h)`;
  return new TerminalError(
    "TERM_ERR_HOTLIST_STALE",
    `${why}: run posd sync before taking offline payments above the floor`,
    {
      details: {
        version: f.version,
        ageHours: f.ageHours,
        maxAgeHours: policy.maxAgeHours,
        floor,
        currency: request.currency,
      },
    },
  );
}
