/**
 * Batches in the acquirer's database: one row per terminal and batch id that got a verdict
 * (`batches`), with the JSON answered the first time so every retry with the same content replays
 * it byte for byte, and the business days each settled batch carries (`batch_days`, read by the
 * reconciliation report).
 *
 * No transaction here: the store writes a batch row together with its entries in one.
 */
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import { type BatchDecision, businessDay } from "../domain/verify.js";
import type { Db } from "./schema.js";

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

const COLUMNS = ["batch_id", "content_hash", "terminal_id", "http_status", "response"] as const;

function stored(row: {
  batch_id: string;
  content_hash: string;
  terminal_id: string;
  http_status: number;
  response: string;
}): StoredBatch {
  return {
    batchId: row.batch_id,
    contentHash: row.content_hash,
    terminalId: row.terminal_id,
    httpStatus: row.http_status,
    response: row.response,
  };
}

export class Batches {
  constructor(readonly db: Db) {}

  /** The stored verdict of a terminal's batch id, if it has one. */
  async get(terminalId: string, batchId: string): Promise<StoredBatch | undefined> {
    const row = await this.db
      .selectFrom("batches")
      .select(COLUMNS)
      .where("terminal_id", "=", terminalId)
      .where("batch_id", "=", batchId)
      .executeTakeFirst();
    return row ? stored(row) : undefined;
  }

  /** Every stored verdict with this batch id (one per terminal that used it). */
  async byId(batchId: string): Promise<StoredBatch[]> {
    const rows = await this.db
      .selectFrom("batches")
      .select(COLUMNS)
      .where("batch_id", "=", batchId)
      .orderBy("received_at")
      .orderBy("terminal_id")
      .execute();
    return rows.map(stored);
  }

  /** Store the batch row with its verdict. Returns the response text (answered now, replayed later). */
  async insert(decision: FinalDecision, ctx: ApplyContext): Promise<string> {
    const m = ctx.upload.manifest;
    const response = JSON.stringify(decision.result);
    await this.db
      .insertInto("batches")
      .values({
        batch_id: m.batchId,
        content_hash: ctx.contentHash,
        terminal_id: ctx.terminalId,
        merchant_id: ctx.merchantId,
        received_at: ctx.now,
        received_day: businessDay(ctx.now),
        created_at: m.createdAt,
        status: decision.result.status,
        reason: decision.result.reason ?? null,
        http_status: decision.httpStatus,
        response,
        manifest: JSON.stringify(m),
        manifest_signature: ctx.upload.manifestSignature,
        record_count: ctx.upload.records.length,
        accepted: decision.result.accepted,
        rejected: decision.result.rejected,
        differences: JSON.stringify(decision.differences),
      })
      .execute();
    return response;
  }

  /** Replace a batch's stored answer (in the transaction that wrote it: refund verdicts added). */
  async setResponse(terminalId: string, batchId: string, response: string): Promise<void> {
    await this.db
      .updateTable("batches")
      .set({ response })
      .where("terminal_id", "=", terminalId)
      .where("batch_id", "=", batchId)
      .execute();
  }

  /** Record the business days a settled batch's entries fall on. */
  async addDays(terminalId: string, batchId: string, days: Iterable<string>): Promise<void> {
    const rows = [...days].map((business_day) => ({
      business_day,
      terminal_id: terminalId,
      batch_id: batchId,
    }));
    if (rows.length === 0) return;
    await this.db
      .insertInto("batch_days")
      .values(rows)
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
}
