/**
 * The cash register's stored-value operations in the terminal's SQLite file (`ecr_stored_values`):
 * the EcrStoredValues port. Every state change is a row update, so a register's status query is
 * answered the same after a restart of posd.
 */
import type { EcrStoredValues } from "../../application/ports.js";
import type {
  NewEcrStoredValue,
  StoredEcrStoredValue,
  StoredValueOperation,
  StoredValueSource,
  StoredValueState,
} from "../../domain/ecr-stored-value.js";
import type { Connection } from "./database.js";

interface StoredValueRow {
  service_id: string;
  request_hash: string;
  operation: StoredValueOperation;
  amount: number | null;
  currency: number | null;
  source: StoredValueSource | null;
  teller: string | null;
  from_account: string | null;
  load_id: string | null;
  state: StoredValueState;
  outcome: string | null;
  created_at: number;
  updated_at: number;
}

function toOperation(r: StoredValueRow): StoredEcrStoredValue {
  return {
    serviceId: r.service_id,
    requestHash: r.request_hash,
    terms: {
      operation: r.operation,
      ...(r.amount === null ? {} : { amount: r.amount }),
      ...(r.currency === null ? {} : { currency: r.currency }),
      ...(r.source === null ? {} : { source: r.source }),
      ...(r.teller === null ? {} : { teller: r.teller }),
      ...(r.from_account === null ? {} : { fromAccount: r.from_account }),
      // A reverse names its load in its terms; a load's own id is not one of its terms.
      ...(r.operation === "reverse" && r.load_id !== null ? { loadId: r.load_id } : {}),
    },
    state: r.state,
    loadId: r.load_id ?? undefined,
    outcome: r.outcome === null ? undefined : (JSON.parse(r.outcome) as Record<string, unknown>),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class SqliteStoredValues implements EcrStoredValues {
  readonly #c: Connection;
  readonly #stmt;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = {
      insert: c.db.prepare(
        `INSERT INTO ecr_stored_values (service_id, request_hash, operation, amount, currency, source, teller,
                                        from_account, load_id, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting_for_card', ?, ?)`,
      ),
      get: c.db.prepare("SELECT * FROM ecr_stored_values WHERE service_id = ?"),
      update: c.db.prepare(
        `UPDATE ecr_stored_values SET state = ?, load_id = COALESCE(?, load_id), outcome = COALESCE(?, outcome),
                updated_at = ?
         WHERE service_id = ?`,
      ),
      unfinished: c.db.prepare(
        `SELECT * FROM ecr_stored_values WHERE state IN ('waiting_for_card', 'in_progress')
         ORDER BY created_at, service_id`,
      ),
    };
  }

  create(o: NewEcrStoredValue): void {
    const now = this.#c.clock.now();
    const t = o.terms;
    this.#stmt.insert.run(
      o.serviceId,
      o.requestHash,
      t.operation,
      t.amount ?? null,
      t.currency ?? null,
      t.source ?? null,
      t.teller ?? null,
      t.fromAccount ?? null,
      t.loadId ?? null,
      now,
      now,
    );
  }

  get(serviceId: string): StoredEcrStoredValue | undefined {
    const row = this.#stmt.get.get(serviceId) as StoredValueRow | undefined;
    return row && toOperation(row);
  }

  update(
    serviceId: string,
    state: StoredValueState,
    change: { readonly loadId?: string; readonly outcome?: Record<string, unknown> } = {},
  ): void {
    const outcome = change.outcome === undefined ? null : JSON.stringify(change.outcome);
    this.#stmt.update.run(state, change.loadId ?? null, outcome, this.#c.clock.now(), serviceId);
  }

  unfinished(): StoredEcrStoredValue[] {
    return (this.#stmt.unfinished.all() as StoredValueRow[]).map(toOperation);
  }
}
