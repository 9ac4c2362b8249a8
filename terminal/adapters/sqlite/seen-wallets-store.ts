/**
 * The WalletWatch port in the terminal's SQLite file: `seen_wallets` (per wallet, the newest record
 * this terminal verified), `wallet_findings` (rolled-back or forged wallets caught here, with the
 * card's signed record as proof, until the acquirer answered the batch that carried them) and
 * `local_blocklist` (the terminal's own list, apart from the acquirer's hotlist tables, which a
 * hotlist sync replaces). `isBlocked` and `last` run on every tap: statements are prepared once.
 */
import type Database from "../../../protocol/sqlite.js";
import type { WalletWatch } from "../../application/ports.js";
import type { FindingKind, NewWalletFinding, SeenWallet, WalletFinding } from "../../domain/wallet-watch.js";
import type { Connection } from "./database.js";

interface SeenRow {
  wallet_id: string;
  seq: number;
  card_counter: number;
  balance_after: number;
  currency: number;
}

interface FindingRow {
  id: number;
  wallet_id: string;
  kind: FindingKind;
  seq: number;
  seen_seq: number;
  seen_counter: number;
  seen_balance: number;
  seen_currency: number;
  claimed_counter: number;
  claimed_balance: number;
  amount: number;
  currency: number;
  card_record: Buffer;
  card_signature: Buffer;
  card_certificate: Buffer;
  found_at: number;
  reported_in: string | null;
}

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b);

function toFinding(r: FindingRow): WalletFinding {
  return {
    id: r.id,
    walletId: r.wallet_id,
    kind: r.kind,
    seq: r.seq,
    seen: {
      walletId: r.wallet_id,
      seq: r.seen_seq,
      cardCounter: r.seen_counter,
      balanceAfter: r.seen_balance,
      currency: r.seen_currency,
    },
    claimed: {
      cardCounter: r.claimed_counter,
      balanceAfter: r.claimed_balance,
      amount: r.amount,
      currency: r.currency,
    },
    cardRecord: bytes(r.card_record),
    cardSignature: bytes(r.card_signature),
    cardCertificate: bytes(r.card_certificate),
    foundAt: r.found_at,
    reportedIn: r.reported_in ?? undefined,
  };
}

export class SqliteWalletWatch implements WalletWatch {
  readonly #c: Connection;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = prepare(c.db);
  }

  last(walletId: string): SeenWallet | undefined {
    const r = this.#stmt.last.get(walletId) as SeenRow | undefined;
    if (!r) return undefined;
    return {
      walletId: r.wallet_id,
      seq: r.seq,
      cardCounter: r.card_counter,
      balanceAfter: r.balance_after,
      currency: r.currency,
    };
  }

  remember(seen: SeenWallet): void {
    this.#stmt.remember.run({
      walletId: seen.walletId,
      seq: seen.seq,
      cardCounter: seen.cardCounter,
      balanceAfter: seen.balanceAfter,
      currency: seen.currency,
      at: this.#c.clock.now(),
    });
  }

  isBlocked(walletId: string): boolean {
    return this.#stmt.isBlocked.get(walletId) !== undefined;
  }

  flag(f: NewWalletFinding): WalletFinding {
    const now = this.#c.clock.now();
    return this.#c.db
      .transaction(() => {
        const id = Number(
          this.#stmt.insertFinding.run({
            walletId: f.walletId,
            kind: f.kind,
            seq: f.seq,
            seenSeq: f.seen.seq,
            seenCounter: f.seen.cardCounter,
            seenBalance: f.seen.balanceAfter,
            seenCurrency: f.seen.currency,
            claimedCounter: f.claimed.cardCounter,
            claimedBalance: f.claimed.balanceAfter,
            amount: f.claimed.amount,
            currency: f.claimed.currency,
            cardRecord: Buffer.from(f.cardRecord),
            cardSignature: Buffer.from(f.cardSignature),
            cardCertificate: Buffer.from(f.cardCertificate),
            at: now,
          }).lastInsertRowid,
        );
        this.#stmt.block.run(f.walletId, id, now);
        return toFinding(this.#stmt.finding.get(id) as FindingRow);
      })
      .immediate();
  }

  unreported(seqs: readonly number[]): WalletFinding[] {
    if (seqs.length === 0) return [];
    const wanted = new Set(seqs);
    return (this.#stmt.unreported.all() as FindingRow[]).filter((r) => wanted.has(r.seq)).map(toFinding);
  }

  markReported(ids: readonly number[], batchId: string): void {
    if (ids.length === 0) return;
    this.#c.db.transaction(() => {
      for (const id of ids) this.#stmt.markReported.run(batchId, id);
    })();
  }

  blocklist(): { walletId: string; findingId: number; since: number }[] {
    return (
      this.#stmt.blocklist.all() as { wallet_id: string; finding_id: number; blocked_at: number }[]
    ).map((r) => ({ walletId: r.wallet_id, findingId: r.finding_id, since: r.blocked_at }));
  }
}

function prepare(db: Database.Database) {
  return {
    last: db.prepare(
      "SELECT wallet_id, seq, card_counter, balance_after, currency FROM seen_wallets WHERE wallet_id = ?",
    ),
    // The newest record by terminal seq wins; an older one (a torn intent recovered late) is ignored.
    remember: db.prepare(
      `INSERT INTO seen_wallets (wallet_id, seq, card_counter, balance_after, currency, seen_at)
       VALUES (@walletId, @seq, @cardCounter, @balanceAfter, @currency, @at)
       ON CONFLICT (wallet_id) DO UPDATE SET seq = excluded.seq, card_counter = excluded.card_counter,
         balance_after = excluded.balance_after, currency = excluded.currency, seen_at = excluded.seen_at
       WHERE excluded.seq > seen_wallets.seq`,
    ),
    isBlocked: db.prepare("SELECT 1 FROM local_blocklist WHERE wallet_id = ?"),
    insertFinding: db.prepare(
      `INSERT INTO wallet_findings (wallet_id, kind, seq, seen_seq, seen_counter, seen_balance,
         seen_currency, claimed_counter, claimed_balance, amount, currency, card_record, card_signature,
         card_certificate, found_at)
       VALUES (@walletId, @kind, @seq, @seenSeq, @seenCounter, @seenBalance, @seenCurrency,
         @claimedCounter, @claimedBalance, @amount, @currency, @cardRecord, @cardSignature,
         @cardCertificate, @at)`,
    ),
    finding: db.prepare("SELECT * FROM wallet_findings WHERE id = ?"),
    block: db.prepare(
      "INSERT OR IGNORE INTO local_blocklist (wallet_id, finding_id, blocked_at) VALUES (?, ?, ?)",
    ),
    unreported: db.prepare("SELECT * FROM wallet_findings WHERE reported_in IS NULL ORDER BY id"),
    markReported: db.prepare(
      "UPDATE wallet_findings SET reported_in = ? WHERE id = ? AND reported_in IS NULL",
    ),
    blocklist: db.prepare(
      "SELECT wallet_id, finding_id, blocked_at FROM local_blocklist ORDER BY blocked_at",
    ),
  };
}
