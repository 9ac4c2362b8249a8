/**
 * The acquirer's schema history, one list for both engines, applied by Kysely's Migrator on every
 * open (engine.ts). Each migration is named `NNN_what` and runs once, in its own transaction; the
 * names applied are kept in `acquirer_migrations`. Never edit a shipped migration: append one.
 *
 * The few types that differ between the engines are chosen here (`types(kind)`): 64-bit integers
 * (SQLite's INTEGER is 64-bit, PostgreSQL's is 32: bigint), bytes (BLOB / bytea) and generated ids.
 *
 * The rules the verification enforces are enforced again by the database, so that they hold with
 * several acquirer instances writing at once (docs/architecture.md, "Back office storage"):
 * - a batch is stored once per terminal and batch id (primary key of `batches`);
 * - one accepted record per wallet and card counter (`records_wallet_counter`): of two instances
 *   settling a clone's two records at once, the second insert fails and its retry sees the first;
 * - one accepted or voided entry per terminal and seq (`records_terminal_seq`);
 * - the chain head moves only from the stored one (a compare-and-set update in terminals.ts);
 * - the hotlist version is one row, bumped by an atomic `version = version + 1`.
 */
import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";
import { afterBlock } from "./after-block-migration.js";
import { operatorAudit } from "./audit-migration.js";
import { fraudKinds } from "./fraud-kinds-migration.js";
import { fraudEvidence } from "./fraud-migration.js";
import { hotlistIssuers } from "./hotlist-issuers-migration.js";

export type EngineKind = "sqlite" | "postgres";

export const MIGRATION_TABLE = "acquirer_migrations";
export const MIGRATION_LOCK_TABLE = "acquirer_migrations_lock";

