/**
 * What the card-emulator CLI prints: `show` as a table or JSON. The private key never appears here,
 * not even encrypted.
 */
import { currencyByNumeric, formatMoney } from "../protocol/amount.js";
import { decodeRecord } from "../protocol/wallet/records.js";
import type { CardLogEntry, CardState } from "./applet/state.js";

const TYPE_NAMES: Record<number, string> = {
  1: "debit",
  2: "load",
  3: "load reversal",
  4: "parameters",
  5: "block",
  6: "unblock",
};

const BLOCK_REASONS: Record<number, string> = { 0: "other", 1: "lost", 2: "stolen", 3: "fraud", 4: "clone" };

export function money(minor: number, currency: number): string {
  try {
    return formatMoney(minor, currencyByNumeric(currency));
  } catch {
    return `${minor} (currency ${currency})`;
  }
}

function time(unix: number | undefined): string | null {
  return unix === undefined ? null : new Date(unix * 1000).toISOString();
}

function entryJson(e: CardLogEntry): Record<string, unknown> {
  let recordTime: string | null = null;
  let balanceAfter: number | null = null;
  try {
    const r = decodeRecord(new Uint8Array(Buffer.from(e.record, "hex")));
    recordTime = time(r.time);
    balanceAfter = r.balanceAfter;
  } catch {
    // shown without the decoded fields
  }
  return {
    counter: e.counter,
    type: TYPE_NAMES[e.type] ?? String(e.type),
    amount: e.amount,
    balanceAfter,
    terminalId: e.terminalId || null,
    terminalSeq: e.terminalSeq,
    time: recordTime,
    ...(e.loadId ? { loadId: e.loadId } : {}),
    ...(e.reversed ? { reversed: true } : {}),
  };
}

/** The card as `show --json` prints it: amounts in minor units, no key material. */
export function stateJson(s: Readonly<CardState>, last: number): Record<string, unknown> {
  return {
    walletId: s.walletId,
    currency: s.currency,
    balance: s.balance,
    balanceText: money(s.balance, s.currency),
    counter: s.counter,
    blocked: s.blocked,
    blockReason: s.blockReason === undefined ? null : (BLOCK_REASONS[s.blockReason] ?? String(s.blockReason)),
    limits: s.limits,
    policy: {
      validFrom: time(s.policy.validFrom),
      validTo: time(s.policy.validTo),
      regions: s.policy.regions,
      categories: s.policy.categories,
    },
    highWaterTime: s.highWaterTime === 0 ? null : time(s.highWaterTime),
    cachedCas: s.cachedCas.length,
    logEntries: s.log.length,
    log: s.log.slice(-last).reverse().map(entryJson),
  };
}

/** The card as a human table. */
export function stateText(s: Readonly<CardState>, last: number): string {
  const m = (n: number) => money(n, s.currency);
  const lines = [
    `wallet       ${s.walletId}${s.blocked ? `   BLOCKED (${BLOCK_REASONS[s.blockReason ?? 0] ?? s.blockReason})` : ""}`,
    `balance      ${m(s.balance)}   (${s.balance} minor units)`,
    `counter      ${s.counter}`,
    `limits       single ${m(s.limits.singleLimit)}   balance ${m(s.limits.balanceLimit)}   auto-load ${m(s.limits.autoLoadAmount)} below ${m(s.limits.autoLoadThreshold)}`,
    `policy       valid ${time(s.policy.validFrom) ?? "−∞"} → ${time(s.policy.validTo) ?? "∞"}   regions ${s.policy.regions.join(",") || "any"}   categories ${s.policy.categories.join(",") || "any"}`,
    `log          ${s.log.length} entries${s.log.length ? `, last ${Math.min(last, s.log.length)}:` : ""}`,
  ];
  for (const e of s.log.slice(-last).reverse()) {
    const j = entryJson(e);
    const where = e.terminalId ? `${e.terminalId} #${e.terminalSeq}` : "issuer";
    const extra = e.reversed ? "  (reversed)" : "";
    lines.push(
      `  #${String(e.counter).padEnd(6)} ${String(j.type).padEnd(13)} ${m(e.amount).padStart(14)}  → ${j.balanceAfter === null ? "?" : m(j.balanceAfter as number)}  ${where}  ${j.time ?? ""}${extra}`,
    );
  }
  return lines.join("\n");
}
