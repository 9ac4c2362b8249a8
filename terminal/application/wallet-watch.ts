/**
 * The rollback and edited-balance check of a tap (terminal/domain/wallet-watch.ts applied to the
 * stores), used by run-payment.ts.
 *
 * Where it runs, so that nothing is lost:
 * - Before DEBIT, the counter. A card that announces its counter at SELECT (FCI DF22; the FCI is
 *   hashed into the transcript the card signs at INITIATE AUTHENTICATE, so it is the card's own)
 *   and shows one below the last this terminal verified is declined right after authentication
 *   (announcedRollback): the card commits nothing, the intent written for the decline is voided,
 *   the finding keeps the announced counter and the balance the card answers to READ BALANCE (one
 *   APDU, only on this path). Honest repeat taps cost nothing extra.
 * - After DEBIT, the balance (it is in no answer before the signed record; READ BALANCE on every
 *   repeat tap would cost a fifth APDU, over the budget of four, and prove nothing the record does
 *   not: a lying card can answer it one way and sign another), and the counter of cards that do not
 *   announce it. The card has committed (catchForgedWallet):
 *   - the payment is declined to the cashier (TERM_ERR_CARD_ROLLBACK / _BALANCE_FORGED), never
 *     approved, and the intent voided, so the acquirer settles nothing for a sale the merchant
 *     refused; a torn tap recovered from the card's log is judged the same way;
 *   - the card's signed record and certificate are stored in the finding, in the transaction that
 *     puts the wallet on the local blocklist: the merchant keeps the proof, and it travels with the
 *     batch that carries the voided seq.
 * From then on the wallet is declined right after authentication (TERM_ERR_LOCAL_BLOCKLIST), before
 * any DEBIT or log read. What the card lost on a rolled-back or edited state is value it never had.
 */

import { currencyByNumeric, formatMoney } from "../../protocol/amount.js";
import type { Logger } from "../../protocol/logger.js";
import type { SignedRecord } from "../../protocol/wallet/messages.js";
import type { AuthenticatedCard } from "../card-session/session.js";
import { judgeRecord, type SeenWallet, type WalletFinding } from "../domain/wallet-watch.js";
import { TerminalError } from "../errors.js";
import type { WalletWatch } from "./ports.js";

export interface CaughtWallet {
  readonly error: TerminalError;
  readonly finding: WalletFinding;
  /** What the voided intent's resolution says. */
  readonly resolution: string;
}

function money(amount: number, currency: number): string {
  try {
    return formatMoney(amount, currencyByNumeric(currency));
  } catch {
    return `${amount} (currency ${currency})`;
  }
}

/**
 * Judge a verified record for intent `seq` against the last one this terminal verified for the
 * wallet. Consistent → undefined (remember it once it is stored). Inconsistent → the finding is
 * stored and the wallet blocklisted, and the caller declines and voids the intent.
 *
 * Only a record newer (by terminal seq) than the last verified one is judged: an intent older than
 * it (a torn tap recovered late) answered a DEBIT sent before that record's.
 */
