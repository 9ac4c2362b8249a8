/**
 * What one terminal can tell about a wallet from the records it verified itself: the rule that
 * catches a rolled-back wallet (its state file restored from a backup) and an edited balance.
 *
 * The card counter goes up by one on every operation that changes the card: a DEBIT at any
 * terminal, a LOAD, a load reversal, UPDATE PARAMETERS, BLOCK / UNBLOCK. So, against the newest
 * record this terminal verified for the wallet:
 * - a counter that does not move forward is a restored or cloned wallet ("rollback");
 * - a counter that is exactly the next one means nothing happened to the card in between, so the
 *   balance must be the last balance minus this amount, in the same currency ("balance-forged").
 * A counter further ahead (a load, a payment elsewhere) says nothing about the balance: an honest
 * wallet that was loaded between two taps pays as usual.
 *
 * Pure: no storage, no clock. The stores keep what the rule reads (terminal/application/ports.ts,
 * WalletWatch), the payment use case applies it (terminal/application/wallet-watch.ts).
 */
import { hex } from "../../protocol/bytes.js";
import type { WalletFindingWire } from "../../protocol/wallet/batch.js";

/** The newest record (by terminal seq) this terminal verified for a wallet and found consistent. */
export interface SeenWallet {
  readonly walletId: string;
  /** Terminal seq of that record. */
  readonly seq: number;
  readonly cardCounter: number;
  /** Minor units, in `currency`. */
  readonly balanceAfter: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
}

export type FindingKind = "rollback" | "balance-forged";

/** What the card signed in the record under judgement. */
export interface ClaimedRecord {
  readonly cardCounter: number;
  readonly balanceAfter: number;
  readonly amount: number;
  readonly currency: number;
}

/** The kind of forgery `claimed` proves against `last`, or undefined when it is consistent. */
export function judgeRecord(last: SeenWallet | undefined, claimed: ClaimedRecord): FindingKind | undefined {
  if (last === undefined) return undefined;
  if (claimed.cardCounter <= last.cardCounter) return "rollback";
  if (claimed.cardCounter === last.cardCounter + 1) {
    if (claimed.currency !== last.currency) return "balance-forged";
    if (claimed.balanceAfter !== last.balanceAfter - claimed.amount) return "balance-forged";
  }
  return undefined;
}

/**
 * A finding: the card contradicts what this terminal last verified. When it signed a record that
 * does, the record is the proof (signed by the card, bound to this terminal's seq and session), so
 * it is kept whole; a counter announced at SELECT behind the last one is caught before DEBIT, with
 * no record. Either travels with the next upload.
 */
export interface NewWalletFinding {
  readonly walletId: string;
  readonly kind: FindingKind;
  /** Terminal seq of the intent the record answers (voided: the payment was declined). */
  readonly seq: number;
  /** What this terminal had verified last. */
  readonly seen: SeenWallet;
  /** What the card claimed in this record. */
  readonly claimed: ClaimedRecord;
  /** Both empty when the wallet was caught before DEBIT (the counter it announced at SELECT). */
  readonly cardRecord: Uint8Array;
  readonly cardSignature: Uint8Array;
  /** The card certificate (DER). */
  readonly cardCertificate: Uint8Array;
}

export interface WalletFinding extends NewWalletFinding {
  /** Local id, increasing; the acquirer keys findings by (terminal id, id). */
  readonly id: number;
  /** When it was found (ms, the store's clock). */
  readonly foundAt: number;
  /** The batch it was reported with, once the acquirer answered that batch. */
  readonly reportedIn: string | undefined;
}

/** A finding as the batch upload carries it. */
export function findingWire(f: WalletFinding): WalletFindingWire {
  return {
    id: f.id,
    walletId: f.walletId,
    kind: f.kind,
    seq: f.seq,
    seenSeq: f.seen.seq,
    counterSeen: f.seen.cardCounter,
    balanceSeen: f.seen.balanceAfter,
    counterClaimed: f.claimed.cardCounter,
    balanceClaimed: f.claimed.balanceAfter,
    amount: f.claimed.amount,
    currency: f.claimed.currency,
    cardRecord: hex(f.cardRecord),
    cardSignature: hex(f.cardSignature),
    cardCertificate: Buffer.from(f.cardCertificate).toString("base64"),
    foundAt: Math.floor(f.foundAt / 1000),
  };
}
