/**
 * The acquirer's two database engines behind one Kysely instance:
 *
 * - **SQLite** (a file path, the default): better-sqlite3 through protocol/sqlite.ts, WAL with
 *   synchronous=FULL, a 5 s busy timeout. One connection; a write transaction starts with
 *   `BEGIN IMMEDIATE`, so two processes on one file (serve and the CLI) take turns instead of
 *   failing to upgrade a read lock.
 * - **PostgreSQL** (`postgres://…`): a `pg` pool. Write transactions run at READ COMMITTED: every
 *   invariant several instances could break is a constraint or an atomic update in the database
 *   (see migrations.ts), so a stale read can only make a write fail, never make a wrong one
 *   succeed; the failed transaction is retried from the start and then sees the row that won.
 *   Reports run at REPEATABLE READ, so their parts come from one snapshot.
 *
 * A transaction that fails on a conflict (PostgreSQL 40001 serialization, 40P01 deadlock, 23505
 * unique violation; SQLite BUSY; a chain head that moved) is retried from the start, at most
 * MAX_ATTEMPTS times, each retry logged; then ACQ_ERR_STORE_CONFLICT (503). A lost connection is
 * ACQ_ERR_STORE_UNAVAILABLE (503): the pool reconnects on the next query, so the service recovers
 * by itself when the database comes back.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Kysely, Migrator, PostgresDialect, type SqliteDatabase, SqliteDialect, sql } from "kysely";
import pg from "pg";
import type { Logger } from "../../protocol/logger.js";
import type Database from "../../protocol/sqlite.js";
import { openDurableConnection } from "../../protocol/sqlite.js";
import { AcquirerError } from "../errors.js";
import {
  AcquirerMigrations,
  type EngineKind,
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  migrations,
} from "./migrations.js";
import type { AcquirerDb } from "./schema.js";

export type { EngineKind } from "./migrations.js";

export const MAX_ATTEMPTS = 5;

export type DbTarget =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly url: string; readonly display: string };

/** `--db`: a file path (SQLite) or a postgres:// / postgresql:// URL. */
export function parseDbTarget(target: string): DbTarget {
  if (target.trim() === "")
    throw new AcquirerError(
      "ACQ_ERR_STORE_URL",
      "the database is empty: give a file path or a postgres:// URL",
    );
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new AcquirerError("ACQ_ERR_STORE_URL", "the database URL is not a valid URL");
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
      throw new AcquirerError(
        "ACQ_ERR_STORE_URL",
        `database URL scheme ${url.protocol} is not supported: use a file path (SQLite) or postgres://`,
      );
    if (url.pathname.length <= 1 && !url.searchParams.has("dbname"))
      throw new AcquirerError(
        "ACQ_ERR_STORE_URL",
        `the database URL ${redact(url)} names no database (postgres://user@host:port/dbname)`,
      );
    return { kind: "postgres", url: target, display: redact(url) };
  }
  return { kind: "sqlite", path: target };
}

/** The URL as it may be logged: without its password. */
function redact(url: URL): string {
  const u = new URL(url.href);
  if (u.password) u.password = "***";
  return u.href;
}

export function describeTarget(t: DbTarget): string {
  return t.kind === "sqlite" ? t.path : t.display;
}

/** int8 and numeric as JavaScript numbers: money and times are integers well below 2^53. */
function exactNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`database value ${text} is not a safe integer`);
  return n;
}

const PG_INT8 = 20;
const PG_NUMERIC = 1700;

/**
 * better-sqlite3 prepares a statement per call when Kysely asks; keep the prepared ones (the
 * batch path runs the same few SQL texts thousands of times). Safe: Kysely's SQLite driver runs
 * one query at a time on its one connection.
 */
function cachingStatements(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, ReturnType<Database.Database["prepare"]>>();
  return {
    prepare(text: string) {
      let s = cache.get(text);
      if (!s) {
        s = db.prepare(text);
        if (cache.size >= 500) cache.clear();
        cache.set(text, s);
      }
      return s as unknown as ReturnType<SqliteDatabase["prepare"]>;
    },
    close() {
      cache.clear();
      db.close();
    },
  };
}

