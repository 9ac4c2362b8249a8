/**
 * The cash register's stored-value operations in memory (EcrStoredValues), with the rules of the
 * SQLite adapter (terminal/adapters/sqlite/stored-value-store.ts): a service id is stored once,
 * values go in and come out as copies, outcomes are kept as JSON text.
 */
import type { Clock, EcrStoredValues } from "../terminal/application/ports.js";
import type {
  NewEcrStoredValue,
  StoredEcrStoredValue,
  StoredValueState,
} from "../terminal/domain/ecr-stored-value.js";

type Row = Omit<StoredEcrStoredValue, "outcome" | "state" | "loadId" | "updatedAt"> & {
  state: StoredValueState;
  loadId: string | undefined;
  outcome: string | undefined;
  updatedAt: number;
  order: number;
};

export class MemoryStoredValues implements EcrStoredValues {
  readonly #rows = new Map<string, Row>();
  constructor(private readonly clock: Clock) {}

  create(o: NewEcrStoredValue): void {
    if (this.#rows.has(o.serviceId))
      throw new Error("UNIQUE constraint failed: ecr_stored_values.service_id");
    const now = this.clock.now();
    this.#rows.set(o.serviceId, {
      serviceId: o.serviceId,
      requestHash: o.requestHash,
      terms: { ...o.terms },
      state: "waiting_for_card",
      loadId: o.terms.operation === "reverse" ? o.terms.loadId : undefined,
      outcome: undefined,
      createdAt: now,
      updatedAt: now,
      order: this.#rows.size,
    });
  }

  get(serviceId: string): StoredEcrStoredValue | undefined {
    const row = this.#rows.get(serviceId);
    if (!row) return undefined;
    const { order: _order, ...rest } = row;
    return {
      ...rest,
      terms: { ...row.terms },
      outcome: row.outcome === undefined ? undefined : (JSON.parse(row.outcome) as Record<string, unknown>),
    };
  }

  update(
    serviceId: string,
    state: StoredValueState,
    change: { readonly loadId?: string; readonly outcome?: Record<string, unknown> } = {},
  ): void {
    const row = this.#rows.get(serviceId);
    if (!row) return;
    row.state = state;
    if (change.loadId !== undefined) row.loadId = change.loadId;
    if (change.outcome !== undefined) row.outcome = JSON.stringify(change.outcome);
    row.updatedAt = this.clock.now();
  }

  unfinished(): StoredEcrStoredValue[] {
    return [...this.#rows.values()]
      .filter((r) => r.state === "waiting_for_card" || r.state === "in_progress")
      .sort((a, b) => a.createdAt - b.createdAt || a.order - b.order)
      .map((r) => this.get(r.serviceId)!);
  }
}
