/**
 * The SQLite binding, chosen by the Node version it runs on. Every store opens its database through
 * this module, never through "better-sqlite3" directly.
 *
 * - Node 22 and later: better-sqlite3 13, built on Node-API, with prebuilt binaries in the package.
 *   better-sqlite3 12 subclasses V8's node::ObjectWrap, and on Node 24 a Statement or Database that
 *   the garbage collector finalizes from a platform task (no JavaScript context entered) aborts the
 *   whole process with "Assertion failed: (env) != nullptr" in node::RemoveEnvironmentCleanupHook.
 *   That happens in normal operation, not only at exit, so a long-running posd would die.
 * - Node 20: better-sqlite3 12, compiled at install. 13 segfaults on Node 20 at its first statement.
 *
 * The two have the same JavaScript API (13 is a superset) and the same typings.
 */
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";

const require = createRequire(import.meta.url);
const nodeMajor = Number(process.versions.node.split(".")[0]);

/** The npm package in use: "better-sqlite3" (12, Node 20) or its alias "better-sqlite3-napi" (13). */
export const SQLITE_BINDING = nodeMajor >= 22 ? "better-sqlite3-napi" : "better-sqlite3";

const Database = require(SQLITE_BINDING) as typeof BetterSqlite3;

declare namespace Database {
  export type Database = BetterSqlite3.Database;
  export type Options = BetterSqlite3.Options;
}

export default Database;

/**
 * Open a database with the durability a payment record needs: WAL, and synchronous=FULL on every
 * open (better-sqlite3 leaves a WAL database at NORMAL, which can lose the last commits on power
 * loss), foreign keys on, a 5 s busy timeout; then apply `migrations`. Throws a plain Error (closing
 * the connection) for the caller to wrap in its program's error code.
 */
export function openDurable(path: string, migrations: readonly string[], program: string): Database.Database {
  const db = openDurableConnection(path);
  try {
    migrate(db, migrations, program);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * The connection half of openDurable, for a program that migrates its schema another way (the
 * acquirer, through Kysely): WAL, synchronous=FULL, foreign keys, a 5 s busy timeout.
 */
export function openDurableConnection(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Bring the schema to `migrations.length`, one migration per transaction, counted in PRAGMA
 * user_version. A database written by a newer program is refused, never downgraded.
 */
function migrate(db: Database.Database, migrations: readonly string[], program: string): void {
  const current = Number(db.pragma("user_version", { simple: true }));
  if (current > migrations.length) {
    throw new Error(
      `database schema version ${current} is newer than this ${program} (${migrations.length})`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
