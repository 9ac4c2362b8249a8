/**
 * The hotlist binds (issue 14): a debit of a wallet the acquirer blocked is settled only if the
 * terminal could not have known. A terminal that syncs the hotlist within its maximum age
 * (terminals' hotlist.maxAgeHours, 24 h by default) refuses a blocked wallet offline, so:
 *
 * - dated before the block (or in its second): accepted as ever;
 * - dated after the block but within the grace period (the acquirer's hotlist grace, by default
 *   the terminals' maximum hotlist age): accepted and flagged, the issuer's loss;
 * - dated after the block plus the grace period: rejected with ACQ_ERR_WALLET_BLOCKED, the
 *   terminal's liability (it took the payment with a hotlist older than it may be).
 *
 * The date is the record's own, signed by the card and the terminal.
 */

/** The terminals' default maximum hotlist age (terminal/config.ts hotlist.maxAgeHours), in seconds. */
export const DEFAULT_HOTLIST_GRACE_SECONDS = 24 * 3600;

/** An accepted debit dated after its wallet's block, inside the grace period. */
export interface AfterBlockFlag {
  readonly seq: number;
  readonly walletId: string;
  readonly cardCounter: number;
  readonly amount: number;
  readonly currency: number;
  /** Unix seconds: the record's time, and when the wallet was blocked. */
  readonly recordTime: number;
  readonly blockedAt: number;
}

export type BlockVerdict = "before-block" | "in-grace" | "after-grace";

export function againstBlock(
  recordTime: number,
  blockedAt: number | undefined,
  graceSeconds: number,
): BlockVerdict {
  // Times are whole seconds: a debit of the block's own second could not have been refused.
  if (blockedAt === undefined || recordTime <= blockedAt) return "before-block";
  return recordTime <= blockedAt + graceSeconds ? "in-grace" : "after-grace";
}