export function catchForgedWallet(
  watch: WalletWatch,
  seq: number,
  signed: SignedRecord,
  card: AuthenticatedCard,
  log: Logger,
): CaughtWallet | undefined {
  const r = signed.record;
  const seen = watch.last(r.walletId);
  if (!seen || seq <= seen.seq) return undefined;
  const claimed = {
    cardCounter: r.cardCounter,
    balanceAfter: r.balanceAfter,
    amount: r.amount,
    currency: r.currency,
  };
  const kind = judgeRecord(seen, claimed);
  if (!kind) return undefined;
  const finding = watch.flag({
    walletId: r.walletId,
    kind,
    seq,
    seen,
    claimed,
    cardRecord: signed.bytes,
    cardSignature: signed.signature,
    cardCertificate: card.certificate.der,
  });
  const details = {
    walletId: r.walletId,
    seq,
    finding: finding.id,
    counterSeen: seen.cardCounter,
    counterClaimed: r.cardCounter,
    balanceSeen: seen.balanceAfter,
    balanceClaimed: r.balanceAfter,
  };
  const error =
    kind === "rollback"
      ? new TerminalError(
          "TERM_ERR_CARD_ROLLBACK",
          `the wallet's card counter went backwards (${r.cardCounter}, this terminal already verified ${seen.cardCounter}): a restored or cloned wallet; declined and blocklisted here`,
          { details },
        )
      : new TerminalError(
          "TERM_ERR_CARD_BALANCE_FORGED",
          `the wallet claims a balance of ${money(r.balanceAfter, r.currency)} after this payment at counter ${r.cardCounter}, but this terminal verified ${money(seen.balanceAfter, seen.currency)} at counter ${seen.cardCounter}, so it must be ${money(seen.balanceAfter - r.amount, seen.currency)}: an edited wallet; declined and blocklisted here`,
          { details },
        );
  log.warn(details, `wallet caught: ${kind}; finding ${finding.id} travels with the next upload`);
  return {
    error,
    finding,
    resolution: `declined: ${error.code}; the card committed counter ${r.cardCounter}, its signed record is kept in finding ${finding.id}`,
  };
}

/**
 * Before DEBIT: a card that announces its counter at SELECT (FCI DF22, signed into the session
 * transcript by the card) and shows one below the last this terminal verified is rolled back. The
 * terminal declines before the card commits anything. Cards that do not announce it are judged on
 * their DEBIT record (catchForgedWallet). The balance is not in the FCI: an edited balance is only
 * seen in the signed record.
 */
export function announcedRollback(
  watch: WalletWatch,
  card: AuthenticatedCard,
): { seen: SeenWallet; announced: number } | undefined {
  const announced = card.fci.counter;
  if (announced === undefined) return undefined;
  const seen = watch.last(card.walletId);
  if (!seen || announced >= seen.cardCounter) return undefined;
  return { seen, announced };
}

/**
 * Store the finding of a rollback caught before DEBIT and blocklist the wallet. No debit record
 * exists (nothing was committed): the finding carries the counter the card announced and the
 * balance it answered to READ BALANCE, both inside the authenticated session, as this terminal's
 * word; the intent `seq` is voided with the reason.
 */
export function flagAnnouncedRollback(
  watch: WalletWatch,
  seq: number,
  caught: { seen: SeenWallet; announced: number },
  now: { balance: number; amount: number; currency: number },
  card: AuthenticatedCard,
  log: Logger,
): CaughtWallet {
  const { seen, announced } = caught;
  const finding = watch.flag({
    walletId: card.walletId,
    kind: "rollback",
    seq,
    seen,
    claimed: {
      cardCounter: announced,
      balanceAfter: now.balance,
      amount: now.amount,
      currency: now.currency,
    },
    cardRecord: new Uint8Array(0),
    cardSignature: new Uint8Array(0),
    cardCertificate: card.certificate.der,
  });
  const details = {
    walletId: card.walletId,
    seq,
    finding: finding.id,
    counterSeen: seen.cardCounter,
    counterClaimed: announced,
  };
  const error = new TerminalError(
    "TERM_ERR_CARD_ROLLBACK",
    `the wallet's card counter went backwards (${announced} at SELECT, this terminal already verified ${seen.cardCounter}): a restored or cloned wallet; declined before DEBIT and blocklisted here`,
    { details },
  );
  log.warn(
    details,
    `wallet caught before DEBIT: rollback; finding ${finding.id} travels with the next upload`,
  );
  return {
    error,
    finding,
    resolution: `declined before DEBIT: ${error.code}; the card announced counter ${announced} (finding ${finding.id})`,
  };
}

/** Remember a stored, consistent record as the wallet's newest (no-op for an older seq). */
export function rememberRecord(
  watch: WalletWatch,
  seq: number,
  record: { walletId: string; cardCounter: number; balanceAfter: number; currency: number },
): void {
  watch.remember({
    walletId: record.walletId,
    seq,
    cardCounter: record.cardCounter,
    balanceAfter: record.balanceAfter,
    currency: record.currency,
  });
}
