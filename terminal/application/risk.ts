/**
 * Offline risk limits (what field terminals cap: stored value, stored count, time offline). Past a
 * limit the terminal declines new offline payments until an upload succeeds. The limits come from
 * the configuration (terminal/composition/root.ts reads them); the exposure from the RiskView port.
 */
import { TerminalError } from "../errors.js";
import type { RiskView } from "./ports.js";
import type { PaymentRequest } from "./run-payment.js";

export interface RiskLimits {
  readonly maxOfflineAmount?: number;
  /** ISO numeric currency the amount limit is in. */
  readonly currency: number;
  readonly maxOfflineRecords?: number;
  readonly maxOfflineHours?: number;
}

export interface RiskState {
  readonly records: number;
  readonly amount: number;
  readonly oldestAt: number | undefined;
  readonly hoursOffline: number;
}

export function riskState(view: RiskView, limits: RiskLimits, now: number): RiskState {
  const exposure = view.offlineExposure();
  const amount = exposure.byCurrency.find((c) => c.currency === limits.currency)?.amount ?? 0;
  return {
    records: exposure.count,
    amount,
    oldestAt: exposure.oldestAt,
    hoursOffline: exposure.oldestAt === undefined ? 0 : (now - exposure.oldestAt) / 3_600_000,
  };
}

/** A decline (TERM_ERR_RISK_LIMIT) when this payment would pass a limit, else undefined. */
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
  if (
    limits.maxOfflineAmount !== undefined &&
    request.currency === limits.currency &&
    s.amount + request.amount > limits.maxOfflineAmount
  ) {
    return new TerminalError(
      "TERM_ERR_RISK_LIMIT",
      `the value not yet uploaded would pass the offline limit: ${upload}`,
      {
        details: { limit: "amount", current: s.amount, max: limits.maxOfflineAmount },
      },
    );
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
