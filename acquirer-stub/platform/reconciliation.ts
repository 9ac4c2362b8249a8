/**
 * The platform's reconciliation (pure): what its records say each account must hold, against what
 * its ledger and the simulated bank hold, and the consumption the acquirer settled against what
 * the platform booked. The store (store/reconciliation.ts) reads the facts in one snapshot; this
 * file only compares them, with exact integers.
 *
 * Three records are kept apart and checked against each other:
 * - the operations: loads and their reversals (`platform_loads`, `platform_reversals`), the
 *   opening bookings (`issue:W`, `deposit:N`), the acquirer's accepted debits (`records`) of
 *   wallets issued here, and the refunds the acquirer settled (`refunds`) for them, which move
 *   money from the merchant to the wallet's online account. Each is turned into the transfers it books (accounts.ts), so an account's
 *   expected balance is the sum of those, by kind: the parts a report shows;
 * - the ledger: each account's entries, and each booking's own entries (which must sum to zero);
 * - the bank: each account's `balance` and `held` columns, and its holds.
 *
 * Every account the operations or the ledger know is compared, per currency, so a stray entry
 * anywhere shows up as a named difference (the account, expected, actual, actual − expected).
 */
import {
  type BookedLoad,
  depositBookingId,
  depositTransfer,
  issueBookingId,
  issueTransfer,
  loadTransfer,
  merchant,
  refundTransfer,
  reversedLoadTransfers,
  type Transfer,
  tellerOf,
  walletOffline,
  walletOnline,
} from "./accounts.js";
import type { LoadType } from "./model.js";

/** A load whose booking was made: loaded, or reversed (after its record came, or at once). */
export interface BookedLoadFact extends BookedLoad {
  readonly state: "loaded" | "reversed";
  /** Its LOAD record came before it was reversed (it has a card counter). */
  readonly completed: boolean;
  /** The teller of the reversal that took it back (a cash revoke), if any. */
  readonly revokingTeller: string | null;
}

export interface PendingLoadFact {
  readonly loadId: string;
  readonly walletId: string;
  readonly type: LoadType;
  readonly amount: number;
  readonly currency: number;
  readonly teller: string | null;
  readonly account: string | null;
  readonly terminalId: string;
  /** Unix seconds. */
  readonly issuedAt: number;
}

export interface CountAmount {
  readonly count: number;
  readonly amount: number;
}

/** What the store reads, in one snapshot. */
export interface ReconciliationFacts {
  readonly wallets: readonly { readonly walletId: string; readonly currency: number }[];
  readonly bankAccounts: readonly {
    readonly number: string;
    readonly currency: number;
    readonly balance: number;
    readonly held: number;
  }[];
  /** Per bank account number: the sum of its holds still held. */
  readonly heldHolds: ReadonlyMap<string, number>;
  /** The opening bookings (`issue:W`, `deposit:N`) by booking id. */
  readonly openings: ReadonlyMap<string, { readonly amount: number; readonly currency: number }>;
  readonly bookedLoads: readonly BookedLoadFact[];
  readonly pendingLoads: readonly PendingLoadFact[];
  /** The acquirer's accepted debits of wallets issued here, per wallet, merchant and currency. */
  readonly settledDebits: readonly ({
    readonly walletId: string;
    readonly merchantId: string;
    readonly currency: number;
  } & CountAmount)[];
  /** The acquirer's accepted debits of wallets the platform did not issue, per currency. */
  readonly notOnPlatform: readonly ({ readonly currency: number } & CountAmount)[];
  /** The platform's `debit:*` bookings, per currency. */
  readonly bookedDebits: readonly ({ readonly currency: number } & CountAmount)[];
  /** The refunds the acquirer settled for wallets issued here, in the wallet's currency. */
  readonly settledRefunds: readonly {
    readonly terminalId: string;
    readonly refundId: number;
    readonly walletId: string;
    readonly merchantId: string;
    readonly amount: number;
    readonly currency: number;
  }[];
  /** The platform's `refund:*` bookings, per currency. */
  readonly bookedRefunds: readonly ({ readonly currency: number } & CountAmount)[];
  /** Every account's balance per currency (the sum of its entries). */
  readonly ledger: readonly {
    readonly account: string;
    readonly currency: number;
    readonly balance: number;
  }[];
  /** Bookings whose entries do not sum to zero, or do not move the booking's amount. */
  readonly brokenBookings: readonly {
    readonly bookingId: string;
    readonly currency: number;
    readonly amount: number;
    /** The sum of its entries (0 for a sound booking). */
    readonly sum: number;
    /** The sum of its positive entries (the booking's amount for a sound booking). */
    readonly credited: number;
  }[];
}

