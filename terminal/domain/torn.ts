/**
 * When "not in the card's log" proves that a torn debit was never committed.
 *
 * The card answers GET TRANSACTION LOG by seq with 6A83 when its log holds no entry for the seq.
 * The log keeps only the card's last 32 records, so 6A83 alone is no proof: a debit the card did
 * commit is pushed out of the log by 32 later changes made elsewhere. Voiding it then would lose a
 * charge the customer paid.
 *
 * The intent records the card counter the terminal saw before DEBIT (`counterSeen`: the FCI's
 * DF22, or a lower bound of it). Had the card committed the debit, the record's counter would be
 * above it: at least `counterSeen + 1`. The card keeps every record from its log's oldest counter
 * to its current one, so 6A83 proves "never committed" exactly when the log still reaches back to
 * `counterSeen + 1`:
 *
 * - a card that says where its log starts (DF24 `logFrom`): proof iff logFrom ≤ counterSeen + 1;
 * - a card that does not (protocol version 1 before DF24): the protocol promises its last 32
 *   records, so counters currentCounter − 31 … currentCounter are in the log; proof iff
 *   counterSeen ≤ currentCounter ≤ counterSeen + 32. A current counter below the one seen is a
 *   card that moved backwards (a restored state file): no proof.
 *
 * Everything else leaves the intent unresolved: it stays pending at the terminal with the reason,
 * travels with the next upload, and the back office resolves it against the wallet's records.
 * A lower bound in place of the counter seen only makes the rule stricter, never wrong.
 */

/** The number of records a card's log is guaranteed to hold (docs/protocol.md). */
export const CARD_LOG_ENTRIES = 32;

export interface NotInLogEvidence {
  /** Card counter when the intent was written (or a lower bound); undefined when unknown. */
  readonly counterSeen: number | undefined;
  /** DF24 of the 6A83 answer: the oldest counter the log holds. */
  readonly logFrom?: number;
  /** The card's counter now (FCI or READ BALANCE), used only when the card gave no DF24. */
  readonly currentCounter?: number;
}

export type NotInLogVerdict =
  | { readonly proven: true; readonly why: string }
  | { readonly proven: false; readonly reason: string };

export function judgeNotInLog(e: NotInLogEvidence): NotInLogVerdict {
  const seen = e.counterSeen;
  if (seen === undefined)
    return { proven: false, reason: "not in the card's log, and the card counter at the tap is unknown" };
  const needed = seen + 1;
  if (e.logFrom !== undefined) {
    if (e.logFrom <= needed)
      return { proven: true, why: `the card's log covers counters from ${e.logFrom}, including ${needed}` };
    return {
      proven: false,
      reason: `not in the card's log, which starts at counter ${e.logFrom}: a debit committed at counter ${needed} would have left it`,
    };
  }
  const now = e.currentCounter;
  if (now === undefined)
    return {
      proven: false,
      reason: "not in the card's log, and the card says neither its log's start nor its counter",
    };
  if (now < seen)
    return {
      proven: false,
      reason: `the card's counter ${now} is below the ${seen} seen at the tap (a restored card)`,
    };
  if (now - seen <= CARD_LOG_ENTRIES)
    return {
      proven: true,
      why: `the card's last ${CARD_LOG_ENTRIES} records reach back to counter ${needed}`,
    };
  return {
    proven: false,
    reason: `not in the card's log, but the card made ${now - seen} changes since counter ${seen}: more than the ${CARD_LOG_ENTRIES} its log keeps`,
  };
}
