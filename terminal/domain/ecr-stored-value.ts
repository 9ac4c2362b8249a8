/**
 * A stored-value operation the cash register (ECR) asked for, nexo-style (StoredValueRequest with
 * Load / Reverse, and a balance inquiry): keyed by the register's service id (its idempotency key,
 * in a namespace of its own, apart from payments and refunds), with the hash of what was asked so
 * that the same id with other terms is refused, the state it reached and its outcome.
 *
 * States: waiting_for_card → in_progress → done | declined | in_doubt | error, or
 * waiting_for_card → aborted | timed_out. `in_doubt` is a load cut off after LOAD may have reached
 * the card: it is settled at the wallet's next presentation at an online terminal, and the status
 * follows the terminal's own load row (application/stored-value-manager.ts).
 */
import type { LoadType } from "../../protocol/platform/api.js";

export const STORED_VALUE_OPERATIONS = ["load", "reverse", "balance"] as const;
export type StoredValueOperation = (typeof STORED_VALUE_OPERATIONS)[number];

/** Where a load's money comes from, in the register's words (posd load --cash / --account / …). */
export const STORED_VALUE_SOURCES = ["cash", "account", "from-account", "online"] as const;
export type StoredValueSource = (typeof STORED_VALUE_SOURCES)[number];

/** The load type of the platform each source stands for. */
export const LOAD_TYPE_OF_SOURCE: Readonly<Record<StoredValueSource, LoadType>> = {
  cash: "cash",
  account: "bound",
  "from-account": "non-bound",
  online: "supplementary",
};

export type StoredValueState =
  | "waiting_for_card"
  | "in_progress"
  | "done"
  | "declined"
  | "in_doubt"
  | "aborted"
  | "timed_out"
  | "error";

/** States an operation never leaves by itself (an in_doubt load only follows its load row). */
export const FINAL_STORED_VALUE_STATES: ReadonlySet<StoredValueState> = new Set<StoredValueState>([
  "done",
  "declined",
  "in_doubt",
  "aborted",
  "timed_out",
  "error",
]);

/** What the register asked for: the terms its service id stands for. */
export interface StoredValueTerms {
  readonly operation: StoredValueOperation;
  /** Minor units (a load; a load from the online account may leave it out: its whole balance). */
  readonly amount?: number;
  /** ISO 4217 numeric (a load). */
  readonly currency?: number;
  readonly source?: StoredValueSource;
  /** The teller whose drawer takes (a cash load) or pays out (a reverse) the cash. */
  readonly teller?: string;
  /** The bank account of a non-binding load. */
  readonly fromAccount?: string;
  /** The load a reverse gives back (16 hex). */
  readonly loadId?: string;
}

export interface NewEcrStoredValue {
  readonly serviceId: string;
  /** Hash of the terms. */
  readonly requestHash: string;
  readonly terms: StoredValueTerms;
}

export interface StoredEcrStoredValue {
  readonly serviceId: string;
  readonly requestHash: string;
  readonly terms: StoredValueTerms;
  readonly state: StoredValueState;
  /**
   * The load this operation is about: a reverse's from the start; a load's own id, linked before the
   * terminal writes its load row (so that after a crash the status knows which load to follow).
   */
  readonly loadId: string | undefined;
  /** The outcome (loaded, reversed, the balance, or a code and reason) once there is one. */
  readonly outcome: Record<string, unknown> | undefined;
  /** ms, the store's clock. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

const TERM_NAMES = ["amount", "currency", "source", "teller", "fromAccount", "loadId"] as const;

/**
 * What is wrong with the terms as a whole (the schema checks each field), or undefined: a load
 * needs its source, currency and amount (a load from the online account may leave the amount out:
 * its whole balance), a cash load its teller, a non-binding load its account; a reverse names the
 * cash load and the teller who pays it out; a balance inquiry takes nothing else.
 */
export function termsProblem(t: StoredValueTerms): string | undefined {
  const given = (allowed: readonly (typeof TERM_NAMES)[number][]) =>
    TERM_NAMES.filter((k) => t[k] !== undefined && !allowed.includes(k));
  const extra = (what: string, allowed: readonly (typeof TERM_NAMES)[number][]) => {
    const more = given(allowed);
    return more.length > 0 ? `${what} takes no ${more.join(", ")}` : undefined;
  };
  switch (t.operation) {
    case "load": {
      if (t.source === undefined) return "a load needs a source: cash, account, from-account or online";
      if (t.currency === undefined) return "a load needs a currency";
      if (t.amount === undefined && t.source !== "online")
        return "a load needs an amount (only a load from the online account may leave it out: its whole balance)";
      if (t.source === "cash" && t.teller === undefined)
        return "a cash load needs the teller whose drawer takes the cash";
      if (t.source === "from-account" && t.fromAccount === undefined)
        return "a load from another account needs fromAccount";
      const allowed: (typeof TERM_NAMES)[number][] = ["amount", "currency", "source"];
      if (t.source === "cash") allowed.push("teller");
      if (t.source === "from-account") allowed.push("fromAccount");
      return extra(`a ${t.source} load`, allowed);
    }
    case "reverse":
      if (t.loadId === undefined || t.teller === undefined)
        return "a reverse needs the loadId of a cash load and the teller who pays the cash back";
      return extra("a reverse", ["loadId", "teller"]);
    case "balance":
      return extra("a balance inquiry", []);
  }
}
