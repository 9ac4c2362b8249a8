/**
 * The terminal's SQLite file: opened with the durability the records need (WAL, synchronous=FULL
 * on every open), migrated to the current schema, checked, and private to the terminal's user.
 */
import { chmodSync, existsSync } from "node:fs";
import type Database from "../../../protocol/sqlite.js";
import { openDurable } from "../../../protocol/sqlite.js";
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
    // A record the customer heard a beep for must survive power loss: WAL + synchronous=FULL.
    db = openDurable(path, MIGRATIONS, "posd");
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") {
      db.close();
      throw new Error(`quick_check: ${String(check)}`);
    }
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