export type DifferenceKind =
  /** An account's entries against what the operations book on it. */
  | "account"
  /** A bank account's balance column against what the operations book on it. */
  | "bank-balance"
  /** A bank account's held column against the sum of its holds still held. */
  | "bank-held"
  /** The debit bookings against the acquirer's accepted debits of issued wallets. */
  | "consumption"
  /** The refund bookings against the refunds the acquirer settled for issued wallets. */
  | "refunds"
  /** Accepted debits of a wallet in another currency than the wallet's: never booked (expected: settled, actual: 0). */
  | "debit-currency"
  /** A booking whose entries do not sum to zero. */
  | "booking-sum"
  /** A booking whose entries do not move the amount it was booked for. */
  | "booking-amount";

export interface PlatformDifference {
  readonly kind: DifferenceKind;
  /** What differs: an account name, a booking id, or `consumption`. */
  readonly subject: string;
  readonly currency: number;
  readonly expected: number;
  readonly actual: number;
  /** actual − expected. */
  readonly difference: number;
}

export interface DrawerLine {
  readonly teller: string;
  readonly currency: number;
  readonly takenIn: number;
  readonly paidOut: number;
  /** The drawer account's balance (−(takenIn − paidOut) when it balances). */
  readonly balance: number;
}

export interface BankLine {
  readonly number: string;
  readonly currency: number;
  readonly deposits: number;
  readonly loads: number;
  readonly reversals: number;
  /** deposits − loads + reversals. */
  readonly expected: number;
  /** The bank's balance column. */
  readonly balance: number;
  /** The bank's held column. */
  readonly held: number;
  /** The sum of the account's holds still held. */
  readonly holds: number;
}

export interface WalletLine {
  readonly walletId: string;
  readonly currency: number;
  readonly opening: number;
  readonly loads: number;
  readonly reversals: number;
  /** The acquirer's settled debits in the wallet's currency. */
  readonly consumption: number;
  /** opening + loads − reversals − consumption. */
  readonly expected: number;
  /** The offline account's balance. */
  readonly offline: number;
  /** Refunds of returned goods credited to the online account. */
  readonly refunds: number;
  /** The online account's balance (refunds − what supplementary loads took onto the card). */
  readonly online: number;
  readonly pendingLoads: number;
}

export interface ConsumptionLine {
  readonly currency: number;
  /** The acquirer's accepted debits of wallets issued here. */
  readonly settled: CountAmount;
  /** The platform's debit bookings. */
  readonly booked: CountAmount;
  /** The acquirer's accepted debits of wallets the platform did not issue (not booked). */
  readonly notOnPlatform: CountAmount;
}

/** Refunds per currency: what the acquirer settled for issued wallets, what the platform booked. */
export interface RefundLine {
  readonly currency: number;
  readonly settled: CountAmount;
  readonly booked: CountAmount;
}

export interface PlatformReconciliation {
  /** No difference anywhere. */
  readonly balanced: boolean;
  readonly consumption: readonly ConsumptionLine[];
  readonly refunds: readonly RefundLine[];
  readonly drawers: readonly DrawerLine[];
  readonly bankAccounts: readonly BankLine[];
  readonly wallets: readonly WalletLine[];
  /** Loads signed and not proven yet: nothing is booked for them (a bank load holds its money). */
  readonly pendingLoads: readonly PendingLoadFact[];
  readonly differences: readonly PlatformDifference[];
}

/** An account's balance in one currency, with its parts by booking kind (signed). */
interface Balance {
  total: number;
  readonly byKind: Map<string, number>;
}

class Balances {
  readonly #map = new Map<string, Balance & { account: string; currency: number }>();

  add(account: string, currency: number, amount: number, kind: string): void {
    const key = `${account}\u0000${currency}`;
    let b = this.#map.get(key);
    if (!b) {
      b = { account, currency, total: 0, byKind: new Map() };
      this.#map.set(key, b);
    }
    b.total += amount;
    b.byKind.set(kind, (b.byKind.get(kind) ?? 0) + amount);
  }

  book(t: Transfer): void {
    this.add(t.from, t.currency, -t.amount, t.kind);
    this.add(t.to, t.currency, t.amount, t.kind);
  }

