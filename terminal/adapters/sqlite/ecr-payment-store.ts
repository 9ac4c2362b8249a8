/**
 * Cash-register payments in the terminal's SQLite file (the `ecr_payments` table): the
 * EcrPayments port. Every state change is a row update, so a register's status query is answered
 * the same after a restart of posd.
 */
import type Database from "../../../protocol/sqlite.js";
import type { EcrPayments } from "../../application/ports.js";
import type { EcrState, NewEcrPayment, StateTally, StoredEcrPayment } from "../../domain/ecr-payment.js";
import type { Connection } from "./database.js";

interface EcrRow {
  service_id: string;
  request_hash: string;
  amount: number;
  currency: number;
  reference: string | null;
  state: EcrState;
  seq: number | null;
  outcome: string | null;
  created_at: number;
  updated_at: number;
}

function toPayment(r: EcrRow): StoredEcrPayment {
  return {
    serviceId: r.service_id,
    requestHash: r.request_hash,
    amount: r.amount,
    currency: r.currency,
    reference: r.reference ?? undefined,
    state: r.state,
    seq: r.seq ?? undefined,
    outcome: r.outcome === null ? undefined : (JSON.parse(r.outcome) as Record<string, unknown>),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class EcrPaymentStore implements EcrPayments {
  readonly #c: Connection;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = prepare(c.db);
  }

  create(p: NewEcrPayment): void {
    const now = this.#c.clock.now();
    this.#stmt.insert.run(p.serviceId, p.requestHash, p.amount, p.currency, p.reference ?? null, now, now);
  }

  get(serviceId: string): StoredEcrPayment | undefined {
    const row = this.#stmt.get.get(serviceId) as EcrRow | undefined;
    return row && toPayment(row);
  }

  bySeq(seq: number): StoredEcrPayment | undefined {
    const row = this.#stmt.bySeq.get(seq) as EcrRow | undefined;
    return row && toPayment(row);
  }

  update(
    serviceId: string,
    state: EcrState,
    change: { readonly seq?: number; readonly outcome?: Record<string, unknown> } = {},
  ): void {
    const outcome = change.outcome === undefined ? null : JSON.stringify(change.outcome);
    this.#stmt.update.run(state, change.seq ?? null, outcome, this.#c.clock.now(), serviceId);
  }

  endInterrupted(outcome: Record<string, unknown>): void {
    const now = this.#c.clock.now();
    this.#c.db.transaction(() => {
      this.#stmt.abortWaiting.run(now);
      this.#stmt.tearInProgress.run(now);
      this.#stmt.failInProgress.run(JSON.stringify(outcome), now);
    })();
  }

  tallySince(sinceMs: number): StateTally[] {
    return this.#stmt.tally.all(sinceMs) as StateTally[];
  }
}

function prepare(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO ecr_payments (service_id, request_hash, amount, currency, reference, state, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'waiting_for_card', ?, ?)`,
    ),
    get: db.prepare("SELECT * FROM ecr_payments WHERE service_id = ?"),
    update: db.prepare(
      "UPDATE ecr_payments SET state = ?, seq = COALESCE(?, seq), outcome = COALESCE(?, outcome), updated_at = ? WHERE service_id = ?",
    ),
    abortWaiting: db.prepare(
      "UPDATE ecr_payments SET state = 'aborted', updated_at = ? WHERE state = 'waiting_for_card'",
    ),
    bySeq: db.prepare("SELECT * FROM ecr_payments WHERE seq = ?"),
    tearInProgress: db.prepare(
      "UPDATE ecr_payments SET state = 'torn', updated_at = ? WHERE state = 'in_progress' AND seq IS NOT NULL",
    ),
    failInProgress: db.prepare(
      "UPDATE ecr_payments SET state = 'error', outcome = ?, updated_at = ? WHERE state = 'in_progress' AND seq IS NULL",
    ),
    tally: db.prepare(
      `SELECT state, currency, COUNT(*) AS count, SUM(amount) AS amount FROM ecr_payments
       WHERE created_at >= ? GROUP BY state, currency ORDER BY state, currency`,
    ),
  };
}
