/**
 * The terminal's records in domain terms: a payment intent (written before DEBIT, holding the
 * terminal seq), the record it becomes once final (complete with the card's signed record, or
 * voided), and the tallies the terminal reports. No storage detail leaks in here: the SQLite
 * adapter and the in-memory store both speak these types.
 */

/** `pending` until the card's answer (or its log) settles it; final rows are chained. */
export type TransactionStatus = "pending" | "complete" | "voided";

export interface NewIntent {
  readonly walletId: string;
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  /** Unix seconds, as signed to the card. */
  readonly terminalTime: number;
  readonly transcriptHash: Uint8Array;
  readonly reference?: string;
  /**
   * The cash-register payment this intent is for. The store links the payment to the seq in the
   * transaction that allocates it, so a crash after DEBIT can never leave the payment without it.
   */
  readonly serviceId?: string;
  /**
   * The card counter before DEBIT (the FCI's DF22), or a lower bound of it (the highest counter
   * this terminal had verified for the wallet) for a card that does not announce it. A later
   * "not in the card's log" is checked against it (terminal/domain/torn.ts).
   */
  readonly cardCounterSeen?: number;
}

export interface Intent extends NewIntent {
  readonly seq: number;
  /** When the intent was stored (ms, the store's clock). */
  readonly createdAt: number;
  /**
   * Set when the card's log could not settle it (it no longer covers the counter seen): the intent
   * stays pending, no later tap asks the card again, and it travels with the next upload.
   */
  readonly unresolved?: { readonly reason: string; readonly at: number; readonly batchId?: string };
}

export interface CompletedDebit {
  readonly cardCounter: number;
  readonly balanceAfter: number;
  readonly cardRecord: Uint8Array;
  readonly cardSignature: Uint8Array;
  readonly cardCertificate: Uint8Array;
  /** How it completed: "online" (the DEBIT answer) or "recovered" (from the card's log on a later tap). */
  readonly resolution: string;
}

export interface StoredTransaction {
  readonly seq: number;
  readonly status: TransactionStatus;
  readonly walletId: string;
  readonly amount: number;
  readonly currency: number;
  readonly terminalTime: number;
  readonly transcriptHash: Uint8Array;
  readonly reference: string | undefined;
  readonly createdAt: number;
  readonly resolvedAt: number | undefined;
  readonly resolution: string | undefined;
  readonly cardCounter: number | undefined;
  readonly balanceAfter: number | undefined;
  readonly cardRecord: Uint8Array | undefined;
  readonly cardSignature: Uint8Array | undefined;
  /** The card certificate's fingerprint (hex SHA-256 of its DER). */
  readonly cardCertificate: string | undefined;
  readonly chainIndex: number | undefined;
  readonly previousHash: Uint8Array | undefined;
  readonly terminalSignature: Uint8Array | undefined;
  readonly chainHash: Uint8Array | undefined;
  readonly batchId: string | undefined;
  readonly uploadStatus: string | undefined;
  readonly uploadReason: string | undefined;
  /** The card counter seen before DEBIT (NewIntent.cardCounterSeen). */
  readonly cardCounterSeen?: number;
  /** A pending intent the card's log could not settle, and why (Intent.unresolved). */
  readonly unresolvedReason?: string;
}

/** Signs a terminal record message with the terminal key (synchronous: it runs inside a transaction). */
export type RecordSigner = (message: Uint8Array) => Uint8Array;

/** How many records and how much money, in one currency. */
export interface AmountTally {
  readonly currency: number;
  readonly count: number;
  readonly amount: number;
}

/** Complete records the acquirer has not answered yet: what the offline risk limits cap. */
export interface OfflineExposure {
  readonly count: number;
  readonly byCurrency: readonly AmountTally[];
  /** When the oldest of them was stored (ms); absent when there are none. */
  readonly oldestAt?: number;
}

/** Records not yet in a batch, by status and currency (pending ones included). */
export interface StatusTally {
  readonly status: TransactionStatus;
  readonly currency: number;
  readonly count: number;
  readonly amount: number;
}
