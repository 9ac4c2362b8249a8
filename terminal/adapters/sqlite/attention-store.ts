/**
 * The platform's attention list in the terminal's SQLite file (`platform_attention`, and in `meta`
 * its platform time and when it was fetched): the AttentionList port. `has` runs on every tap at an
 * online terminal, so the statements are prepared once.
 */
import type Database from "../../../protocol/sqlite.js";
import type { AttentionInfo, AttentionList } from "../../application/ports.js";
import type { Connection } from "./database.js";

export class SqliteAttention implements AttentionList {
  readonly #c: Connection;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = prepare(c.db);
  }

  replace(wallets: readonly string[], asOf: number): void {
    const s = this.#stmt;
    this.#c.db
      .transaction(() => {
        s.clear.run();
        for (const id of wallets) s.add.run(id);
        this.#c.meta.set("attention_as_of", String(asOf));
        this.#c.meta.set("attention_fetched_at", new Date(this.#c.clock.now()).toISOString());
      })
      .immediate();
  }

  has(walletId: string): boolean {
    return this.#stmt.has.get(walletId) !== undefined;
  }

  done(walletId: string): void {
    this.#stmt.remove.run(walletId);
  }

  info(): AttentionInfo | undefined {
    const asOf = this.#c.meta.get("attention_as_of");
    const fetched = this.#c.meta.get("attention_fetched_at");
    if (asOf === undefined || fetched === undefined) return undefined;
    return {
      wallets: (this.#stmt.count.get() as { n: number }).n,
      asOf: Number(asOf),
      fetchedAt: Date.parse(fetched),
    };
  }
}

function prepare(db: Database.Database) {
  return {
    clear: db.prepare("DELETE FROM platform_attention"),
    add: db.prepare("INSERT OR IGNORE INTO platform_attention (wallet_id) VALUES (?)"),
    remove: db.prepare("DELETE FROM platform_attention WHERE wallet_id = ?"),
    has: db.prepare("SELECT 1 FROM platform_attention WHERE wallet_id = ?"),
    count: db.prepare("SELECT COUNT(*) AS n FROM platform_attention"),
  };
}
