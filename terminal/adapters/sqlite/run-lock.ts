/**
 * One `posd run` per data directory. Two daemons on one data directory would share one record
 * store, one reader and one API port's worth of cash-register payments: the second is refused.
 *
 * The lock is a kernel file lock, not a pid file: `posd.lock` is a small SQLite database opened in
 * EXCLUSIVE locking mode and written once, so SQLite takes an fcntl write lock on it and keeps it
 * for as long as the connection is open. The kernel drops that lock when the process ends, however
 * it ends (SIGKILL and power cuts included), so a stale lock cannot outlive its daemon and a reused
 * pid cannot fake one. The holder's pid and start time are written beside it, in `posd.lock.pid`,
 * only to name the holder in the error.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "../../../protocol/sqlite.js";
import { TerminalError } from "../../errors.js";

export const RUN_LOCK_FILE = "posd.lock";

export interface RunLock {
  /** Give the data directory up (the kernel does it too when the process ends). */
  release(): void;
}

function holder(pidFile: string): string {
  try {
    const text = readFileSync(pidFile, "utf8").trim();
    return /^\d+ /.test(text) ? ` (pid ${text.replace(" ", ", running since ")})` : "";
  } catch {
    return "";
  }
}

/**
 * The locks this process holds. The connection must stay reachable: a Database the garbage
 * collector finalizes closes its file, and the kernel lock with it (seen: a second `posd run` got
 * in a few minutes after the first had started).
 */
const held = new Set<Database.Database>();

/** Take the data directory for this process, or throw TERM_ERR_DATA_DIR_LOCKED. */
export function lockDataDir(dataDir: string, now: () => number = Date.now): RunLock {
  const path = join(dataDir, RUN_LOCK_FILE);
  const pidFile = `${path}.pid`;
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 0 });
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)");
    db.transaction(() => {
      db.prepare("DELETE FROM holder").run();
      db.prepare("INSERT INTO holder (pid, since) VALUES (?, ?)").run(
        process.pid,
        new Date(now()).toISOString(),
      );
    }).immediate();
  } catch (cause) {
    const busy = (cause as { code?: string }).code?.startsWith("SQLITE_BUSY") ?? false;
    if (busy) {
      throw new TerminalError(
        "TERM_ERR_DATA_DIR_LOCKED",
        `another posd run${holder(pidFile)} is using the data directory ${dataDir}: stop it first, ` +
          "or give this one its own --data-dir",
        { details: { dataDir } },
      );
    }
    throw new TerminalError(
      "TERM_ERR_STORE",
      `cannot lock the data directory ${dataDir}: ${(cause as Error).message}`,
      { cause },
    );
  }
  writeFileSync(pidFile, `${process.pid} ${new Date(now()).toISOString()}\n`);
  held.add(db);
  return {
    release() {
      if (!held.delete(db)) return;
      rmSync(pidFile, { force: true });
      db.close();
    },
  };
}
