/**
 * The wallet platform's shadow balance decides (issue 14): in the transaction that settles a
 * batch, after its debits are booked (consumption.ts), the platform checks each wallet it issued
 * that the batch spent from. Each of these is evidence of a forged or cloned wallet:
 *
 * - overspent: the offline account, with the loads still in flight (signed, record not yet
 *   here), is below zero: more was spent than was ever loaded; the exposure is the difference;
 * - counter-jump: a debit's card counter is more than `maxCounterJump` above the highest counter
 *   the platform knew of the wallet before this batch (records, loads, presentations): a state
 *   file edited forward. A genuine wallet's gaps are records still on other terminals, far fewer.
 *
 * The batch's records stay accepted (dated before the block: the issuer's loss, named by the
 * exposure); the wallet is blocked for fraud and hotlisted at once, so its later debits are bound
 * by the hotlist (domain/block-binding.ts). No transaction here: the batch's runs around it.
 */
import { RECORD_TYPE } from "../../../protocol/wallet/constants.js";
import type { Db } from "../../db/schema.js";
import type { FraudEvidence } from "../../domain/fraud.js";
import { walletOffline } from "../accounts.js";
import { accountBalance } from "./ledger.js";

/** Counters a debit may be ahead of the highest the platform knew before (gaps: records elsewhere). */
export const DEFAULT_MAX_COUNTER_JUMP = 256;

export type { FraudEvidence } from "../../domain/fraud.js";

export class ShadowBalance {
  constructor(readonly db: Db) {}

  /** The evidence this settled batch gives, stored; the caller blocks the wallets it names. */
  async check(
    batch: { terminalId: string; batchId: string; at: number },
    maxCounterJump = DEFAULT_MAX_COUNTER_JUMP,
  ): Promise<FraudEvidence[]> {
    const debits = await this.db
      .selectFrom("records as r")
      .innerJoin("wallets as w", (j) =>
        j.onRef("w.wallet_id", "=", "r.wallet_id").onRef("w.currency", "=", "r.currency"),
      )
      .select(["r.wallet_id", "r.seq", "r.card_counter", "r.amount", "r.currency", "w.last_counter"])
      .where("r.terminal_id", "=", batch.terminalId)
      .where("r.batch_id", "=", batch.batchId)
      .where("r.status", "=", "accepted")
      .where("r.type", "=", RECORD_TYPE.DEBIT)
      .orderBy("r.wallet_id")
      .orderBy("r.card_counter")
      .execute();
    const evidence: FraudEvidence[] = [];
    const wallets = [...new Set(debits.map((d) => d.wallet_id!))];
    for (const walletId of wallets) {
      const mine = debits.filter((d) => d.wallet_id === walletId);
      const last = mine.at(-1)!;
      const at = (d: (typeof mine)[number], kind: FraudEvidence["kind"], exposure: number, detail: string) =>
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
      if (offline + inFlight < 0)
        at(
          last,
          "overspent",
          -(offline + inFlight),
          `offline account ${offline} with ${inFlight} in flight: spent beyond every load`,
        );
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
