/**
 * The platform's double-entry accounts and the transfers each operation books (pure).
 *
 * An account is a string; its balance is the sum of its entries, never stored on its own (except
 * a bank account's `balance` column, which the store moves in the same statement group as its
 * entries and a test checks against them):
 *
 *   wallet:W:offline   the platform's mirror of the money on card W
 *   wallet:W:online    W's online account (refunds); not on the card
 *   bank:N             bank account N of the simulated bank
 *   bank:deposits      where bank accounts' opening deposits come from
 *   drawer:T           teller T's cash drawer (a cash load takes cash in: the drawer goes negative
 *                      by what the teller must hand over at the end of the day)
 *   issuer:float       where wallets' opening balances come from
 *   merchant:M         what the platform owes merchant M for its wallets' settled consumption
 *                      (paid out through the acquirer's settlement), less the refunds of returned
 *                      goods it paid back to wallets' online accounts
 *
 * Every booking is one transfer `from → to` of a positive amount: entries (from, −x), (to, +x),
 * so every booking sums to zero. Its id is its idempotency key (`load:<loadId>`, …).
 */
import type { Load, LoadType } from "./model.js";

export const ISSUER_FLOAT = "issuer:float";
export const BANK_DEPOSITS = "bank:deposits";

/**
 * The parts of the account and booking names that settled consumption is booked under. The batch
 * transaction builds these names in SQL, from the records it settled (store/consumption.ts), so
 * that a 20,000-record batch is booked in two statements: these constants keep both spellings one.
 */
export const NAME_PARTS = {
  wallet: "wallet:",
  offline: ":offline",
  merchant: "merchant:",
  debit: "debit:",
} as const;

export const walletOffline = (walletId: string): string =>
  `${NAME_PARTS.wallet}${walletId}${NAME_PARTS.offline}`;
export const walletOnline = (walletId: string): string => `wallet:${walletId}:online`;
export const drawer = (teller: string): string => `drawer:${teller}`;
export const merchant = (merchantId: string): string => `${NAME_PARTS.merchant}${merchantId}`;
/** The teller of a `drawer:T` account; undefined for any other account. */
export const tellerOf = (account: string): string | undefined =>
  account.startsWith("drawer:") ? account.slice("drawer:".length) : undefined;
/** A bank account number never equals `deposits`: numbers are upper case (ACCOUNT_NUMBER_PATTERN). */
export const bankAccount = (number: string): string => `bank:${number}`;

/** Bank account numbers: 1-34 upper-case letters, digits and dashes (an IBAN fits). */
export const ACCOUNT_NUMBER_PATTERN = /^[A-Z0-9][A-Z0-9-]{0,33}$/;

/** The bank account number of a `bank:N` account; undefined for any other account. */
export function bankNumberOf(account: string): string | undefined {
  if (!account.startsWith("bank:")) return undefined;
  const number = account.slice("bank:".length);
  return ACCOUNT_NUMBER_PATTERN.test(number) ? number : undefined;
}

export type BookingKind = "issue" | "deposit" | "load" | "reversal" | "debit" | "refund";

export interface Transfer {
  readonly bookingId: string;
  readonly kind: BookingKind;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly currency: number;
  readonly walletId: string | null;
  readonly loadId: string | null;
}

/** What a booking needs of a load. */
export type BookedLoad = Pick<
  Load,
  "loadId" | "walletId" | "type" | "amount" | "currency" | "teller" | "account"
>;

/** Where a load's money comes from. */
export function loadSource(load: Pick<Load, "type" | "walletId" | "teller" | "account">): string {
  const type: LoadType = load.type;
  switch (type) {
    case "cash":
      return drawer(load.teller!);
    case "bound":
    case "non-bound":
    case "auto":
      return bankAccount(load.account!);
    case "supplementary":
      return walletOnline(load.walletId);
  }
}

/** The load's own booking: its source → the wallet's offline account. */
export function loadTransfer(load: BookedLoad): Transfer {
  return {
    bookingId: `load:${load.loadId}`,
    kind: "load",
    from: loadSource(load),
    to: walletOffline(load.walletId),
    amount: load.amount,
    currency: load.currency,
    walletId: load.walletId,
    loadId: load.loadId,
  };
}