export interface Engine {
  readonly kind: EngineKind;
  readonly target: DbTarget;
  readonly db: Kysely<AcquirerDb>;
  /** The better-sqlite3 connection (SQLite only): pragmas in tests. */
  readonly sqlite: Database.Database | undefined;
}

export interface OpenOptions {
  readonly logger?: Logger;
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number;
}

/** Open the engine, check that it answers, and bring the schema to the latest migration. */
export async function openEngine(target: DbTarget, options: OpenOptions = {}): Promise<Engine> {
  const engine = target.kind === "sqlite" ? openSqlite(target) : openPostgres(target, options);
  try {
    await sql`SELECT 1`.execute(engine.db);
  } catch (cause) {
    await engine.db.destroy().catch(() => {});
    throw new AcquirerError(
      "ACQ_ERR_STORE_UNREACHABLE",
      `cannot reach the acquirer database ${describeTarget(target)}: ${reason(cause)}`,
      { cause },
    );
  }
  try {
    await migrate(engine);
  } catch (e) {
    await engine.db.destroy().catch(() => {});
    if (e instanceof AcquirerError) throw e;
    throw new AcquirerError(
      "ACQ_ERR_STORE",
      `cannot migrate the acquirer database ${describeTarget(target)}: ${reason(e)}`,
      { cause: e },
    );
  }
  return engine;
}

function openSqlite(target: { kind: "sqlite"; path: string }): Engine {
  let conn: Database.Database;
  try {
    conn = openDurableConnection(target.path);
  } catch (cause) {
    throw new AcquirerError(
      "ACQ_ERR_STORE",
      `cannot open the acquirer database ${target.path}: ${reason(cause)}`,
      { cause },
    );
  }
  const db = new Kysely<AcquirerDb>({ dialect: new SqliteDialect({ database: cachingStatements(conn) }) });
  return { kind: "sqlite", target, db, sqlite: conn };
}

function openPostgres(
  target: { kind: "postgres"; url: string; display: string },
  options: OpenOptions,
): Engine {
  const pool = new pg.Pool({
    connectionString: target.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === PG_INT8 || oid === PG_NUMERIC
          ? exactNumber
          : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would end the
  // process. The next query gets a fresh connection.
  pool.on("error", (err) =>
    options.logger?.warn({ code: "ACQ_ERR_STORE_UNAVAILABLE", err: err.message }, "database connection lost"),
  );
  const db = new Kysely<AcquirerDb>({ dialect: new PostgresDialect({ pool }) });
  return { kind: "postgres", target, db, sqlite: undefined };
}

async function migrate(engine: Engine): Promise<void> {
  const known = Object.keys(migrations(engine.kind));
  if (engine.kind === "sqlite" && engine.sqlite) {
    const legacy = Number(engine.sqlite.pragma("user_version", { simple: true }));
    const hasTable = engine.sqlite
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(MIGRATION_TABLE);
    if (legacy > 0 && !hasTable)
      throw new AcquirerError(
        "ACQ_ERR_STORE_SCHEMA",
        `${describeTarget(engine.target)} was made by an acquirer-stub before 0.2 (schema ${legacy}, keyed by batch id ` +
          "alone); this version keys batches by terminal and batch id and cannot convert it: settle what it holds " +
          "with the old version, then start on a new database",
      );
  }
  const applied = await appliedMigrations(engine);
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0)
    throw new AcquirerError(
      "ACQ_ERR_STORE_SCHEMA",
      `the acquirer database ${describeTarget(engine.target)} is at schema ${applied.at(-1)}, newer than this ` +
        `acquirer-stub (latest ${known.at(-1)}): upgrade acquirer-stub; the database was not changed`,
      { details: { applied, known } },
    );
  const migrator = new Migrator({
    db: engine.db,
    provider: new AcquirerMigrations(engine.kind),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new AcquirerError(
      "ACQ_ERR_STORE",
      `migration ${failed ?? "?"} failed on ${describeTarget(engine.target)}: ${reason(error)}`,
      { cause: error },
    );
  }
}

async function appliedMigrations(engine: Engine): Promise<string[]> {
  try {
    const rows = await sql<{
      name: string;
    }>`SELECT name FROM ${sql.table(MIGRATION_TABLE)} ORDER BY name`.execute(engine.db);
    return rows.rows.map((r) => r.name);
  } catch {
    return []; // no migration table yet: a new database
  }
}

// ---------------------------------------------------------------------------------------------
// Errors and retries

/** A write found the row it relied on changed by another writer: retry the whole transaction. */
export class StoreConflict extends Error {
  override readonly name = "StoreConflict";
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Another writer won: the same transaction, run again from the start, will see its row. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof StoreConflict) return true;
  const code = errorCode(e);
  if (code === undefined) return false;
  return (
    code === "40001" ||
    code === "40P01" ||
    code === "23505" ||
    code === "SQLITE_BUSY" ||
    code === "SQLITE_BUSY_SNAPSHOT" ||
    code === "SQLITE_LOCKED"
  );
}

/** The database went away (refused, reset, shut down, timed out): 503 until it is back. */
export function isUnavailable(e: unknown): boolean {
  const code = errorCode(e);
  if (code !== undefined) {
    if (/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN)$/.test(code))
      return true;
    if (/^(08|57P0)/.test(code)) return true; // connection exception, admin/crash shutdown
  }
  const message = e instanceof Error ? e.message : "";
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is closed/i.test(
    message,
  );
}

