/**
 * Migration 009_fraud_kinds (listed in migrations.ts): the shadow balance's third kind of evidence,
 * `balance-break` (platform/store/shadow-balance.ts). SQLite cannot change a CHECK in place, so its
 * `fraud_evidence` is rebuilt with the same rows and ids; PostgreSQL swaps the constraint.
 */
import { type Kysely, sql } from "kysely";
import type { EngineKind } from "./migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: a migration runs on the schema as it was, untyped.
type AnyDb = Kysely<any>;

const KINDS = sql`kind IN ('overspent', 'counter-jump', 'balance-break')`;

export async function fraudKinds(db: AnyDb, kind: EngineKind): Promise<void> {
  if (kind === "postgres") {
    await sql`ALTER TABLE fraud_evidence DROP CONSTRAINT fraud_evidence_kind_check`.execute(db);
    await sql`ALTER TABLE fraud_evidence ADD CONSTRAINT fraud_evidence_kind_check CHECK (${KINDS})`.execute(
      db,
    );
    return;
  }
  await db.schema
    .createTable("fraud_evidence_009")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().check(KINDS))
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("card_counter", "integer", (c) => c.notNull())
    .addColumn("exposure", "integer", (c) => c.notNull().check(sql`exposure >= 0`))
    .addColumn("currency", "integer", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("at", "integer", (c) => c.notNull())
    .execute();
  await sql`INSERT INTO fraud_evidence_009
      (id, wallet_id, kind, terminal_id, batch_id, seq, card_counter, exposure, currency, detail, at)
    SELECT id, wallet_id, kind, terminal_id, batch_id, seq, card_counter, exposure, currency, detail, at
    FROM fraud_evidence`.execute(db);
  await db.schema.dropTable("fraud_evidence").execute();
  await db.schema.alterTable("fraud_evidence_009").renameTo("fraud_evidence").execute();
  await db.schema.createIndex("fraud_evidence_wallet").on("fraud_evidence").column("wallet_id").execute();
}
