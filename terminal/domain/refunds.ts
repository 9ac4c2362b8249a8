/**
 * Refunds of returned goods, as pure rules: a refund is a credit record the terminal signs,
 * referenced to one of its own complete debits by terminal seq, for at most what is left of that
 * debit's amount (partial refunds add up to the original amount, never more). It goes up with the
 * next batch and is credited to the wallet's online account at the issuer, never to the card.
 *
 * The refund id is the store's counter (1, 2, …), allocated in the transaction that stores the
 * refund, so it is persisted before anything is signed or sent with it and never handed out twice.
 */
import { hex } from "../../protocol/bytes.js";
import { type BatchManifest, manifestMessage } from "../../protocol/wallet/batch.js";
import { type RefundVerdict, type RefundWire, refundMessage } from "../../protocol/wallet/refund.js";
import type { ChainHead } from "./chain.js";
import type { RecordSigner, StoredTransaction } from "./records.js";

export interface NewRefund {
  /** The terminal seq of the refunded debit. */
  readonly originalSeq: number;
  /** Minor units, > 0, in the original debit's currency. */
  readonly amount: number;
  /** ISO 4217 numeric: must be the original debit's. */
  readonly currency: number;
  /** The cash register's idempotency key (POST /v1/refunds), when it asked. */
  readonly serviceId?: string;
  /** Hash of what the register asked, kept with its service id. */
  readonly requestHash?: string;
}

export interface StoredRefund {
  readonly refundId: number;
  readonly originalSeq: number;
  readonly walletId: string;
  readonly cardCounter: number;
  readonly amount: number;
  readonly currency: number;
  /** Unix seconds (signed). */
  readonly createdAt: number;
  readonly signature: Uint8Array;
  readonly serviceId: string | undefined;
  readonly requestHash: string | undefined;
  /** The batch it went up in; undefined until one is closed. */
  readonly batchId: string | undefined;
  /** The acquirer's verdict; undefined until it answered. */
  readonly uploadStatus: RefundVerdict["status"] | undefined;
  readonly uploadReason: string | undefined;
}

/** Why a refund of `original` for `amount` is refused, or undefined when it may be stored. */
export function refundRefusal(
  original: StoredTransaction | undefined,
  request: Pick<NewRefund, "originalSeq" | "amount" | "currency">,
  alreadyRefunded: number,
):
  | { code: "TERM_ERR_REFUND_UNKNOWN_RECORD"; message: string }
  | { code: "TERM_ERR_REFUND_OVER_ORIGINAL"; message: string; remaining: number }
  | { code: "TERM_ERR_USAGE"; message: string }
  | undefined {
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0)
    return { code: "TERM_ERR_USAGE", message: "a refund amount must be a positive number of minor units" };
  if (
    original?.status !== "complete" ||
    original.cardCounter === undefined ||
    original.uploadStatus === "rejected"
  )
    return {
      code: "TERM_ERR_REFUND_UNKNOWN_RECORD",
      message: `seq ${request.originalSeq} is not a completed debit of this terminal`,
    };
  if (original.currency !== request.currency)
    return {
      code: "TERM_ERR_USAGE",
      message: `seq ${request.originalSeq} was paid in currency ${original.currency}, not ${request.currency}`,
    };
  const remaining = original.amount - alreadyRefunded;
  if (request.amount > remaining)
    return {
      code: "TERM_ERR_REFUND_OVER_ORIGINAL",
      message: `seq ${request.originalSeq}: ${request.amount} is more than the ${remaining} left to refund of ${original.amount}`,
      remaining,
    };
  return undefined;
}

/** Refunds that count against the original amount: all but those the acquirer rejected. */
export const countsAgainstOriginal = (r: Pick<StoredRefund, "uploadStatus">): boolean =>
  r.uploadStatus !== "rejected";

/** The signature of a refund about to be stored (inside the transaction that allocated its id). */
export function signRefund(
  terminalId: string,
  refund: Omit<RefundWire, "signature">,
  sign: RecordSigner,
): Uint8Array {
  return sign(refundMessage(terminalId, refund));
}

export function refundWire(r: StoredRefund): RefundWire {
  return {
    refundId: r.refundId,
    originalSeq: r.originalSeq,
    walletId: r.walletId,
    cardCounter: r.cardCounter,
    amount: r.amount,
    currency: r.currency,
    createdAt: r.createdAt,
    signature: hex(r.signature),
  };
}

/**
 * The signed manifest of a batch that carries only refunds: no record, the chain where it is
 * (previous hash = chain head = `head`), first and last seq 0. The acquirer checks it continues the
 * terminal's stored head like any batch.
 */
export function closeRefundOnlyBatch(
  head: ChainHead,
  header: { batchId: string; terminalId: string; merchantId: string; closedAt: number },
  sign: RecordSigner,
): { manifest: BatchManifest; manifestSignature: string } {
  const manifest: BatchManifest = {
    batchId: header.batchId,
    terminalId: header.terminalId,
    merchantId: header.merchantId,
    createdAt: Math.floor(header.closedAt / 1000),
    count: 0,
    totals: [],
    firstSeq: 0,
    lastSeq: 0,
    previousHash: hex(head.hash),
    chainHead: hex(head.hash),
  };
  return { manifest, manifestSignature: hex(sign(manifestMessage(manifest))) };
}
