/**
 * Refunds of returned goods as they travel in a batch: a credit record the terminal signs with its
 * certificate key (the key that signs its batches), referenced to one of its own complete debits.
 * It credits the wallet's online account at the issuer, never the card.
 *
 * The terminal numbers its refunds (refund id, from 1, never reused); the acquirer keys a refund
 * by terminal id and refund id, so the same refund sent twice books once.
 */
import { concat, u8, u16be, u32be, utf8 } from "../bytes.js";
import { ProtocolError } from "../errors.js";
import { ID_PATTERN } from "./constants.js";

export const REFUND_LABEL = "TAPWALLET/1 REFUND";

/** At most this many refunds ride with one batch. */
export const MAX_BATCH_REFUNDS = 1000;

/** One refund as uploaded. */
export interface RefundWire {
  /** The terminal's refund id: 1, 2, … per terminal, never reused. */
  readonly refundId: number;
  /** The terminal seq of the refunded debit. */
  readonly originalSeq: number;
  /** The wallet and card counter of the refunded debit (as its card record says). */
  readonly walletId: string;
  readonly cardCounter: number;
  /** Minor units, > 0. */
  readonly amount: number;
  /** ISO 4217 numeric: the original debit's. */
  readonly currency: number;
  /** Unix seconds, when the terminal stored the refund. */
  readonly createdAt: number;
  /** Terminal signature (hex, 64 bytes) over refundMessage(terminalId, refund). */
  readonly signature: string;
}

/** What the acquirer answers per refund. `reason` is an ACQ_ERR_* code when rejected. */
export interface RefundVerdict {
  readonly refundId: number;
  /**
   * settled: credited to the wallet's online account (or settled for a wallet the platform did
   * not issue); pending: the original debit is not accepted yet, the refund waits for it;
   * rejected: never settles.
   */
  readonly status: "settled" | "pending" | "rejected";
  readonly reason?: string;
}

function refundError(message: string): ProtocolError {
  return new ProtocolError("PROTO_ERR_RECORD_FORMAT", `refund: ${message}`);
}

function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw refundError("amount is not a non-negative safe integer");
  const hi = Math.floor(n / 0x1_0000_0000);
  return concat(u32be(hi), u32be(n - hi * 0x1_0000_0000));
}

/**
 * Canonical bytes the terminal signs for a refund:
 * label || len(terminal id) (1) || terminal id || refund id (4) || original seq (4) ||
 * len(wallet id) (1) || wallet id || card counter (4) || amount (8) || currency (2) || created at (4)
 */
export function refundMessage(terminalId: string, r: Omit<RefundWire, "signature">): Uint8Array {
  if (!ID_PATTERN.test(terminalId) || !ID_PATTERN.test(r.walletId)) throw refundError("malformed id");
  const terminal = utf8(terminalId);
  const wallet = utf8(r.walletId);
  return concat(
    utf8(REFUND_LABEL),
    u8(terminal.length),
    terminal,
    u32be(r.refundId),
    u32be(r.originalSeq),
    u8(wallet.length),
    wallet,
    u32be(r.cardCounter),
    u64be(r.amount),
    u16be(r.currency),
    u32be(r.createdAt),
  );
}
