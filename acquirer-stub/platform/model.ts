/**
 * The wallet platform's values, as the rules (rules.ts, proof.ts, bookings.ts) see them: plain
 * objects with money in integer minor units and currencies as ISO 4217 numeric codes. The store
 * (store/) converts rows to these; nothing here does I/O.
 */
import type { LoadType, WalletStatus } from "../../protocol/platform/api.js";
import type { BankLoadMessage } from "./bank-message.js";

export type { LoadType, WalletStatus } from "../../protocol/platform/api.js";

/** Load types whose money comes from a bank account, held at the request and posted at the proof. */
export const BANK_FUNDED: ReadonlySet<LoadType> = new Set(["bound", "non-bound", "auto"]);

export interface Wallet {
  readonly walletId: string;
  readonly currency: number;
  readonly status: WalletStatus;
  readonly boundAccount: string | null;
  readonly balanceLimit: number;
  readonly singleLimit: number;
  readonly autoLoadThreshold: number;
  readonly autoLoadAmount: number;
  readonly autoLoadOn: boolean;
  /** The card certificate (DER) registered at the wallet's first online presentation. */
  readonly cardCertificate: Uint8Array | null;
  /** The card counter the platform last saw (a terminal's reading, or a record's signed counter). */
  readonly lastCounter: number | null;
  readonly createdAt: number;
}

export interface BankAccount {
  readonly number: string;
  readonly holder: string;
  readonly currency: number;
  /** Minor units: always the sum of the account's `bank:N` entries. */
  readonly balance: number;
  /** Minor units on hold for loads signed and not yet proven. */
  readonly held: number;
  readonly status: "open" | "closed";
  readonly createdAt: number;
}

export type LoadStateName = "pending" | "loaded" | "voided" | "reversed";

export interface Load {
  readonly loadId: string;
  readonly requestHash: string;
  readonly walletId: string;
  readonly terminalId: string;
  readonly type: LoadType;
  readonly amount: number;
  readonly currency: number;
  readonly teller: string | null;
  readonly branch: string | null;
  /** The bank account the money comes from (bound, non-bound, auto). */
  readonly account: string | null;
  /** The card challenge the LOAD was signed over (32 hex). */
  readonly challenge: string;
  readonly serial: number;
  readonly issuedAt: number;
  /** The LOAD command data, hex. */
  readonly command: string;
  /** SHA-256 of the signed issuer command message: the binding of the card's LOAD record. */
  readonly binding: Uint8Array;
  readonly state: LoadStateName;
  readonly cardCounter: number | null;
  readonly completedAt: number | null;
  /** The card record that completed it (hex), to answer the same proof again the same way. */
  readonly proof: { readonly record: string; readonly signature: string } | null;
  /** The LoadState JSON the completion answered. */
  readonly answer: string | null;
  /** What the platform told the bank when it signed the load (null: signed before migration 004). */
  readonly bankMessage: BankLoadMessage | null;
}

export interface Reversal {
  readonly requestId: string;
  readonly requestHash: string;
  readonly loadId: string;
  readonly terminalId: string;
  readonly challenge: string;
  /** A cash revoke: the teller whose drawer pays the cash back. */
  readonly teller: string | null;
  readonly issuedAt: number;
  readonly command: string;
  readonly binding: Uint8Array;
  readonly outcome: "reversed" | "not-found" | null;
  readonly cardCounter: number | null;
  readonly proof: { readonly record: string; readonly signature: string } | null;
  readonly answer: string | null;
  readonly completedAt: number | null;
}