/** Any error raised by the database driver (not by our code). */
export function isDatabaseError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return e.name === "SqliteError" || e instanceof pg.DatabaseError || isUnavailable(e);
}

function reason(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return reason(e.errors[0]);
  const message = e instanceof Error ? e.message : String(e);
  const code = errorCode(e);
  return code && !message.includes(code) ? `${message} (${code})` : message || String(code ?? e);
}

export type Isolation = "write" | "snapshot";

/**
 * Run `fn` in one transaction, retried from the start on a conflict (bounded, each retry logged).
 * `write`: SQLite BEGIN IMMEDIATE, PostgreSQL READ COMMITTED. `snapshot` (read-only reports):
 * SQLite BEGIN, PostgreSQL REPEATABLE READ.
 */
export async function inTransaction<T>(
  engine: Engine,
  isolation: Isolation,
  label: string,
  fn: (tx: Kysely<AcquirerDb>) => Promise<T>,
  logger?: Logger,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(engine, isolation, fn);
    } catch (e) {
      if (isUnavailable(e))
        throw new AcquirerError(
          "ACQ_ERR_STORE_UNAVAILABLE",
          "the database connection was lost; nothing was stored: retry",
          { cause: e },
        );
      if (!isRetryable(e)) throw e;
      const code = e instanceof StoreConflict ? "chain-head-moved" : errorCode(e);
      if (attempt >= MAX_ATTEMPTS) {
        logger?.error(
          { label, attempts: attempt, conflict: code },
          "transaction conflicts exhausted its retries",
        );
        throw new AcquirerError(
          "ACQ_ERR_STORE_CONFLICT",
          `${label}: concurrent writers conflicted ${attempt} times; nothing was stored: retry`,
          { cause: e, details: { attempts: attempt } },
        );
      }
      logger?.warn({ label, attempt, conflict: code }, "transaction conflict: retrying from the start");
      await sleep(Math.floor(5 * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}

async function once<T>(
  engine: Engine,
  isolation: Isolation,
  fn: (tx: Kysely<AcquirerDb>) => Promise<T>,
): Promise<T> {
  if (engine.kind === "postgres")
    return engine.db
      .transaction()
      .setIsolationLevel(isolation === "write" ? "read committed" : "repeatable read")
      .execute(fn);
  return engine.db.connection().execute(async (conn) => {
    await sql.raw(isolation === "write" ? "BEGIN IMMEDIATE" : "BEGIN").execute(conn);
    try {
      const result = await fn(conn);
      await sql.raw("COMMIT").execute(conn);
      return result;
    } catch (e) {
      await sql
        .raw("ROLLBACK")
        .execute(conn)
        .catch(() => {});
      throw e;
    }
  });
}
