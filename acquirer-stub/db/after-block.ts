/**
 * Debits accepted though dated after their wallet's block, inside the hotlist grace period
 * (`after_block_records`, domain/block-binding.ts): written with the batch that settles them,
 * read by the operator's views. No transaction here: the batch's runs around it.
 */
import type { AfterBlockFlag } from "../domain/block-binding.js";
import type { Db } from "./schema.js";

export interface AfterBlockRecord extends AfterBlockFlag {
  readonly terminalId: string;
  readonly batchId: string;
}

export class AfterBlockRecords {
  constructor(readonly db: Db) {}

  async insert(flags: readonly AfterBlockFlag[], ctx: { terminalId: string; batchId: string; now: number }) {
    if (flags.length === 0) return;
    await this.db
      .insertInto("after_block_records")
      .values(
        flags.map((f) => ({
          terminal_id: ctx.terminalId,
          batch_id: ctx.batchId,
          seq: f.seq,
          wallet_id: f.walletId,
          card_counter: f.cardCounter,
          amount: f.amount,
          currency: f.currency,
          record_time: f.recordTime,
          blocked_at: f.blockedAt,
          at: ctx.now,
        })),
      )
      .execute();
  }

  /** Every such debit (of one wallet when given), oldest record first. */
  async list(walletId?: string): Promise<AfterBlockRecord[]> {
    let q = this.db.selectFrom("after_block_records").selectAll();
    if (walletId !== undefined) q = q.where("wallet_id", "=", walletId);
    const rows = await q.orderBy("record_time").orderBy("terminal_id").orderBy("seq").execute();
    return rows.map((r) => ({
      terminalId: r.terminal_id,
      batchId: r.batch_id,
      seq: Number(r.seq),
      walletId: r.wallet_id,
      cardCounter: Number(r.card_counter),
      amount: Number(r.amount),
      currency: r.currency,
      recordTime: Number(r.record_time),
      blockedAt: Number(r.blocked_at),
    }));
  }
}
