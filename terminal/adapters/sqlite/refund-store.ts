/**
 * Refunds in the terminal's SQLite file (the `refunds` table): the RefundLedger port. A refund is
 * checked against its original debit and the refunds already stored for it, numbered, signed and
 * stored in one BEGIN IMMEDIATE transaction, so two refunds of the same debit at once (the CLI and
 * the daemon) cannot both pass the check. The batch columns are BatchStore's (batch-store.ts).
 */
import type { RecordLedger, RefundLedger } from "../../application/ports.js";
import type { RecordSigner } from "../../domain/records.js";
import {
  countsAgainstOriginal,
  type NewRefund,
  refundRefusal,
  type StoredRefund,
  signRefund,
} from "../../domain/refunds.js";
import { TerminalError } from "../../errors.js";
import type { Connection } from "./database.js";

export interface RefundRow {
  refund_id: number;
  original_seq: number;
  wallet_id: string;
  card_counter: number;
  amount: number;
  currency: number;
  created_at: number;
  signature: Buffer;
  service_id: string | null;
  request_hash: string | null;
  batch_id: string | null;
  upload_status: StoredRefund["uploadStatus"] | null;
  upload_reason: string | null;
}

export function toRefund(r: RefundRow): StoredRefund {
  return {
    refundId: r.refund_id,
    originalSeq: r.original_seq,
    walletId: r.wallet_id,
    cardCounter: r.card_counter,
    amount: r.amount,
    currency: r.currency,
    createdAt: r.created_at,
    signature: new Uint8Array(r.signature),
    serviceId: r.service_id ?? undefined,
    requestHash: r.request_hash ?? undefined,
    batchId: r.batch_id ?? undefined,
    uploadStatus: r.upload_status ?? undefined,
    uploadReason: r.upload_reason ?? undefined,
  };
}

export class SqliteRefunds implements RefundLedger {
  readonly #c: Connection;
  readonly #records: Pick<RecordLedger, "get">;
  readonly #stmt;

  constructor(c: Connection, records: Pick<RecordLedger, "get">) {
    this.#c = c;
    this.#records = records;
    this.#stmt = {
      insert: c.db.prepare(
        `INSERT INTO refunds (original_seq, wallet_id, card_counter, amount, currency, created_at, service_id, request_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      sign: c.db.prepare("UPDATE refunds SET signature = ? WHERE refund_id = ?"),
      get: c.db.prepare("SELECT * FROM refunds WHERE refund_id = ?"),
      byServiceId: c.db.prepare("SELECT * FROM refunds WHERE service_id = ?"),
      forSeq: c.db.prepare("SELECT * FROM refunds WHERE original_seq = ? ORDER BY refund_id"),
      inBatch: c.db.prepare("SELECT * FROM refunds WHERE batch_id = ? ORDER BY refund_id"),
      outstanding: c.db.prepare(
        "SELECT * FROM refunds WHERE upload_status IS NULL OR upload_status = 'pending' ORDER BY refund_id",
      ),
    };
  }

  create(refund: NewRefund, terminalId: string, sign: RecordSigner): StoredRefund {
    return this.#c.db
      .transaction((): StoredRefund => {
        if (refund.serviceId !== undefined && this.byServiceId(refund.serviceId))
          throw new TerminalError(
            "TERM_ERR_ECR_CONFLICT",
            `serviceId ${refund.serviceId} was already used for another refund`,
          );
        const original = this.#records.get(refund.originalSeq);
        const refunded = this.forSeq(refund.originalSeq)
          .filter(countsAgainstOriginal)
          .reduce((sum, r) => sum + r.amount, 0);
        const refusal = refundRefusal(original, refund, refunded);
        if (refusal)
          throw new TerminalError(refusal.code, refusal.message, {
            details: { seq: refund.originalSeq, amount: refund.amount, refunded },
          });
        const createdAt = Math.floor(this.#c.clock.now() / 1000);
        const info = this.#stmt.insert.run(
          refund.originalSeq,
          original!.walletId,
          original!.cardCounter!,
          refund.amount,
          refund.currency,
          createdAt,
          refund.serviceId ?? null,
          refund.requestHash ?? null,
        );
        const refundId = Number(info.lastInsertRowid);
        const signature = signRefund(
          terminalId,
          {
            refundId,
            originalSeq: refund.originalSeq,
            walletId: original!.walletId,
            cardCounter: original!.cardCounter!,
            amount: refund.amount,
            currency: refund.currency,
            createdAt,
          },
          sign,
        );
        this.#stmt.sign.run(Buffer.from(signature), refundId);
        return this.get(refundId)!;
      })
      .immediate();
  }

  get(refundId: number): StoredRefund | undefined {
    const row = this.#stmt.get.get(refundId) as RefundRow | undefined;
    return row && toRefund(row);
  }

  byServiceId(serviceId: string): StoredRefund | undefined {
    const row = this.#stmt.byServiceId.get(serviceId) as RefundRow | undefined;
    return row && toRefund(row);
  }

  forSeq(originalSeq: number): StoredRefund[] {
    return (this.#stmt.forSeq.all(originalSeq) as RefundRow[]).map(toRefund);
  }

  inBatch(batchId: string): StoredRefund[] {
    return (this.#stmt.inBatch.all(batchId) as RefundRow[]).map(toRefund);
  }

  outstanding(): StoredRefund[] {
    return (this.#stmt.outstanding.all() as RefundRow[]).map(toRefund);
  }
}
