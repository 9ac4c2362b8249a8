/**
 * Refunds a batch carries, as pure rules (the store reads the facts inside the batch's
 * transaction and applies the verdicts).
 *
 * A refund is the terminal's own signed credit for one of its own debits. In order:
 * - its terminal signature must verify (else ACQ_ERR_REFUND_SIGNATURE, not stored: nothing in it
 *   can be trusted, not even its refund id);
 * - its refund id must be new for the terminal: the same refund again is ACQ_ERR_DUPLICATE (it
 *   booked once already), another one under the same id ACQ_ERR_REFUND_ID_REUSED;
 * - the debit it names (wallet id, card counter) must be accepted from this terminal
 *   (ACQ_ERR_REFUND_FOREIGN_RECORD otherwise) under the refund's seq and currency
 *   (ACQ_ERR_REFUND_MISMATCH);
 * - a seq of this terminal that was voided or rejected can never be refunded
 *   (ACQ_ERR_REFUND_UNKNOWN_RECORD);
 * - a debit the acquirer has not accepted yet makes the refund wait: it is stored pending, and the
 *   batch that accepts the debit settles it (`original-now-accepted` below);
 * - what may be refunded of the debit is decided by the database, not here: the guarded total
 *   (migration 003_refunds) refuses what would exceed the amount: ACQ_ERR_REFUND_OVER_ORIGINAL.
 */
import { ecdsaVerify } from "../../protocol/crypto.js";
import { type RefundWire, refundMessage } from "../../protocol/wallet/refund.js";
import type { AcquirerErrorCode } from "../errors.js";

/** The accepted debit a refund names, as the ledger holds it. */
export interface RefundOriginal {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly seq: number;
  readonly walletId: string;
  readonly cardCounter: number;
  readonly amount: number;
  readonly currency: number;
}

/** What the ledger holds that a refund is decided on. */
export interface RefundFacts {
  /** A refund already stored under this terminal and refund id, and whether it is this one. */
  readonly stored: { readonly sameContent: boolean } | undefined;
  /** The accepted debit with the refund's wallet id and card counter, from any terminal. */
  readonly byCounter: RefundOriginal | undefined;
  /** This terminal's final entry with the refund's seq (accepted or voided), or a rejected one. */
  readonly bySeq: { readonly status: "accepted" | "voided" | "rejected" } | undefined;
}

export type RefundDecision =
  | { readonly kind: "skip"; readonly reason: AcquirerErrorCode }
  | { readonly kind: "reject"; readonly reason: AcquirerErrorCode }
  | { readonly kind: "wait" }
  | { readonly kind: "settle"; readonly original: RefundOriginal };

/** The terminal's signature over the refund, checked outside the transaction. */
export function refundSignatureOk(
  refund: RefundWire,
  terminalId: string,
  publicKey: Parameters<typeof ecdsaVerify>[0],
): boolean {
  try {
    return ecdsaVerify(publicKey, refundMessage(terminalId, refund), Buffer.from(refund.signature, "hex"));
  } catch {
    return false;
  }
}

/**
 * What to do with one refund of `terminalId`. "skip": answer rejected and store nothing (a bad
 * signature, or a refund id already stored); "reject": store it rejected; "wait": store it pending;
 * "settle": try to settle it against `original` (the guarded total has the last word).
 */
export function decideRefund(
  refund: RefundWire,
  terminalId: string,
  signatureOk: boolean,
  facts: RefundFacts,
): RefundDecision {
  if (!signatureOk) return { kind: "skip", reason: "ACQ_ERR_REFUND_SIGNATURE" };
  if (facts.stored)
    return {
      kind: "skip",
      reason: facts.stored.sameContent ? "ACQ_ERR_DUPLICATE" : "ACQ_ERR_REFUND_ID_REUSED",
    };
  const o = facts.byCounter;
  if (o) {
    if (o.terminalId !== terminalId) return { kind: "reject", reason: "ACQ_ERR_REFUND_FOREIGN_RECORD" };
    if (o.seq !== refund.originalSeq || o.currency !== refund.currency)
      return { kind: "reject", reason: "ACQ_ERR_REFUND_MISMATCH" };
    return { kind: "settle", original: o };
  }
  // No accepted debit with this wallet and counter: what does this terminal's seq hold?
  if (facts.bySeq?.status === "accepted") return { kind: "reject", reason: "ACQ_ERR_REFUND_MISMATCH" };
  if (facts.bySeq) return { kind: "reject", reason: "ACQ_ERR_REFUND_UNKNOWN_RECORD" };
  return { kind: "wait" };
}

/** Whether two refunds under one id are the same refund (the stored row against the wire). */
export function sameRefund(
  a: Pick<RefundWire, "originalSeq" | "walletId" | "cardCounter" | "amount" | "currency" | "createdAt">,
  b: Pick<RefundWire, "originalSeq" | "walletId" | "cardCounter" | "amount" | "currency" | "createdAt">,
): boolean {
  return (
    a.originalSeq === b.originalSeq &&
    a.walletId === b.walletId &&
    a.cardCounter === b.cardCounter &&
    a.amount === b.amount &&
    a.currency === b.currency &&
    a.createdAt === b.createdAt
  );
}
