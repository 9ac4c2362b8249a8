/**
 * Migration 008_hotlist_issuers (listed in migrations.ts): the hotlist keyed by issuer
 * (protocol/wallet/hotlist.ts format 2).
 *
 * - `blocked_wallets.issuer_fingerprint`: the issuer CA (SHA-256 hex of its certificate) whose cards
 *   the block is for; NULL blocks the wallet id at every issuer (an operator's block that names no
 *   issuer, and every block made before this migration: existing rows keep their meaning). The key
 *   becomes (wallet_id, issuer): one wallet id may be blocked at several issuers, and at every
 *   issuer besides, each row with its own reason, source and time. NULL cannot sit in a primary
 *   key, so the key is a unique index over (wallet_id, COALESCE(issuer_fingerprint, '')).
 * - `card_certificates.issuer_fingerprint`: the issuer CA of a stored card certificate, so that a
 *   block caused by a record (a clone, fraud evidence) names the issuer of the card that signed it.
 *   NULL for certificates stored before; the next batch that brings one fills it in.
 * - `wallet_events.issuer_fingerprint`: which issuer a block or unblock was for (NULL: every issuer).
 *
 * SQLite cannot drop a primary key in place, so its `blocked_wallets` is rebuilt with the same rows
 * (as 007 does); PostgreSQL drops the constraint and adds the column.
 */
import { type Kysely, sql } from "kysely";
import type { EngineKind } from "./migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: a migration runs on the schema as it was, untyped.
type AnyDb = Kysely<any>;

const ISSUER = sql`issuer_fingerprint IS NULL OR length(issuer_fingerprint) = 64`;

export async function hotlistIssuers(db: AnyDb, kind: EngineKind): Promise<void> {
  if (kind === "postgres") {
    await sql`ALTER TABLE blocked_wallets DROP CONSTRAINT blocked_wallets_pkey`.execute(db);
    await sql`ALTER TABLE blocked_wallets ADD COLUMN issuer_fingerprint text
      CONSTRAINT blocked_wallets_issuer_check CHECK (${ISSUER})`.execute(db);
  } else {
    await db.schema
      .createTable("blocked_wallets_008")
      .addColumn("wallet_id", "text", (c) => c.notNull())
      .addColumn("issuer_fingerprint", "text", (c) => c.check(ISSUER))
      .addColumn("reason", "text", (c) =>
        c.notNull().check(sql`reason IN ('lost', 'stolen', 'fraud', 'clone', 'other')`),
      )
      .addColumn("source", "text", (c) =>
        c.notNull().check(sql`source IN ('operator', 'clone-detection', 'fraud-detection')`),
      )
      .addColumn("blocked_at", "integer", (c) => c.notNull())
      .execute();
    await sql`INSERT INTO blocked_wallets_008 (wallet_id, issuer_fingerprint, reason, source, blocked_at)
      SELECT wallet_id, NULL, reason, source, blocked_at FROM blocked_wallets`.execute(db);
    await db.schema.dropTable("blocked_wallets").execute();
    await db.schema.alterTable("blocked_wallets_008").renameTo("blocked_wallets").execute();
  }
  await sql`CREATE UNIQUE INDEX blocked_wallets_key
    ON blocked_wallets (wallet_id, COALESCE(issuer_fingerprint, ''))`.execute(db);
  await db.schema.alterTable("card_certificates").addColumn("issuer_fingerprint", "text").execute();
  await db.schema.alterTable("wallet_events").addColumn("issuer_fingerprint", "text").execute();
}