function types(kind: EngineKind) {
  const pg = kind === "postgres";
  return {
    int64: pg ? ("bigint" as const) : ("integer" as const),
    bytes: pg ? ("bytea" as const) : ("blob" as const),
    /** An id the database assigns, in insertion order. */
    id: pg ? ("bigserial" as const) : ("integer" as const),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a migration runs on the schema as it was, untyped.
type AnyDb = Kysely<any>;

async function initial(db: AnyDb, kind: EngineKind): Promise<void> {
  const t = types(kind);

  await db.schema
    .createTable("terminals")
    .addColumn("terminal_id", "text", (c) => c.primaryKey())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("chain_head", t.bytes, (c) => c.notNull().check(sql`length(chain_head) = 32`))
    .addColumn("last_batch_id", "text", (c) => c.notNull())
    .addColumn("updated_at", t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("revoked_terminals")
    .addColumn("terminal_id", "text", (c) => c.primaryKey())
    .addColumn("revoked_at", t.int64, (c) => c.notNull())
    .addColumn("reason", "text")
    .execute();

  // One row per terminal and batch id that got a verdict (settled, or rejected as a whole); the
  // answer is kept and replayed for every retry with the same content.
  await db.schema
    .createTable("batches")
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("content_hash", "text", (c) => c.notNull())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("received_at", t.int64, (c) => c.notNull())
    .addColumn("received_day", "text", (c) => c.notNull())
    .addColumn("created_at", t.int64, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('settled', 'rejected')`))
    .addColumn("reason", "text")
    .addColumn("http_status", "integer", (c) => c.notNull())
    .addColumn("response", "text", (c) => c.notNull())
    .addColumn("manifest", "text", (c) => c.notNull())
    .addColumn("manifest_signature", "text", (c) => c.notNull())
    .addColumn("record_count", "integer", (c) => c.notNull())
    .addColumn("accepted", "integer", (c) => c.notNull())
    .addColumn("rejected", "integer", (c) => c.notNull())
    .addColumn("differences", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("batches_pk", ["terminal_id", "batch_id"])
    .execute();
  await db.schema.createIndex("batches_received_day").on("batches").column("received_day").execute();
  await db.schema.createIndex("batches_batch_id").on("batches").column("batch_id").execute();

  await db.schema
    .createTable("card_certificates")
    .addColumn("fingerprint", "text", (c) => c.primaryKey())
    .addColumn("der", t.bytes, (c) => c.notNull())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("serial", "text", (c) => c.notNull())
    .execute();

  // Every entry of a settled batch, accepted or not (a rejected one is evidence: a clone's record).
  await db.schema
    .createTable("records")
    .addColumn("id", t.id, (c) => c.primaryKey())
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("position", "integer", (c) => c.notNull())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("seq", t.int64, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('accepted', 'rejected', 'voided')`))
    .addColumn("reason", "text")
    .addColumn("wallet_id", "text")
    .addColumn("card_counter", t.int64)
    .addColumn("type", "integer")
    .addColumn("amount", t.int64, (c) => c.check(sql`amount IS NULL OR amount >= 0`))
    .addColumn("currency", "integer")
    .addColumn("balance_after", t.int64)
    .addColumn("record_time", t.int64)
    .addColumn("business_day", "text")
    .addColumn("card_record", t.bytes)
    .addColumn("card_signature", t.bytes)
    .addColumn("card_certificate", "text")
    .addColumn("previous_hash", t.bytes, (c) => c.notNull())
    .addColumn("terminal_signature", t.bytes, (c) => c.notNull())
    .addUniqueConstraint("records_batch_position", ["terminal_id", "batch_id", "position"])
    .addForeignKeyConstraint("records_batch", ["terminal_id", "batch_id"], "batches", [
      "terminal_id",
      "batch_id",
    ])
    .addCheckConstraint("records_reason", sql`(status = 'rejected') = (reason IS NOT NULL)`)
    .addCheckConstraint(
      "records_accepted",
      sql`status <> 'accepted' OR (wallet_id IS NOT NULL AND card_counter IS NOT NULL AND amount > 0)`,
    )
    .execute();
  // Few indexes on purpose: each one costs every insert (10,000 per batch).
  await db.schema
    .createIndex("records_wallet_counter")
    .unique()
    .on("records")
    .columns(["wallet_id", "card_counter"])
    .where(sql.ref("status"), "=", sql.lit("accepted"))
    .execute();
  await db.schema
    .createIndex("records_terminal_seq")
    .unique()
    .on("records")
    .columns(["terminal_id", "seq"])
    .where(sql<boolean>`status IN ('accepted', 'voided')`)
    .execute();
  await db.schema
    .createIndex("records_terminal_seq_all")
    .on("records")
    .columns(["terminal_id", "seq"])
    .execute();
  await db.schema
    .createIndex("records_settlement")
    .on("records")
    .columns(["business_day", "merchant_id", "currency"])
    .where(sql.ref("status"), "=", sql.lit("accepted"))
    .execute();

  // The business days each settled batch carries (one row per batch and day, not per record).
  await db.schema
    .createTable("batch_days")
    .addColumn("business_day", "text", (c) => c.notNull())
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("batch_days_pk", ["business_day", "terminal_id", "batch_id"])
    .addForeignKeyConstraint("batch_days_batch", ["terminal_id", "batch_id"], "batches", [
      "terminal_id",
      "batch_id",
    ])
    .execute();

  await db.schema
    .createTable("blocked_wallets")
    .addColumn("wallet_id", "text", (c) => c.primaryKey())
    .addColumn("reason", "text", (c) =>
      c.notNull().check(sql`reason IN ('lost', 'stolen', 'fraud', 'clone', 'other')`),
    )
    .addColumn("source", "text", (c) => c.notNull().check(sql`source IN ('operator', 'clone-detection')`))
    .addColumn("blocked_at", t.int64, (c) => c.notNull())
    .execute();

  // Audit trail of blocks and unblocks (the hotlist itself is blocked_wallets + revoked serials).
  await db.schema
    .createTable("wallet_events")
    .addColumn("id", t.id, (c) => c.primaryKey())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull().check(sql`action IN ('block', 'unblock')`))
    .addColumn("reason", "text")
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("at", t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("clones")
    .addColumn("id", t.id, (c) => c.primaryKey())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("card_counter", t.int64, (c) => c.notNull())
    .addColumn("first_terminal_id", "text", (c) => c.notNull())
    .addColumn("first_seq", t.int64, (c) => c.notNull())
    .addColumn("first_batch_id", "text", (c) => c.notNull())
    .addColumn("clone_terminal_id", "text", (c) => c.notNull())
    .addColumn("clone_seq", t.int64, (c) => c.notNull())
    .addColumn("clone_batch_id", "text", (c) => c.notNull())
    .addColumn("detected_at", t.int64, (c) => c.notNull())
    .addColumn("detected_day", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("clones_wallet").on("clones").column("wallet_id").execute();
  await db.schema.createIndex("clones_day").on("clones").column("detected_day").execute();

  // Card certificate serials revoked by an issuer CA (from the CRLs given at start-up).
  await db.schema
    .createTable("revoked_card_serials")
    .addColumn("serial", "text", (c) => c.notNull())
    .addColumn("issuer_fingerprint", "text", (c) => c.notNull())
    .addColumn("added_at", t.int64, (c) => c.notNull())
    .addPrimaryKeyConstraint("revoked_card_serials_pk", ["serial", "issuer_fingerprint"])
    .execute();

  // The published hotlist's version and issue time: one row, so that a change moves it once.
  await db.schema
    .createTable("hotlist")
    .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn("version", t.int64, (c) => c.notNull())
    .addColumn("issued_at", t.int64, (c) => c.notNull())
    .execute();
  await db.insertInto("hotlist").values({ id: 1, version: 0, issued_at: 0 }).execute();

  // Torn intents a terminal could not resolve from the card's log, reported with a settled batch.
  await db.schema
    .createTable("unresolved_intents")
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("seq", t.int64, (c) => c.notNull())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("amount", t.int64, (c) => c.notNull().check(sql`amount > 0`))
    .addColumn("currency", "integer", (c) => c.notNull())
    .addColumn("terminal_time", t.int64, (c) => c.notNull())
    .addColumn("card_counter_seen", t.int64)
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("received_at", t.int64, (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c.notNull().defaultTo("open").check(sql`status IN ('open', 'resolved')`),
    )
    .addPrimaryKeyConstraint("unresolved_intents_pk", ["terminal_id", "seq"])
    .addForeignKeyConstraint("unresolved_intents_batch", ["terminal_id", "batch_id"], "batches", [
      "terminal_id",
      "batch_id",
    ])
    .execute();
  await db.schema
    .createIndex("unresolved_intents_open")
    .on("unresolved_intents")
    .column("wallet_id")
    .where(sql.ref("status"), "=", sql.lit("open"))
    .execute();

  // Rolled-back or edited wallets a terminal caught and declined, reported with a batch: the
  // card-signed record is the proof (verified: reason NULL), the seen values the terminal's word.
  await db.schema
    .createTable("terminal_findings")
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("finding_id", t.int64, (c) => c.notNull())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind IN ('rollback', 'balance-forged')`))
    .addColumn("seq", t.int64, (c) => c.notNull())
    .addColumn("seen_seq", t.int64, (c) => c.notNull())
    .addColumn("counter_seen", t.int64, (c) => c.notNull())
    .addColumn("balance_seen", t.int64, (c) => c.notNull())
    .addColumn("counter_claimed", t.int64, (c) => c.notNull())
    .addColumn("balance_claimed", t.int64, (c) => c.notNull())
    .addColumn("amount", t.int64, (c) => c.notNull())
    .addColumn("currency", "integer", (c) => c.notNull())
    .addColumn("card_record", t.bytes, (c) => c.notNull())
    .addColumn("card_signature", t.bytes, (c) => c.notNull())
    .addColumn("card_certificate", t.bytes, (c) => c.notNull())
    .addColumn("found_at", t.int64, (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("fork", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("received_at", t.int64, (c) => c.notNull())
    .addPrimaryKeyConstraint("terminal_findings_pk", ["terminal_id", "finding_id"])
    .execute();
  await db.schema
    .createIndex("terminal_findings_wallet")
    .on("terminal_findings")
    .column("wallet_id")
    .execute();
}

/**
 * The wallet platform (acquirer-stub/platform/) and the simulated bank behind it. The money rules
 * are the database's, so that they hold with several instances:
 * - a bank account never holds more than its balance, nor a negative hold (`bank_accounts_funds`):
 *   a hold is one guarded `held = held + x … WHERE balance - held >= x`;
 * - a booking is written once (`platform_bookings` keyed by its idempotency id, e.g. `load:<id>`),
 *   and each of its entries once per account (the entries of one booking are its transfer: from −x,
 *   to +x, so every booking sums to zero);
 * - a card challenge signs one issuer command of its wallet (`platform_challenges`);
 * - a load id is one load, a reversal request id one reversal, a serial number one operation;
 * - the platform serial is one row bumped by an atomic `value = value + 1`.
 */
async function walletPlatform(db: AnyDb, kind: EngineKind): Promise<void> {
  const t = types(kind);

  await db.schema
    .createTable("bank_accounts")
    .addColumn("number", "text", (c) => c.primaryKey())
    .addColumn("holder", "text", (c) => c.notNull())
    .addColumn("currency", "integer", (c) => c.notNull().check(sql`currency BETWEEN 0 AND 999`))
    .addColumn("balance", t.int64, (c) => c.notNull())
    .addColumn("held", t.int64, (c) => c.notNull().defaultTo(0))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('open', 'closed')`))
    .addColumn("created_at", t.int64, (c) => c.notNull())
    .addCheckConstraint("bank_accounts_funds", sql`held >= 0 AND held <= balance`)
    .execute();

  await db.schema
    .createTable("wallets")
    .addColumn("wallet_id", "text", (c) => c.primaryKey())
    .addColumn("currency", "integer", (c) => c.notNull().check(sql`currency BETWEEN 0 AND 999`))
    .addColumn("status", "text", (c) =>
      c.notNull().check(sql`status IN ('active', 'lost', 'blocked', 'closed')`),
    )
    .addColumn("bound_account", "text", (c) => c.references("bank_accounts.number"))
    .addColumn("balance_limit", t.int64, (c) => c.notNull().check(sql`balance_limit >= 0`))
    .addColumn("single_limit", t.int64, (c) => c.notNull().check(sql`single_limit >= 0`))
    .addColumn("auto_load_threshold", t.int64, (c) => c.notNull().check(sql`auto_load_threshold >= 0`))
    .addColumn("auto_load_amount", t.int64, (c) => c.notNull().check(sql`auto_load_amount >= 0`))
    .addColumn("auto_load_on", "integer", (c) => c.notNull().check(sql`auto_load_on IN (0, 1)`))
    .addColumn("card_certificate", t.bytes)
    .addColumn("last_counter", t.int64)
    .addColumn("created_at", t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("platform_serial")
    .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn("value", t.int64, (c) => c.notNull())
    .execute();
  await db.insertInto("platform_serial").values({ id: 1, value: 0 }).execute();

  await db.schema
    .createTable("platform_loads")
    .addColumn("load_id", "text", (c) => c.primaryKey().check(sql`length(load_id) = 16`))
    .addColumn("request_hash", "text", (c) => c.notNull())
    .addColumn("wallet_id", "text", (c) => c.notNull().references("wallets.wallet_id"))
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) =>
      c.notNull().check(sql`type IN ('cash', 'bound', 'non-bound', 'auto', 'supplementary')`),
    )
    .addColumn("amount", t.int64, (c) => c.notNull().check(sql`amount > 0`))
    .addColumn("currency", "integer", (c) => c.notNull())
    .addColumn("teller", "text")
    .addColumn("branch", "text")
    .addColumn("account", "text", (c) => c.references("bank_accounts.number"))
    .addColumn("challenge", "text", (c) => c.notNull())
    .addColumn("serial", t.int64, (c) => c.notNull().unique())
    .addColumn("issued_at", t.int64, (c) => c.notNull())
    .addColumn("command", "text", (c) => c.notNull())
    .addColumn("binding", t.bytes, (c) => c.notNull().check(sql`length(binding) = 32`))
    .addColumn("state", "text", (c) =>
      c.notNull().check(sql`state IN ('pending', 'loaded', 'voided', 'reversed')`),
    )
    .addColumn("card_counter", t.int64)
    .addColumn("completed_at", t.int64)
    .addColumn("proof_record", t.bytes)
    .addColumn("proof_signature", t.bytes)
    .addColumn("answer", "text")
    .addCheckConstraint("platform_loads_teller", sql`type <> 'cash' OR teller IS NOT NULL`)
    .addCheckConstraint(
      "platform_loads_account",
      sql`type NOT IN ('bound', 'non-bound', 'auto') OR account IS NOT NULL`,
    )
    .addCheckConstraint("platform_loads_completed", sql`(state = 'pending') = (completed_at IS NULL)`)
    .execute();
  await db.schema
    .createIndex("platform_loads_wallet")
    .on("platform_loads")
    .columns(["wallet_id", "state"])
    .execute();

  // A reversal of a load: one per request (a new challenge makes a new one when a first one never
  // reached the card); the card's record names the one it executed by its binding.
  await db.schema
    .createTable("platform_reversals")
    .addColumn("request_id", "text", (c) => c.primaryKey())
    .addColumn("request_hash", "text", (c) => c.notNull())
    .addColumn("load_id", "text", (c) => c.notNull().references("platform_loads.load_id"))
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("challenge", "text", (c) => c.notNull())
    .addColumn("teller", "text")
    .addColumn("issued_at", t.int64, (c) => c.notNull())
    .addColumn("command", "text", (c) => c.notNull())
    .addColumn("binding", t.bytes, (c) => c.notNull().check(sql`length(binding) = 32`))
    .addColumn("outcome", "text", (c) => c.check(sql`outcome IN ('reversed', 'not-found')`))
    .addColumn("card_counter", t.int64)
    .addColumn("proof_record", t.bytes)
    .addColumn("proof_signature", t.bytes)
    .addColumn("answer", "text")
    .addColumn("completed_at", t.int64)
    .execute();
  await db.schema.createIndex("platform_reversals_load").on("platform_reversals").column("load_id").execute();

  // Every challenge the platform signed a command over: one command per card challenge.
  await db.schema
    .createTable("platform_challenges")
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("challenge", "text", (c) => c.notNull())
    .addColumn("used_for", "text", (c) => c.notNull().check(sql`used_for IN ('load', 'reversal', 'command')`))
    .addColumn("ref", "text", (c) => c.notNull())
    .addColumn("at", t.int64, (c) => c.notNull())
    .addPrimaryKeyConstraint("platform_challenges_pk", ["wallet_id", "challenge"])
    .execute();

  // Issuer commands queued for a wallet's card (UPDATE PARAMETERS, BLOCK, UNBLOCK), delivered by
  // the next online terminal the card is presented at. At most one pending command of a kind per
  // wallet (a newer one supersedes it); each delivery is signed over a new card challenge.
  await db.schema
    .createTable("platform_commands")
    .addColumn("command_id", "text", (c) => c.primaryKey())
    .addColumn("wallet_id", "text", (c) => c.notNull().references("wallets.wallet_id"))
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind IN ('parameters', 'block', 'unblock')`))
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) =>
      c.notNull().check(sql`state IN ('pending', 'delivered', 'superseded')`),
    )
    .addColumn("queued_at", t.int64, (c) => c.notNull())
    .addColumn("delivered_at", t.int64)
    .addColumn("delivered_by", "text")
    .addColumn("terminal_id", "text")
    .addColumn("card_counter", t.int64)
    .addColumn("proof_record", t.bytes)
    .addColumn("proof_signature", t.bytes)
    .addCheckConstraint(
      "platform_commands_delivered",
      sql`(state = 'delivered') = (delivered_at IS NOT NULL AND delivered_by IS NOT NULL)`,
    )
    .execute();
  await db.schema
    .createIndex("platform_commands_pending")
    .on("platform_commands")
    .columns(["wallet_id", "kind"])
    .unique()
    .where(sql<boolean>`state = 'pending'`)
    .execute();

  await db.schema
    .createTable("platform_command_signings")
    .addColumn("request_id", "text", (c) => c.primaryKey())
    .addColumn("request_hash", "text", (c) => c.notNull())
    .addColumn("command_id", "text", (c) => c.notNull().references("platform_commands.command_id"))
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("challenge", "text", (c) => c.notNull())
    .addColumn("issued_at", t.int64, (c) => c.notNull())
    .addColumn("command", "text", (c) => c.notNull())
    .addColumn("binding", t.bytes, (c) => c.notNull().check(sql`length(binding) = 32`))
    .addColumn("answer", "text")
    .execute();

  // Presentations of a card at an online terminal: the answer is replayed for a retry.
  await db.schema
    .createTable("platform_presentations")
    .addColumn("request_id", "text", (c) => c.primaryKey())
    .addColumn("request_hash", "text", (c) => c.notNull())
    .addColumn("wallet_id", "text", (c) => c.notNull().references("wallets.wallet_id"))
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("answer", "text", (c) => c.notNull())
    .addColumn("at", t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("bank_holds")
    .addColumn("load_id", "text", (c) => c.primaryKey().references("platform_loads.load_id"))
    .addColumn("account", "text", (c) => c.notNull().references("bank_accounts.number"))
    .addColumn("amount", t.int64, (c) => c.notNull().check(sql`amount > 0`))
    .addColumn("state", "text", (c) => c.notNull().check(sql`state IN ('held', 'posted', 'released')`))
    .addColumn("updated_at", t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("platform_bookings")
    .addColumn("booking_id", "text", (c) => c.primaryKey())
    // What the booking is for (platform/accounts.ts BookingKind); unconstrained here, so that the
    // kinds to come (settled consumption, refunds) need no table rebuild.
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("wallet_id", "text")
    .addColumn("load_id", "text")
    .addColumn("amount", t.int64, (c) => c.notNull().check(sql`amount > 0`))
    .addColumn("currency", "integer", (c) => c.notNull())
    .addColumn("at", t.int64, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("platform_entries")
    .addColumn("booking_id", "text", (c) => c.notNull().references("platform_bookings.booking_id"))
    .addColumn("account", "text", (c) => c.notNull())
    .addColumn("amount", t.int64, (c) => c.notNull().check(sql`amount <> 0`))
    .addPrimaryKeyConstraint("platform_entries_pk", ["booking_id", "account"])
    .execute();
  await db.schema.createIndex("platform_entries_account").on("platform_entries").column("account").execute();
}

/**
 * Refunds of returned goods (protocol/wallet/refund.ts): terminal-signed credits that ride in
 * batches, credited to the wallet's online account. The database keeps their rules:
 * - a refund is stored once per terminal and refund id (primary key): the same refund sent again,
 *   in any batch and on any instance, books once;
 * - the total refunded of one original debit never exceeds its amount: `refund_totals` holds it per
 *   (terminal, seq), moved by a guarded `refunded = refunded + x … WHERE refunded + x <=
 *   original_amount` and held by a CHECK as well, so no interleaving of writers can pass it.
 */
async function refunds(db: AnyDb, kind: EngineKind): Promise<void> {
  const t = types(kind);
  await db.schema
    .createTable("refunds")
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("refund_id", t.int64, (c) => c.notNull().check(sql`refund_id > 0`))
    .addColumn("batch_id", "text", (c) => c.notNull())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("original_seq", t.int64, (c) => c.notNull())
    .addColumn("wallet_id", "text", (c) => c.notNull())
    .addColumn("card_counter", t.int64, (c) => c.notNull())
    .addColumn("amount", t.int64, (c) => c.notNull().check(sql`amount > 0`))
    .addColumn("currency", "integer", (c) => c.notNull().check(sql`currency BETWEEN 0 AND 999`))
    .addColumn("created_at", t.int64, (c) => c.notNull())
    .addColumn("signature", t.bytes, (c) => c.notNull().check(sql`length(signature) = 64`))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('pending', 'settled', 'rejected')`))
    .addColumn("reason", "text")
    .addColumn("received_at", t.int64, (c) => c.notNull())
    // The batch that settled it (its own, or a later one when it waited for its original).
    .addColumn("settled_batch_id", "text")
    .addColumn("settled_at", t.int64)
    .addPrimaryKeyConstraint("refunds_pk", ["terminal_id", "refund_id"])
    .addCheckConstraint("refunds_reason", sql`(status = 'rejected') = (reason IS NOT NULL)`)
    .addCheckConstraint("refunds_settled", sql`(status = 'settled') = (settled_at IS NOT NULL)`)
    .execute();
  await db.schema
    .createIndex("refunds_waiting")
    .on("refunds")
    .columns(["terminal_id", "original_seq"])
    .where(sql.ref("status"), "=", sql.lit("pending"))
    .execute();

  await db.schema
    .createTable("refund_totals")
    .addColumn("terminal_id", "text", (c) => c.notNull())
    .addColumn("seq", t.int64, (c) => c.notNull())
    .addColumn("original_amount", t.int64, (c) => c.notNull().check(sql`original_amount > 0`))
    .addColumn("refunded", t.int64, (c) => c.notNull())
    .addPrimaryKeyConstraint("refund_totals_pk", ["terminal_id", "seq"])
    .addCheckConstraint("refund_totals_bound", sql`refunded >= 0 AND refunded <= original_amount`)
    .execute();
}