/**
 * Taking a load back: the wallet's offline account → where the money goes. A cash revoke pays the
 * cash out of the revoking teller's drawer; any other reversal returns the money to its source.
 */
export function reversalTransfer(load: BookedLoad, revokingTeller: string | null): Transfer {
  return {
    bookingId: `reversal:${load.loadId}`,
    kind: "reversal",
    from: walletOffline(load.walletId),
    to: revokingTeller ? drawer(revokingTeller) : loadSource(load),
    amount: load.amount,
    currency: load.currency,
    walletId: load.walletId,
    loadId: load.loadId,
  };
}

/**
 * Everything a reversed load books, as completeReversal books it. A load that was completed (its
 * LOAD record came) was booked then: only the reversal is booked now, and cash goes out of the
 * revoking teller's drawer. A pending load the card made and reversed at once books both, the
 * reversal back to the source, and they cancel out.
 */
export function reversedLoadTransfers(
  load: BookedLoad,
  how: { readonly completed: boolean; readonly revokingTeller: string | null },
): Transfer[] {
  if (how.completed) return [reversalTransfer(load, load.type === "cash" ? how.revokingTeller : null)];
  return [loadTransfer(load), reversalTransfer(load, null)];
}

export const issueBookingId = (walletId: string): string => `issue:${walletId}`;
export const depositBookingId = (number: string): string => `deposit:${number}`;

/** A wallet's opening balance, given by the issuer. */
export function issueTransfer(walletId: string, amount: number, currency: number): Transfer {
  return {
    bookingId: issueBookingId(walletId),
    kind: "issue",
    from: ISSUER_FLOAT,
    to: walletOffline(walletId),
    amount,
    currency,
    walletId,
    loadId: null,
  };
}

/** A bank account's opening deposit. */
export function depositTransfer(number: string, amount: number, currency: number): Transfer {
  return {
    bookingId: depositBookingId(number),
    kind: "deposit",
    from: BANK_DEPOSITS,
    to: bankAccount(number),
    amount,
    currency,
    walletId: null,
    loadId: null,
  };
}

export const debitBookingId = (walletId: string, cardCounter: number): string =>
  `${NAME_PARTS.debit}${walletId}:${cardCounter}`;

/**
 * A settled debit of a wallet issued here: the card spent it, so it leaves the wallet's offline
 * account for the merchant's. The batch transaction books these in SQL (store/consumption.ts);
 * this is the same transfer, written once for the tests and the reconciliation to compare with.
 */
export function debitTransfer(record: {
  walletId: string;
  cardCounter: number;
  merchantId: string;
  amount: number;
  currency: number;
}): Transfer {
  return {
    bookingId: debitBookingId(record.walletId, record.cardCounter),
    kind: "debit",
    from: walletOffline(record.walletId),
    to: merchant(record.merchantId),
    amount: record.amount,
    currency: record.currency,
    walletId: record.walletId,
    loadId: null,
  };
}

/** What a refund booking needs: the settled refund and the merchant of the debit it refunds. */
export interface RefundBooking {
  readonly terminalId: string;
  readonly refundId: number;
  readonly walletId: string;
  readonly merchantId: string;
  readonly amount: number;
  readonly currency: number;
}

export const refundBookingId = (terminalId: string, refundId: number): string =>
  `refund:${terminalId}:${refundId}`;

/**
 * A settled refund of returned goods: the merchant pays it back, to the wallet's online account
 * (never the card). Booked in the batch's transaction that settles it (store/refund-bookings.ts).
 */
export function refundTransfer(r: RefundBooking): Transfer {
  return {
    bookingId: refundBookingId(r.terminalId, r.refundId),
    kind: "refund",
    from: merchant(r.merchantId),
    to: walletOnline(r.walletId),
    amount: r.amount,
    currency: r.currency,
    walletId: r.walletId,
    loadId: null,
  };
}
