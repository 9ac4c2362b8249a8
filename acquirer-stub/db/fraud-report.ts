/**
 * The fraud section of a day's report (domain/fraud.ts), read from `blocked_wallets`,
 * `fraud_evidence` (what the platform's shadow balance caught that day),
 * `after_block_records` (accepted inside the grace: the issuer's) and `records` rejected with
 * ACQ_ERR_WALLET_BLOCKED (after it: the terminal's). Then, whatever the day, every wallet's card
 * counters known to the back office (accepted `records`, completed `platform_loads` and
 * `platform_reversals`, delivered `platform_commands`) for the gaps open too long, and the open
 * `unresolved_intents`. Read-only; the report's snapshot runs it.
 */

import { sql } from "kysely";
import {
  type FraudLoss,
  type FraudSection,
  fraudLoss,
  type KnownCounter,
  moneyText,
  openCounterGaps,
  unresolvedIntentLine,
} from "../domain/fraud.js";
import { iso } from "./columns.js";
import type { Db } from "./schema.js";
import { UnresolvedIntents } from "./unresolved-intents.js";

/** The report's clock and its limit on counter gaps. */
export interface FraudSectionOptions {
  /** Unix seconds: the report's clock (the CLI's, the app's), which ages are measured to. */
  readonly now: number;
  /** Counter gaps open more than this many days are listed. */
  readonly gapDays: number;
}

/** Every counter the back office knows of every wallet (the gap logic is domain/fraud.ts's). */
async function knownCounters(db: Db): Promise<KnownCounter[]> {
  const records = await db
    .selectFrom("records")
    .select(["wallet_id", "card_counter", "record_time", "balance_after", "amount", "currency"])
    .where("status", "=", "accepted")
    .where("wallet_id", "is not", null)
    .where("card_counter", "is not", null)
    .execute();
  const online = await db
    .selectFrom("platform_loads")
    .select((eb) => [
      "wallet_id",
      "card_counter",
      eb.fn.coalesce("completed_at", "issued_at").as("at"),
      sql.lit("load").as("source"),
    ])
    .where("card_counter", "is not", null)
    .unionAll(
      db
        .selectFrom("platform_reversals as v")
        .innerJoin("platform_loads as l", "l.load_id", "v.load_id")
        .select((eb) => [
          "l.wallet_id",
          "v.card_counter",
          eb.fn.coalesce("v.completed_at", "v.issued_at").as("at"),
          sql.lit("reversal").as("source"),
        ])
        .where("v.card_counter", "is not", null),
    )
    .unionAll(
      db
        .selectFrom("platform_commands")
        .select((eb) => [
          "wallet_id",
          "card_counter",
          eb.fn.coalesce("delivered_at", "queued_at").as("at"),
          sql.lit("command").as("source"),
        ])
        .where("card_counter", "is not", null),
    )
    .execute();
  return [
    ...records.map(
      (r): KnownCounter => ({
        walletId: r.wallet_id!,
        cardCounter: Number(r.card_counter),
        source: "record",
        at: Number(r.record_time),
        balanceAfter: Number(r.balance_after),
        amount: Number(r.amount),
        currency: Number(r.currency),
      }),
    ),
    ...online.map(
      (r): KnownCounter => ({
        walletId: r.wallet_id,
        cardCounter: Number(r.card_counter),
        source: r.source as KnownCounter["source"],
        at: Number(r.at),
      }),
    ),
  ];
}

export async function fraudSection(
  db: Db,
  date: string,
  options: FraudSectionOptions,
): Promise<FraudSection> {
  const blocked = await db
    .selectFrom("blocked_wallets")
    .select(["wallet_id", "issuer_fingerprint", "reason", "source", "blocked_at"])
    .where("reason", "in", ["fraud", "clone"])
    .orderBy("blocked_at")
    .orderBy("wallet_id")
    .orderBy("issuer_fingerprint")
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
      issuer: b.issuer_fingerprint,
      reason: b.reason,
      source: b.source,
      since: iso(Number(b.blocked_at)),
    })),
    losses,
    asOf: iso(options.now),
    gapDays: options.gapDays,
    openCounterGaps: openCounterGaps(await knownCounters(db), options.now, options.gapDays),
    unresolvedIntents: (await new UnresolvedIntents(db).open()).map((u) =>
      unresolvedIntentLine(u, options.now),
    ),
  };
}
