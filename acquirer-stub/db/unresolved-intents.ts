/**
 * Torn intents a terminal could not resolve from the card's log (`unresolved_intents`): the card
 * may have committed the debit, but its 32-entry log had moved past it, so only the back office can
 * tell (the wallet's records from every terminal: a counter gap where the debit would be, and the
 * balance drop across it). They arrive signed in a settled batch's manifest and stay `open` until
 * an operator settles them; a terminal re-reporting one (the same terminal id and seq) changes
 * nothing.
 */
import type { UnresolvedIntentWire } from "../../protocol/wallet/batch.js";
import type { ApplyContext } from "./batches.js";
import type { Db } from "./schema.js";

export interface OpenUnresolvedIntent extends UnresolvedIntentWire {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly batchId: string;
  /** Unix seconds. */
  readonly receivedAt: number;
  readonly status: "open" | "resolved";
}

export class UnresolvedIntents {
  constructor(readonly db: Db) {}

  /** Store the manifest's unresolved intents (inside the batch's transaction). */
  async insert(ctx: ApplyContext): Promise<number> {
    let n = 0;
    for (const u of ctx.upload.manifest.unresolvedIntents ?? []) {
      const r = await this.db
        .insertInto("unresolved_intents")
        .values({
          terminal_id: ctx.terminalId,
          seq: u.seq,
          merchant_id: ctx.merchantId,
          wallet_id: u.walletId,
          amount: u.amount,
          currency: u.currency,
          terminal_time: u.terminalTime,
          card_counter_seen: u.cardCounterSeen ?? null,
          reason: u.reason,
          batch_id: ctx.upload.manifest.batchId,
          received_at: ctx.now,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      n += Number(r.numInsertedOrUpdatedRows ?? 0n);
    }
    return n;
  }

  async open(): Promise<OpenUnresolvedIntent[]> {
    const rows = await this.db
      .selectFrom("unresolved_intents")
      .selectAll()
      .where("status", "=", "open")
      .orderBy("received_at")
      .orderBy("terminal_id")
      .orderBy("seq")
      .execute();
    return rows.map((r) => ({
      terminalId: r.terminal_id,
      seq: r.seq,
      merchantId: r.merchant_id,
      walletId: r.wallet_id,
      amount: r.amount,
      currency: r.currency,
      terminalTime: r.terminal_time,
      ...(r.card_counter_seen === null ? {} : { cardCounterSeen: r.card_counter_seen }),
      reason: r.reason,
      batchId: r.batch_id,
      receivedAt: r.received_at,
      status: r.status,
    }));
  }
}
