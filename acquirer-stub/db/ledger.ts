/**
 * The ledger in the acquirer's database: every entry of every settled batch (`records`), accepted
 * or not (a rejected entry is evidence: a clone's record), the card certificates they were signed
 * under (`card_certificates`), and the clones found among them (`clones`). The database enforces
 * the verification's rules again: one accepted record per wallet and card counter, one accepted or
 * voided entry per terminal and seq.
 *
 * Read by the verification inside the batch transaction (through the store's `LedgerView`) and by
 * the wallet ledger report. No transaction here: the store opens them.
 */
import { asBuffer } from "../../protocol/bytes.js";
import type Database from "../../protocol/sqlite.js";
import { gaps, type Range } from "../domain/settle.js";
import { businessDay, type CloneEvent, type DecidedRecord, type LedgerView } from "../domain/verify.js";
import type { ApplyContext } from "./batches.js";
import { iso } from "./columns.js";
import type { WalletBlock } from "./hotlist.js";

export interface LedgerEntry {
  readonly cardCounter: number;
  readonly type: number;
  readonly amount: number;
  readonly currency: number;
  readonly balanceAfter: number;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly seq: number;
  /** Unix seconds (terminal time). */
  readonly time: number;
  readonly batchId: string;
}

export interface WalletLedger {
  readonly walletId: string;
  readonly blocked: WalletBlock | null;
  /** Accepted records by card counter. */
  readonly records: readonly LedgerEntry[];
  /** Counters between the first and the last seen that no batch has brought yet. */
  readonly gaps: readonly Range[];
  /** Consecutive counters whose balances do not add up (balance before − amount ≠ balance after). */
  readonly balanceBreaks: readonly { cardCounter: number; expected: number; actual: number }[];
  readonly clones: readonly {
    cardCounter: number;
    firstBatchId: string;
    cloneBatchId: string;
    detectedAt: string;
  }[];
}

/** A verified card certificate of a batch, by fingerprint. */
export type BatchCards = ReadonlyMap<string, { der: Uint8Array; walletId: string; serial: string }>;

interface EntryRow {
  card_counter: number;
  type: number;
  amount: number;
  currency: number;
  balance_after: number;
  terminal_id: string;
  merchant_id: string;
  seq: number;
  record_time: number;
  batch_id: string;
}

