/**
 * The fraud section of a day's report (domain/fraud.ts), read from `blocked_wallets`,
 * `fraud_evidence` (what the platform's shadow balance caught that day),
 * `after_block_records` (accepted inside the grace: the issuer's) and `records` rejected with
 * ACQ_ERR_WALLET_BLOCKED (after it: the terminal's). Read-only; the report's snapshot runs it.
 */
import { type FraudLoss, type FraudSection, fraudLoss, moneyText } from "../domain/fraud.js";
import { iso } from "./columns.js";
import type { Db } from "./schema.js";

export async function fraudSection(db: Db, date: string): Promise<FraudSection> {
  const blocked = await db
    .selectFrom("blocked_wallets")
    .select(["wallet_id", "reason", "source", "blocked_at"])
    .where("reason", "in", ["fraud", "clone"])
    .orderBy("blocked_at")
    .orderBy("wallet_id")
    .execute();
  const dayStart = Math.floor(Date.parse(`${date}T00:00:00Z`) / 1000);
  const issuer = await db
    .selectFrom("after_block_records")
    .select((eb) => [
      "wallet_id",
      "terminal_id",
      "currency",
      eb.fn.countAll<number>().as("count"),
      eb.fn.sum<number>("amount").as("amount"),
    ])
    .where("record_time", ">=", dayStart)
    .where("record_time", "<", dayStart + 86_400)
    .groupBy(["wallet_id", "terminal_id", "currency"])
    .execute();
  const terminal = await db
    .selectFrom("records")
    .select((eb) => [
      "wallet_id",
      "terminal_id",
      "currency",
      eb.fn.countAll<number>().as("count"),
      eb.fn.sum<number>("amount").as("amount"),
    ])
    .where("business_day", "=", date)
    .where("status", "=", "rejected")
    .where("reason", "=", "ACQ_ERR_WALLET_BLOCKED")
    .groupBy(["wallet_id", "terminal_id", "currency"])
    .execute();
  const losses: FraudLoss[] = [
    ...issuer.map((r) => ({ party: "issuer" as const, ...r })),
    ...terminal.map((r) => ({ party: "terminal" as const, ...r })),
  ]
    .map((r) =>
      fraudLoss({
        party: r.party,
        walletId: r.wallet_id ?? "",
        terminalId: r.terminal_id,
        currency: Number(r.currency),
        count: Number(r.count),
        amount: Number(r.amount),
      }),
    )
    .sort(
      (a, b) =>
        a.party.localeCompare(b.party) ||
        a.walletId.localeCompare(b.walletId) ||
        a.terminalId.localeCompare(b.terminalId) ||
        a.currency - b.currency,
    );
  const evidence = await db
    .selectFrom("fraud_evidence")
    .selectAll()
    .where("at", ">=", dayStart)
    .where("at", "<", dayStart + 86_400)
    .orderBy("id")
    .execute();
  return {
    evidence: evidence.map((e) => ({
      walletId: e.wallet_id,
      kind: e.kind,
      terminalId: e.terminal_id,
      batchId: e.batch_id,
      seq: Number(e.seq),
      cardCounter: Number(e.card_counter),
      exposure: Number(e.exposure),
      currency: e.currency,
      exposureText: moneyText(Number(e.exposure), e.currency),
      detail: e.detail,
      at: iso(Number(e.at)),
    })),
    blockedWallets: blocked.map((b) => ({
      walletId: b.wallet_id,
      reason: b.reason,
      source: b.source,
      since: iso(Number(b.blocked_at)),
    })),
    losses,
  };
}
