/**
 * The wallet platform's shadow balance decides (issue 14): in the transaction that settles a
 * batch, after its debits are booked (consumption.ts), the platform checks each wallet it issued
 * that the batch spent from. Each of these is evidence of a forged or cloned wallet:
 *
 * - overspent: the offline account, with the loads still in flight (signed, record not yet
 *   here), is below zero: more was spent than was ever loaded; the exposure is this batch's part
 *   of the difference (its debits, at most the whole deficit), so the evidence lines add up;
 * - counter-jump: a debit's card counter is more than `maxCounterJump` above the highest counter
 *   the platform knew of the wallet before this batch (records, loads, presentations): a state
 *   file edited forward. A genuine wallet's gaps are records still on other terminals, far fewer;
 * - balance-break: a record of this batch and the card operation at the counter next to it (a
 *   record from any terminal, a load, a reversal or an issuer command: card-timeline.ts) disagree
 *   on the balance: a state file edited between them. A record that fills a gap is checked against
 *   both its neighbours, so a gap is re-checked when it fills. Its exposure is 0: the money spent
 *   beyond the loads is the overspent evidence's; the detail names how much the edit made up.
 *
 * The batch's records stay accepted (dated before the block: the issuer's loss, named by the
 * exposure); the wallet is blocked for fraud and hotlisted at once, so its later debits are bound
 * by the hotlist (domain/block-binding.ts). No transaction here: the batch's runs around it.
 */
import { RECORD_TYPE } from "../../../protocol/wallet/constants.js";
import type { Db } from "../../db/schema.js";
import { type FraudEvidence, moneyText } from "../../domain/fraud.js";
import { walletOffline } from "../accounts.js";
import { cardTimeline, continuityBreak } from "./card-timeline.js";
import { accountBalance } from "./ledger.js";

/** Counters a debit may be ahead of the highest the platform knew before (gaps: records elsewhere). */
export const DEFAULT_MAX_COUNTER_JUMP = 256;

export type { FraudEvidence } from "../../domain/fraud.js";

const signed = (minor: number, currency: number) =>
  (minor < 0 ? "-" : "") + moneyText(Math.abs(minor), currency);

export class ShadowBalance {
  constructor(readonly db: Db) {}

  /** The evidence this settled batch gives, stored; the caller blocks the wallets it names. */
  async check(
    batch: { terminalId: string; batchId: string; at: number },
    maxCounterJump = DEFAULT_MAX_COUNTER_JUMP,
  ): Promise<FraudEvidence[]> {
    const records = await this.db
      .selectFrom("records as r")
      .innerJoin("wallets as w", (j) =>
        j.onRef("w.wallet_id", "=", "r.wallet_id").onRef("w.currency", "=", "r.currency"),
      )
      .select([
        "r.wallet_id",
        "r.seq",
        "r.card_counter",
        "r.type",
        "r.amount",
        "r.currency",
        "w.last_counter",
      ])
      .where("r.terminal_id", "=", batch.terminalId)
      .where("r.batch_id", "=", batch.batchId)
      .where("r.status", "=", "accepted")
      .orderBy("r.wallet_id")
      .orderBy("r.card_counter")
      .execute();
    const evidence: FraudEvidence[] = [];
    const wallets = [...new Set(records.map((d) => d.wallet_id!))];
    for (const walletId of wallets) {
      const all = records.filter((d) => d.wallet_id === walletId);
      const mine = all.filter((d) => Number(d.type) === RECORD_TYPE.DEBIT);
      const at = (d: (typeof all)[number], kind: FraudEvidence["kind"], exposure: number, detail: string) =>
        evidence.push({
          walletId,
          kind,
          terminalId: batch.terminalId,
          batchId: batch.batchId,
          seq: Number(d.seq),
          cardCounter: Number(d.card_counter),
          exposure,
          currency: Number(d.currency),
          detail,
        });
      const broken = await this.#continuity(walletId, all);
      if (broken) at(broken.record, "balance-break", 0, broken.detail);
      const last = mine.at(-1);
      if (!last) continue;
      // What the platform knew before this batch: other batches' records, its loads, presentations.
      const before = await this.#highestCounterBefore(walletId, batch, Number(mine[0]!.last_counter ?? 0));
      let known = before;
      for (const d of mine) {
        const counter = Number(d.card_counter);
        if (counter - known > maxCounterJump) {
          at(
            d,
            "counter-jump",
            Number(d.amount),
            `counter ${counter} after ${known} (more than ${maxCounterJump} ahead)`,
          );
          break;
        }
        known = Math.max(known, counter);
      }
      const offline = await accountBalance(this.db, walletOffline(walletId));
      const inFlight = await this.#pendingLoads(walletId);
      const deficit = -(offline + inFlight);
      if (deficit > 0) {
        // This batch's share of the deficit only: an earlier batch's evidence already counts the rest.
        const spent = mine.reduce((sum, d) => sum + Number(d.amount), 0);
        const currency = Number(last.currency);
        at(
          last,
          "overspent",
          Math.min(deficit, spent),
          `offline account ${signed(offline, currency)} with ${moneyText(inFlight, currency)} in flight: ` +
            `${moneyText(deficit, currency)} spent beyond every load`,
        );
      }
    }
    if (evidence.length > 0)
      await this.db
        .insertInto("fraud_evidence")
        .values(
          evidence.map((e) => ({
            wallet_id: e.walletId,
            kind: e.kind,
            terminal_id: e.terminalId,
            batch_id: e.batchId,
            seq: e.seq,
            card_counter: e.cardCounter,
            exposure: e.exposure,
            currency: e.currency,
            detail: e.detail,
            at: batch.at,
          })),
        )
        .execute();
    return evidence;
  }

