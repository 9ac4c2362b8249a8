/**
 * The daily settlement report, read from the acquirer's database: totals per merchant and currency
 * of the accepted records of a business day, the reconciliation of the batches that carry that day
 * (or were received on it), the card counters and terminal seqs still outstanding for the wallets
 * and terminals seen that day, and the clones detected on it.
 *
 * Read-only over `records`, `refunds`, `batches`, `batch_days` and `clones`; the store runs it in one
 * snapshot transaction (REPEATABLE READ on PostgreSQL) so the parts agree with each other.
 */

import { DEFAULT_GAP_DAYS } from "../domain/fraud.js";
import {
  type BatchReconciliation,
  gaps,
  type Range,
  type SettlementReport,
  settlementLine,
} from "../domain/settle.js";
import type { Difference } from "../domain/verify.js";
import { iso } from "./columns.js";
import { fraudSection } from "./fraud-report.js";
import type { Db } from "./schema.js";

/** How the report measures what is still open (its fraud section's counter gaps and torn intents). */
export interface ReportOptions {
  /**
   * Unix seconds: the report's clock, which the ages of open gaps and intents are measured to (the
   * CLI's, the app's). Without one, the report is as of the end of its business day.
   */
  readonly now?: number;
  /** Counter gaps open more than this many days are listed (default DEFAULT_GAP_DAYS, 7). */
  readonly gapDays?: number;
}

export class Reports {
  constructor(readonly db: Db) {}