  get(account: string, currency: number): number {
    return this.#map.get(`${account}\u0000${currency}`)?.total ?? 0;
  }

  part(account: string, currency: number, kind: string): number {
    return this.#map.get(`${account}\u0000${currency}`)?.byKind.get(kind) ?? 0;
  }

  keys(): { account: string; currency: number }[] {
    return [...this.#map.values()].map(({ account, currency }) => ({ account, currency }));
  }
}

/** The transfers the operations book, summed per account: what the ledger must hold. */
function expectedBalances(f: ReconciliationFacts): Balances {
  const expected = new Balances();
  for (const w of f.wallets) {
    const opening = f.openings.get(issueBookingId(w.walletId));
    if (opening) expected.book(issueTransfer(w.walletId, opening.amount, opening.currency));
  }
  for (const a of f.bankAccounts) {
    const deposit = f.openings.get(depositBookingId(a.number));
    if (deposit) expected.book(depositTransfer(a.number, deposit.amount, deposit.currency));
  }
  for (const l of f.bookedLoads) {
    const how = { completed: l.completed, revokingTeller: l.revokingTeller };
    const transfers =
      l.state === "loaded"
        ? [loadTransfer(l)]
        : l.completed
          ? [loadTransfer(l), ...reversedLoadTransfers(l, how)]
          : reversedLoadTransfers(l, how);
    for (const t of transfers) expected.book(t);
  }
  // As the batch books them (store/consumption.ts): in the wallet's currency only.
  const currencyOf = new Map(f.wallets.map((w) => [w.walletId, w.currency]));
  for (const d of f.settledDebits)
    if (currencyOf.get(d.walletId) === d.currency) {
      expected.add(walletOffline(d.walletId), d.currency, -d.amount, "debit");
      expected.add(merchant(d.merchantId), d.currency, d.amount, "debit");
    }
  // As the batch books them (store/refund-bookings.ts): the store reads only those it can book.
  for (const r of f.settledRefunds) expected.book(refundTransfer(r));
  return expected;
}

function difference(
  kind: DifferenceKind,
  subject: string,
  currency: number,
  expected: number,
  actual: number,
): PlatformDifference[] {
  return expected === actual
    ? []
    : [{ kind, subject, currency, expected, actual, difference: actual - expected }];
}

const byKey =
  <T>(...keys: ((t: T) => string | number)[]) =>
  (a: T, b: T): number => {
    for (const k of keys) {
      const x = k(a);
      const y = k(b);
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };

/** Counts and amounts added up per currency. */
function perCurrency(rows: readonly ({ readonly currency: number } & CountAmount)[]) {
  const out = new Map<number, { count: number; amount: number }>();
  for (const r of rows) {
    const c = out.get(r.currency) ?? { count: 0, amount: 0 };
    c.count += r.count;
    c.amount += r.amount;
    out.set(r.currency, c);
  }
  return out;
}

/** What a kind took out of an account, as a positive part (0, never −0, when it took nothing). */
const taken = (b: Balances, account: string, currency: number, kind: string): number =>
  0 - b.part(account, currency, kind);

/** Compare the facts: every part, every balance, every difference named. */
export function reconcile(f: ReconciliationFacts): PlatformReconciliation {
  const expected = expectedBalances(f);
  const walletCurrency = new Map(f.wallets.map((w) => [w.walletId, w.currency]));
  const ledger = new Balances();
  for (const e of f.ledger) ledger.add(e.account, e.currency, e.balance, "entries");
  const differences: PlatformDifference[] = [];

  const accounts = new Map<string, { account: string; currency: number }>();
  for (const k of [...expected.keys(), ...ledger.keys()]) accounts.set(`${k.account}\u0000${k.currency}`, k);
  for (const { account, currency } of accounts.values())
    differences.push(
      ...difference(
        "account",
        account,
        currency,
        expected.get(account, currency),
        ledger.get(account, currency),
      ),
    );

  const bankAccounts = f.bankAccounts.map((a): BankLine => {
    const name = `bank:${a.number}`;
    const line = {
      number: a.number,
      currency: a.currency,
      deposits: expected.part(name, a.currency, "deposit"),
      loads: taken(expected, name, a.currency, "load"),
      reversals: expected.part(name, a.currency, "reversal"),
      expected: expected.get(name, a.currency),
      balance: a.balance,
      held: a.held,
      holds: f.heldHolds.get(a.number) ?? 0,
    };
    differences.push(
      ...difference("bank-balance", name, a.currency, line.expected, line.balance),
      ...difference("bank-held", name, a.currency, line.holds, line.held),
    );
    return line;
  });

  const drawers: DrawerLine[] = [...accounts.values()]
    .filter((k) => tellerOf(k.account) !== undefined)
    .map((k) => ({
      teller: tellerOf(k.account)!,
      currency: k.currency,
      takenIn: taken(expected, k.account, k.currency, "load"),
      paidOut: expected.part(k.account, k.currency, "reversal"),
      balance: ledger.get(k.account, k.currency),
    }))
    .sort(
      byKey(
        (d) => d.teller,
        (d) => d.currency,
      ),
    );

  const pendingPerWallet = new Map<string, number>();
  for (const p of f.pendingLoads)
    pendingPerWallet.set(p.walletId, (pendingPerWallet.get(p.walletId) ?? 0) + 1);
  const wallets = f.wallets.map((w): WalletLine => {
    const offline = walletOffline(w.walletId);
    return {
      walletId: w.walletId,
      currency: w.currency,
      opening: expected.part(offline, w.currency, "issue"),
      loads: expected.part(offline, w.currency, "load"),
      reversals: taken(expected, offline, w.currency, "reversal"),
      consumption: taken(expected, offline, w.currency, "debit"),
      expected: expected.get(offline, w.currency),
      offline: ledger.get(offline, w.currency),
      refunds: expected.part(walletOnline(w.walletId), w.currency, "refund"),
      online: ledger.get(walletOnline(w.walletId), w.currency),
      pendingLoads: pendingPerWallet.get(w.walletId) ?? 0,
    };
  });

  // Debits the platform cannot book: the card and the platform's wallet disagree on the currency.
  const unbookable = new Map<string, { walletId: string; currency: number; amount: number }>();
  for (const d of f.settledDebits) {
    if (walletCurrency.get(d.walletId) === d.currency) continue;
    const key = `${d.walletId}\u0000${d.currency}`;
    const u = unbookable.get(key) ?? { walletId: d.walletId, currency: d.currency, amount: 0 };
    u.amount += d.amount;
    unbookable.set(key, u);
  }
  for (const u of unbookable.values())
    differences.push(...difference("debit-currency", walletOffline(u.walletId), u.currency, u.amount, 0));

  const settled = perCurrency(f.settledDebits);
  const booked = perCurrency(f.bookedDebits);
  const outside = perCurrency(f.notOnPlatform);
  const zero = { count: 0, amount: 0 };
  const consumption = [...new Set([...settled.keys(), ...booked.keys(), ...outside.keys()])]
    .sort((a, b) => a - b)
    .map((currency): ConsumptionLine => {
      const line = {
        currency,
        settled: settled.get(currency) ?? zero,
        booked: booked.get(currency) ?? zero,
        notOnPlatform: outside.get(currency) ?? zero,
      };
      differences.push(
        ...difference("consumption", "consumption", currency, line.settled.amount, line.booked.amount),
      );
      return line;
    });

  const refundsSettled = perCurrency(
    f.settledRefunds.map((r) => ({ currency: r.currency, count: 1, amount: r.amount })),
  );
  const refundsBooked = perCurrency(f.bookedRefunds);
  const refunds = [...new Set([...refundsSettled.keys(), ...refundsBooked.keys()])]
    .sort((a, b) => a - b)
    .map((currency): RefundLine => {
      const line = {
        currency,
        settled: refundsSettled.get(currency) ?? zero,
        booked: refundsBooked.get(currency) ?? zero,
      };
      differences.push(
        ...difference("refunds", "refunds", currency, line.settled.amount, line.booked.amount),
      );
      return line;
    });

  for (const b of f.brokenBookings) {
    differences.push(...difference("booking-sum", b.bookingId, b.currency, 0, b.sum));
    differences.push(...difference("booking-amount", b.bookingId, b.currency, b.amount, b.credited));
  }

  differences.sort(
    byKey(
      (d) => d.kind,
      (d) => d.subject,
      (d) => d.currency,
    ),
  );
  return {
    balanced: differences.length === 0,
    consumption,
    refunds,
    drawers,
    bankAccounts,
    wallets,
    pendingLoads: f.pendingLoads,
    differences,
  };
}
