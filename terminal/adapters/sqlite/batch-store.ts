/**
 * Upload batches in the terminal's SQLite file (the `batches` table and the batch columns of
 * `transactions`): the Batches port. A batch is closed over the oldest final records not yet
 * batched, in chain order, with its signed manifest (terminal/domain/batch.ts) stored in the same
 * transaction that assigns the records to it: until the acquirer answers, the very same batch is
 * re-sent under the same id, however often the upload is interrupted.
 *
 * Refunds not yet in a batch go with the newest closed batch that was never sent (its content is
 * not fixed before its first attempt), else in a batch of their own: no record, the chain where
 * the last batch left it. Either way in one transaction, and only when every final record is
 * batched, so a refund-only batch always continues the batch before it.
 */
import { randomUUID } from "node:crypto";
import type Database from "../../../protocol/sqlite.js";
import {
  type BatchManifest,
  type BatchResult,
  MAX_UNRESOLVED_INTENTS,
} from "../../../protocol/wallet/batch.js";
import { MAX_BATCH_REFUNDS } from "../../../protocol/wallet/refund.js";
import type { Batches, CloseBatchOptions } from "../../application/ports.js";
import { type BatchEntry, closeBatch, type OutgoingBatch, unresolvedWire } from "../../domain/batch.js";
import type { StatusTally } from "../../domain/records.js";
import { closeRefundOnlyBatch } from "../../domain/refunds.js";
import type { Connection } from "./database.js";
import { FINAL_COLUMNS, type FinalRow, type TransactionRow, toBatchEntry, toIntent } from "./rows.js";

interface BatchRow {
  batch_id: string;
  status: OutgoingBatch["status"];
  manifest: string;
  manifest_signature: string;
  attempts: number;
}

function toBatch(r: BatchRow): OutgoingBatch {
  return {
    batchId: r.batch_id,
    status: r.status,
    manifest: JSON.parse(r.manifest) as BatchManifest,
    manifestSignature: r.manifest_signature,
    attempts: r.attempts,
  };
}

