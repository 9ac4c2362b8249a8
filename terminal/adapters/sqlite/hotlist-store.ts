/**
 * The acquirer's hotlist in the terminal's SQLite file (`hotlist_wallets`, `hotlist_serials`, each
 * entry with its issuer CA or NULL for every issuer, and in `meta` its version, signed issue and
 * next-update times and when it was fetched): the HotlistStore port. A format-2 list is stored by
 * issuer; a format-1 list (an acquirer without /v2/hotlist) with every entry at every issuer. The
 * membership check runs on every tap, so its statements are prepared once.
 */
import type Database from "../../../protocol/sqlite.js";
import { isIssuerHotlist } from "../../../protocol/wallet/hotlist.js";
import type { HotlistInfo, HotlistStore, VerifiedHotlist } from "../../application/ports.js";
import type { Connection } from "./database.js";

export class SqliteHotlist implements HotlistStore {
  readonly #c: Connection;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = prepare(c.db);
  }

  replace(hotlist: VerifiedHotlist): void {
    const s = this.#stmt;
    this.#c.db
      .transaction(() => {
        s.clearWallets.run();
        s.clearSerials.run();
        // Every issuer: NULL.
        for (const id of hotlist.blockedWallets) s.addWallet.run(id, null);
        if (isIssuerHotlist(hotlist))
          for (const e of hotlist.issuers) {
            for (const id of e.blockedWallets) s.addWallet.run(id, e.issuer);
            for (const serial of e.revokedSerials) s.addSerial.run(serial, e.issuer);
          }
        else for (const serial of hotlist.revokedSerials) s.addSerial.run(serial, null);
        this.#c.meta.set("hotlist_version", String(hotlist.version));
        this.#c.meta.set("hotlist_issued_at", String(hotlist.issuedAt));
        this.#c.meta.set(
          "hotlist_next_update",
          hotlist.nextUpdate === undefined ? "" : String(hotlist.nextUpdate),
        );
        this.#c.meta.set("hotlist_fetched_at", new Date(this.#c.clock.now()).toISOString());
      })
      .immediate();
  }

  version(): number | undefined {
    const v = this.#c.meta.get("hotlist_version");
    return v === undefined ? undefined : Number(v);
  }

  info(): HotlistInfo | undefined {
    const version = this.version();
    if (version === undefined) return undefined;
    const next = this.#c.meta.get("hotlist_next_update");
    const fetched = this.#c.meta.get("hotlist_fetched_at");
    return {
      version,
      issuedAt: Number(this.#c.meta.get("hotlist_issued_at") ?? "0"),
      nextUpdate: next === undefined || next === "" ? undefined : Number(next),
      fetchedAt: fetched === undefined ? 0 : Date.parse(fetched),
    };
  }

  size(): { wallets: number; serials: number } {
    return {
      wallets: (this.#stmt.countWallets.get() as { n: number }).n,
      serials: (this.#stmt.countSerials.get() as { n: number }).n,
    };
  }

  isHotlisted(walletId: string, serial: string, issuer: string): boolean {
    return (
      this.#stmt.hasWallet.get(walletId, issuer) !== undefined ||
      this.#stmt.hasSerial.get(serial, issuer) !== undefined
    );
  }
}

function prepare(db: Database.Database) {
  return {
    clearWallets: db.prepare("DELETE FROM hotlist_wallets"),
    clearSerials: db.prepare("DELETE FROM hotlist_serials"),
    addWallet: db.prepare("INSERT OR IGNORE INTO hotlist_wallets (wallet_id, issuer) VALUES (?, ?)"),
    addSerial: db.prepare("INSERT OR IGNORE INTO hotlist_serials (serial, issuer) VALUES (?, ?)"),
    countWallets: db.prepare("SELECT COUNT(*) AS n FROM hotlist_wallets"),
    countSerials: db.prepare("SELECT COUNT(*) AS n FROM hotlist_serials"),
    // At the card's issuer, or at every issuer (NULL); never at another issuer.
    hasWallet: db.prepare(
      "SELECT 1 FROM hotlist_wallets WHERE wallet_id = ? AND (issuer IS NULL OR issuer = ?) LIMIT 1",
    ),
    hasSerial: db.prepare(
      "SELECT 1 FROM hotlist_serials WHERE serial = ? AND (issuer IS NULL OR issuer = ?) LIMIT 1",
    ),
  };
}
