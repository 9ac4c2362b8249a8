/**
 * The LoadIntents port in the terminal's SQLite file (`load_intents`): one row per load this
 * terminal ran, written (synchronous=FULL) before the platform is asked, so that a load cut off
 * anywhere is listed by `posd status` until it is settled.
 */
import type { LoadIntents } from "../../application/ports.js";
import type { LoadIntent, LoadIntentState, NewLoadIntent } from "../../domain/loads.js";
import type { Connection } from "./database.js";

interface LoadRow {
  load_id: string;
  wallet_id: string;
  type: LoadIntent["type"];
  amount: number;
  currency: number;
  teller: string | null;
  state: LoadIntentState;
  created_at: number;
  resolved_at: number | null;
  resolution: string | null;
  card_record: Buffer | null;
  card_signature: Buffer | null;
}

function toIntent(r: LoadRow): LoadIntent {
  return {
    loadId: r.load_id,
    walletId: r.wallet_id,
    type: r.type,
    amount: r.amount,
    currency: r.currency,
    ...(r.teller === null ? {} : { teller: r.teller }),
    state: r.state,
    createdAt: r.created_at,
    ...(r.resolved_at === null ? {} : { resolvedAt: r.resolved_at }),
    ...(r.resolution === null ? {} : { resolution: r.resolution }),
    ...(r.card_record === null || r.card_signature === null
      ? {}
      : { proof: { record: new Uint8Array(r.card_record), signature: new Uint8Array(r.card_signature) } }),
  };
}

export class SqliteLoadIntents implements LoadIntents {
  readonly #c: Connection;
  readonly #stmt;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = {
      insert: c.db.prepare(
        `INSERT INTO load_intents (load_id, wallet_id, type, amount, currency, teller, state, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
      ),
      resolve: c.db.prepare(
        `UPDATE load_intents SET state = ?, resolved_at = ?, resolution = ?
         WHERE load_id = ? AND state = 'pending'`,
      ),
      keepProof: c.db.prepare(
        "UPDATE load_intents SET card_record = ?, card_signature = ? WHERE load_id = ? AND state = 'pending'",
      ),
      get: c.db.prepare("SELECT * FROM load_intents WHERE load_id = ?"),
      inDoubt: c.db.prepare(
        "SELECT * FROM load_intents WHERE state = 'pending' ORDER BY created_at, load_id",
      ),
    };
  }

  begin(intent: NewLoadIntent): LoadIntent {
    const now = this.#c.clock.now();
    this.#stmt.insert.run(
      intent.loadId,
      intent.walletId,
      intent.type,
      intent.amount,
      intent.currency,
      intent.teller ?? null,
      now,
    );
    return { ...intent, state: "pending", createdAt: now };
  }

  resolve(loadId: string, state: Exclude<LoadIntentState, "pending">, resolution?: string): void {
    this.#stmt.resolve.run(state, this.#c.clock.now(), resolution ?? null, loadId);
  }

  keepProof(loadId: string, proof: { record: Uint8Array; signature: Uint8Array }): void {
    this.#stmt.keepProof.run(Buffer.from(proof.record), Buffer.from(proof.signature), loadId);
  }

  get(loadId: string): LoadIntent | undefined {
    const row = this.#stmt.get.get(loadId) as LoadRow | undefined;
    return row && toIntent(row);
  }

  inDoubt(): LoadIntent[] {
    return (this.#stmt.inDoubt.all() as LoadRow[]).map(toIntent);
  }
}
