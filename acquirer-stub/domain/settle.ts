/**
 * Settlement, reconciliation and ledger views, pure: the database hands over rows, these functions
 * shape them. Amounts stay integers in minor units; text is made with protocol/amount.ts.
 */

import { type Currency, currencyByNumeric, formatAmount, MAX_AMOUNT_MINOR } from "../../protocol/amount.js";
import { type FraudSection, renderFraud } from "./fraud.js";
import type { Difference } from "./verify.js";

export interface Range {
  readonly from: number;
  readonly to: number;
}

/**
 * Missing numbers between the smallest and the largest of `sorted` (ascending, distinct): the
 * wallet counters (or terminal seqs) the acquirer has not seen yet. A gap is outstanding, not an
 * error: those records are still on some terminal, or were online operations (loads) that do not
 * reach the acquirer through terminal batches.
 */
export function gaps(sorted: readonly number[]): Range[] {
  const out: Range[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur > prev + 1) out.push({ from: prev + 1, to: cur - 1 });
  }
  return out;
}

export function formatRanges(ranges: readonly Range[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(", ");
}

function currencyOf(numeric: number): Currency | undefined {
  try {
    return currencyByNumeric(numeric);
  } catch {
    return undefined;
  }
}

/** ISO 4217 alpha code, or the numeric code as text for a currency tapwallet does not know. */
export function currencyCode(numeric: number): string {
  return currencyOf(numeric)?.code ?? String(numeric).padStart(3, "0");
}

/**
 * Decimal text of a total in minor units. formatAmount for anything a single amount can be; a sum
 * above that (only totals can be) is split into digits the same way, never through floats.
 */
export function formatTotal(minor: number, numericCurrency: number): string {
  const c = currencyOf(numericCurrency);
  if (!c) return `${minor} (minor units)`;
  if (minor <= MAX_AMOUNT_MINOR) return formatAmount(minor, c);
  if (c.exponent === 0) return String(minor);
  const digits = String(minor);
  return `${digits.slice(0, -c.exponent)}.${digits.slice(-c.exponent)}`;
}

export interface SettlementLine {
  readonly merchantId: string;
  readonly currency: number;
  readonly currencyCode: string;
  readonly count: number;
  readonly amount: number;
  /** Decimal text of `amount` ("1234.50"). */
  readonly amountText: string;
  /** Refunds of returned goods settled that day (UTC date of their settlement), paid by the merchant. */
  readonly refundCount: number;
  readonly refunds: number;
  readonly refundsText: string;
  /** What the merchant is owed for the day: amount − refunds (negative: the merchant owes). */
  readonly net: number;
  readonly netText: string;
}

export function settlementLine(row: {
  merchantId: string;
  currency: number;
  count: number;
  amount: number;
  refundCount?: number;
  refunds?: number;
}): SettlementLine {
  const refunds = row.refunds ?? 0;
  const net = row.amount - refunds;
  return {
    merchantId: row.merchantId,
    currency: row.currency,
    currencyCode: currencyCode(row.currency),
    count: row.count,
    amount: row.amount,
    amountText: formatTotal(row.amount, row.currency),
    refundCount: row.refundCount ?? 0,
    refunds,
    refundsText: formatTotal(refunds, row.currency),
    net,
    netText: `${net < 0 ? "-" : ""}${formatTotal(Math.abs(net), row.currency)}`,
  };
}

export interface BatchReconciliation {
  readonly batchId: string;
  readonly terminalId: string;
  readonly merchantId: string;
  /** ISO time the acquirer stored the batch. */
  readonly receivedAt: string;
  readonly status: "settled" | "rejected";
  readonly reason?: string;
  readonly accepted: number;
  readonly rejected: number;
  readonly differences: readonly Difference[];
}

export interface SettlementReport {
  /** Business day (UTC date of the records' terminal time). */
  readonly date: string;
  /**
   * Accepted debits per merchant and currency with a terminal time on that day, and the refunds
   * settled that day, netted: what each merchant is owed.
   */
  readonly settlement: readonly SettlementLine[];
  /**
   * Every batch with records of that day (and batches received that day with none, such as those
   * rejected as a whole), with each difference between its manifest and what was accepted.
   */
  readonly reconciliation: readonly BatchReconciliation[];
  /** Wallets with records on that day whose counters have gaps (records still on some terminal). */
  readonly outstandingCounters: readonly { walletId: string; gaps: readonly Range[] }[];
  /** Terminals with records on that day whose seqs have gaps (entries not uploaded yet). */
  readonly outstandingSeqs: readonly { terminalId: string; gaps: readonly Range[] }[];
  /** Clones detected on that day. */
  readonly clones: readonly {
    walletId: string;
    cardCounter: number;
    detectedAt: string;
    firstBatchId: string;
    cloneBatchId: string;
  }[];
  /** Wallets blocked as fraud, and who bears the day's debits dated after a block (fraud.ts). */
  readonly fraud: FraudSection;
}

export const DATE_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** A calendar date YYYY-MM-DD that exists (not 2026-02-30). */
export function isCalendarDate(text: string): boolean {
  if (!DATE_RE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/** Readable text of a report, for the CLI (amounts via formatTotal, never floats). */
export function renderReport(r: SettlementReport): string {
  const lines: string[] = [`Settlement for business day ${r.date} (UTC)`, ""];
  if (r.settlement.length === 0) lines.push("  no accepted records");
  else {
    const rows = r.settlement.map((s) => [
      s.merchantId,
      s.currencyCode,
      String(s.count),
      s.amountText,
      s.refundCount === 0 ? "" : `${s.refundCount} for ${s.refundsText}`,
      s.netText,
    ]);
    lines.push(
      ...table(["merchant", "currency", "count", "amount", "refunds", "net"], rows, [
        false,
        false,
        true,
        true,
        true,
        true,
      ]),
    );
  }
  lines.push("", "Reconciliation of the batches carrying that day", "");
  if (r.reconciliation.length === 0) lines.push("  no batches");
  for (const b of r.reconciliation) {
    const verdict = b.status === "settled" ? "settled" : `REJECTED ${b.reason ?? ""}`;
    lines.push(
      `  ${b.batchId}  ${b.terminalId}/${b.merchantId}  ${verdict}  accepted ${b.accepted}, rejected ${b.rejected}` +
        (b.differences.length === 0 ? "  (no differences)" : ""),
    );
    for (const d of b.differences) lines.push(`    - ${describeDifference(d)}`);
  }
  lines.push("", "Outstanding (gaps, not errors)", "");
  if (r.outstandingCounters.length === 0 && r.outstandingSeqs.length === 0) lines.push("  none");
  for (const w of r.outstandingCounters)
    lines.push(`  wallet ${w.walletId}: counters ${formatRanges(w.gaps)}`);
  for (const t of r.outstandingSeqs) lines.push(`  terminal ${t.terminalId}: seqs ${formatRanges(t.gaps)}`);
  if (r.clones.length > 0) {
    lines.push("", "Clones detected (wallets blocked)", "");
    for (const c of r.clones)
      lines.push(
        `  wallet ${c.walletId} counter ${c.cardCounter}: batch ${c.firstBatchId} and batch ${c.cloneBatchId}`,
      );
  }
  lines.push(...renderFraud(r.fraud));
  return `${lines.join("\n")}\n`;
}

export function describeDifference(d: Difference): string {
  switch (d.kind) {
    case "currency-total": {
      const code = currencyCode(d.currency);
      return (
        `${code}: manifest ${d.manifestCount} for ${formatTotal(d.manifestAmount, d.currency)}, ` +
        `accepted ${d.acceptedCount} for ${formatTotal(d.acceptedAmount, d.currency)}`
      );
    }
    case "record-count":
      return `record count: manifest ${d.manifest}, uploaded ${d.uploaded}`;
    case "first-seq":
    case "last-seq":
      return `${d.kind}: manifest ${d.manifest}, uploaded ${d.uploaded}`;
    case "rejected-record": {
      const money =
        d.amount !== undefined && d.currency !== undefined
          ? ` ${formatTotal(d.amount, d.currency)} ${currencyCode(d.currency)}`
          : "";
      const wallet = d.walletId !== undefined ? ` wallet ${d.walletId} counter ${d.cardCounter}` : "";
      return `seq ${d.seq} rejected ${d.reason}${wallet}${money}`;
    }
  }
}

/** Aligned text columns under a header (`right`: right-aligned columns), each line indented 2. */
export function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) =>
    `  ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ")}`.trimEnd();
  return [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...rows.map(fmt)];
}
