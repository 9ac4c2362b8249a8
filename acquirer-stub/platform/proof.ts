/**
 * A card record a terminal forwards as the proof of an issuer command (pure): the card's LOAD or
 * LOAD_REVERSAL record, signed with the key of the card certificate registered for the wallet.
 *
 * The record carries no load id: its binding is SHA-256 of the signed issuer command message
 * (INS, wallet id, the card's challenge, the payload with the load id), so a binding equal to the
 * one the platform computed when it signed is what ties the record to this load and this command.
 * A record of another load, or over another challenge, differs there.
 */
import type { KeyObject } from "node:crypto";
import { equalBytes, fromHex } from "../../protocol/bytes.js";
import { ProtocolError } from "../../protocol/errors.js";
import type { CardRecordProof } from "../../protocol/platform/api.js";
import type { RecordType } from "../../protocol/wallet/constants.js";
import { decodeRecord, verifyCardRecord, type WalletRecord } from "../../protocol/wallet/records.js";
import { AcquirerError } from "../errors.js";

export interface ExpectedRecord {
  readonly type: RecordType;
  readonly walletId: string;
  readonly amount: number;
  readonly currency: number;
  readonly binding: Uint8Array;
}

/**
 * The record, checked in this order: its layout (ACQ_ERR_RECORD_FORMAT), the card's signature
 * (ACQ_ERR_LOAD_SIGNATURE), then every field the command fixes (ACQ_ERR_LOAD_RECORD_MISMATCH,
 * `details.fields` naming each one that differs).
 */
export function checkProof(
  proof: CardRecordProof,
  cardKey: KeyObject,
  expected: ExpectedRecord,
): { record: WalletRecord; bytes: Uint8Array; signature: Uint8Array } {
  const bytes = fromHex(proof.record);
  const signature = fromHex(proof.signature);
  let record: WalletRecord;
  try {
    record = decodeRecord(bytes);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    throw new AcquirerError("ACQ_ERR_RECORD_FORMAT", `the forwarded record is malformed: ${e.message}`, {
      cause: e,
    });
  }
  if (!verifyCardRecord(cardKey, bytes, signature))
    throw new AcquirerError(
      "ACQ_ERR_LOAD_SIGNATURE",
      `the record's signature does not verify with the card certificate of wallet ${expected.walletId}`,
    );
  const fields: string[] = [];
  if (record.type !== expected.type) fields.push("type");
  if (record.walletId !== expected.walletId) fields.push("walletId");
  if (record.amount !== expected.amount) fields.push("amount");
  if (record.currency !== expected.currency) fields.push("currency");
  if (!equalBytes(record.binding, expected.binding)) fields.push("binding");
  if (fields.length > 0)
    throw new AcquirerError(
      "ACQ_ERR_LOAD_RECORD_MISMATCH",
      `the card record is not the answer to this command: ${fields.join(", ")} differ`,
      { details: { fields } },
    );
  return { record, bytes, signature };
}
