/**
 * The CLI's output layer: human lines on a terminal, one JSON document with --json. Exit codes:
 * 0 approved / ok, 1 error, 2 usage, 3 declined by the card or policy, 4 torn (payment pending
 * until the same wallet is presented again).
 */
import { currencyByNumeric, formatMoney } from "../protocol/amount.js";
import { hex } from "../protocol/bytes.js";
import type { StoredTransaction } from "./adapters/sqlite/record-store.js";
import type { PaymentOutcome } from "./application/run-payment.js";

export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, DECLINED: 3, TORN: 4 } as const;

export function money(minor: number, currency: number): string {
  try {
    return formatMoney(minor, currencyByNumeric(currency));
  } catch {
    return `${minor} (currency ${currency})`;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
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
  const base = { status: o.status, recovered: o.recovered, stats: o.stats };
  if (o.status === "approved") return { ...base, walletId: o.walletId, record: transactionJson(o.record) };
  return {
    ...base,
    code: o.code,
    message: o.message,
    walletId: o.walletId ?? null,
    seq: "seq" in o ? (o.seq ?? null) : null,
  };
}

export function exitCodeFor(o: PaymentOutcome): number {
  switch (o.status) {
    case "approved":
      return EXIT.OK;
    case "declined":
      return EXIT.DECLINED;
    case "torn":
      return EXIT.TORN;
    default:
      return EXIT.ERROR;
  }
}

export function printOutcome(o: PaymentOutcome): void {
  for (const r of o.recovered) {
    const what = {
      complete: "recovered (charged)",
      voided: "voided (never charged)",
      unresolved: "still unresolved",
    }[r.outcome];
    process.stdout.write(`  earlier torn payment seq ${r.seq}: ${what}\n`);
  }
  if (o.status === "approved") {
    const r = o.record;
    process.stdout.write(
      `APPROVED  ${money(r.amount, r.currency)}  wallet ${o.walletId}  seq ${r.seq}  card counter ${r.cardCounter}  balance ${money(r.balanceAfter ?? 0, r.currency)}\n`,
    );
    return;
  }
  const label = { declined: "DECLINED", torn: "TORN", error: "ERROR" }[o.status];
  const who = o.walletId ? `  wallet ${o.walletId}` : "";
  process.stdout.write(`${label}  ${o.message} [${o.code}]${who}\n`);
}

export function printRecords(rows: readonly StoredTransaction[]): void {
  if (rows.length === 0) {
    process.stdout.write("no records\n");
    return;
  }
  const lines = [["seq", "status", "wallet", "amount", "counter", "time", "batch", "note"]];
  for (const t of rows) {
    const upload = t.uploadStatus ? `${t.uploadStatus}${t.uploadReason ? ` (${t.uploadReason})` : ""}` : "";
    lines.push([
      String(t.seq),
      t.status,
      t.walletId,
      money(t.amount, t.currency),
      t.cardCounter === undefined ? "" : String(t.cardCounter),
      new Date(t.terminalTime * 1000).toISOString().replace("T", " ").slice(0, 19),
      t.batchId ? t.batchId.slice(0, 8) : "",
      upload || (t.status === "complete" ? (t.resolution ?? "") : (t.resolution ?? "")),
    ]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines)
    process.stdout.write(
      `${l
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd()}\n`,
    );
}
