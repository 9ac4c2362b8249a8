/**
 * The RefundLedger port in memory, with the semantics of terminal/adapters/sqlite/refund-store.ts:
 * the same checks (terminal/domain/refunds.ts), ids from 1 never reused, a failed call changes
 * nothing. MemoryBatches (memory-terminal-store.ts) sends the unbatched ones with its batches.
 */
import type { Clock, RecordLedger, RefundLedger } from "../terminal/application/ports.js";
import type { RecordSigner } from "../terminal/domain/records.js";
import {
  countsAgainstOriginal,
  type NewRefund,
  refundRefusal,
  type StoredRefund,
  signRefund,
} from "../terminal/domain/refunds.js";
import { TerminalError } from "../terminal/errors.js";

export type RefundRow = { -readonly [K in keyof StoredRefund]: StoredRefund[K] };

/** What the refunds share with the batches. */
export interface RefundState {
  readonly refunds: Map<number, RefundRow>;
  lastRefundId: number;
}

const copy = (r: RefundRow): StoredRefund => ({ ...r, signature: new Uint8Array(r.signature) });

export class MemoryRefunds implements RefundLedger {
  constructor(
    private readonly s: RefundState,
    private readonly records: Pick<RecordLedger, "get">,
    private readonly clock: Clock,
  ) {}

  create(refund: NewRefund, terminalId: string, sign: RecordSigner): StoredRefund {
    if (refund.serviceId !== undefined && this.byServiceId(refund.serviceId))
      throw new TerminalError(
        "TERM_ERR_ECR_CONFLICT",
        `serviceId ${refund.serviceId} was already used for another refund`,
      );
    const original = this.records.get(refund.originalSeq);
    const refunded = this.forSeq(refund.originalSeq)
      .filter(countsAgainstOriginal)
      .reduce((sum, r) => sum + r.amount, 0);
    const refusal = refundRefusal(original, refund, refunded);
    if (refusal)
      throw new TerminalError(refusal.code, refusal.message, {
        details: { seq: refund.originalSeq, amount: refund.amount, refunded },
      });
    const refundId = this.s.lastRefundId + 1;
    const createdAt = Math.floor(this.clock.now() / 1000);
    const fields = {
      refundId,
      originalSeq: refund.originalSeq,
      walletId: original!.walletId,
      cardCounter: original!.cardCounter!,
      amount: refund.amount,
      currency: refund.currency,
      createdAt,
    };
    const signature = signRefund(terminalId, fields, sign);
    this.s.lastRefundId = refundId;
    this.s.refunds.set(refundId, {
      ...fields,
      signature,
      serviceId: refund.serviceId,
      requestHash: refund.requestHash,
      batchId: undefined,
      uploadStatus: undefined,
      uploadReason: undefined,
    });
    return this.get(refundId)!;
  }

  get(refundId: number): StoredRefund | undefined {
    const r = this.s.refunds.get(refundId);
    return r && copy(r);
  }

  byServiceId(serviceId: string): StoredRefund | undefined {
    const r = [...this.s.refunds.values()].find((x) => x.serviceId === serviceId);
    return r && copy(r);
  }

  forSeq(originalSeq: number): StoredRefund[] {
    return [...this.s.refunds.values()].filter((r) => r.originalSeq === originalSeq).map(copy);
  }

  inBatch(batchId: string): StoredRefund[] {
    return [...this.s.refunds.values()].filter((r) => r.batchId === batchId).map(copy);
  }

  outstanding(): StoredRefund[] {
    return [...this.s.refunds.values()]
      .filter((r) => r.uploadStatus === undefined || r.uploadStatus === "pending")
      .sort((a, b) => a.refundId - b.refundId)
      .map(copy);
  }
}
