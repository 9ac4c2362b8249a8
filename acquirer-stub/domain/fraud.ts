/**
 * The fraud section of the daily report (issue 14): the wallets on the hotlist for fraud or as
 * clones, and who bears the loss of the business day's debits dated after their wallet's block
 * (domain/block-binding.ts): the issuer for those accepted inside the grace period, the terminal
 * for those rejected after it (ACQ_ERR_WALLET_BLOCKED: it took them with a hotlist too old).
 */
import { currencyCode, formatTotal } from "./settle.js";

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

/** Evidence of a forged or cloned wallet (platform/store/shadow-balance.ts), on one record. */
export interface FraudEvidence {
  readonly walletId: string;
  readonly kind: "overspent" | "counter-jump";
  readonly terminalId: string;
  readonly batchId: string;
  readonly seq: number;
  readonly cardCounter: number;
  /** Minor units: spent beyond the loads (overspent), or the record's amount (counter-jump). */
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

export interface FraudSection {
  /** Wallets blocked now as fraud or clones, oldest block first (ISO 8601 `since`). */
  readonly blockedWallets: readonly { walletId: string; reason: string; source: string; since: string }[];
  /** Evidence of forged or cloned wallets caught that day, the exposure of each (the issuer's loss). */
  readonly evidence: readonly FraudEvidenceLine[];
  /** The day's debits dated after their wallet's block, by party, wallet, terminal and currency. */
  readonly losses: readonly FraudLoss[];
}

export const moneyText = (minor: number, currency: number): string =>
  `${formatTotal(minor, currency)} ${currencyCode(currency)}`;

export function fraudLoss(l: Omit<FraudLoss, "amountText">): FraudLoss {
  return { ...l, amountText: moneyText(l.amount, l.currency) };
}

export function renderFraud(f: FraudSection): string[] {
  const lines = ["", "Fraud", ""];
  if (f.blockedWallets.length === 0 && f.losses.length === 0 && f.evidence.length === 0)
    return [...lines, "  none"];
  for (const w of f.blockedWallets)
    lines.push(`  wallet ${w.walletId} blocked (${w.reason}, ${w.source}) since ${w.since}`);
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
  return lines;
}
