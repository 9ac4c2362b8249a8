/**
 * The facts the platform's reconciliation compares (reconciliation.ts), read with set queries:
 * aggregates where the rows are many (the acquirer's records, the entries), rows where the
 * operations are (loads, bank accounts, wallets). Run it inside one snapshot (PlatformStore.read:
 * REPEATABLE READ on PostgreSQL), so that the acquirer's records and the bookings they caused
 * are read at the same instant.
 */
import { RECORD_TYPE } from "../../../protocol/wallet/constants.js";
import type { Db } from "../../db/schema.js";
import type { ReconciliationFacts } from "../reconciliation.js";

const n = (v: unknown): number => Number(v ?? 0);

export class ReconciliationQueries {
  constructor(readonly db: Db) {}

  async facts(): Promise<ReconciliationFacts> {
    return {
      wallets: await this.db
        .selectFrom("wallets")
        .select(["wallet_id as walletId", "currency"])
        .orderBy("wallet_id")
        .execute(),
      bankAccounts: await this.db
        .selectFrom("bank_accounts")
        .select(["number", "currency", "balance", "held"])
        .orderBy("number")
        .execute(),
      heldHolds: new Map(
        (
          await this.db
            .selectFrom("bank_holds")
            .select(["account", (eb) => eb.fn.sum<number>("amount").as("amount")])
            .where("state", "=", "held")
            .groupBy("account")
            .execute()
        ).map((h) => [h.account, n(h.amount)]),
      ),
      openings: new Map(
        (
          await this.db
            .selectFrom("platform_bookings")
            .select(["booking_id", "amount", "currency"])
            .where("kind", "in", ["issue", "deposit"])
            .execute()
        ).map((b) => [b.booking_id, { amount: b.amount, currency: b.currency }]),
      ),
      bookedLoads: await this.#bookedLoads(),
      pendingLoads: (
        await this.db
          .selectFrom("platform_loads")
          .select([
            "load_id",
            "wallet_id",
            "type",
            "amount",
            "currency",
            "teller",
            "account",
            "terminal_id",
            "issued_at",
          ])
          .where("state", "=", "pending")
          .orderBy("serial")
          .execute()
      ).map((l) => ({
        loadId: l.load_id,
        walletId: l.wallet_id,
        type: l.type,
        amount: l.amount,
        currency: l.currency,
        teller: l.teller,
        account: l.account,
        terminalId: l.terminal_id,
        issuedAt: l.issued_at,
      })),
      ...(await this.#consumption()),
      ...(await this.#refunds()),
      ledger: (
        await this.db
          .selectFrom("platform_entries as e")
          .innerJoin("platform_bookings as b", "b.booking_id", "e.booking_id")
          .select(["e.account", "b.currency", (eb) => eb.fn.sum<number>("e.amount").as("balance")])
          .groupBy(["e.account", "b.currency"])
          .orderBy("e.account")
          .orderBy("b.currency")
          .execute()
      ).map((r) => ({ account: r.account, currency: r.currency, balance: n(r.balance) })),
      brokenBookings: await this.#brokenBookings(),
    };
  }

  /** Loads whose booking was made, with the reversal that took each back (at most one). */
  async #bookedLoads(): Promise<ReconciliationFacts["bookedLoads"]> {
    const rows = await this.db
      .selectFrom("platform_loads as l")
      .leftJoin("platform_reversals as r", (j) =>
        j.onRef("r.load_id", "=", "l.load_id").on("r.outcome", "=", "reversed"),
      )
      .select([
        "l.load_id",
        "l.wallet_id",
        "l.type",
        "l.amount",
        "l.currency",
        "l.teller",
        "l.account",
        "l.state",
        "l.card_counter",
        "r.teller as revoking_teller",
      ])
      .where("l.state", "in", ["loaded", "reversed"])
      .orderBy("l.serial")
      .execute();
    return rows.map((l) => ({
      loadId: l.load_id,
      walletId: l.wallet_id,
      type: l.type,
      amount: l.amount,
      currency: l.currency,
      teller: l.teller,
      account: l.account,
      state: l.state as "loaded" | "reversed",
      // Only the LOAD record's completion sets the counter (a pending load reversed keeps none).
      completed: l.card_counter !== null,
      revokingTeller: l.revoking_teller ?? null,
    }));
  }

  /** The acquirer's accepted debits (of issued wallets, and of the others) and the debit bookings. */
  async #consumption(): Promise<
    Pick<ReconciliationFacts, "settledDebits" | "notOnPlatform" | "bookedDebits">
  > {
    const settled = await this.db
      .selectFrom("records as r")
      .innerJoin("wallets as w", "w.wallet_id", "r.wallet_id")
      .select((eb) => [
        "r.wallet_id",
        "r.merchant_id",
        "r.currency",
        eb.fn.countAll<number>().as("count"),
        eb.fn.sum<number>("r.amount").as("amount"),
      ])
      .where("r.status", "=", "accepted")
      .where("r.type", "=", RECORD_TYPE.DEBIT)
      .groupBy(["r.wallet_id", "r.merchant_id", "r.currency"])
      .orderBy("r.wallet_id")
      .orderBy("r.merchant_id")
      .orderBy("r.currency")
      .execute();
    const outside = await this.db
      .selectFrom("records as r")
      .select((eb) => [
        "r.currency",
        eb.fn.countAll<number>().as("count"),
        eb.fn.sum<number>("r.amount").as("amount"),
      ])
      .where("r.status", "=", "accepted")
      .where("r.type", "=", RECORD_TYPE.DEBIT)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("wallets as w").select("w.wallet_id").whereRef("w.wallet_id", "=", "r.wallet_id"),
          ),
        ),
      )
      .groupBy("r.currency")
      .execute();
    const booked = await this.#bookedTotals("debit");
    return {
      settledDebits: settled.map((r) => ({
        walletId: r.wallet_id!,
        merchantId: r.merchant_id,
        currency: r.currency!,
        count: n(r.count),
        amount: n(r.amount),
      })),
      notOnPlatform: outside.map((r) => ({ currency: r.currency!, count: n(r.count), amount: n(r.amount) })),
      bookedDebits: booked.map((r) => ({ currency: r.currency, count: n(r.count), amount: n(r.amount) })),
    };
  }

  /** Count and sum of one kind of booking, per currency. */
  #bookedTotals(kind: "debit" | "refund") {
    return this.db
      .selectFrom("platform_bookings")
      .select((eb) => [
        "currency",
        eb.fn.countAll<number>().as("count"),
        eb.fn.sum<number>("amount").as("amount"),
      ])
      .where("kind", "=", kind)
      .groupBy("currency")
      .execute();
  }

  /**
   * The refunds the acquirer settled for wallets issued here in the wallet's currency (those the
   * batch books: store/refund-bookings.ts), with the merchant of the debit each refunds, and the
   * `refund:*` bookings.
   */
  async #refunds(): Promise<Pick<ReconciliationFacts, "settledRefunds" | "bookedRefunds">> {
    const settled = await this.db
      .selectFrom("refunds as f")
      .innerJoin("wallets as w", (j) =>
        j.onRef("w.wallet_id", "=", "f.wallet_id").onRef("w.currency", "=", "f.currency"),
      )
      .innerJoin("records as r", (j) =>
        j
          .onRef("r.wallet_id", "=", "f.wallet_id")
          .onRef("r.card_counter", "=", "f.card_counter")
          .on("r.status", "=", "accepted"),
      )
      .select(["f.terminal_id", "f.refund_id", "f.wallet_id", "r.merchant_id", "f.amount", "f.currency"])
      .where("f.status", "=", "settled")
      .orderBy("f.terminal_id")
      .orderBy("f.refund_id")
      .execute();
    const booked = await this.#bookedTotals("refund");
    return {
      settledRefunds: settled.map((r) => ({
        terminalId: r.terminal_id,
        refundId: r.refund_id,
        walletId: r.wallet_id,
        merchantId: r.merchant_id,
        amount: r.amount,
        currency: r.currency,
      })),
      bookedRefunds: booked.map((r) => ({ currency: r.currency, count: n(r.count), amount: n(r.amount) })),
    };
  }

  /** Bookings whose entries do not sum to zero or do not move the booked amount (none, normally). */
  async #brokenBookings(): Promise<ReconciliationFacts["brokenBookings"]> {
    const rows = await this.db
      .selectFrom("platform_bookings as b")
      .leftJoin("platform_entries as e", "e.booking_id", "b.booking_id")
      .select((eb) => {
        const credited = eb.fn.sum<number>(
          eb.case().when("e.amount", ">", 0).then(eb.ref("e.amount")).else(0).end(),
        );
        return [
          "b.booking_id",
          "b.currency",
          "b.amount",
          eb.fn.coalesce(eb.fn.sum<number>("e.amount"), eb.lit(0)).as("sum"),
          eb.fn.coalesce(credited, eb.lit(0)).as("credited"),
        ];
      })
      .groupBy(["b.booking_id", "b.currency", "b.amount"])
      .having((eb) =>
        eb.or([
          eb(eb.fn.coalesce(eb.fn.sum<number>("e.amount"), eb.lit(0)), "<>", 0),
          eb(
            eb.fn.coalesce(
              eb.fn.sum<number>(eb.case().when("e.amount", ">", 0).then(eb.ref("e.amount")).else(0).end()),
              eb.lit(0),
            ),
            "<>",
            eb.ref("b.amount"),
          ),
        ]),
      )
      .orderBy("b.booking_id")
      .execute();
    return rows.map((r) => ({
      bookingId: r.booking_id,
      currency: r.currency,
      amount: r.amount,
      sum: n(r.sum),
      credited: n(r.credited),
    }));
  }
}
