/**
 * The CLI's output layer: human lines on a terminal, one JSON document with --json. Exit codes
 * are the catalog's (terminal/errors.ts EXIT_CODES): 0 approved / ok, 1 error, 2 usage, 3 declined
 * by the card or policy, 4 torn (payment pending until the same wallet is presented again).
 */
import { COMMAND_NAME, type DeliveredCommand } from "./application/issuer-commands.js";
import { money } from "./application/outcome-json.js";
import { refundState } from "./application/refund.js";
import type { SettledLoad } from "./application/run-load.js";
import type { PaymentOutcome } from "./application/run-payment.js";
import type { TerminalStatus } from "./application/status.js";
import type { StoredTransaction } from "./domain/records.js";
import type { StoredRefund } from "./domain/refunds.js";
import { EXIT_CODES } from "./errors.js";

export const EXIT = {
  OK: EXIT_CODES.ok,
  ERROR: EXIT_CODES.error,
  USAGE: EXIT_CODES.usage,
  DECLINED: EXIT_CODES.decline,
  TORN: EXIT_CODES.torn,
} as const;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
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

/** What an online presentation settled, one line per load in doubt. */
export function settledLines(settled: readonly SettledLoad[]): string[] {
  return settled.map(
    (s) =>
      `settled load ${s.loadId} (${money(s.amount, s.currency)}): ${
        s.outcome === "voided" ? "voided, it never reached the card" : "reversed, the card gave it back"
      }`,
  );
}

/** The issuer commands an online presentation delivered, one line each. */
export function deliveredLines(delivered: readonly DeliveredCommand[] | undefined): string[] {
  return (delivered ?? []).map(
    (d) =>
      `delivered ${COMMAND_NAME[d.kind]} (command ${d.commandId}): the card's record #${d.cardCounter} ${
        d.confirmed
          ? "is the platform's receipt"
          : "was not taken by the platform: it is delivered again next time"
      }`,
  );
}

export function printOutcome(o: PaymentOutcome): void {
  for (const r of o.recovered) {
    const what = {
      complete: "recovered (charged)",
      voided: "voided (never charged)",
      unresolved: "still unresolved",
    }[r.outcome];
    const why = r.reason ? ` (${r.reason}; the acquirer settles it after the next upload)` : "";
    process.stdout.write(`  earlier torn payment seq ${r.seq}: ${what}${why}\n`);
  }
  for (const line of [...settledLines(o.online?.settled ?? []), ...deliveredLines(o.online?.delivered)])
    process.stdout.write(`  ${line}\n`);
  const currency = o.status === "approved" ? o.record.currency : undefined;
  if (o.autoLoad?.status === "loaded")
    process.stdout.write(
      `  auto-load ${currency === undefined ? o.autoLoad.amount : money(o.autoLoad.amount, currency)} from the bound account first (load ${o.autoLoad.loadId}): card balance ${currency === undefined ? o.autoLoad.balanceAfter : money(o.autoLoad.balanceAfter, currency)}\n`,
    );
  else if (o.autoLoad) process.stdout.write(`  auto-load skipped: ${o.autoLoad.reason}\n`);
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

export function printRecords(
  rows: readonly StoredTransaction[],
  refunds: ReadonlyMap<number, readonly StoredRefund[]> = new Map(),
): void {
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
    for (const r of refunds.get(t.seq) ?? [])
      lines.push([
        "",
        "refund",
        `#${r.refundId}`,
        `-${money(r.amount, r.currency)}`,
        "",
        new Date(r.createdAt * 1000).toISOString().replace("T", " ").slice(0, 19),
        r.batchId ? r.batchId.slice(0, 8) : "",
        `${refundState(r)}${r.uploadReason ? ` (${r.uploadReason})` : ""}`,
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

/** `posd status` as text, one string per line (∞ for a limit not configured). */
export function formatStatus(s: TerminalStatus): string[] {
  const { counts, limits: l } = s;
  return [
    `terminal     ${s.terminalId}   merchant ${s.merchantId}   MCC ${s.merchantCategory}   region ${s.region}`,
    `certificate  valid until ${s.certificate.notAfter} (${s.certificate.daysLeft} days left)`,
    `last seq     ${s.lastSeq}   complete ${counts.complete}   voided ${counts.voided}   pending ${counts.pending}`,
    ...s.pending.map(
      (p) =>
        `  pending    seq ${p.seq}  wallet ${p.walletId}  ${p.amount} ${p.unresolved ? `(unresolved: ${p.unresolved}; the acquirer settles it after the next upload)` : "(resolved when the wallet is presented again)"}`,
    ),
    ...s.loadsInDoubt.map(
      (l) =>
        `  load in doubt  ${l.loadId}  wallet ${l.walletId}  ${l.amount} ${l.type}${l.teller ? ` (teller ${l.teller})` : ""} since ${l.since} ${l.recordKept ? "(the card has it: handed over at the next online session)" : "(settled when the wallet is presented at an online terminal)"}`,
    ),
    ...s.refundsOutstanding.map(
      (r) =>
        `  refund     ${r.refundId}  seq ${r.seq}  wallet ${r.walletId}  ${r.amount}  ${r.state === "pending" ? "(pending at the acquirer until its payment settles)" : r.state === "sent" ? "(sent; settled at the acquirer's answer)" : "(goes up with the next upload)"}`,
    ),
    `unbatched    ${s.unbatched.count} records${s.unbatched.totals.map((t) => `   ${t.amount} (${t.count})`).join("")}`,
    `last upload  ${s.lastUpload ?? "never"}`,
    `limits       ${l.offlineRecords.current}/${l.offlineRecords.max ?? "∞"} records   ${l.offlineAmount.current}/${l.offlineAmount.max ?? "∞"}${l.offlineAmounts.map((a) => `   ${a.current}/${a.max}`).join("")}   ${l.offlineHours.current}/${l.offlineHours.max ?? "∞"} h offline`,
    `hotlist      ${hotlistLine(s.hotlist)}`,
    ...(s.attention
      ? [
          `attention    ${s.attention.wallets} wallet${s.attention.wallets === 1 ? "" : "s"} the platform has work for (fetched ${s.attention.fetchedAt}): presented to it before the debit`,
        ]
      : []),
    ...s.warnings.map((w) => `warning      ${w}`),
  ];
}

function hotlistLine(h: TerminalStatus["hotlist"]): string {
  if (h.version === null) return "none (never synced): payments above the floor are declined until posd sync";
  const age = `${h.ageHours} h old, max ${h.maxAgeHours} h`;
  const stale = h.stale ? "; STALE: payments above the floor are declined until posd sync" : "";
  return `version ${h.version} issued ${h.issuedAt} (${age})${stale}`;
}
