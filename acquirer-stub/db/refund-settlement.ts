/**
 * Settling refunds inside the batch's transaction, after its records are written (so a refund of a
 * debit in the same batch finds it accepted): each refund is decided on the facts read now
 * (domain/refunds.ts), stored, and, when it settles, added to its debit's guarded total and
 * credited on the wallet platform (platform/store/refund-bookings.ts) in the same commit.
 *
 * A refund whose debit is not accepted yet is stored pending. It waits for its original: every
 * later settled batch of the same terminal (`settleWaiting`, run in that batch's transaction after
 * its records are written) decides the terminal's pending refunds again, and settles those whose
 * debit that batch accepted, or rejects those whose seq it voided or rejected. So the refund
 * settles exactly once, in the commit that makes its original accepted or in a later one.
 */
import type { RefundVerdict, RefundWire } from "../../protocol/wallet/refund.js";
import { decideRefund, type RefundOriginal } from "../domain/refunds.js";
import type { RefundBookings } from "../platform/store/refund-bookings.js";
import type { ApplyContext } from "./batches.js";
import type { Refunds } from "./refunds.js";

export interface CheckedRefund {
  readonly wire: RefundWire;
  /** The terminal signature verified (checked before the transaction). */
  readonly signatureOk: boolean;
}

export class RefundSettlement {
  constructor(
    readonly refunds: Refunds,
    readonly bookings: RefundBookings,
  ) {}

  /** Decide, store and settle the refunds a settled batch carried; one verdict each, in order. */
  async settleCarried(checked: readonly CheckedRefund[], ctx: ApplyContext): Promise<RefundVerdict[]> {
    const verdicts: RefundVerdict[] = [];
    const batchId = ctx.upload.manifest.batchId;
    for (const c of checked) {
      const r = c.wire;
      const facts = c.signatureOk ? await this.refunds.facts(ctx.terminalId, r) : emptyFacts;
      const d = decideRefund(r, ctx.terminalId, c.signatureOk, facts);
      const store = (status: "pending" | "settled" | "rejected", reason: string | null) =>
        this.refunds.insert(r, {
          terminalId: ctx.terminalId,
          merchantId: ctx.merchantId,
          batchId,
          status,
          reason,
          now: ctx.now,
        });
      if (d.kind === "skip") {
        verdicts.push({ refundId: r.refundId, status: "rejected", reason: d.reason });
      } else if (d.kind === "reject") {
        await store("rejected", d.reason);
        verdicts.push({ refundId: r.refundId, status: "rejected", reason: d.reason });
      } else if (d.kind === "wait") {
        await store("pending", null);
        verdicts.push({ refundId: r.refundId, status: "pending" });
      } else if (await this.#settle(r, d.original, ctx)) {
        await store("settled", null);
        verdicts.push({ refundId: r.refundId, status: "settled" });
      } else {
        await store("rejected", "ACQ_ERR_REFUND_OVER_ORIGINAL");
        verdicts.push({ refundId: r.refundId, status: "rejected", reason: "ACQ_ERR_REFUND_OVER_ORIGINAL" });
      }
    }
    return verdicts;
  }

  /** Settle (or reject) the terminal's refunds that waited for a debit this batch decided. */
  async settleWaiting(ctx: ApplyContext): Promise<RefundVerdict[]> {
    const batchId = ctx.upload.manifest.batchId;
    const resolved: RefundVerdict[] = [];
    for (const r of await this.refunds.waiting(ctx.terminalId)) {
      // Its own row is stored: decide on the ledger only (the refund id is not new, it is this one).
      const facts = { ...(await this.refunds.facts(ctx.terminalId, r)), stored: undefined };
      const d = decideRefund(r, ctx.terminalId, true, facts);
      if (d.kind === "wait") continue;
      const outcome =
        d.kind === "settle"
          ? (await this.#settle(r, d.original, ctx))
            ? { status: "settled" as const, reason: null }
            : { status: "rejected" as const, reason: "ACQ_ERR_REFUND_OVER_ORIGINAL" }
          : { status: "rejected" as const, reason: d.reason };
      await this.refunds.resolveWaiting(ctx.terminalId, r.refundId, { ...outcome, batchId, now: ctx.now });
      resolved.push({
        refundId: r.refundId,
        status: outcome.status,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
      });
    }
    return resolved;
  }

  /** The guarded total first (it has the last word), then the booking on the platform. */
  async #settle(r: RefundWire, original: RefundOriginal, ctx: ApplyContext): Promise<boolean> {
    if (!(await this.refunds.addToTotal(original, r.amount))) return false;
    await this.bookings.book(
      {
        terminalId: ctx.terminalId,
        refundId: r.refundId,
        walletId: original.walletId,
        merchantId: original.merchantId,
        amount: r.amount,
        currency: r.currency,
      },
      ctx.now,
    );
    return true;
  }
}

const emptyFacts = { stored: undefined, byCounter: undefined, bySeq: undefined };
