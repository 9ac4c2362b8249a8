/**
 * The hotlist in the acquirer's database: blocked wallets (`blocked_wallets`) with the audit trail
 * of every block and unblock (`wallet_events`), card serials revoked by the issuers' CRLs
 * (`revoked_card_serials`), and the list's version and issue time (keys `hotlist_version` and
 * `hotlist_issued_at` of `meta`). The version moves when the published list changes, and when the
 * list has not changed for HOTLIST_REISSUE_SECONDS (a re-issue: same content, new issue time).
 *
 * No transaction here: the store runs each change (the row, its event and the version bump) in
 * one, or inside a batch's. The server reads the version from the database on every request, so a
 * block made by the CLI while `serve` runs is published at once.
 */
import type Database from "../../protocol/sqlite.js";
import type { BlockReason, HotlistState } from "../domain/hotlist.js";
import { iso } from "./columns.js";

export type BlockSource = "operator" | "clone-detection";

export interface WalletBlock {
  readonly reason: string;
  readonly source: string;
  /** ISO 8601. */
  readonly since: string;
}

function statements(db: Database.Database) {
  return {
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
    setMeta: db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    blocked: db.prepare("SELECT reason, source, blocked_at FROM blocked_wallets WHERE wallet_id = ?"),
    block: db.prepare(
      "INSERT INTO blocked_wallets (wallet_id, reason, source, blocked_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    unblock: db.prepare("DELETE FROM blocked_wallets WHERE wallet_id = ?"),
    walletEvent: db.prepare(
      "INSERT INTO wallet_events (wallet_id, action, reason, source, at) VALUES (?, ?, ?, ?, ?)",
    ),
    blockedWallets: db.prepare("SELECT wallet_id FROM blocked_wallets ORDER BY wallet_id").pluck(),
    revokedSerials: db.prepare(
      "SELECT serial, MIN(added_at) AS added_at FROM revoked_card_serials GROUP BY serial ORDER BY serial",
    ),
    addRevokedSerial: db.prepare(
      `INSERT INTO revoked_card_serials (serial, issuer_fingerprint, added_at) VALUES (?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
  };
}

export class Hotlist {
  readonly #s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#s = statements(db);
  }

  version(): number {
    return Number(this.#s.getMeta.get("hotlist_version") ?? "0");
  }

  #bump(now: number): void {
    this.#s.setMeta.run("hotlist_version", String(this.version() + 1));
    this.#s.setMeta.run("hotlist_issued_at", String(now));
  }

  /** Block a wallet (the event is recorded either way). Returns false when it already was blocked. */
  block(walletId: string, reason: BlockReason, source: BlockSource, now: number): boolean {
    const changed = this.#s.block.run(walletId, reason, source, now).changes > 0;
    this.#s.walletEvent.run(walletId, "block", reason, source, now);
    if (changed) this.#bump(now);
    return changed;
  }

  /** Release a wallet (by the operator). Returns false when it was not blocked. */
  unblock(walletId: string, now: number): boolean {
    const changed = this.#s.unblock.run(walletId).changes > 0;
    if (changed) {
      this.#s.walletEvent.run(walletId, "unblock", null, "operator", now);
      this.#bump(now);
    }
    return changed;
  }

  walletBlock(walletId: string): WalletBlock | null {
    const row = this.#s.blocked.get(walletId) as
      | { reason: string; source: string; blocked_at: number }
      | undefined;
    return row ? { reason: row.reason, source: row.source, since: iso(row.blocked_at) } : null;
  }

  /**
   * Add revoked card serials; the version moves when one is new (and starts at 1 on a new
   * database, so the first hotlist has a real issue time). Returns how many were new.
   */
  addRevokedSerials(serials: readonly { serial: string; issuerFingerprint: string }[], now: number): number {
    let added = 0;
    for (const s of serials)
      added += this.#s.addRevokedSerial.run(s.serial, s.issuerFingerprint, now).changes;
    if (added > 0 || this.version() === 0) this.#bump(now);
    return added;
  }

  /**
   * Re-issue the list (a new version, same content) when the current one was issued at or before
   * `olderThan`; a concurrent instance that already did is seen and not repeated. Returns whether
   * this call re-issued.
   */
  reissueIfOlder(olderThan: number, now: number): boolean {
    const issuedAt = Number(this.#s.getMeta.get("hotlist_issued_at") ?? "0");
    if (issuedAt > olderThan) return false;
    this.#bump(now);
    return true;
  }

  /** Everything the published hotlist is made of; read inside one transaction for a consistent list. */
  state(): HotlistState {
    const serials = this.#s.revokedSerials.all() as { serial: string; added_at: number }[];
    return {
      version: this.version(),
      issuedAt: Number(this.#s.getMeta.get("hotlist_issued_at") ?? "0"),
      revokedSerials: serials.map((r) => r.serial),
      revokedSince: new Map(serials.map((r) => [r.serial, r.added_at])),
      blockedWallets: this.#s.blockedWallets.all() as string[],
    };
  }
}
