import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import Database from "../../protocol/sqlite.js";
import { testDatabase } from "../testing.js";
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrations } from "./migrations.js";
import { AcquirerStore } from "./store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "acquirer-engine-"));
  dirs.push(dir);
  return join(dir, "acquirer.sqlite");
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "no error",
    (e: { code?: string }) => e.code,
  );

describe("opening the acquirer database", () => {
  it("SQLite is durable on every open: WAL, and synchronous=FULL again after a reopen", async () => {
    const path = tempPath();
    await (await AcquirerStore.open(path)).close();
    const plain = new Database(path);
    plain.pragma("synchronous = NORMAL");
    plain.close();
    const store = await AcquirerStore.open(path);
    try {
      expect(store.engine.sqlite?.pragma("synchronous", { simple: true })).toBe(2);
      expect(store.engine.sqlite?.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      await store.close();
    }
  });

  it("brings a new database to the latest schema, every migration recorded in acquirer_migrations", async () => {
    const db = await testDatabase();
    try {
      const store = await AcquirerStore.open(db.target);
      try {
        const applied = await sql<{
          name: string;
        }>`SELECT name FROM ${sql.table(MIGRATION_TABLE)} ORDER BY name`.execute(store.db);
        expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations(store.kind)).sort());
      } finally {
        await store.close();
      }
      // A reopen applies nothing again and is accepted.
      await (await AcquirerStore.open(db.target)).close();
    } finally {
      await db.drop();
    }
  });

  it("keeps the blocked wallets when 007 rebuilds blocked_wallets for its fraud-detection source", async () => {
    const db = await testDatabase();
    // PostgreSQL swaps the constraint in place (the PostgreSQL suite migrates through it); SQLite
    // rebuilds the table, which must keep every row.
    if (db.target.startsWith("postgres")) return db.drop();
    try {
      // A database at 006, with a wallet the operator blocked, as an earlier acquirer-stub left it.
      const { Kysely, Migrator, SqliteDialect } = await import("kysely");
      const raw = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(db.target) }) });
      const upTo006 = Object.fromEntries(
        Object.entries(migrations("sqlite")).filter(([name]) => name < "007"),
      );
      const migrator = new Migrator({
        db: raw,
        provider: { getMigrations: async () => upTo006 },
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      await sql`INSERT INTO blocked_wallets VALUES ('W-BOB-0002', 'lost', 'operator', 1700000000)`.execute(
        raw,
      );
      await raw.destroy();

      const store = await AcquirerStore.open(db.target);
      try {
        // (008 adds the issuer: the block of an earlier acquirer holds at every issuer, NULL.)
        expect(await store.db.selectFrom("blocked_wallets").selectAll().execute()).toEqual([
          {
            wallet_id: "W-BOB-0002",
            issuer_fingerprint: null,
            reason: "lost",
            source: "operator",
            blocked_at: 1_700_000_000,
          },
        ]);
        // The new source is accepted now; one outside the set is still refused.
        await sql`INSERT INTO blocked_wallets (wallet_id, reason, source, blocked_at)
          VALUES ('W-X-1', 'fraud', 'fraud-detection', 1)`.execute(store.db);
        await expect(
          sql`INSERT INTO blocked_wallets (wallet_id, reason, source, blocked_at)
            VALUES ('W-X-2', 'fraud', 'guesswork', 1)`.execute(store.db),
        ).rejects.toThrow();
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });

  it("keeps every block through 008, at every issuer, and keys blocks by (wallet id, issuer) after it", async () => {
    const db = await testDatabase();
    try {
      // A database at 007, as an earlier acquirer-stub left it: a blocked wallet and a stored card.
      const { Kysely, Migrator, PostgresDialect, SqliteDialect } = await import("kysely");
      const pgModule = (await import("pg")).default;
      const raw = new Kysely<unknown>({
        dialect:
          db.kind === "postgres"
            ? new PostgresDialect({ pool: new pgModule.Pool({ connectionString: db.target, max: 1 }) })
            : new SqliteDialect({ database: new Database(db.target) }),
      });
      const upTo007 = Object.fromEntries(
        Object.entries(migrations(db.kind)).filter(([name]) => name < "008"),
      );
      const migrator = new Migrator({
        db: raw,
        provider: { getMigrations: async () => upTo007 },
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      await sql`INSERT INTO blocked_wallets (wallet_id, reason, source, blocked_at)
        VALUES ('W-BOB-0002', 'clone', 'clone-detection', 1700000000)`.execute(raw);
      await sql`INSERT INTO card_certificates (fingerprint, der, wallet_id, serial)
        VALUES ('ab', ${Buffer.from([0x30, 0x00])}, 'W-BOB-0002', 'c002')`.execute(raw);
      await raw.destroy();

      const store = await AcquirerStore.open(db.target);
      const A = "a".repeat(64);
      try {
        expect(await store.walletBlocks("W-BOB-0002")).toEqual([
          { reason: "clone", source: "clone-detection", since: "2023-11-14T22:13:20.000Z", issuer: null },
        ]);
        const cards = await store.db.selectFrom("card_certificates").select("issuer_fingerprint").execute();
        expect(cards).toEqual([{ issuer_fingerprint: null }]);
        // The same wallet id at one issuer besides every issuer: a second row; twice the same: none.
        expect(await store.blockWallet("W-BOB-0002", "lost", 1_800_000_000, undefined, A)).toBe(true);
        expect(await store.blockWallet("W-BOB-0002", "stolen", 1_800_000_001, undefined, A)).toBe(false);
        expect(await store.blockWallet("W-BOB-0002", "lost", 1_800_000_002)).toBe(false);
        expect((await store.walletBlocks("W-BOB-0002")).map((b) => b.issuer)).toEqual([null, A]);
        // The database holds the key itself: a second every-issuer row is refused.
        await expect(
          sql`INSERT INTO blocked_wallets (wallet_id, reason, source, blocked_at)
            VALUES ('W-BOB-0002', 'lost', 'operator', 1)`.execute(store.db),
        ).rejects.toThrow();
        await expect(
          sql`INSERT INTO blocked_wallets (wallet_id, issuer_fingerprint, reason, source, blocked_at)
            VALUES ('W-BOB-0002', 'not-a-fingerprint', 'lost', 'operator', 1)`.execute(store.db),
        ).rejects.toThrow();
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });

  it("refuses a --db that is neither a path nor a postgres URL naming a database", async () => {
    expect(await codeOf(AcquirerStore.open("mysql://db.example/acquirer"))).toBe("ACQ_ERR_STORE_URL");
    expect(await codeOf(AcquirerStore.open("postgres://user@127.0.0.1:5432"))).toBe("ACQ_ERR_STORE_URL");
    expect(await codeOf(AcquirerStore.open(""))).toBe("ACQ_ERR_STORE_URL");
  });

  it("says the server cannot be reached, without the password", async () => {
    const failure = (await AcquirerStore.open("postgres://acq:hunter2@127.0.0.1:1/acquirer").catch(
      (e) => e,
    )) as Error & {
      code: string;
    };
    expect(failure.code).toBe("ACQ_ERR_STORE_UNREACHABLE");
    expect(failure.message).toContain("postgres://acq:***@127.0.0.1:1/acquirer");
    expect(failure.message).not.toContain("hunter2");
  });

  it("refuses a SQLite file made by the acquirer before the Kysely storage (schema in user_version)", async () => {
    const path = tempPath();
    const old = new Database(path);
    old.pragma("user_version = 3");
    old.exec("CREATE TABLE batches (batch_id TEXT PRIMARY KEY)");
    old.close();
    expect(await codeOf(AcquirerStore.open(path))).toBe("ACQ_ERR_STORE_SCHEMA");
  });

  it("refuses a database at a newer schema than this program, and changes nothing in it", async () => {
    const db = await testDatabase();
    try {
      const store = await AcquirerStore.open(db.target);
      await sql`INSERT INTO ${sql.table(MIGRATION_TABLE)} (name, timestamp) VALUES ('999_from_the_future', '2030-01-01T00:00:00.000Z')`.execute(
        store.db,
      );
      const tables = async () =>
        store.kind === "sqlite"
          ? (await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master`.execute(store.db)).rows[0]?.n
          : (
              await sql<{
                n: number;
              }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`.execute(
                store.db,
              )
            ).rows[0]?.n;
      const before = await tables();
      const failure = (await AcquirerStore.open(db.target).catch((e) => e)) as Error & { code: string };
      expect(failure.code).toBe("ACQ_ERR_STORE_SCHEMA");
      expect(failure.message).toMatch(
        /999_from_the_future, newer than this acquirer-stub \(latest 009_fraud_kinds\)/,
      );
      expect(await tables()).toBe(before);
      await store.close();
    } finally {
      await db.drop();
    }
  });
});
