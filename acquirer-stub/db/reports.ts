/**
 * The daily settlement report, read from the acquirer's database: totals per merchant and currency
 * of the accepted records of a business day, the reconciliation of the batches that carry that day
 * (or were received on it), the card counters and terminal seqs still outstanding for the wallets
 * and terminals seen that day, and the clones detected on it.
 *
 * Read-only over `records`, `batches`, `batch_days` and `clones`; the store runs it in one
 * transaction so the parts agree with each other.
 */
import type Database from "../../protocol/sqlite.js";
import {
  type BatchReconciliation,
  gaps,
  type Range,
  type SettlementReport,
  settlementLine,
} from "../domain/settle.js";
import type { Difference } from "../domain/verify.js";
import { iso } from "./columns.js";

interface SettlementRow {
  merchantId: string;
  currency: number;
  count: number;
  amount: number;
}

interface BatchOfDayRow {
  batch_id: string;
  terminal_id: string;
  merchant_id: string;
  received_at: number;
  status: "settled" | "rejected";
  reason: string | null;
  accepted: number;
  rejected: number;
  differences: string;
}

interface CloneOfDayRow {
  wallet_id: string;
  card_counter: number;
  detected_at: number;
  first_batch_id: string;
  clone_batch_id: string;
}

function statements(db: Database.Database) {
  return {
    settlement: db.prepare(
      `SELECT merchant_id AS merchantId, currency, COUNT(*) AS count, SUM(amount) AS amount FROM records
       WHERE business_day = ? AND status = 'accepted' GROUP BY merchant_id, currency
       ORDER BY merchant_id, currency`,
    ),
    batchesOfDay: db.prepare(
      `SELECT batch_id, terminal_id, merchant_id, received_at, status, reason, accepted, rejected, differences
       FROM batches b
       WHERE batch_id IN (SELECT batch_id FROM batch_days WHERE business_day = @date)
          OR (received_day = @date AND NOT EXISTS (SELECT 1 FROM batch_days d WHERE d.batch_id = b.batch_id))
       ORDER BY received_at, batch_id`,
    ),
    countersOfDay: db.prepare(
      `SELECT wallet_id, card_counter FROM records WHERE status = 'accepted' AND wallet_id IN
         (SELECT DISTINCT wallet_id FROM records WHERE business_day = ? AND status = 'accepted')
       ORDER BY wallet_id, card_counter`,
    ),
    seqsOfDay: db.prepare(
      `SELECT DISTINCT r.terminal_id, r.seq FROM records r JOIN batches b ON b.batch_id = r.batch_id
       WHERE b.status = 'settled' AND r.terminal_id IN
         (SELECT DISTINCT terminal_id FROM batches WHERE batch_id IN
           (SELECT batch_id FROM batch_days WHERE business_day = ?))
       ORDER BY r.terminal_id, r.seq`,
    ),
    clonesOfDay: db.prepare(
      `SELECT wallet_id, card_counter, detected_at, first_batch_id, clone_batch_id FROM clones
       WHERE detected_day = ? ORDER BY id`,
    ),
  };
}

export class Reports {
  readonly #s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#s = statements(db);
  }

  /** The settlement report of a business day (YYYY-MM-DD, UTC). */
  settlement(date: string): SettlementReport {
    const settlement = (this.#s.settlement.all(date) as SettlementRow[]).map(settlementLine);
    const reconciliation = (this.#s.batchesOfDay.all({ date }) as BatchOfDayRow[]).map(
      (b): BatchReconciliation => ({
        batchId: b.batch_id,
        terminalId: b.terminal_id,
        merchantId: b.merchant_id,
        receivedAt: iso(b.received_at),
        status: b.status,
        ...(b.reason ? { reason: b.reason } : {}),
        accepted: b.accepted,
        rejected: b.rejected,
        differences: JSON.parse(b.differences) as Difference[],
      }),
    );
    const outstandingCounters = groupGaps(
      this.#s.countersOfDay.all(date) as { wallet_id: string; card_counter: number }[],
      (r) => r.wallet_id,
      (r) => r.card_counter,
    ).map(([walletId, g]) => ({ walletId, gaps: g }));
    const outstandingSeqs = groupGaps(
      this.#s.seqsOfDay.all(date) as { terminal_id: string; seq: number }[],
      (r) => r.terminal_id,
      (r) => r.seq,
    ).map(([terminalId, g]) => ({ terminalId, gaps: g }));
    const clones = (this.#s.clonesOfDay.all(date) as CloneOfDayRow[]).map((c) => ({
      walletId: c.wallet_id,
      cardCounter: c.card_counter,
      detectedAt: iso(c.detected_at),
      firstBatchId: c.first_batch_id,
      cloneBatchId: c.clone_batch_id,
    }));
    return { date, settlement, reconciliation, outstandingCounters, outstandingSeqs, clones };
  }
}

/** Rows sorted by key then value → the gaps of each key's values, for the keys that have some. */
function groupGaps<T>(
  rows: readonly T[],
  key: (r: T) => string,
  value: (r: T) => number,
): [string, Range[]][] {
  const out: [string, Range[]][] = [];
  let i = 0;
  while (i < rows.length) {
    const k = key(rows[i]!);
    const values: number[] = [];
    while (i < rows.length && key(rows[i]!) === k) values.push(value(rows[i++]!));
    const g = gaps(values);
    if (g.length > 0) out.push([k, g]);
  }
  return out;
}
