/**
 * The hotlist in the acquirer's database: blocked wallets (`blocked_wallets`) with the audit trail
 * of every block and unblock (`wallet_events`), card serials revoked by the issuers' CRLs
 * (`revoked_card_serials`), and the list's version and issue time (the one row of `hotlist`). The
 * version moves when the published list changes, and when the list has not changed for
 * HOTLIST_REISSUE_SECONDS (a re-issue: same content, new issue time).
 *
 * Serials and blocks are kept by issuer CA (its certificate's fingerprint), as the format-2
 * hotlist publishes them. A block is keyed by (wallet id, issuer), the issuer NULL meaning every
 * issuer: the same wallet id blocked at two issuers is two rows, each with its reason, source and
 * time; blocked at every issuer it is one more row, which covers the others while it stands (they
 * stay, and hold again once it is released). Unblocking without an issuer releases every block of
 * the wallet id (what an unblock did before issuers); with one, only the block at that issuer.
 *
 * Every move is one atomic `version = version + 1` guarded by the change itself: the insert that
 * added the blocked wallet (a second instance blocking the same wallet inserts nothing and does not
 * bump), the delete that removed it, or, for a re-issue, `issued_at <= olderThan` evaluated on the
 * row as the last writer left it. So the version moves once per change, however many instances.
 *
 * No transaction here: the store runs each change (the row, its event and the bump) in one.
 */
import { type BlockReason, type HotlistState, hotlistOf } from "../domain/hotlist.js";
import { iso } from "./columns.js";
import type { Db } from "./schema.js";

export type BlockSource = "operator" | "clone-detection" | "fraud-detection";

export interface WalletBlock {
  readonly reason: string;
  readonly source: string;
  /** ISO 8601. */
  readonly since: string;
  /** The issuer CA whose cards it is for (fingerprint), or null: at every issuer. */
  readonly issuer: string | null;
}

/** Every-issuer blocks first, then by issuer fingerprint (a stable order for people and tests). */
const byIssuer = (a: { issuer: string | null }, b: { issuer: string | null }) =>
  a.issuer === b.issuer ? 0 : a.issuer === null ? -1 : b.issuer === null ? 1 : a.issuer < b.issuer ? -1 : 1;

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

  /**
   * Block a wallet id for the cards of one issuer CA (`issuer`, a fingerprint), or at every issuer
   * (null). The event is recorded either way. Returns false when that block already stood (the
   * unique key (wallet_id, issuer) inserts nothing, on any instance).
   */
  async block(
    walletId: string,
    reason: BlockReason,
    source: BlockSource,
    now: number,
    issuer: string | null = null,
  ): Promise<boolean> {
    const inserted = changed(
      await this.db
        .insertInto("blocked_wallets")
        .values({ wallet_id: walletId, issuer_fingerprint: issuer, reason, source, blocked_at: now })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst(),
    );
    await this.db
      .insertInto("wallet_events")
      .values({ wallet_id: walletId, issuer_fingerprint: issuer, action: "block", reason, source, at: now })
      .execute();
    if (inserted) await this.#bump(now);
    return inserted;
  }

  /**
   * Release a wallet (by the operator): without `issuer` every block of the wallet id, with one only
   * its block at that issuer CA. Returns false when nothing was released.
   */
  async unblock(walletId: string, now: number, issuer?: string): Promise<boolean> {
    let q = this.db.deleteFrom("blocked_wallets").where("wallet_id", "=", walletId);
    if (issuer !== undefined) q = q.where("issuer_fingerprint", "=", issuer);
    const deleted = changed(await q.executeTakeFirst());
    if (deleted) {
      await this.db
        .insertInto("wallet_events")
        .values({
          wallet_id: walletId,
          issuer_fingerprint: issuer ?? null,
          action: "unblock",
          reason: null,
          source: "operator",
          at: now,
        })
        .execute();
      await this.#bump(now);
    }
    return deleted;
  }

  /** The wallet id's blocks: at every issuer first, then per issuer. */
  async walletBlocks(walletId: string): Promise<WalletBlock[]> {
    const rows = await this.db
      .selectFrom("blocked_wallets")
      .select(["reason", "source", "blocked_at", "issuer_fingerprint"])
      .where("wallet_id", "=", walletId)
      .execute();
    return rows
      .map((r) => ({
        reason: r.reason,
        source: r.source,
        since: iso(r.blocked_at),
        issuer: r.issuer_fingerprint,
      }))
      .sort(byIssuer);
  }

  /** The wallet id's widest block (at every issuer if it has one), or null when it is not blocked. */
  async walletBlock(walletId: string): Promise<WalletBlock | null> {
    return (await this.walletBlocks(walletId))[0] ?? null;
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
      .select(["serial", "issuer_fingerprint", "added_at"])
      .execute();
    const blocked = await this.db
      .selectFrom("blocked_wallets")
      .select(["wallet_id", "issuer_fingerprint"])
      .execute();
    // Ordered by the domain (hotlistOf), not by the engine: PostgreSQL's collation is the
    // database's locale, and the signed list must be byte-for-byte the same on both engines.
    return hotlistOf(
      { version: Number(head.version), issuedAt: Number(head.issued_at) },
      serials.map((r) => ({ serial: r.serial, issuer: r.issuer_fingerprint, addedAt: Number(r.added_at) })),
      blocked.map((r) => ({ walletId: r.wallet_id, issuer: r.issuer_fingerprint })),
    );
  }
}