export class BatchStore implements Batches {
  readonly #c: Connection;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = prepare(c.db);
  }

  close(o: CloseBatchOptions): string[] {
    const s = this.#stmt;
    const closeOne = this.#c.db.transaction((): string | undefined => {
      const rows = s.nextUnbatched.all(o.maxRecords) as FinalRow[];
      if (rows.length === 0) return undefined;
      const entries = rows.map(toBatchEntry);
      const first = entries[0]!;
      const last = entries[entries.length - 1]!;
      const closedAt = this.#c.clock.now();
      // Torn intents the card's log could not settle travel (signed) with the next batch closed.
      const unresolved = (s.unreportedUnresolved.all() as TransactionRow[]).map(toIntent);
      const header = {
        batchId: randomUUID(),
        terminalId: o.terminalId,
        merchantId: o.merchantId,
        closedAt,
        unresolvedIntents: unresolved.map(unresolvedWire),
      };
      const { manifest, manifestSignature } = closeBatch(entries, header, o.sign);
      for (const u of unresolved) s.reportUnresolved.run(manifest.batchId, u.seq);
      s.insert.run(
        manifest.batchId,
        first.chainIndex,
        last.chainIndex,
        JSON.stringify(manifest),
        manifestSignature,
        closedAt,
      );
      s.assign.run(manifest.batchId, first.chainIndex, last.chainIndex);
      return manifest.batchId;
    });
    const ids: string[] = [];
    // One transaction per batch: a crash leaves whole batches or none.
    for (let id = closeOne.immediate(); id !== undefined; id = closeOne.immediate()) ids.push(id);
    const refundBatch = this.#c.db.transaction(() => this.#closeRefunds(o)).immediate();
    if (refundBatch !== undefined) ids.push(refundBatch);
    return ids;
  }

  /** Put the unbatched refunds in a batch; returns the id of a batch closed for them alone. */
  #closeRefunds(o: CloseBatchOptions): string | undefined {
    const s = this.#stmt;
    if ((s.unbatchedRefunds.get() as { n: number }).n === 0) return undefined;
    if ((s.unbatchedFinal.get() as { n: number }).n > 0) return undefined; // a record closes first
    const open = s.newestPending.get() as { batch_id: string; attempts: number } | undefined;
    if (open && open.attempts === 0) {
      s.assignRefunds.run(open.batch_id);
      return undefined;
    }
    const hash = this.#c.meta.get("chain_head");
    const index = Number(this.#c.meta.get("chain_index") ?? 0);
    if (hash === undefined) return undefined; // no record ever: nothing can have been refunded
    const closedAt = this.#c.clock.now();
    const { manifest, manifestSignature } = closeRefundOnlyBatch(
      { hash: new Uint8Array(Buffer.from(hash, "hex")), index },
      { batchId: randomUUID(), terminalId: o.terminalId, merchantId: o.merchantId, closedAt },
      o.sign,
    );
    // first = head + 1, last = head: it holds no record, and sorts after the batch holding the head.
    s.insert.run(manifest.batchId, index + 1, index, JSON.stringify(manifest), manifestSignature, closedAt);
    s.assignRefunds.run(manifest.batchId);
    return manifest.batchId;
  }

  pending(): OutgoingBatch[] {
    return (this.#stmt.pending.all() as BatchRow[]).map(toBatch);
  }

  recordCount(batchId: string): number {
    return (this.#stmt.recordCount.get(batchId) as { n: number }).n;
  }

  entries(batchId: string): BatchEntry[] {
    return (this.#stmt.entries.all(batchId) as FinalRow[]).map(toBatchEntry);
  }

  certificate(fingerprint: string): Uint8Array | undefined {
    const row = this.#stmt.certificate.get(fingerprint) as { der: Buffer } | undefined;
    return row && new Uint8Array(row.der);
  }

  countAttempt(batchId: string): void {
    this.#stmt.countAttempt.run(batchId);
  }

  applyResult(result: BatchResult): void {
    const s = this.#stmt;
    const now = this.#c.clock.now();
    this.#c.db
      .transaction(() => {
        for (const v of result.records) s.setVerdict.run(v.status, v.reason ?? null, result.batchId, v.seq);
        for (const v of result.refunds ?? [])
          s.setRefundVerdict.run(v.status, v.reason ?? null, result.batchId, v.refundId);
        for (const v of result.refundsResolved ?? [])
          s.resolveRefund.run(v.status, v.reason ?? null, v.refundId);
        if (result.status === "rejected") {
          s.rejectRest.run(result.reason ?? "batch rejected", result.batchId);
          s.unreportUnresolved.run(result.batchId); // not taken: they travel with the next batch
          s.unassignRefunds.run(result.batchId); // the same for refunds
        }
        s.answer.run(result.status, now, JSON.stringify(result), result.batchId);
        this.#c.meta.set("last_upload_at", new Date(now).toISOString());
        this.#c.meta.set("last_upload_ms", String(now));
      })
      .immediate();
  }

  lastUploadAt(): number | undefined {
    const ms = this.#c.meta.get("last_upload_ms");
    return ms === undefined ? undefined : Number(ms);
  }

  unbatched(): StatusTally[] {
    return this.#stmt.unbatchedTally.all() as StatusTally[];
  }
}

function prepare(db: Database.Database) {
  return {
    nextUnbatched: db.prepare(
      `SELECT ${FINAL_COLUMNS} FROM transactions
       WHERE chain_index IS NOT NULL AND batch_id IS NULL ORDER BY chain_index LIMIT ?`,
    ),
    assign: db.prepare(
      "UPDATE transactions SET batch_id = ? WHERE chain_index BETWEEN ? AND ? AND batch_id IS NULL",
    ),
    insert: db.prepare(
      `INSERT INTO batches (batch_id, status, first_chain_index, last_chain_index, manifest, manifest_signature, created_at)
       VALUES (?, 'closed', ?, ?, ?, ?, ?)`,
    ),
    // rowid after the index: a refund-only batch shares its first index with the next record batch.
    pending: db.prepare("SELECT * FROM batches WHERE status = 'closed' ORDER BY first_chain_index, rowid"),
    recordCount: db.prepare("SELECT COUNT(*) AS n FROM transactions WHERE batch_id = ?"),
    entries: db.prepare(`SELECT ${FINAL_COLUMNS} FROM transactions WHERE batch_id = ? ORDER BY chain_index`),
    certificate: db.prepare("SELECT der FROM certificates WHERE fingerprint = ?"),
    countAttempt: db.prepare("UPDATE batches SET attempts = attempts + 1 WHERE batch_id = ?"),
    setVerdict: db.prepare(
      "UPDATE transactions SET upload_status = ?, upload_reason = ? WHERE batch_id = ? AND seq = ?",
    ),
    rejectRest: db.prepare(
      "UPDATE transactions SET upload_status = 'rejected', upload_reason = ? WHERE batch_id = ? AND upload_status IS NULL",
    ),
    unreportedUnresolved: db.prepare(
      `SELECT * FROM transactions WHERE status = 'pending' AND unresolved_reason IS NOT NULL
       AND unresolved_batch_id IS NULL ORDER BY seq LIMIT ${MAX_UNRESOLVED_INTENTS}`,
    ),
    reportUnresolved: db.prepare("UPDATE transactions SET unresolved_batch_id = ? WHERE seq = ?"),
    unreportUnresolved: db.prepare(
      "UPDATE transactions SET unresolved_batch_id = NULL WHERE unresolved_batch_id = ? AND status = 'pending'",
    ),
    unbatchedRefunds: db.prepare("SELECT COUNT(*) AS n FROM refunds WHERE batch_id IS NULL"),
    unbatchedFinal: db.prepare(
      "SELECT COUNT(*) AS n FROM transactions WHERE chain_index IS NOT NULL AND batch_id IS NULL",
    ),
    newestPending: db.prepare(
      "SELECT batch_id, attempts FROM batches WHERE status = 'closed' ORDER BY first_chain_index DESC, rowid DESC LIMIT 1",
    ),
    assignRefunds: db.prepare(
      `UPDATE refunds SET batch_id = ? WHERE refund_id IN
       (SELECT refund_id FROM refunds WHERE batch_id IS NULL ORDER BY refund_id LIMIT ${MAX_BATCH_REFUNDS})`,
    ),
    setRefundVerdict: db.prepare(
      "UPDATE refunds SET upload_status = ?, upload_reason = ? WHERE batch_id = ? AND refund_id = ?",
    ),
    // A refund of an earlier batch that waited at the acquirer for its debit, now final.
    resolveRefund: db.prepare(
      "UPDATE refunds SET upload_status = ?, upload_reason = ? WHERE refund_id = ? AND upload_status = 'pending'",
    ),
    unassignRefunds: db.prepare(
      "UPDATE refunds SET batch_id = NULL WHERE batch_id = ? AND upload_status IS NULL",
    ),
    answer: db.prepare("UPDATE batches SET status = ?, settled_at = ?, result = ? WHERE batch_id = ?"),
    unbatchedTally: db.prepare(
      `SELECT status, currency, COUNT(*) AS count, SUM(amount) AS amount FROM transactions
       WHERE batch_id IS NULL GROUP BY status, currency ORDER BY status, currency`,
    ),
  };
}
