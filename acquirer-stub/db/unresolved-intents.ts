/**
 * Torn intents a terminal could not resolve from the card's log (`unresolved_intents`): the card
 * may have committed the debit, but its 32-entry log had moved past it, so only the back office can
 * tell (the wallet's records from every terminal: a counter gap where the debit would be, and the
 * balance drop across it). They arrive signed in a settled batch's manifest and stay `open` until
 * an operator settles them; a terminal re-reporting one (the same terminal id and seq) changes
 * nothing.
 */
import type Database from "../../protocol/sqlite.js";
import type { UnresolvedIntentWire } from "../../protocol/wallet/batch.js";
import type { ApplyContext } from "./batches.js";

export interface OpenUnresolvedIntent extends UnresolvedIntentWire {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly batchId: string;
  /** Unix seconds. */
  readonly receivedAt: number;
  readonly status: "open" | "resolved";
}

interface Row {
  terminal_id: string;
  seq: number;
  merchant_id: string;
  wallet_id: string;
  amount: number;
  currency: number;
  terminal_time: number;
  card_counter_seen: number | null;
  reason: string;
  batch_id: string;
  received_at: number;
  status: "open" | "resolved";
}

function statements(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO unresolved_intents (terminal_id, seq, merchant_id, wallet_id, amount, currency,
         terminal_time, card_counter_seen, reason, batch_id, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    open: db.prepare(
      "SELECT * FROM unresolved_intents WHERE status = 'open' ORDER BY received_at, terminal_id, seq",
    ),
  };
}

export class UnresolvedIntents {
  readonly #s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#s = statements(db);
  }

  /** Store the manifest's unresolved intents (inside the batch's transaction). */
  insert(ctx: ApplyContext): number {
    let n = 0;
    for (const u of ctx.upload.manifest.unresolvedIntents ?? []) {
      n += this.#s.insert.run(
        ctx.terminalId,
        u.seq,
        ctx.merchantId,
        u.walletId,
        u.amount,
        u.currency,
        u.terminalTime,
        u.cardCounterSeen ?? null,
        u.reason,
        ctx.upload.manifest.batchId,
        ctx.now,
      ).changes;
    }
    return n;
  }

  open(): OpenUnresolvedIntent[] {
    return (this.#s.open.all() as Row[]).map((r) => ({
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
