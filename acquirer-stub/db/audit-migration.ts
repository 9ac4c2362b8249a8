/**
 * Migration 005_operator_audit (listed in migrations.ts, the one schema history): the operator
 * audit log, one row per operator action (db/audit.ts), on both engines. Rows are only ever
 * inserted; the CHECKs keep the closed sets closed.
 */
import { type Kysely, sql } from "kysely";
import type { EngineKind } from "./migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: a migration runs on the schema as it was, untyped.
type AnyDb = Kysely<any>;

export async function operatorAudit(db: AnyDb, kind: EngineKind): Promise<void> {
  const pg = kind === "postgres";
  await db.schema
    .createTable("operator_audit")
    .addColumn("id", pg ? "bigserial" : "integer", (c) => c.primaryKey())
    .addColumn("at", pg ? "bigint" : "integer", (c) => c.notNull())
    .addColumn("via", "text", (c) => c.notNull().check(sql`via IN ('http', 'cli')`))
    .addColumn("who", "text", (c) => c.notNull())
    .addColumn("address", "text")
    .addColumn("action", "text", (c) =>
      c
        .notNull()
        .check(
          sql`action IN ('block', 'unblock', 'report-lost', 'release', 'set-params', 'revoke-terminal')`,
        ),
    )
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("outcome", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("operator_audit_at").on("operator_audit").column("at").execute();
}
