/**
 * Migration 007_fraud_evidence (listed in migrations.ts): what the wallet platform's shadow balance
 * caught (platform/store/shadow-balance.ts), one row per piece of evidence, and a third source of
 * blocks, `fraud-detection`, beside the operator and clone detection. SQLite cannot change a CHECK
 * in place, so its `blocked_wallets` is rebuilt with the same rows; PostgreSQL swaps the constraint.
 */
import { type Kysely, sql } from "kysely";
import type { EngineKind } from "./migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: a migration runs on the schema as it was, untyped.
type AnyDb = Kysely<any>;

const SOURCES = sql`source IN ('operator', 'clone-detection', 'fraud-detection')`;

export async function fraudEvidence(db: AnyDb, kind: EngineKind): Promise<void> {
  const pg = kind === "postgres";
  const int64 = pg ? "bigint" : "integer";
  if (pg) {
    await sql`ALTER TABLE blocked_wallets DROP CONSTRAINT blocked_wallets_source_check`.execute(db);
    await sql`ALTER TABLE blocked_wallets ADD CONSTRAINT blocked_wallets_source_check CHECK (${SOURCES})`.execute(
      db,
    );
  } else {
    await db.schema
      .createTable("blocked_wallets_007")
      .addColumn("wallet_id", "text", (c) => c.primaryKey())
      .addColumn("reason", "text", (c) =>
        c.notNull().check(sql`reason IN ('lost', 'stolen', 'fraud', 'clone', 'other')`),
      )
      .addColumn("source", "text", (c) => c.notNull().check(SOURCES))
      .addColumn("blocked_at", "integer", (c) => c.notNull())
      .execute();
    await sql`INSERT INTO blocked_wallets_007 (wallet_id, reason, source, blocked_at)
      SELECT wallet_id, reason, source, blocked_at FROM blocked_wallets`.execute(db);
    await db.schema.dropTable("blocked_wallets").execute();
    await db.schema.alterTable("blocked_wallets_007").renameTo("blocked_wallets").execute();
  }
  await db.schema
    .createTable("fraud_evidence")
    .addColumn("id", pg ? "bigserial" : "integer", (c) => c.primaryKey())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind IN ('overspent', 'counter-jump')`))
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("seq", int64, (c) => c.notNull())
    .addColumn("card_counter", int64, (c) => c.notNull())
    // Minor units spent beyond what the wallet was loaded with (overspent), or the record's amount.
    .addColumn("exposure", int64, (c) => c.notNull().check(sql`exposure >= 0`))
    .addColumn("currency", "integer", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("at", int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("fraud_evidence_wallet").on("fraud_evidence").column("wallet_id").execute();
}
