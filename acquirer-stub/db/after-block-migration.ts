/**
 * Migration 006_after_block (listed in migrations.ts): the debits accepted although dated after
 * their wallet's block, inside the hotlist grace period (domain/block-binding.ts). Each is the
 * issuer's loss and is shown to the operator; one row per accepted record (terminal, batch, seq).
 */
import type { Kysely } from "kysely";
import type { EngineKind } from "./migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: a migration runs on the schema as it was, untyped.
type AnyDb = Kysely<any>;

export async function afterBlock(db: AnyDb, kind: EngineKind): Promise<void> {
  const int64 = kind === "postgres" ? "bigint" : "integer";
  await db.schema
    .createTable("after_block_records")
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("seq", int64, (c) => c.notNull())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("card_counter", int64, (c) => c.notNull())
    .addColumn("amount", int64, (c) => c.notNull())
    .addColumn("currency", "integer", (c) => c.notNull())
    .addColumn("record_time", int64, (c) => c.notNull())
    .addColumn("blocked_at", int64, (c) => c.notNull())
    .addColumn("at", int64, (c) => c.notNull())
    .addPrimaryKeyConstraint("after_block_records_pk", ["terminal_id", "batch_id", "seq"])
    .execute();
  await db.schema
    .createIndex("after_block_records_wallet")
    .on("after_block_records")
    .column("wallet_id")
    .execute();
}
