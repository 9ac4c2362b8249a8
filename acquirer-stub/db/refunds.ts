/**
 * Refunds in the acquirer's database (`refunds`, `refund_totals`, migration 003_refunds), read and
 * written inside the batch's transaction. A refund row is inserted once per terminal and refund id
 * (a second writer's insert fails on the primary key and its transaction reruns: it then finds the
 * row, a duplicate). What is refunded of a debit moves only by the guarded update in `addToTotal`,
 * which the database refuses past the debit's amount: the one place the bound is decided.
 */
import { asBuffer } from "../../protocol/bytes.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import type { RefundWire } from "../../protocol/wallet/refund.js";
import type { RefundFacts, RefundOriginal } from "../domain/refunds.js";
import { sameRefund } from "../domain/refunds.js";
import type { Db, RefundsTable } from "./schema.js";

export type StoredRefundRow = Pick<
  RefundsTable,
  | "refund_id"
  | "original_seq"
  | "wallet_id"
  | "card_counter"
  | "amount"
  | "currency"
  | "created_at"
  | "signature"
  | "status"
>;

const wireOf = (r: StoredRefundRow): RefundWire => ({
  refundId: r.refund_id,
  originalSeq: r.original_seq,
  walletId: r.wallet_id,
  cardCounter: r.card_counter,
  amount: r.amount,
  currency: r.currency,
  createdAt: r.created_at,
  signature: Buffer.from(r.signature).toString("hex"),
});

export class Refunds {
  constructor(readonly db: Db) {}

  /** The facts one refund of `terminalId` is decided on (domain/refunds.ts › decideRefund). */
  async facts(terminalId: string, r: RefundWire): Promise<RefundFacts> {
    const stored = await this.db
      .selectFrom("refunds")
      .selectAll()
      .where("terminal_id", "=", terminalId)
      .where("refund_id", "=", r.refundId)
      .executeTakeFirst();
    const original = await this.db
      .selectFrom("records")
      .select(["terminal_id", "merchant_id", "seq", "wallet_id", "card_counter", "amount", "currency"])
      .where("wallet_id", "=", r.walletId)
      .where("card_counter", "=", r.cardCounter)
      .where("status", "=", "accepted")
      .where("type", "=", RECORD_TYPE.DEBIT)
      .executeTakeFirst();
    const seqRows = await this.db
      .selectFrom("records")
      .select("status")
      .where("terminal_id", "=", terminalId)
      .where("seq", "=", r.originalSeq)
      .execute();
    const statuses = new Set(seqRows.map((s) => s.status));
    const bySeq = statuses.has("accepted")
      ? ("accepted" as const)
      : statuses.has("voided")
        ? ("voided" as const)
        : statuses.has("rejected")
          ? ("rejected" as const)
          : undefined;
    return {
      stored: stored
        ? { sameContent: sameRefund(wireOf(stored), r) && wireOf(stored).signature === r.signature }
        : undefined,
      byCounter: original
        ? {
            terminalId: original.terminal_id,
            merchantId: original.merchant_id,
            seq: original.seq,
            walletId: original.wallet_id!,
            cardCounter: original.card_counter!,
            amount: original.amount!,
            currency: original.currency!,
          }
        : undefined,
      bySeq: bySeq === undefined ? undefined : { status: bySeq },
    };
  }

  /** Store a refund the batch carried, in the state decided. */
  async insert(
    r: RefundWire,
    row: {
      terminalId: string;
      merchantId: string;
      batchId: string;
      status: RefundsTable["status"];
      reason: string | null;
      now: number;
    },
  ): Promise<void> {
    await this.db
      .insertInto("refunds")
      .values({
        terminal_id: row.terminalId,
        refund_id: r.refundId,
        batch_id: row.batchId,
        merchant_id: row.merchantId,
        original_seq: r.originalSeq,
        wallet_id: r.walletId,
        card_counter: r.cardCounter,
        amount: r.amount,
        currency: r.currency,
        created_at: r.createdAt,
        signature: asBuffer(Buffer.from(r.signature, "hex")),
        status: row.status,
        reason: row.reason,
        received_at: row.now,
        settled_batch_id: row.status === "settled" ? row.batchId : null,
        settled_at: row.status === "settled" ? row.now : null,
      })
      .execute();
  }

  /**
   * Add `amount` to what is refunded of `original`, unless it would pass the original amount.
   * Returns false (nothing changed) when it would.
   */
  async addToTotal(original: RefundOriginal, amount: number): Promise<boolean> {
    await this.db
      .insertInto("refund_totals")
      .values({
        terminal_id: original.terminalId,
        seq: original.seq,
        original_amount: original.amount,
        refunded: 0,
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
    const updated = await this.db
      .updateTable("refund_totals")
      .set((eb) => ({ refunded: eb("refunded", "+", amount) }))
      .where("terminal_id", "=", original.terminalId)
      .where("seq", "=", original.seq)
      .where((eb) => eb(eb("refunded", "+", amount), "<=", eb.ref("original_amount")))
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) === 1;
  }

  /** This terminal's refunds still waiting for their original (few: each is a refund sent early). */
  async waiting(terminalId: string): Promise<RefundWire[]> {
    const rows = await this.db
      .selectFrom("refunds")
      .selectAll()
      .where("terminal_id", "=", terminalId)
      .where("status", "=", "pending")
      .orderBy("refund_id")
      .execute();
    return rows.map(wireOf);
  }

  /** A waiting refund is settled or rejected now (by the batch `batchId`). */
  async resolveWaiting(
    terminalId: string,
    refundId: number,
    outcome: { status: "settled" | "rejected"; reason: string | null; batchId: string; now: number },
  ): Promise<void> {
    await this.db
      .updateTable("refunds")
      .set({
        status: outcome.status,
        reason: outcome.reason,
        settled_batch_id: outcome.status === "settled" ? outcome.batchId : null,
        settled_at: outcome.status === "settled" ? outcome.now : null,
      })
      .where("terminal_id", "=", terminalId)
      .where("refund_id", "=", refundId)
      .where("status", "=", "pending")
      .execute();
  }
}
