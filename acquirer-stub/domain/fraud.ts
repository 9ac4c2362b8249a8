/**
 * The fraud section of the daily report (issue 14): the wallets on the hotlist for fraud or as
 * clones, and who bears the loss of the business day's debits dated after their wallet's block
 * (domain/block-binding.ts): the issuer for those accepted inside the grace period, the terminal
 * for those rejected after it (ACQ_ERR_WALLET_BLOCKED: it took them with a hotlist too old).
 * Then what is still open however old the day: card counters no record, load or reversal has
 * filled for more than the report's `gapDays` (a debit never uploaded, or a torn one), and the
 * torn intents terminals could not resolve. Ages are measured to the report's clock (`now`,
 * given by the caller), never to this machine's.
 */
import { currencyCode, formatRanges, formatTotal, gaps } from "./settle.js";

export interface FraudLoss {
  readonly party: "issuer" | "terminal";
  readonly walletId: string;
  /** The terminal that took the debits. */
  readonly terminalId: string;
  readonly currency: number;
  readonly count: number;
  /** Minor units. */
  readonly amount: number;
  readonly amountText: string;
}

/** What the platform's shadow balance can catch (platform/store/shadow-balance.ts). */
export const FRAUD_KINDS = ["overspent", "counter-jump", "balance-break"] as const;
export type FraudKind = (typeof FRAUD_KINDS)[number];

/** Evidence of a forged or cloned wallet (platform/store/shadow-balance.ts), on one record. */
export interface FraudEvidence {
  readonly walletId: string;
  readonly kind: FraudKind;
  readonly terminalId: string;
  readonly batchId: string;
  readonly seq: number;
  readonly cardCounter: number;
  /**
   * Minor units: spent beyond the loads (overspent), the record's amount (counter-jump), 0 for a
   * balance-break (its money is counted by the overspent evidence when it is spent).
   */
  readonly exposure: number;
  readonly currency: number;
  readonly detail: string;
}

/** Evidence as the day's report shows it. */
export interface FraudEvidenceLine extends FraudEvidence {
  readonly exposureText: string;
  /** ISO 8601: when it was caught. */
  readonly at: string;
}

/** How long a counter gap may stay open before the report names it (`report --gap-days`). */
export const DEFAULT_GAP_DAYS = 7;

const DAY_SECONDS = 86_400;

/**
 * A card counter the back office knows of a wallet: an accepted record's (with its balance), a
 * completed load's, a completed reversal's or a delivered issuer command's (no balance column).
 */
export interface KnownCounter {
  readonly walletId: string;
  readonly cardCounter: number;
  readonly source: "record" | "load" | "reversal" | "command";
  /** Unix seconds: a record's terminal time, a load's or reversal's completion, a command's delivery. */
  readonly at: number;
  /** A record's: its balance after, amount (minor units) and currency. */
  readonly balanceAfter?: number;
  readonly amount?: number;
  readonly currency?: number;
}

/** Counters missing between two known ones of a wallet, open longer than the report allows. */
export interface OpenCounterGap {
  readonly walletId: string;
  readonly from: number;
  readonly to: number;
  /** Counter ranges as text ("2-3"). */
  readonly countersText: string;
  /** The known counter just above the gap: the age runs from its time. */
  readonly above: {
    readonly cardCounter: number;
    readonly source: KnownCounter["source"];
    readonly at: string;
  };
  /** Whole days from the counter above to the report's clock. */
  readonly ageDays: number;
  /**
   * When both neighbours are records of one currency: what the missing counters took from the
   * balance, the balance after the record below less the balance before the record above
   * (its balance after plus its amount). Minor units; negative: the gap raised it (a load).
   */
  readonly balanceDrop?: { readonly amount: number; readonly currency: number; readonly text: string };
}

/** An open torn intent a terminal could not resolve (db/unresolved-intents.ts), as the report shows it. */
export interface UnresolvedIntentLine {
  readonly terminalId: string;
  readonly seq: number;
  readonly walletId: string;
  readonly amount: number;
  readonly currency: number;
  readonly amountText: string;
  readonly cardCounterSeen?: number;
  readonly reason: string;
  readonly batchId: string;
  /** ISO 8601: the intent's terminal time (the age runs from it), and when its batch arrived. */
  readonly terminalTime: string;
  readonly receivedAt: string;
  /** Whole days from the terminal time to the report's clock. */
  readonly ageDays: number;
}

export interface FraudSection {
  /**
   * Wallets blocked now as fraud or clones, oldest block first (ISO 8601 `since`): one line per
   * block, so a wallet id blocked at two issuers is two lines, each naming its issuer CA
   * (fingerprint; null when the block holds at every issuer).
   */
  readonly blockedWallets: readonly {
    walletId: string;
    issuer: string | null;
    reason: string;
    source: string;
    since: string;
  }[];
  /** Evidence of forged or cloned wallets caught that day, the exposure of each (the issuer's loss). */
  readonly evidence: readonly FraudEvidenceLine[];
  /** The day's debits dated after their wallet's block, by party, wallet, terminal and currency. */
  readonly losses: readonly FraudLoss[];
  /** ISO 8601: the report's clock, which the ages below are measured to. */
  readonly asOf: string;
  /** The age (days) past which a counter gap is listed. */
  readonly gapDays: number;
  /** Every wallet's counter gaps open more than `gapDays`, by wallet and counter. */
  readonly openCounterGaps: readonly OpenCounterGap[];
  /** Torn intents terminals reported unresolved and nobody has settled, oldest report first. */
  readonly unresolvedIntents: readonly UnresolvedIntentLine[];
}

export const moneyText = (minor: number, currency: number): string =>
  `${formatTotal(minor, currency)} ${currencyCode(currency)}`;

