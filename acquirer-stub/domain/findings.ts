/**
 * Findings a terminal reports with a batch: a wallet it caught rolled back (its counter did not
 * move forward) or with an edited balance (wrong balance at the next counter), and declined
 * (terminal/application/wallet-watch.ts). Pure: checks the proof, decides nothing about money.
 *
 * A finding rides outside the signed manifest, so it is trusted only for what it proves itself:
 * the card-signed record must verify with a card certificate that chains to an accepted issuer,
 * name this terminal and the finding's seq, and say what the finding claims (counter, balance,
 * amount, currency); and the seq must be a voided record of this batch (the terminal declined the
 * payment, so nothing of it settles). A rollback caught before DEBIT, from the counter the card
 * announced at SELECT, has no record: ACQ_ERR_FINDING_UNPROVEN. What the terminal had seen before (counter, balance) is its
 * own statement, stored as such; a rollback whose counter the acquirer already accepted with other
 * content is a fork proven by two card signatures (the caller blocks the wallet as a clone).
 */
import type { BatchUpload, WalletFindingWire } from "../../protocol/wallet/batch.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import { decodeRecord, verifyCardRecord, type WalletRecord } from "../../protocol/wallet/records.js";
import type { AcquirerErrorCode } from "../errors.js";
import type { AcquirerTrust, AuthenticatedTerminal } from "./trust.js";

export interface CheckedFinding {
  readonly finding: WalletFindingWire;
  /** The card record decoded, when it decodes. */
  readonly record: WalletRecord | undefined;
  readonly cardRecord: Uint8Array;
  /** undefined: the proof holds. */
  readonly reason: AcquirerErrorCode | undefined;
  /** The issuer CA (fingerprint) of the card that signed the proof, when it holds. */
  readonly cardIssuer?: string;
}

export function checkFinding(
  f: WalletFindingWire,
  upload: BatchUpload,
  terminal: AuthenticatedTerminal,
  trust: AcquirerTrust,
): CheckedFinding {
  const cardRecord = new Uint8Array(Buffer.from(f.cardRecord, "hex"));
  const result = (
    reason: AcquirerErrorCode | undefined,
    record?: WalletRecord,
    cardIssuer?: string,
  ): CheckedFinding => ({
    finding: f,
    record,
    cardRecord,
    reason,
    ...(cardIssuer === undefined ? {} : { cardIssuer }),
  });
  const entry = upload.records.find((r) => r.seq === f.seq);
  if (entry?.status !== "voided") return result("ACQ_ERR_RECORD_MISMATCH");
  // Declined before DEBIT (the counter the card announced at SELECT): nothing was signed to prove.
  if (cardRecord.length === 0) return result("ACQ_ERR_FINDING_UNPROVEN");
  let record: WalletRecord;
  try {
    record = decodeRecord(cardRecord);
  } catch {
    return result("ACQ_ERR_RECORD_FORMAT");
  }
  if (record.type !== RECORD_TYPE.DEBIT) return result("ACQ_ERR_RECORD_TYPE", record);
  if (
    record.walletId !== f.walletId ||
    record.terminalId !== terminal.terminalId ||
    record.terminalSeq !== f.seq ||
    record.cardCounter !== f.counterClaimed ||
    record.balanceAfter !== f.balanceClaimed ||
    record.amount !== f.amount ||
    record.currency !== f.currency
  )
    return result("ACQ_ERR_RECORD_MISMATCH", record);
  const check = trust.checkCard(new Uint8Array(Buffer.from(f.cardCertificate, "base64")), record.time);
  if (!check.ok) return result(check.reason, record);
  const card = check.card;
  if (record.time < card.validFrom || record.time > card.validUntil || card.walletId !== record.walletId)
    return result("ACQ_ERR_CARD_CERT", record);
  if (!verifyCardRecord(card.publicKey, cardRecord, Buffer.from(f.cardSignature, "hex")))
    return result("ACQ_ERR_CARD_SIGNATURE", record);
  return result(undefined, record, card.issuerFingerprint);
}
