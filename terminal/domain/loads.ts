/**
 * A load as this terminal keeps it: written before the platform is asked (so a crash anywhere
 * leaves a trace), resolved when the platform booked the card's record, refused it, or the load
 * was settled at a later presentation. The platform's books are the truth about the money; this
 * row is what `posd status` shows as a load in doubt, and what a cashier can name when the
 * customer asks where their 20.00 went.
 */
import type { LoadType } from "../../protocol/platform/api.js";

export type LoadIntentState =
  /** Asked for or relayed, no verified answer yet: in doubt until it is settled. */
  | "pending"
  /** The card's record verified and the platform booked it. */
  | "loaded"
  /** The platform or the card refused it: nothing was loaded. */
  | "refused"
  /** Settled later: the card proved it never happened (930E). */
  | "voided"
  /** Settled later, or revoked at the counter: the card took it back. */
  | "reversed";

export interface LoadIntent {
  /** 16 hex: the load id on the card and at the platform. */
  readonly loadId: string;
  readonly walletId: string;
  readonly type: LoadType;
  /** Minor units. */
  readonly amount: number;
  readonly currency: number;
  readonly teller?: string;
  readonly state: LoadIntentState;
  /** ms, the store's clock. */
  readonly createdAt: number;
  readonly resolvedAt?: number;
  /** Why it ended as it did (a refusal's code, "settled at a later presentation", …). */
  readonly resolution?: string;
  /**
   * The card's LOAD record, verified by this terminal, while the platform has not booked it (it was
   * unreachable when the card answered): forwarded before anything else at the next online session.
   */
  readonly proof?: { readonly record: Uint8Array; readonly signature: Uint8Array };
}

export type NewLoadIntent = Omit<LoadIntent, "state" | "createdAt" | "resolvedAt" | "resolution" | "proof">;
