/**
 * Batches in the acquirer's database: one row per batch id that got a verdict (`batches`), with the
 * JSON answered the first time so every retry with the same content replays it byte for byte, and
 * the business days each settled batch carries (`batch_days`, read by the reconciliation report).
 *
 * No transaction here: the store writes a batch row together with its entries in one.
 */
import type Database from "../../protocol/sqlite.js";
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import { type BatchDecision, businessDay } from "../domain/verify.js";

export interface StoredBatch {
  readonly batchId: string;
  readonly contentHash: string;
  readonly terminalId: string;
  readonly httpStatus: number;
  /** The JSON text answered the first time, replayed byte for byte. */
  readonly response: string;
}

export interface ApplyContext {
  readonly upload: BatchUpload;
  readonly contentHash: string;
  readonly terminalId: string;
  readonly merchantId: string;
  /** Unix seconds. */
  readonly now: number;
}

/** A verdict that is stored: settled, or rejected as a whole. */
export type FinalDecision = Extract<BatchDecision, { kind: "final" }>;

interface BatchRow {
  batch_id: string;
  content_hash: string;
  terminal_id: string;
  http_status: number;
  response: string;
}

function statements(db: Database.Database) {
  return {
    byId: db.prepare(
      "SELECT batch_id, content_hash, terminal_id, http_status, response FROM batches WHERE batch_id = ?",
    ),
    insert: db.prepare(
      `INSERT INTO batches (batch_id, content_hash, terminal_id, merchant_id, received_at, received_day,
         created_at, status, reason, http_status, response, manifest, manifest_signature, record_count,
         accepted, rejected, differences)
       VALUES (@batchId, @contentHash, @terminalId, @merchantId, @receivedAt, @receivedDay, @createdAt,
         @status, @reason, @httpStatus, @response, @manifest, @manifestSignature, @recordCount,
         @accepted, @rejected, @differences)`,
    ),
    insertDay: db.prepare(
      "INSERT INTO batch_days (business_day, batch_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
    ),
  };
}

export class Batches {
  readonly #s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#s = statements(db);
  }

  /** The stored verdict of a batch id, if it has one. */
  get(batchId: string): StoredBatch | undefined {
    const row = this.#s.byId.get(batchId) as BatchRow | undefined;
    return row
      ? {
          batchId: row.batch_id,
          contentHash: row.content_hash,
          terminalId: row.terminal_id,
          httpStatus: row.http_status,
          response: row.response,
        }
      : undefined;
  }

  /** Store the batch row with its verdict. Returns the response text (answered now, replayed later). */
  insert(decision: FinalDecision, ctx: ApplyContext): string {
    const m = ctx.upload.manifest;
    const response = JSON.stringify(decision.result);
    this.#s.insert.run({
      batchId: m.batchId,
      contentHash: ctx.contentHash,
      terminalId: ctx.terminalId,
      merchantId: ctx.merchantId,
      receivedAt: ctx.now,
      receivedDay: businessDay(ctx.now),
      createdAt: m.createdAt,
      status: decision.result.status,
      reason: decision.result.reason ?? null,
      httpStatus: decision.httpStatus,
      response,
      manifest: JSON.stringify(m),
      manifestSignature: ctx.upload.manifestSignature,
      recordCount: ctx.upload.records.length,
      accepted: decision.result.accepted,
      rejected: decision.result.rejected,
      differences: JSON.stringify(decision.differences),
    });
    return response;
  }

  /** Record the business days a settled batch's entries fall on. */
  addDays(batchId: string, days: Iterable<string>): void {
    for (const day of days) this.#s.insertDay.run(day, batchId);
  }
}