export function fraudLoss(l: Omit<FraudLoss, "amountText">): FraudLoss {
  return { ...l, amountText: moneyText(l.amount, l.currency) };
}

const isoOf = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString();

const daysBetween = (from: number, to: number): number => Math.floor((to - from) / DAY_SECONDS);

/**
 * The counter gaps of each wallet (settle.ts `gaps` over every counter known of it) that have
 * been open more than `gapDays` at `now`: the known counter just above a gap is older than that.
 * A counter known twice (a record and a load of one number cannot both be genuine, but the gap
 * logic only needs the number) counts once, a record preferred for its balance.
 */
export function openCounterGaps(
  known: readonly KnownCounter[],
  now: number,
  gapDays: number,
): OpenCounterGap[] {
  const byWallet = new Map<string, Map<number, KnownCounter>>();
  for (const k of known) {
    const counters = byWallet.get(k.walletId) ?? new Map<number, KnownCounter>();
    byWallet.set(k.walletId, counters);
    const seen = counters.get(k.cardCounter);
    if (!seen || (seen.source !== "record" && k.source === "record")) counters.set(k.cardCounter, k);
  }
  const out: OpenCounterGap[] = [];
  for (const walletId of [...byWallet.keys()].sort()) {
    const counters = byWallet.get(walletId)!;
    for (const g of gaps([...counters.keys()].sort((a, b) => a - b))) {
      const below = counters.get(g.from - 1)!;
      const above = counters.get(g.to + 1)!;
      if (now - above.at <= gapDays * DAY_SECONDS) continue;
      const drop =
        below.balanceAfter !== undefined &&
        above.balanceAfter !== undefined &&
        above.amount !== undefined &&
        below.currency !== undefined &&
        below.currency === above.currency
          ? below.balanceAfter - (above.balanceAfter + above.amount)
          : undefined;
      out.push({
        walletId,
        from: g.from,
        to: g.to,
        countersText: formatRanges([g]),
        above: { cardCounter: above.cardCounter, source: above.source, at: isoOf(above.at) },
        ageDays: daysBetween(above.at, now),
        ...(drop === undefined
          ? {}
          : {
              balanceDrop: {
                amount: drop,
                currency: below.currency!,
                text: `${drop < 0 ? "-" : ""}${moneyText(Math.abs(drop), below.currency!)}`,
              },
            }),
      });
    }
  }
  return out;
}

/** An open unresolved intent as the report lists it, its age at `now`. */
export function unresolvedIntentLine(
  u: {
    terminalId: string;
    seq: number;
    walletId: string;
    amount: number;
    currency: number;
    cardCounterSeen?: number;
    reason: string;
    batchId: string;
    terminalTime: number;
    receivedAt: number;
  },
  now: number,
): UnresolvedIntentLine {
  return {
    terminalId: u.terminalId,
    seq: u.seq,
    walletId: u.walletId,
    amount: u.amount,
    currency: u.currency,
    amountText: moneyText(u.amount, u.currency),
    ...(u.cardCounterSeen === undefined ? {} : { cardCounterSeen: u.cardCounterSeen }),
    reason: u.reason,
    batchId: u.batchId,
    terminalTime: isoOf(u.terminalTime),
    receivedAt: isoOf(u.receivedAt),
    ageDays: daysBetween(u.terminalTime, now),
  };
}

const days = (n: number): string => `${n} day${n === 1 ? "" : "s"}`;

export function renderFraud(f: FraudSection): string[] {
  const lines = ["", "Fraud", ""];
  if (f.blockedWallets.length === 0 && f.losses.length === 0 && f.evidence.length === 0)
    return [...lines, "  none", ...renderOpen(f)];
  for (const w of f.blockedWallets)
    lines.push(
      `  wallet ${w.walletId} blocked (${w.reason}, ${w.source}) ` +
        `${w.issuer === null ? "at every issuer" : `at issuer ${w.issuer.slice(0, 16)}`} since ${w.since}`,
    );
  for (const e of f.evidence)
    lines.push(
      `  evidence  wallet ${e.walletId} ${e.kind} at ${e.terminalId} seq ${e.seq}: exposure ${e.exposureText} (${e.detail})`,
    );
  for (const l of f.losses)
    lines.push(
      `  ${l.party === "issuer" ? "issuer's loss    " : "terminal's loss  "} wallet ${l.walletId} at ${l.terminalId}: ` +
        `${l.count} debit${l.count === 1 ? "" : "s"} for ${l.amountText} dated after the block` +
        (l.party === "issuer"
          ? " (inside the grace period: accepted)"
          : " (after the grace period: rejected)"),
    );
  return [...lines, ...renderOpen(f)];
}

/** The open items, whatever the day: old counter gaps and unresolved torn intents. */
function renderOpen(f: FraudSection): string[] {
  const lines = ["", `  Counter gaps open more than ${days(f.gapDays)} (as of ${f.asOf})`];
  if (f.openCounterGaps.length === 0) lines.push("    none");
  for (const g of f.openCounterGaps)
    lines.push(
      `    wallet ${g.walletId} counters ${g.countersText}: open ${days(g.ageDays)} ` +
        `(since #${g.above.cardCounter}, ${g.above.source} of ${g.above.at})` +
        (g.balanceDrop ? `; balance drop ${g.balanceDrop.text}` : ""),
    );
  lines.push("", "  Unresolved torn intents reported by terminals");
  if (f.unresolvedIntents.length === 0) lines.push("    none");
  for (const u of f.unresolvedIntents)
    lines.push(
      `    ${u.terminalId} seq ${u.seq}  wallet ${u.walletId}  ${u.amountText}  ${days(u.ageDays)} old ` +
        `(${u.terminalTime}): ${u.reason}`,
    );
  return lines;
}
