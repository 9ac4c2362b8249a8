/**
 * A payment the cash register (ECR) asked for, as the terminal keeps it: keyed by the register's
 * service id (its idempotency key), with the hash of what was asked so that the same id with other
 * terms is refused, the state it reached, the terminal seq of its intent, and its outcome.
 *
 * States: waiting_for_card → in_progress → approved | declined | torn | error, or
 * waiting_for_card → aborted | timed_out.
 */
export type EcrState =
  | "waiting_for_card"
  | "in_progress"
  | "approved"
  | "declined"
  | "torn"
  | "aborted"
  | "timed_out"
  | "error";

/** States a payment never leaves. */
export const FINAL_ECR_STATES: ReadonlySet<EcrState> = new Set<EcrState>([
  "approved",
  "declined",
  "torn",
  "aborted",
  "timed_out",
  "error",
]);

export interface NewEcrPayment {
  readonly serviceId: string;
  /** Hash of (amount, currency, reference): the terms the service id stands for. */
  readonly requestHash: string;
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  readonly reference?: string;
}

export interface StoredEcrPayment {
  readonly serviceId: string;
  readonly requestHash: string;
  readonly amount: number;
  readonly currency: number;
  readonly reference: string | undefined;
  readonly state: EcrState;
  /** The terminal seq of the payment's intent, once one was written. */
  readonly seq: number | undefined;
  /** The payment outcome (record, or decline code and reason) once there is one. */
  readonly outcome: Record<string, unknown> | undefined;
  /** ms, the store's clock. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Register payments by state and currency. */
export interface StateTally {
  readonly state: EcrState;
  readonly currency: number;
  readonly count: number;
  readonly amount: number;
}