  /** The settlement report of a business day (YYYY-MM-DD, UTC). */
  async settlement(date: string, options: ReportOptions = {}): Promise<SettlementReport> {
    const lines = await this.db
      .selectFrom("records")
      .select((eb) => [
        "merchant_id",
        "currency",
        eb.fn.countAll<number>().as("count"),
        eb.fn.sum<number>("amount").as("amount"),
      ])
      .where("business_day", "=", date)
      .where("status", "=", "accepted")
      .groupBy(["merchant_id", "currency"])
      .orderBy("merchant_id")
      .orderBy("currency")
      .execute();
    // Refunds are the merchant's to pay on the day they settle (a refund waits for its payment).
    const dayStart = Math.floor(Date.parse(`${date}T00:00:00Z`) / 1000);
    const refunds = await this.db
      .selectFrom("refunds")
      .select((eb) => [
        "merchant_id",
        "currency",
        eb.fn.countAll<number>().as("count"),
        eb.fn.sum<number>("amount").as("amount"),
      ])
      .where("status", "=", "settled")
      .where("settled_at", ">=", dayStart)
      .where("settled_at", "<", dayStart + 86_400)
      .groupBy(["merchant_id", "currency"])
      .execute();
    const key = (merchantId: string, currency: number) => `${merchantId} ${currency}`;
    const byKey = new Map<string, { merchantId: string; currency: number; count: number; amount: number }>();
    for (const l of lines)
      byKey.set(key(l.merchant_id, l.currency!), {
        merchantId: l.merchant_id,
        currency: l.currency!,
        count: Number(l.count),
        amount: Number(l.amount),
      });
    const refunded = new Map(refunds.map((r) => [key(r.merchant_id, r.currency), r]));
    for (const r of refunds)
      if (!byKey.has(key(r.merchant_id, r.currency)))
        byKey.set(key(r.merchant_id, r.currency), {
          merchantId: r.merchant_id,
          currency: r.currency,
          count: 0,
          amount: 0,
        });
    const settlement = [...byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, l]) => {
        const r = refunded.get(k);
        return settlementLine({
          ...l,
          refundCount: r ? Number(r.count) : 0,
          refunds: r ? Number(r.amount) : 0,
        });
      });

    const batches = await this.db
      .selectFrom("batches as b")
      .select([
        "b.batch_id",
        "b.terminal_id",
        "b.merchant_id",
        "b.received_at",
        "b.status",
        "b.reason",
        "b.accepted",
        "b.rejected",
        "b.differences",
      ])
      .where((eb) =>
        eb.or([
          eb.exists(
            eb
              .selectFrom("batch_days as d")
              .select("d.batch_id")
              .where("d.business_day", "=", date)
              .whereRef("d.terminal_id", "=", "b.terminal_id")
              .whereRef("d.batch_id", "=", "b.batch_id"),
          ),
          eb.and([
            eb("b.received_day", "=", date),
            eb.not(
              eb.exists(
                eb
                  .selectFrom("batch_days as d")
                  .select("d.batch_id")
                  .whereRef("d.terminal_id", "=", "b.terminal_id")
                  .whereRef("d.batch_id", "=", "b.batch_id"),
              ),
            ),
          ]),
        ]),
      )
      .orderBy("b.received_at")
      .orderBy("b.batch_id")
      .orderBy("b.terminal_id")
      .execute();
    const reconciliation = batches.map(
      (b): BatchReconciliation => ({
        batchId: b.batch_id,
        terminalId: b.terminal_id,
        merchantId: b.merchant_id,
        receivedAt: iso(b.received_at),
        status: b.status,
        ...(b.reason ? { reason: b.reason } : {}),
        accepted: b.accepted,
        rejected: b.rejected,
        differences: JSON.parse(b.differences) as Difference[],
      }),
    );

    const counters = await this.db
      .selectFrom("records")
      .select(["wallet_id", "card_counter"])
      .where("status", "=", "accepted")
      .where("wallet_id", "in", (eb) =>
        eb
          .selectFrom("records")
          .select("wallet_id")
          .distinct()
          .where("business_day", "=", date)
          .where("status", "=", "accepted"),
      )
      .orderBy("wallet_id")
      .orderBy("card_counter")
      .execute();
    // A card's online records (LOAD, LOAD REVERSAL, PARAMETERS, BLOCK, UNBLOCK) take counters too,
    // and reach the back office through the wallet platform, not in batches: they are no gap.
    const walletsOfDay = counters.map((r) => r.wallet_id!).filter((w, i, all) => all.indexOf(w) === i);
    const online =
      walletsOfDay.length === 0
        ? []
        : await this.db
            .selectFrom("platform_loads")
            .select(["wallet_id", "card_counter"])
            .where("card_counter", "is not", null)
            .where("wallet_id", "in", walletsOfDay)
            .unionAll(
              this.db
                .selectFrom("platform_reversals as v")
                .innerJoin("platform_loads as l", "l.load_id", "v.load_id")
                .select(["l.wallet_id", "v.card_counter"])
                .where("v.card_counter", "is not", null)
                .where("l.wallet_id", "in", walletsOfDay),
            )
            .unionAll(
              this.db
                .selectFrom("platform_commands")
                .select(["wallet_id", "card_counter"])
                .where("card_counter", "is not", null)
                .where("wallet_id", "in", walletsOfDay),
            )
            .execute();
    const allCounters = [
      ...counters,
      ...online.map((r) => ({ wallet_id: r.wallet_id, card_counter: Number(r.card_counter) })),
    ].sort((a, b) =>
      a.wallet_id! < b.wallet_id! ? -1 : a.wallet_id! > b.wallet_id! ? 1 : a.card_counter! - b.card_counter!,
    );
    const outstandingCounters = groupGaps(
      allCounters,
      (r) => r.wallet_id!,
      (r) => r.card_counter!,
    ).map(([walletId, g]) => ({ walletId, gaps: g }));

    const seqs = await this.db
      .selectFrom("records as r")
      .innerJoin("batches as b", (j) =>
        j.onRef("b.terminal_id", "=", "r.terminal_id").onRef("b.batch_id", "=", "r.batch_id"),
      )
      .select(["r.terminal_id", "r.seq"])
      .distinct()
      .where("b.status", "=", "settled")
      .where("r.terminal_id", "in", (eb) =>
        eb.selectFrom("batch_days").select("terminal_id").distinct().where("business_day", "=", date),
      )
      .orderBy("r.terminal_id")
      .orderBy("r.seq")
      .execute();
    const outstandingSeqs = groupGaps(
      seqs,
      (r) => r.terminal_id,
      (r) => r.seq,
    ).map(([terminalId, g]) => ({ terminalId, gaps: g }));

    const clones = await this.db
      .selectFrom("clones")
      .select(["wallet_id", "card_counter", "detected_at", "first_batch_id", "clone_batch_id"])
      .where("detected_day", "=", date)
      .orderBy("id")
      .execute();
    return {
      date,
      settlement,
      reconciliation,
      outstandingCounters,
      outstandingSeqs,
      clones: clones.map((c) => ({
        walletId: c.wallet_id,
        cardCounter: c.card_counter,
        detectedAt: iso(c.detected_at),
        firstBatchId: c.first_batch_id,
        cloneBatchId: c.clone_batch_id,
      })),
      fraud: await fraudSection(this.db, date, {
        now: options.now ?? dayStart + 86_400,
        gapDays: options.gapDays ?? DEFAULT_GAP_DAYS,
      }),
    };
  }
}

/** Rows sorted by key then value → the gaps of each key's values, for the keys that have some. */
function groupGaps<T>(
  rows: readonly T[],
  key: (r: T) => string,
  value: (r: T) => number,
): [string, Range[]][] {
  const out: [string, Range[]][] = [];
  let i = 0;
  while (i < rows.length) {
    const k = key(rows[i]!);
    const values: number[] = [];
    while (i < rows.length && key(rows[i]!) === k) values.push(value(rows[i++]!));
    const g = gaps(values);
    if (g.length > 0) out.push([k, g]);
  }
  return out;
}