/**
 * The bank message of each load (acquirer-stub/platform/bank-message.ts), JSON: what the platform
 * told the bank when it signed the load. Null for loads signed before this migration.
 */
async function bankMessages(db: AnyDb): Promise<void> {
  await db.schema.alterTable("platform_loads").addColumn("bank_message", "text").execute();
}

/** The schema history, in order. Append; never edit or reorder a shipped entry. */
export function migrations(kind: EngineKind): Record<string, Migration> {
  return {
    "001_initial": { up: (db) => initial(db, kind) },
    "002_wallet_platform": { up: (db) => walletPlatform(db, kind) },
    "003_refunds": { up: (db) => refunds(db, kind) },
    "004_bank_messages": { up: (db) => bankMessages(db) },
    "005_operator_audit": { up: (db) => operatorAudit(db, kind) },
    "006_after_block": { up: (db) => afterBlock(db, kind) },
    "007_fraud_evidence": { up: (db) => fraudEvidence(db, kind) },
    "008_hotlist_issuers": { up: (db) => hotlistIssuers(db, kind) },
    "009_fraud_kinds": { up: (db) => fraudKinds(db, kind) },
  };
}

export class AcquirerMigrations implements MigrationProvider {
  constructor(readonly kind: EngineKind) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.kind);
  }
}
