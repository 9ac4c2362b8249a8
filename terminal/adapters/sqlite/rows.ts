/**
 * Rows of the `transactions` table and their domain values: snake_case and NULL stop here.
 * BLOBs come back as Buffers; a record keeps its own copy (new Uint8Array), a batch entry, read
 * only to be hex-encoded, a view.
 */
import type { BatchEntry } from "../../domain/batch.js";
import type { Intent, StoredTransaction, TransactionStatus } from "../../domain/records.js";

export interface TransactionRow {
  seq: number;
  status: TransactionStatus;
  wallet_id: string;
  amount: number;
  currency: number;
  terminal_time: number;
  transcript_hash: Buffer;
  reference: string | null;
  created_at: number;
  resolved_at: number | null;
  resolution: string | null;
  card_counter: number | null;
  balance_after: number | null;
  card_record: Buffer | null;
  card_signature: Buffer | null;
  card_certificate: string | null;
  chain_index: number | null;
  previous_hash: Buffer | null;
  terminal_signature: Buffer | null;
  chain_hash: Buffer | null;
  batch_id: string | null;
  upload_status: string | null;
  upload_reason: string | null;
  card_counter_seen: number | null;
  unresolved_reason: string | null;
  unresolved_at: number | null;
  unresolved_batch_id: string | null;
}

/** The columns a batch entry is read from (a final row: chained, so never pending). */
export type FinalRow = Pick<
  TransactionRow,
  "seq" | "amount" | "currency" | "card_record" | "card_signature" | "card_certificate"
> & {
  status: "complete" | "voided";
  chain_index: number;
  previous_hash: Buffer;
  terminal_signature: Buffer;
  chain_hash: Buffer;
};

export const FINAL_COLUMNS =
  "seq, status, amount, currency, card_record, card_signature, card_certificate, chain_index, previous_hash, terminal_signature, chain_hash";

const u8 = (b: Buffer | null): Uint8Array | undefined => (b === null ? undefined : new Uint8Array(b));
const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export function toTransaction(r: TransactionRow): StoredTransaction {
  return {
    seq: r.seq,
    status: r.status,
    walletId: r.wallet_id,
    amount: r.amount,
    currency: r.currency,
    terminalTime: r.terminal_time,
    transcriptHash: new Uint8Array(r.transcript_hash),
    reference: opt(r.reference),
    createdAt: r.created_at,
    resolvedAt: opt(r.resolved_at),
    resolution: opt(r.resolution),
    cardCounter: opt(r.card_counter),
    balanceAfter: opt(r.balance_after),
    cardRecord: u8(r.card_record),
    cardSignature: u8(r.card_signature),
    cardCertificate: opt(r.card_certificate),
    chainIndex: opt(r.chain_index),
    previousHash: u8(r.previous_hash),
    terminalSignature: u8(r.terminal_signature),
    chainHash: u8(r.chain_hash),
    batchId: opt(r.batch_id),
    uploadStatus: opt(r.upload_status),
    uploadReason: opt(r.upload_reason),
    ...(r.card_counter_seen === null ? {} : { cardCounterSeen: r.card_counter_seen }),
    ...(r.unresolved_reason === null ? {} : { unresolvedReason: r.unresolved_reason }),
  };
}

export function toIntent(r: TransactionRow): Intent {
  return {
    seq: r.seq,
    walletId: r.wallet_id,
    amount: r.amount,
    currency: r.currency,
    terminalTime: r.terminal_time,
    transcriptHash: new Uint8Array(r.transcript_hash),
    createdAt: r.created_at,
    ...(r.reference === null ? {} : { reference: r.reference }),
    ...(r.card_counter_seen === null ? {} : { cardCounterSeen: r.card_counter_seen }),
    ...(r.unresolved_reason === null
      ? {}
      : {
          unresolved: {
            reason: r.unresolved_reason,
            at: r.unresolved_at ?? r.created_at,
            ...(r.unresolved_batch_id === null ? {} : { batchId: r.unresolved_batch_id }),
          },
        }),
  };
}

export function toBatchEntry(r: FinalRow): BatchEntry {
  return {
    seq: r.seq,
    status: r.status,
    amount: r.amount,
    currency: r.currency,
    cardRecord: r.card_record ? view(r.card_record) : undefined,
    cardSignature: r.card_signature ? view(r.card_signature) : undefined,
    cardCertificate: opt(r.card_certificate),
    chainIndex: r.chain_index,
    previousHash: view(r.previous_hash),
    terminalSignature: view(r.terminal_signature),
    chainHash: view(r.chain_hash),
  };
}