function statements(db: Database.Database) {
  return {
    acceptedByCounter: db.prepare(
      `SELECT card_record, terminal_id, seq, batch_id FROM records
       WHERE wallet_id = ? AND card_counter = ? AND status = 'accepted'`,
    ),
    seqTaken: db.prepare(
      "SELECT 1 FROM records WHERE terminal_id = ? AND seq = ? AND status IN ('accepted', 'voided')",
    ),
    settledEntry: db.prepare(
      `SELECT r.card_record FROM records r JOIN batches b ON b.batch_id = r.batch_id
       WHERE r.terminal_id = ? AND r.seq = ? AND r.previous_hash = ? AND b.status = 'settled' LIMIT 1`,
    ),
    insertRecord: db.prepare(
      `INSERT INTO records (batch_id, position, terminal_id, merchant_id, seq, status, reason, wallet_id,
         card_counter, type, amount, currency, balance_after, record_time, business_day, card_record,
         card_signature, card_certificate, previous_hash, terminal_signature)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertCardCertificate: db.prepare(
      `INSERT INTO card_certificates (fingerprint, der, wallet_id, serial) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    insertClone: db.prepare(
      `INSERT INTO clones (wallet_id, card_counter, first_terminal_id, first_seq, first_batch_id,
         clone_terminal_id, clone_seq, clone_batch_id, detected_at, detected_day)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    walletEntries: db.prepare(
      `SELECT card_counter, type, amount, currency, balance_after, terminal_id, merchant_id, seq,
         record_time, batch_id FROM records WHERE wallet_id = ? AND status = 'accepted' ORDER BY card_counter`,
    ),
    clonesOfWallet: db.prepare(
      "SELECT card_counter, first_batch_id, clone_batch_id, detected_at FROM clones WHERE wallet_id = ? ORDER BY id",
    ),
  };
}

export class Ledger {
  readonly #s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#s = statements(db);
  }

  acceptedRecord(walletId: string, cardCounter: number): ReturnType<LedgerView["acceptedRecord"]> {
    const row = this.#s.acceptedByCounter.get(walletId, cardCounter) as
      | { card_record: Buffer; terminal_id: string; seq: number; batch_id: string }
      | undefined;
    return row
      ? { cardRecord: row.card_record, terminalId: row.terminal_id, seq: row.seq, batchId: row.batch_id }
      : undefined;
  }

  seqTaken(terminalId: string, seq: number): boolean {
    return this.#s.seqTaken.get(terminalId, seq) !== undefined;
  }

  settledEntry(
    terminalId: string,
    seq: number,
    previousHash: Uint8Array,
  ): ReturnType<LedgerView["settledEntry"]> {
    const row = this.#s.settledEntry.get(terminalId, seq, asBuffer(previousHash)) as
      | { card_record: Buffer | null }
      | undefined;
    return row ? { cardRecord: row.card_record ?? new Uint8Array(0) } : undefined;
  }

  insertCardCertificates(cards: BatchCards): void {
    for (const [fingerprint, card] of cards)
      this.#s.insertCardCertificate.run(fingerprint, asBuffer(card.der), card.walletId, card.serial);
  }

  /** Store every entry of a settled batch, in upload order. Returns the business days they fall on. */
  insertEntries(ctx: ApplyContext, entries: readonly DecidedRecord[]): Set<string> {
    const batchId = ctx.upload.manifest.batchId;
    const wire = ctx.upload.records;
    const days = new Set<string>();
    for (const d of entries) {
      const c = d.checked;
      const r = c.record;
      const w = wire[c.index]!;
      const day = r ? businessDay(r.time) : null;
      if (day) days.add(day);
      this.#s.insertRecord.run(
        batchId,
        c.index,
        ctx.terminalId,
        ctx.merchantId,
        c.seq,
        d.verdict.status,
        d.verdict.reason ?? null,
        r?.walletId ?? null,
        r?.cardCounter ?? null,
        r?.type ?? null,
        r?.amount ?? null,
        r?.currency ?? null,
        r?.balanceAfter ?? null,
        r?.time ?? null,
        day,
        c.voided ? null : asBuffer(c.cardRecord),
        c.voided ? null : asBuffer(c.cardSignature),
        w.cardCertificate === "" ? null : w.cardCertificate,
        asBuffer(c.previousHash),
        asBuffer(c.terminalSignature),
      );
    }
    return days;
  }

  /** Record a clone found in the batch being settled (the store blocks its wallet with it). */
  insertClone(clone: CloneEvent, ctx: ApplyContext): void {
    this.#s.insertClone.run(
      clone.walletId,
      clone.cardCounter,
      clone.first.terminalId,
      clone.first.seq,
      clone.first.batchId,
      ctx.terminalId,
      clone.cloneSeq,
      ctx.upload.manifest.batchId,
      ctx.now,
      businessDay(ctx.now),
    );
  }

  /** A wallet's accepted records with their gaps, balance breaks and clones; `blocked` from the hotlist. */
  walletLedger(walletId: string, blocked: WalletBlock | null): WalletLedger {
    const rows = this.#s.walletEntries.all(walletId) as EntryRow[];
    const records: LedgerEntry[] = rows.map((r) => ({
      cardCounter: r.card_counter,
      type: r.type,
      amount: r.amount,
      currency: r.currency,
      balanceAfter: r.balance_after,
      terminalId: r.terminal_id,
      merchantId: r.merchant_id,
      seq: r.seq,
      time: r.record_time,
      batchId: r.batch_id,
    }));
    const balanceBreaks: { cardCounter: number; expected: number; actual: number }[] = [];
    for (let i = 1; i < records.length; i++) {
      const prev = records[i - 1]!;
      const cur = records[i]!;
      // Only consecutive debits can be checked: a gap may hide a load.
      if (cur.cardCounter !== prev.cardCounter + 1) continue;
      const expected = prev.balanceAfter - cur.amount;
      if (expected !== cur.balanceAfter)
        balanceBreaks.push({ cardCounter: cur.cardCounter, expected, actual: cur.balanceAfter });
    }
    const clones = (
      this.#s.clonesOfWallet.all(walletId) as {
        card_counter: number;
        first_batch_id: string;
        clone_batch_id: string;
        detected_at: number;
      }[]
    ).map((c) => ({
      cardCounter: c.card_counter,
      firstBatchId: c.first_batch_id,
      cloneBatchId: c.clone_batch_id,
      detectedAt: iso(c.detected_at),
    }));
    return {
      walletId,
      blocked,
      records,
      gaps: gaps(records.map((r) => r.cardCounter)),
      balanceBreaks,
      clones,
    };
  }
}
