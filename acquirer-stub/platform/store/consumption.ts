/**
 * Settled consumption forwarded to the wallet platform: in the transaction that settles a batch,
 * every accepted debit of a wallet issued here (a row in `wallets`) is booked as its transfer
 * `wallet:W:offline → merchant:M` under `debit:W:<cardCounter>` (accounts.ts › debitTransfer).
 *
 * Two INSERT … SELECT statements read the batch's records where the batch just wrote them, so a
 * 20,000-record batch costs two statements, not 60,000 rows through the driver, and stays under
 * both engines' parameter limits. Being in the batch's transaction is what makes it exactly once:
 * a retried batch is replayed before it gets here, the same records under another batch id are
 * rejected as duplicates (never accepted twice: `records_wallet_counter`), and a conflict reruns
 * the whole transaction. ON CONFLICT DO NOTHING keeps the booking id the last word, as for every
 * other booking.
 *
 * A debit in another currency than its wallet's is not booked (a card refuses such a debit, so
 * one means the platform's wallet and the card disagree): the reconciliation names it.
 */
import { sql } from "kysely";
import { RECORD_TYPE } from "../../../protocol/wallet/constants.js";
import type { Db } from "../../db/schema.js";
import { NAME_PARTS } from "../accounts.js";

// The names of accounts.ts, spelled in SQL (`||` and CAST are the same on SQLite and PostgreSQL).
const bookingId = () =>
  sql<string>`${NAME_PARTS.debit} || r.wallet_id || ':' || CAST(r.card_counter AS TEXT)`;
const offlineAccount = () => sql<string>`${NAME_PARTS.wallet} || r.wallet_id || ${NAME_PARTS.offline}`;
const merchantAccount = () => sql<string>`${NAME_PARTS.merchant} || r.merchant_id`;

export class Consumption {
  constructor(readonly db: Db) {}

  /** The batch's accepted debits of wallets issued here, in their wallet's currency. */
  #settledDebits(batch: { terminalId: string; batchId: string }) {
    return this.db
      .selectFrom("records as r")
      .innerJoin("wallets as w", (j) =>
        j.onRef("w.wallet_id", "=", "r.wallet_id").onRef("w.currency", "=", "r.currency"),
      )
      .where("r.terminal_id", "=", batch.terminalId)
      .where("r.batch_id", "=", batch.batchId)
      .where("r.status", "=", "accepted")
      .where("r.type", "=", RECORD_TYPE.DEBIT);
  }

  /**
   * Book the settled batch's debits of issued wallets (inside the batch's transaction). Returns
   * how many were booked now.
   */
  async bookSettledDebits(batch: { terminalId: string; batchId: string; at: number }): Promise<number> {
    const inserted = await this.db
      .insertInto("platform_bookings")
      .columns(["booking_id", "kind", "wallet_id", "load_id", "amount", "currency", "at"])
      .expression(
        this.#settledDebits(batch).select((eb) => [
          bookingId().as("booking_id"),
          sql.lit("debit").as("kind"),
          "r.wallet_id",
          sql<null>`NULL`.as("load_id"),
          eb.ref("r.amount").as("amount"),
          "r.currency",
          // A parameter alone in a SELECT list has no type on PostgreSQL: say it.
          sql<number>`CAST(${batch.at} AS BIGINT)`.as("at"),
        ]),
      )
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    const booked = Number(inserted.numInsertedOrUpdatedRows ?? 0n);
    if (booked === 0) return 0;
    // Both legs of every booking: (offline, −x) and (merchant, +x). A booking that existed already
    // (none can: see above) keeps the entries it has.
    await this.db
      .insertInto("platform_entries")
      .columns(["booking_id", "account", "amount"])
      .expression(
        this.#settledDebits(batch)
          .select((eb) => [
            bookingId().as("booking_id"),
            offlineAccount().as("account"),
            eb.neg(eb.ref("r.amount")).as("amount"),
          ])
          .unionAll(
            this.#settledDebits(batch).select((eb) => [
              bookingId().as("booking_id"),
              merchantAccount().as("account"),
              eb.ref("r.amount").as("amount"),
            ]),
          ),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
    return booked;
  }
}