  /**
   * The first of this batch's records whose balance disagrees with the card operation just before
   * or just after it (whatever its source), with what the balance should have been.
   */
  async #continuity<R extends { card_counter: number | null; currency: number | null }>(
    walletId: string,
    batchRecords: readonly R[],
  ): Promise<{ record: R; detail: string } | undefined> {
    const timeline = await cardTimeline(this.db, walletId);
    for (const record of batchRecords) {
      const counter = Number(record.card_counter);
      const self = timeline.get(counter);
      if (!self) continue;
      for (const [prev, cur] of [
        [timeline.get(counter - 1), self],
        [self, timeline.get(counter + 1)],
      ] as const) {
        if (!prev || !cur) continue;
        const broken = continuityBreak(prev, cur);
        if (!broken) continue;
        const currency = Number(record.currency);
        const made = cur.balanceAfter - broken.expected;
        return {
          record,
          detail:
            `balance ${signed(cur.balanceAfter, currency)} at counter ${cur.cardCounter}, ` +
            `${signed(broken.expected, currency)} after counter ${prev.cardCounter}: ` +
            `${made > 0 ? "made up" : "missing"} ${moneyText(Math.abs(made), currency)}`,
        };
      }
    }
    return undefined;
  }

  async #highestCounterBefore(
    walletId: string,
    batch: { terminalId: string; batchId: string },
    seen: number,
  ) {
    const records = await this.db
      .selectFrom("records")
      .select((eb) => eb.fn.max("card_counter").as("top"))
      .where("wallet_id", "=", walletId)
      .where("status", "=", "accepted")
      .where((eb) => eb.or([eb("terminal_id", "<>", batch.terminalId), eb("batch_id", "<>", batch.batchId)]))
      .executeTakeFirst();
    const loads = await this.db
      .selectFrom("platform_loads")
      .select((eb) => eb.fn.max("card_counter").as("top"))
      .where("wallet_id", "=", walletId)
      .executeTakeFirst();
    return Math.max(seen, Number(records?.top ?? 0), Number(loads?.top ?? 0));
  }

  async #pendingLoads(walletId: string): Promise<number> {
    const row = await this.db
      .selectFrom("platform_loads")
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("amount"), eb.lit(0)).as("total"))
      .where("wallet_id", "=", walletId)
      .where("state", "=", "pending")
      .executeTakeFirstOrThrow();
    return Number(row.total);
  }
}
