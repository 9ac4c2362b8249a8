/**
 * The simulated bank's accounts (`bank_accounts`) and the funds held for loads (`bank_holds`).
 *
 * A hold is two-phase, like a card authorisation: `hold` when the platform signs a bank-funded
 * load, then `post` when the card's record proves it (the money leaves the account, see
 * ledger.ts) or `release` when the card proves it never happened. Each step is one guarded,
 * atomic update, so that several instances cannot over-hold an account:
 *
 *   hold:    held = held + x  WHERE number = ? AND status = 'open' AND balance - held >= x
 *   post:    held = held - x  (and the load's booking takes balance - x with its entry)
 *   release: held = held - x
 *
 * and the table's CHECK (0 <= held <= balance) is the last word. `balance` moves only with the
 * account's `bank:N` entries (Ledger.transfer), so it always equals their sum.
 */
import type { Selectable } from "kysely";
import type { BankAccountsTable, Db } from "../../db/schema.js";
import type { BankAccount } from "../model.js";

function toAccount(r: Selectable<BankAccountsTable>): BankAccount {
  return {
    number: r.number,
    holder: r.holder,
    currency: r.currency,
    balance: r.balance,
    held: r.held,
    status: r.status,
    createdAt: r.created_at,
  };
}

export interface Hold {
  readonly loadId: string;
  readonly account: string;
  readonly amount: number;
  readonly state: "held" | "posted" | "released";
}

export class Bank {
  constructor(readonly db: Db) {}

  async get(number: string): Promise<BankAccount | undefined> {
    const row = await this.db
      .selectFrom("bank_accounts")
      .selectAll()
      .where("number", "=", number)
      .executeTakeFirst();
    return row ? toAccount(row) : undefined;
  }

  async list(): Promise<BankAccount[]> {
    const rows = await this.db.selectFrom("bank_accounts").selectAll().orderBy("number").execute();
    return rows.map(toAccount);
  }

  /** A new account with a zero balance (its opening deposit is a booking). */
  async insert(a: { number: string; holder: string; currency: number; createdAt: number }): Promise<void> {
    await this.db
      .insertInto("bank_accounts")
      .values({
        number: a.number,
        holder: a.holder,
        currency: a.currency,
        balance: 0,
        held: 0,
        status: "open",
        created_at: a.createdAt,
      })
      .execute();
  }

  /** Move the balance with a `bank:N` entry (Ledger.transfer only). */
  async moveBalance(number: string, delta: number): Promise<void> {
    const r = await this.db
      .updateTable("bank_accounts")
      .set((eb) => ({ balance: eb("balance", "+", delta) }))
      .where("number", "=", number)
      .executeTakeFirst();
    if (r.numUpdatedRows !== 1n) throw new Error(`bank account ${number} vanished under a booking`);
  }

  /**
   * Hold `amount` on an open account for a load. Returns false, holding nothing, when the account
   * is not open or its available balance (balance − held) is short.
   */
  async hold(loadId: string, number: string, amount: number, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable("bank_accounts")
      .set((eb) => ({ held: eb("held", "+", amount) }))
      .where("number", "=", number)
      .where("status", "=", "open")
      .where((eb) => eb(eb("balance", "-", eb.ref("held")), ">=", amount))
      .executeTakeFirst();
    if (r.numUpdatedRows !== 1n) return false;
    await this.db
      .insertInto("bank_holds")
      .values({ load_id: loadId, account: number, amount, state: "held", updated_at: at })
      .execute();
    return true;
  }

  async holdOf(loadId: string): Promise<Hold | undefined> {
    const row = await this.db
      .selectFrom("bank_holds")
      .selectAll()
      .where("load_id", "=", loadId)
      .executeTakeFirst();
    return row
      ? { loadId: row.load_id, account: row.account, amount: row.amount, state: row.state }
      : undefined;
  }

  /** End a hold: `posted` (the money leaves with the load's booking) or `released`. */
  async endHold(loadId: string, state: "posted" | "released", at: number): Promise<void> {
    const hold = await this.holdOf(loadId);
    if (!hold) throw new Error(`load ${loadId} has no bank hold`);
    // Guarded on the state the hold was read in: a second end of the same hold changes nothing.
    const r = await this.db
      .updateTable("bank_holds")
      .set({ state, updated_at: at })
      .where("load_id", "=", loadId)
      .where("state", "=", "held")
      .executeTakeFirst();
    if (r.numUpdatedRows !== 1n) throw new Error(`the hold of load ${loadId} is ${hold.state}, not held`);
    await this.db
      .updateTable("bank_accounts")
      .set((eb) => ({ held: eb("held", "-", hold.amount) }))
      .where("number", "=", hold.account)
      .execute();
  }
}
