/**
 * The JSON form of a record and of a payment outcome: what the cash register's API answers, what
 * `posd pay --json` prints, and what an ECR payment keeps as its outcome across restarts. A
 * format others read, so a field once published stays.
 */
import { currencyByNumeric, formatMoney } from "../../protocol/amount.js";
import { hex } from "../../protocol/bytes.js";
import type { StoredTransaction } from "../domain/records.js";
import type { PaymentOutcome } from "./run-payment.js";

/** Minor units as text in their currency ("4.50 EUR"), or the raw numbers for an unknown currency. */
export function money(minor: number, currency: number): string {
  try {
    return formatMoney(minor, currencyByNumeric(currency));
  } catch {
    return `${minor} (currency ${currency})`;
  }
}

export function transactionJson(t: StoredTransaction): Record<string, unknown> {
  return {
    seq: t.seq,
    status: t.status,
    walletId: t.walletId,
    amount: t.amount,
    currency: t.currency,
    amountText: money(t.amount, t.currency),
    terminalTime: new Date(t.terminalTime * 1000).toISOString(),
    reference: t.reference ?? null,
    resolution: t.resolution ?? null,
    cardCounter: t.cardCounter ?? null,
    balanceAfter: t.balanceAfter ?? null,
    chainIndex: t.chainIndex ?? null,
    cardRecord: t.cardRecord ? hex(t.cardRecord) : null,
    cardSignature: t.cardSignature ? hex(t.cardSignature) : null,
    terminalSignature: t.terminalSignature ? hex(t.terminalSignature) : null,
    chainHash: t.chainHash ? hex(t.chainHash) : null,
    batchId: t.batchId ?? null,
    upload: t.uploadStatus ? { status: t.uploadStatus, reason: t.uploadReason ?? null } : null,
  };
}

export function outcomeJson(o: PaymentOutcome): Record<string, unknown> {
  // autoLoad: present only when the tap ran (or skipped) an automatic load; the amounts as minor units.
  const base = {
    status: o.status,
    recovered: o.recovered,
    stats: o.stats,
    ...(o.autoLoad ? { autoLoad: o.autoLoad } : {}),
    // online: present only when the platform had this tap settle loads in doubt or deliver commands.
    ...(o.online ? { online: o.online } : {}),
  };
  if (o.status === "approved") return { ...base, walletId: o.walletId, record: transactionJson(o.record) };
  return {
    ...base,
    code: o.code,
    message: o.message,
    walletId: o.walletId ?? null,
    seq: "seq" in o ? (o.seq ?? null) : null,
  };
}
