/**
 * The terminal's SQLite file: opened with the durability the records need (WAL, synchronous=FULL
 * on every open), migrated to the current schema, checked, and private to the terminal's user.
 */
import { chmodSync, existsSync } from "node:fs";
import Database from "../../../protocol/sqlite.js";
import type { Clock } from "../../application/ports.js";
import { TerminalError } from "../../errors.js";
import type { MetaTable } from "./meta.js";
import { MIGRATIONS } from "./migrations.js";

/** What every store of the file shares: the connection, the meta table, the clock it dates by. */
export interface Connection {
  readonly db: Database.Database;
  readonly meta: MetaTable;
  readonly clock: Clock;
}

/** Open (creating if needed) and migrate. A new file is made private (0600). */
export function openTerminalDatabase(path: string): Database.Database {
  const isNew = path !== ":memory:" && !existsSync(path);
  let db: Database.Database;
  try {
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    // better-sqlite3 defaults a WAL database to NORMAL, which loses the last commits on power
    // loss: a record the customer heard a beep for must survive, so FULL on every open.
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db);
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new Error(`quick_check: ${String(check)}`);
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_STORE",
      `cannot open the record store ${path}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (isNew) chmodSync(path, 0o600);
  return db;
}

function migrate(db: Database.Database): void {
  const current = Number(db.pragma("user_version", { simple: true }));
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this posd (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
