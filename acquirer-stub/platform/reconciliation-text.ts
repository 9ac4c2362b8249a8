/**
 * The platform's reconciliation as text, for `acquirer-stub report` (pure). Amounts are exact
 * integers printed with formatMoney ("12.50 EUR"); a negative one gets a minus sign, a sum above
 * the largest single amount is split into digits the same way (formatTotal), never through floats.
 */
import { currencyByNumeric, formatMoney, MAX_AMOUNT_MINOR } from "../../protocol/amount.js";
import { currencyCode, formatTotal, table } from "../domain/settle.js";
import { bankNumberOf } from "./accounts.js";
import type { CountAmount, PlatformDifference, PlatformReconciliation } from "./reconciliation.js";

/** Signed money with its currency code: "12.50 EUR", "-12.50 EUR". */
export function money(minor: number, currency: number): string {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  let known = true;
  try {
    currencyByNumeric(currency);
  } catch {
    known = false;
  }
  if (!known) return `${sign}${abs} (minor units of currency ${currencyCode(currency)})`;
  if (abs <= MAX_AMOUNT_MINOR) return `${sign}${formatMoney(abs, currencyByNumeric(currency))}`;
  return `${sign}${formatTotal(abs, currency)} ${currencyCode(currency)}`;
}

const signedMoney = (minor: number, currency: number) => `${minor > 0 ? "+" : ""}${money(minor, currency)}`;
const counted = (c: CountAmount, currency: number) => `${c.count} for ${money(c.amount, currency)}`;

/** One difference in words: what differs, expected, actual, and by how much. */
export function describePlatformDifference(d: PlatformDifference): string {
  const m = (x: number) => money(x, d.currency);
  const by = `difference ${signedMoney(d.difference, d.currency)}`;
  switch (d.kind) {
    case "account":
      return `${d.subject}: its operations book ${m(d.expected)}, its entries sum to ${m(d.actual)}, ${by}`;
    case "bank-balance":
      return (
        `bank account ${bankNumberOf(d.subject) ?? d.subject}: deposits − loads + reversals = ${m(d.expected)}, ` +
        `its balance column says ${m(d.actual)}, ${by}`
      );
    case "bank-held":
      return (
        `bank account ${bankNumberOf(d.subject) ?? d.subject}: its holds still held sum to ${m(d.expected)}, ` +
        `its held column says ${m(d.actual)}, ${by}`
      );
    case "consumption":
      return (
        `consumption in ${currencyCode(d.currency)}: the acquirer settled ${m(d.expected)} of issued wallets, ` +
        `the platform booked ${m(d.actual)}, ${by}`
      );
    case "refunds":
      return (
        `refunds in ${currencyCode(d.currency)}: the acquirer settled ${m(d.expected)} for issued wallets, ` +
        `the platform credited ${m(d.actual)} to online accounts, ${by}`
      );
    case "debit-currency":
      return (
        `${d.subject}: ${m(d.expected)} of settled debits in another currency than the wallet's, ` +
        `booked ${m(d.actual)}, ${by}`
      );
    case "booking-sum":
      return `booking ${d.subject}: its entries sum to ${m(d.actual)} instead of ${m(d.expected)}, ${by}`;
    case "booking-amount":
      return `booking ${d.subject}: books ${m(d.expected)}, its entries move ${m(d.actual)}, ${by}`;
  }
}

/** The platform section of the report, after the settlement. */
export function renderReconciliation(r: PlatformReconciliation): string {
  const lines: string[] = [
    "Wallet platform: reconciliation of every account (all business days, one snapshot)",
    "",
    "Consumption the acquirer settled, forwarded to the platform",
    "",
  ];
  if (r.consumption.length === 0) lines.push("  no accepted debits");
  else
    lines.push(
      ...table(
        ["currency", "settled (issued wallets)", "booked (debit:*)", "not on the platform (not booked)"],
        r.consumption.map((c) => [
          currencyCode(c.currency),
          counted(c.settled, c.currency),
          counted(c.booked, c.currency),
          counted(c.notOnPlatform, c.currency),
        ]),
        [false, true, true, true],
      ),
    );

  lines.push("", "Refunds of returned goods the acquirer settled, credited to online accounts", "");
  if (r.refunds.length === 0) lines.push("  no refunds");
  else
    lines.push(
      ...table(
        ["currency", "settled (issued wallets)", "credited (refund:*)"],
        r.refunds.map((f) => [
          currencyCode(f.currency),
          counted(f.settled, f.currency),
          counted(f.booked, f.currency),
        ]),
        [false, true, true],
      ),
    );

  lines.push("", "Teller drawers: cash taken in by loads − paid out by reversals = −(drawer balance)", "");
  if (r.drawers.length === 0) lines.push("  no cash loads");
  else
    lines.push(
      ...table(
        ["teller", "taken in", "paid out", "drawer balance"],
        r.drawers.map((d) => [
          d.teller,
          money(d.takenIn, d.currency),
          money(d.paidOut, d.currency),
          money(d.balance, d.currency),
        ]),
        [false, true, true, true],
      ),
    );

  lines.push("", "Bank accounts: opening deposit − loads + reversals = balance; held = holds still held", "");
  if (r.bankAccounts.length === 0) lines.push("  no bank accounts");
  else
    lines.push(
      ...table(
        ["account", "deposit", "loads", "reversals", "balance", "held", "holds held"],
        r.bankAccounts.map((a) => [
          a.number,
          money(a.deposits, a.currency),
          money(a.loads, a.currency),
          money(a.reversals, a.currency),
          money(a.balance, a.currency),
          money(a.held, a.currency),
          money(a.holds, a.currency),
        ]),
        [false, true, true, true, true, true, true],
      ),
    );

  lines.push(
    "",
    "Wallets: opening + loads − reversals − settled consumption = offline account; refunds go online",
    "",
  );
  if (r.wallets.length === 0) lines.push("  no wallets on the platform");
  else
    lines.push(
      ...table(
        ["wallet", "opening", "loads", "reversals", "consumption", "offline", "refunds", "online"],
        r.wallets.map((w) => [
          w.walletId,
          money(w.opening, w.currency),
          money(w.loads, w.currency),
          money(w.reversals, w.currency),
          money(w.consumption, w.currency),
          money(w.offline, w.currency),
          money(w.refunds, w.currency),
          money(w.online, w.currency),
        ]),
        [false, true, true, true, true, true, true, true],
      ),
    );

  lines.push("", "Loads in flight (pending: nothing booked until the card's record, or its 930E)", "");
  if (r.pendingLoads.length === 0) lines.push("  none");
  for (const l of r.pendingLoads) {
    const source = l.account
      ? ` from bank account ${l.account} (held)`
      : l.teller
        ? ` at teller ${l.teller}`
        : "";
    lines.push(
      `  ${l.loadId}  wallet ${l.walletId}  ${l.type} ${money(l.amount, l.currency)}${source}  ` +
        `terminal ${l.terminalId}, signed ${new Date(l.issuedAt * 1000).toISOString()}`,
    );
  }

  lines.push("", "Differences", "");
  if (r.differences.length === 0) lines.push("  no differences");
  for (const d of r.differences) lines.push(`  - ${describePlatformDifference(d)}`);
  return `${lines.join("\n")}\n`;
}
