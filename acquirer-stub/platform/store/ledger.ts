/**
 * The platform's double-entry bookings (`platform_bookings`, one row per booking id) and their
 * entries (`platform_entries`: account, signed amount). A booking is one transfer (accounts.ts):
 * entries (from, −x) and (to, +x), written together, so every booking sums to zero; an account's
 * balance is the sum of its entries.
 *
 * The booking id is the idempotency key: the insert is ON CONFLICT DO NOTHING, and a booking that
 * already exists writes nothing again ("duplicate"), so no retry books twice. A `bank:N` entry
 * moves the bank account's balance column in the same transaction (bank.ts), which therefore
 * always equals the sum of its entries.
 */

import type { Db } from "../../db/schema.js";
import { bankNumberOf, type Transfer } from "../accounts.js";
import type { Bank } from "./bank.js";

export interface Entry {
  readonly bookingId: string;
  readonly kind: string;
  readonly account: string;
  /** Signed minor units. */
  readonly amount: number;
  readonly currency: number;
  readonly loadId: string | null;
  readonly at: number;
}

/** The balance of one account: the sum of its entries (0 when it has none). */
export async function accountBalance(db: Db, account: string): Promise<number> {
  const row = await db
    .selectFrom("platform_entries")
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("amount"), eb.lit(0)).as("total"))
    .where("account", "=", account)
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

export class Ledger {
  constructor(
    readonly db: Db,
    readonly bank: Bank,
  ) {}

  /** Book a transfer once. Returns false when its booking id was booked already (nothing written). */
  async transfer(t: Transfer, at: number): Promise<boolean> {
    if (!Number.isSafeInteger(t.amount) || t.amount <= 0)
      throw new Error(`a booking moves a positive amount, got ${t.amount}`);
    if (t.from === t.to) throw new Error(`booking ${t.bookingId} moves money from ${t.from} to itself`);
    const inserted = await this.db
      .insertInto("platform_bookings")
      .values({
        booking_id: t.bookingId,
        kind: t.kind,
        wallet_id: t.walletId,
        load_id: t.loadId,
        amount: t.amount,
        currency: t.currency,
        at,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
    const legs: [string, number][] = [
      [t.to, t.amount],
      [t.from, -t.amount],
    ];
    await this.db
      .insertInto("platform_entries")
      .values(legs.map(([account, amount]) => ({ booking_id: t.bookingId, account, amount })))
      .execute();
    for (const [account, amount] of legs) {
      const number = bankNumberOf(account);
      if (number !== undefined) await this.bank.moveBalance(number, amount);
    }
    return true;
  }

  /** The balance of one account: the sum of its entries (0 when it has none). */
  balance(account: string): Promise<number> {
    return accountBalance(this.db, account);
  }

  async booked(bookingId: string): Promise<{ amount: number } | undefined> {
    return this.db
      .selectFrom("platform_bookings")
      .select("amount")
      .where("booking_id", "=", bookingId)
      .executeTakeFirst();
  }

  /** One account's entries, oldest first. */
  async entries(account: string): Promise<Entry[]> {
    const rows = await this.db
      .selectFrom("platform_entries as e")
      .innerJoin("platform_bookings as b", "b.booking_id", "e.booking_id")
      .select(["e.booking_id", "b.kind", "e.account", "e.amount", "b.currency", "b.load_id", "b.at"])
      .where("e.account", "=", account)
      .orderBy("b.at")
      .orderBy("e.booking_id")
      .execute();
    return rows.map((r) => ({
      bookingId: r.booking_id,
      kind: r.kind,
      account: r.account,
      amount: r.amount,
      currency: r.currency,
      loadId: r.load_id,
      at: r.at,
    }));
  }
}
