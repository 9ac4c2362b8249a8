/**
 * Settled refunds credited on the wallet platform, inside the batch transaction that settles them
 * (like consumption.ts for debits): a refund of a wallet issued here, in the wallet's currency, is
 * booked `merchant:M → wallet:W:online` under `refund:<terminalId>:<refundId>` (accounts.ts ›
 * refundTransfer). The merchant whose debit it refunds pays it back; the card is not touched.
 *
 * ON CONFLICT DO NOTHING keeps the booking id the last word: a refund books once, whatever retries.
 * A refund of a wallet not issued here (or in another currency) is not booked; the reconciliation
 * names it.
 */
import type { Db } from "../../db/schema.js";
import { type RefundBooking, refundTransfer } from "../accounts.js";

export class RefundBookings {
  constructor(readonly db: Db) {}

  /** Book a settled refund. Returns false when nothing was booked (wallet not here, or booked before). */
  async book(refund: RefundBooking, at: number): Promise<boolean> {
    const wallet = await this.db
      .selectFrom("wallets")
      .select("currency")
      .where("wallet_id", "=", refund.walletId)
      .executeTakeFirst();
    if (!wallet || wallet.currency !== refund.currency) return false;
    const t = refundTransfer(refund);
    const inserted = await this.db
      .insertInto("platform_bookings")
      .values({
        booking_id: t.bookingId,
        kind: t.kind,
        wallet_id: t.walletId,
        load_id: null,
        amount: t.amount,
        currency: t.currency,
        at,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
    await this.db
      .insertInto("platform_entries")
      .values([
        { booking_id: t.bookingId, account: t.to, amount: t.amount },
        { booking_id: t.bookingId, account: t.from, amount: -t.amount },
      ])
      .execute();
    return true;
  }
}
