/**
 * The `meta` table: small named values the stores share (chain head, last upload, hotlist
 * version). Statements are prepared once; writes join whatever transaction is open.
 */
import type Database from "../../../protocol/sqlite.js";

export class MetaTable {
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.#stmt = prepare(db);
  }

  get(key: string): string | undefined {
    return (this.#stmt.get.get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.#stmt.set.run(key, value);
  }
}

function prepare(db: Database.Database) {
  return {
    get: db.prepare("SELECT value FROM meta WHERE key = ?"),
    set: db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
  };
}
