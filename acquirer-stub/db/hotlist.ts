/**
 * The hotlist in the acquirer's database: blocked wallets (`blocked_wallets`) with the audit trail
 * of every block and unblock (`wallet_events`), card serials revoked by the issuers' CRLs
 * (`revoked_card_serials`), and the list's version and issue time (the one row of `hotlist`). The
 * version moves when the published list changes, and when the list has not changed for
 * HOTLIST_REISSUE_SECONDS (a re-issue: same content, new issue time).
 *
 * Every move is one atomic `version = version + 1` guarded by the change itself: the insert that
 * added the blocked wallet (a second instance blocking the same wallet inserts nothing and does not
 * bump), the delete that removed it, or, for a re-issue, `issued_at <= olderThan` evaluated on the
 * row as the last writer left it. So the version moves once per change, however many instances.
 *
 * No transaction here: the store runs each change (the row, its event and the bump) in one.
 */
import type { BlockReason, HotlistState } from "../domain/hotlist.js";
import { iso } from "./columns.js";
import type { Db } from "./schema.js";

export type BlockSource = "operator" | "clone-detection" | "fraud-detection";

export interface WalletBlock {
  readonly reason: string;
  readonly source: string;
  /** ISO 8601. */
  readonly since: string;
}

const changed = (r: { numInsertedOrUpdatedRows?: bigint; numDeletedRows?: bigint }) =>
  Number(r.numInsertedOrUpdatedRows ?? r.numDeletedRows ?? 0n) > 0;

export class Hotlist {
  constructor(readonly db: Db) {}

  async version(): Promise<number> {
    const row = await this.db.selectFrom("hotlist").select("version").where("id", "=", 1).executeTakeFirst();
    return row?.version ?? 0;
  }

  async #bump(now: number): Promise<void> {
    await this.db
      .updateTable("hotlist")
      .set((eb) => ({ version: eb("version", "+", 1), issued_at: now }))
      .where("id", "=", 1)
      .execute();
  }

  /** Block a wallet (the event is recorded either way). Returns false when it already was blocked. */
  async block(walletId: string, reason: BlockReason, source: BlockSource, now: number): Promise<boolean> {
    const inserted = changed(
      await this.db
        .insertInto("blocked_wallets")
        .values({ wallet_id: walletId, reason, source, blocked_at: now })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst(),
    );
    await this.db
      .insertInto("wallet_events")
      .values({ wallet_id: walletId, action: "block", reason, source, at: now })
      .execute();
    if (inserted) await this.#bump(now);
    return inserted;
  }

  /** Release a wallet (by the operator). Returns false when it was not blocked. */
  async unblock(walletId: string, now: number): Promise<boolean> {
    const deleted = changed(
      await this.db.deleteFrom("blocked_wallets").where("wallet_id", "=", walletId).executeTakeFirst(),
    );
    if (deleted) {
      await this.db
        .insertInto("wallet_events")
        .values({ wallet_id: walletId, action: "unblock", reason: null, source: "operator", at: now })
        .execute();
      await this.#bump(now);
    }
    return deleted;
  }

  async walletBlock(walletId: string): Promise<WalletBlock | null> {
    const row = await this.db
      .selectFrom("blocked_wallets")
      .select(["reason", "source", "blocked_at"])
      .where("wallet_id", "=", walletId)
      .executeTakeFirst();
    return row ? { reason: row.reason, source: row.source, since: iso(row.blocked_at) } : null;
  }

  /**
   * Add revoked card serials; the version moves when one is new (and starts at 1 on a new
   * database, so the first hotlist has a real issue time). Returns how many were new.
   */
  async addRevokedSerials(
    serials: readonly { serial: string; issuerFingerprint: string }[],
    now: number,
  ): Promise<number> {
    let added = 0;
    for (const s of serials) {
      const r = await this.db
        .insertInto("revoked_card_serials")
        .values({ serial: s.serial, issuer_fingerprint: s.issuerFingerprint, added_at: now })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (changed(r)) added++;
    }
    if (added > 0) await this.#bump(now);
    // The first list of a new database: version 0 → 1, once, whichever instance starts first.
    else
      await this.db
        .updateTable("hotlist")
        .set({ version: 1, issued_at: now })
        .where("id", "=", 1)
        .where("version", "=", 0)
        .execute();
    return added;
  }

  /**
   * Re-issue the list (a new version, same content) when the current one was issued at or before
   * `olderThan`; an instance that finds another already did (the condition re-checked on the row
   * the other left) does nothing. Returns whether this call re-issued.
   */
  async reissueIfOlder(olderThan: number, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable("hotlist")
      .set((eb) => ({ version: eb("version", "+", 1), issued_at: now }))
      .where("id", "=", 1)
      .where("issued_at", "<=", olderThan)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Everything the published hotlist is made of; read inside one transaction for a consistent list. */
  async state(): Promise<HotlistState> {
    const head = await this.db
      .selectFrom("hotlist")
      .select(["version", "issued_at"])
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    const serials = await this.db
      .selectFrom("revoked_card_serials")
      .select((eb) => ["serial", eb.fn.min<number>("added_at").as("added_at")])
      .groupBy("serial")
      .orderBy("serial")
      .execute();
    const blocked = await this.db
      .selectFrom("blocked_wallets")
      .select("wallet_id")
      .orderBy("wallet_id")
      .execute();
    // Sorted here, not by the engine: PostgreSQL's collation is the database's locale, and the
    // signed list must be byte-for-byte the same on both engines.
    serials.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
    return {
      version: head.version,
      issuedAt: head.issued_at,
      revokedSerials: serials.map((r) => r.serial),
      revokedSince: new Map(serials.map((r) => [r.serial, r.added_at])),
      blockedWallets: blocked.map((r) => r.wallet_id).sort(),
    };
  }
}
