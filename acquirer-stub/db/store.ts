/**
 * The acquirer's database (better-sqlite3): WAL with synchronous=FULL set on every open, versioned
 * migrations through `PRAGMA user_version`, statements prepared once. Everything is synchronous:
 * a batch is verified against the ledger and written in one `db.transaction()`, which never spans
 * an await, so it is stored whole or not at all.
 *
 * The CLI (block, unblock, revoke-terminal, report) opens the same file while `serve` runs: WAL
 * lets them read and write concurrently, and the server reads revocations and the hotlist version
 * from the database on every request, so a change made by the CLI takes effect at once.
 */
import { chmodSync, existsSync } from "node:fs";
import { asBuffer } from "../../protocol/bytes.js";
import Database from "../../protocol/sqlite.js";
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import type { BlockReason, HotlistState } from "../domain/hotlist.js";
import {
  type BatchReconciliation,
  gaps,
  type Range,
  type SettlementReport,
  settlementLine,
} from "../domain/settle.js";
import { type BatchDecision, businessDay, type Difference, type LedgerView } from "../domain/verify.js";
import { AcquirerError } from "../errors.js";
import { MIGRATIONS } from "./migrations.js";

export interface StoredBatch {
  readonly batchId: string;
  readonly contentHash: string;
  readonly terminalId: string;
  readonly httpStatus: number;
  /** The JSON text answered the first time, replayed byte for byte. */
  readonly response: string;
}

export interface LedgerEntry {
  readonly cardCounter: number;
  readonly type: number;
  readonly amount: number;
  readonly currency: number;
  readonly balanceAfter: number;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly seq: number;
  /** Unix seconds (terminal time). */
  readonly time: number;
  readonly batchId: string;
}

export interface WalletLedger {
  readonly walletId: string;
  readonly blocked: { reason: string; source: string; since: string } | null;
  /** Accepted records by card counter. */
  readonly records: readonly LedgerEntry[];
  /** Counters between the first and the last seen that no batch has brought yet. */
  readonly gaps: readonly Range[];
  /** Consecutive counters whose balances do not add up (balance before − amount ≠ balance after). */
  readonly balanceBreaks: readonly { cardCounter: number; expected: number; actual: number }[];
  readonly clones: readonly {
    cardCounter: number;
    firstBatchId: string;
    cloneBatchId: string;
    detectedAt: string;
  }[];
}

export interface ApplyContext {
  readonly upload: BatchUpload;
  readonly contentHash: string;
  readonly terminalId: string;
  readonly merchantId: string;
  /** Unix seconds. */
  readonly now: number;
}

function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length)
    throw new Error(`database schema version ${current} is newer than this program (${MIGRATIONS.length})`);
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export class AcquirerStore {
  readonly path: string;
  readonly db: Database.Database;
  readonly #s: ReturnType<AcquirerStore["prepare"]>;
  /** The ledger as the domain sees it (read-only, used inside the batch transaction). */
  readonly view: LedgerView;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    this.#s = this.prepare();
    const s = this.#s;
    this.view = {
      terminalHead: (terminalId) => {
        const row = s.terminalHead.get(terminalId) as
          | { chain_head: Buffer; last_batch_id: string }
          | undefined;
        return row ? { chainHead: row.chain_head, lastBatchId: row.last_batch_id } : undefined;
      },
      acceptedRecord: (walletId, cardCounter) => {
        const row = s.acceptedByCounter.get(walletId, cardCounter) as
          | { card_record: Buffer; terminal_id: string; seq: number; batch_id: string }
          | undefined;
        return row
          ? { cardRecord: row.card_record, terminalId: row.terminal_id, seq: row.seq, batchId: row.batch_id }
          : undefined;
      },
      seqTaken: (terminalId, seq) => s.seqTaken.get(terminalId, seq) !== undefined,
      settledEntry: (terminalId, seq, previousHash) => {
        const row = s.settledEntry.get(terminalId, seq, asBuffer(previousHash)) as
          | { card_record: Buffer | null }
          | undefined;
        return row ? { cardRecord: row.card_record ?? new Uint8Array(0) } : undefined;
      },
    };
  }

  /** Open (creating if needed) and migrate. A new file is made private (0600). */
  static open(path: string): AcquirerStore {
    const isNew = path !== ":memory:" && !existsSync(path);
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      db.pragma("journal_mode = WAL");
      // better-sqlite3 leaves a WAL database at NORMAL, which can lose the last commits on power
      // loss; a settled batch was answered to a terminal, so it must survive: FULL, on every open.
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      db.pragma("busy_timeout = 5000");
      migrate(db);
    } catch (cause) {
      db?.close();
      throw new AcquirerError(
        "ACQ_ERR_STORE",
        `cannot open the acquirer database ${path}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    if (isNew) chmodSync(path, 0o600);
    return new AcquirerStore(path, db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
      setMeta: db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      batchById: db.prepare(
        "SELECT batch_id, content_hash, terminal_id, http_status, response FROM batches WHERE batch_id = ?",
      ),
      terminalHead: db.prepare("SELECT chain_head, last_batch_id FROM terminals WHERE terminal_id = ?"),
      acceptedByCounter: db.prepare(
        `SELECT card_record, terminal_id, seq, batch_id FROM records
         WHERE wallet_id = ? AND card_counter = ? AND status = 'accepted'`,
      ),
      seqTaken: db.prepare(
        "SELECT 1 FROM records WHERE terminal_id = ? AND seq = ? AND status IN ('accepted', 'voided')",
      ),
      settledEntry: db.prepare(
        `SELECT r.card_record FROM records r JOIN batches b ON b.batch_id = r.batch_id
         WHERE r.terminal_id = ? AND r.seq = ? AND r.previous_hash = ? AND b.status = 'settled' LIMIT 1`,
      ),
      isTerminalRevoked: db.prepare("SELECT 1 FROM revoked_terminals WHERE terminal_id = ?"),
      revokeTerminal: db.prepare(
        "INSERT INTO revoked_terminals (terminal_id, revoked_at, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      insertBatch: db.prepare(
        `INSERT INTO batches (batch_id, content_hash, terminal_id, merchant_id, received_at, received_day,
           created_at, status, reason, http_status, response, manifest, manifest_signature, record_count,
           accepted, rejected, differences)
         VALUES (@batchId, @contentHash, @terminalId, @merchantId, @receivedAt, @receivedDay, @createdAt,
           @status, @reason, @httpStatus, @response, @manifest, @manifestSignature, @recordCount,
           @accepted, @rejected, @differences)`,
      ),
      insertRecord: db.prepare(
        `INSERT INTO records (batch_id, position, terminal_id, merchant_id, seq, status, reason, wallet_id,
           card_counter, type, amount, currency, balance_after, record_time, business_day, card_record,
           card_signature, card_certificate, previous_hash, terminal_signature)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertBatchDay: db.prepare(
        "INSERT INTO batch_days (business_day, batch_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
      ),
      insertCardCertificate: db.prepare(
        `INSERT INTO card_certificates (fingerprint, der, wallet_id, serial) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      ),
      upsertTerminal: db.prepare(
        `INSERT INTO terminals (terminal_id, merchant_id, chain_head, last_batch_id, updated_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (terminal_id) DO UPDATE SET merchant_id = excluded.merchant_id,
           chain_head = excluded.chain_head, last_batch_id = excluded.last_batch_id,
           updated_at = excluded.updated_at`,
      ),
      insertClone: db.prepare(
        `INSERT INTO clones (wallet_id, card_counter, first_terminal_id, first_seq, first_batch_id,
           clone_terminal_id, clone_seq, clone_batch_id, detected_at, detected_day)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      settlement: db.prepare(
        `SELECT merchant_id AS merchantId, currency, COUNT(*) AS count, SUM(amount) AS amount FROM records
         WHERE business_day = ? AND status = 'accepted' GROUP BY merchant_id, currency
         ORDER BY merchant_id, currency`,
      ),
      batchesOfDay: db.prepare(
        `SELECT batch_id, terminal_id, merchant_id, received_at, status, reason, accepted, rejected, differences
         FROM batches b
         WHERE batch_id IN (SELECT batch_id FROM batch_days WHERE business_day = @date)
            OR (received_day = @date AND NOT EXISTS (SELECT 1 FROM batch_days d WHERE d.batch_id = b.batch_id))
         ORDER BY received_at, batch_id`,
      ),
      countersOfDay: db.prepare(
        `SELECT wallet_id, card_counter FROM records WHERE status = 'accepted' AND wallet_id IN
           (SELECT DISTINCT wallet_id FROM records WHERE business_day = ? AND status = 'accepted')
         ORDER BY wallet_id, card_counter`,
      ),
      seqsOfDay: db.prepare(
        `SELECT DISTINCT r.terminal_id, r.seq FROM records r JOIN batches b ON b.batch_id = r.batch_id
         WHERE b.status = 'settled' AND r.terminal_id IN
           (SELECT DISTINCT terminal_id FROM batches WHERE batch_id IN
             (SELECT batch_id FROM batch_days WHERE business_day = ?))
         ORDER BY r.terminal_id, r.seq`,
      ),
      clonesOfDay: db.prepare(
        `SELECT wallet_id, card_counter, detected_at, first_batch_id, clone_batch_id FROM clones
         WHERE detected_day = ? ORDER BY id`,
      ),
      ledger: db.prepare(
        `SELECT card_counter, type, amount, currency, balance_after, terminal_id, merchant_id, seq,
           record_time, batch_id FROM records WHERE wallet_id = ? AND status = 'accepted' ORDER BY card_counter`,
      ),
      clonesOfWallet: db.prepare(
        "SELECT card_counter, first_batch_id, clone_batch_id, detected_at FROM clones WHERE wallet_id = ? ORDER BY id",
      ),
      ping: db.prepare("SELECT 1").pluck(),
    };
  }

  /** A cheap query: the database answers. */
  healthy(): boolean {
    try {
      return this.#s.ping.get() === 1;
    } catch {
      return false;
    }
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  batch(batchId: string): StoredBatch | undefined {
    const row = this.#s.batchById.get(batchId) as
      | { batch_id: string; content_hash: string; terminal_id: string; http_status: number; response: string }
      | undefined;
    return row
      ? {
          batchId: row.batch_id,
          contentHash: row.content_hash,
          terminalId: row.terminal_id,
          httpStatus: row.http_status,
          response: row.response,
        }
      : undefined;
  }

  isTerminalRevoked(terminalId: string): boolean {
    return this.#s.isTerminalRevoked.get(terminalId) !== undefined;
  }

  /** Revoke a terminal id: its batches are refused from now on. Returns false when it already was. */
  revokeTerminal(terminalId: string, now: number, reason?: string): boolean {
    return this.#s.revokeTerminal.run(terminalId, now, reason ?? null).changes > 0;
  }

  /**
   * Write a final decision: the batch row with its answer and, for a settled batch, every entry,
   * the card certificates, the terminal's new chain head, clone events and the blocks they cause.
   * Call inside `transaction()` together with the decision, so the ledger read and written is one.
   * Returns the response text (what is answered now and replayed later).
   */
  applyDecision(
    decision: Extract<BatchDecision, { kind: "final" }>,
    ctx: ApplyContext,
    cards: ReadonlyMap<string, { der: Uint8Array; walletId: string; serial: string }>,
  ): string {
    const s = this.#s;
    const m = ctx.upload.manifest;
    const response = JSON.stringify(decision.result);
    s.insertBatch.run({
      batchId: m.batchId,
      contentHash: ctx.contentHash,
      terminalId: ctx.terminalId,
      merchantId: ctx.merchantId,
      receivedAt: ctx.now,
      receivedDay: businessDay(ctx.now),
      createdAt: m.createdAt,
      status: decision.result.status,
      reason: decision.result.reason ?? null,
      httpStatus: decision.httpStatus,
      response,
      manifest: JSON.stringify(m),
      manifestSignature: ctx.upload.manifestSignature,
      recordCount: ctx.upload.records.length,
      accepted: decision.result.accepted,
      rejected: decision.result.rejected,
      differences: JSON.stringify(decision.differences),
    });
    if (decision.result.status !== "settled") return response;

    for (const [fingerprint, card] of cards)
      s.insertCardCertificate.run(fingerprint, asBuffer(card.der), card.walletId, card.serial);
    const wire = ctx.upload.records;
    const days = new Set<string>();
    for (const d of decision.records) {
      const c = d.checked;
      const r = c.record;
      const w = wire[c.index]!;
      const day = r ? businessDay(r.time) : null;
      if (day) days.add(day);
      s.insertRecord.run(
        m.batchId,
        c.index,
        ctx.terminalId,
        ctx.merchantId,
        c.seq,
        d.verdict.status,
        d.verdict.reason ?? null,
        r?.walletId ?? null,
        r?.cardCounter ?? null,
        r?.type ?? null,
        r?.amount ?? null,
        r?.currency ?? null,
        r?.balanceAfter ?? null,
        r?.time ?? null,
        day,
        c.voided ? null : asBuffer(c.cardRecord),
        c.voided ? null : asBuffer(c.cardSignature),
        w.cardCertificate === "" ? null : w.cardCertificate,
        asBuffer(c.previousHash),
        asBuffer(c.terminalSignature),
      );
    }
    for (const day of days) s.insertBatchDay.run(day, m.batchId);
    s.upsertTerminal.run(ctx.terminalId, ctx.merchantId, Buffer.from(m.chainHead, "hex"), m.batchId, ctx.now);
    for (const clone of decision.clones) {
      s.insertClone.run(
        clone.walletId,
        clone.cardCounter,
        clone.first.terminalId,
        clone.first.seq,
        clone.first.batchId,
        ctx.terminalId,
        clone.cloneSeq,
        m.batchId,
        ctx.now,
        businessDay(ctx.now),
      );
      this.#block(clone.walletId, "clone", "clone-detection", ctx.now);
    }
    return response;
  }

  // -------------------------------------------------------------------------------------------
  // Hotlist

  #bumpHotlist(now: number): void {
    const version = Number(this.#s.getMeta.get("hotlist_version") ?? "0") + 1;
    this.#s.setMeta.run("hotlist_version", String(version));
    this.#s.setMeta.run("hotlist_issued_at", String(now));
  }

  #block(
    walletId: string,
    reason: BlockReason,
    source: "operator" | "clone-detection",
    now: number,
  ): boolean {
    const changed = this.#s.block.run(walletId, reason, source, now).changes > 0;
    this.#s.walletEvent.run(walletId, "block", reason, source, now);
    if (changed) this.#bumpHotlist(now);
    return changed;
  }

  /** Block a wallet (loss report). Returns false when it already was blocked (the list did not change). */
  blockWallet(walletId: string, reason: BlockReason, now: number): boolean {
    return this.transaction(() => this.#block(walletId, reason, "operator", now));
  }

  /** Release a wallet. Returns false when it was not blocked. */
  unblockWallet(walletId: string, now: number): boolean {
    return this.transaction(() => {
      const changed = this.#s.unblock.run(walletId).changes > 0;
      if (changed) {
        this.#s.walletEvent.run(walletId, "unblock", null, "operator", now);
        this.#bumpHotlist(now);
      }
      return changed;
    });
  }

  walletBlock(walletId: string): { reason: string; source: string; since: string } | null {
    const row = this.#s.blocked.get(walletId) as
      | { reason: string; source: string; blocked_at: number }
      | undefined;
    return row ? { reason: row.reason, source: row.source, since: iso(row.blocked_at) } : null;
  }

  /**
   * Record revoked card serials from the issuers' CRLs; the hotlist version moves when one is new
   * (and starts at 1 on a new database, so the first hotlist has a real issue time).
   */
  syncRevokedCardSerials(
    serials: readonly { serial: string; issuerFingerprint: string }[],
    now: number,
  ): number {
    return this.transaction(() => {
      let added = 0;
      for (const s of serials)
        added += this.#s.addRevokedSerial.run(s.serial, s.issuerFingerprint, now).changes;
      if (added > 0 || this.hotlistVersion() === 0) this.#bumpHotlist(now);
      return added;
    });
  }

  hotlistVersion(): number {
    return Number(this.#s.getMeta.get("hotlist_version") ?? "0");
  }

  hotlistState(): HotlistState {
    return this.transaction(() => {
      const serials = this.#s.revokedSerials.all() as { serial: string; added_at: number }[];
      return {
        version: this.hotlistVersion(),
        issuedAt: Number(this.#s.getMeta.get("hotlist_issued_at") ?? "0"),
        revokedSerials: serials.map((r) => r.serial),
        revokedSince: new Map(serials.map((r) => [r.serial, r.added_at])),
        blockedWallets: this.#s.blockedWallets.all() as string[],
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Reports

  settlementReport(date: string): SettlementReport {
    return this.transaction(() => {
      const settlement = (
        this.#s.settlement.all(date) as {
          merchantId: string;
          currency: number;
          count: number;
          amount: number;
        }[]
      ).map(settlementLine);
      const reconciliation = (
        this.#s.batchesOfDay.all({ date }) as {
          batch_id: string;
          terminal_id: string;
          merchant_id: string;
          received_at: number;
          status: "settled" | "rejected";
          reason: string | null;
          accepted: number;
          rejected: number;
          differences: string;
        }[]
      ).map(
        (b): BatchReconciliation => ({
          batchId: b.batch_id,
          terminalId: b.terminal_id,
          merchantId: b.merchant_id,
          receivedAt: iso(b.received_at),
          status: b.status,
          ...(b.reason ? { reason: b.reason } : {}),
          accepted: b.accepted,
          rejected: b.rejected,
          differences: JSON.parse(b.differences) as Difference[],
        }),
      );
      const outstandingCounters = groupGaps(
        this.#s.countersOfDay.all(date) as { wallet_id: string; card_counter: number }[],
        (r) => r.wallet_id,
        (r) => r.card_counter,
      ).map(([walletId, g]) => ({ walletId, gaps: g }));
      const outstandingSeqs = groupGaps(
        this.#s.seqsOfDay.all(date) as { terminal_id: string; seq: number }[],
        (r) => r.terminal_id,
        (r) => r.seq,
      ).map(([terminalId, g]) => ({ terminalId, gaps: g }));
      const clones = (
        this.#s.clonesOfDay.all(date) as {
          wallet_id: string;
          card_counter: number;
          detected_at: number;
          first_batch_id: string;
          clone_batch_id: string;
        }[]
      ).map((c) => ({
        walletId: c.wallet_id,
        cardCounter: c.card_counter,
        detectedAt: iso(c.detected_at),
        firstBatchId: c.first_batch_id,
        cloneBatchId: c.clone_batch_id,
      }));
      return { date, settlement, reconciliation, outstandingCounters, outstandingSeqs, clones };
    });
  }

  walletLedger(walletId: string): WalletLedger {
    return this.transaction(() => {
      const rows = this.#s.ledger.all(walletId) as {
        card_counter: number;
        type: number;
        amount: number;
        currency: number;
        balance_after: number;
        terminal_id: string;
        merchant_id: string;
        seq: number;
        record_time: number;
        batch_id: string;
      }[];
      const records: LedgerEntry[] = rows.map((r) => ({
        cardCounter: r.card_counter,
        type: r.type,
        amount: r.amount,
        currency: r.currency,
        balanceAfter: r.balance_after,
        terminalId: r.terminal_id,
        merchantId: r.merchant_id,
        seq: r.seq,
        time: r.record_time,
        batchId: r.batch_id,
      }));
      const balanceBreaks: { cardCounter: number; expected: number; actual: number }[] = [];
      for (let i = 1; i < records.length; i++) {
        const prev = records[i - 1]!;
        const cur = records[i]!;
        // Only consecutive debits can be checked: a gap may hide a load.
        if (cur.cardCounter !== prev.cardCounter + 1) continue;
        const expected = prev.balanceAfter - cur.amount;
        if (expected !== cur.balanceAfter)
          balanceBreaks.push({ cardCounter: cur.cardCounter, expected, actual: cur.balanceAfter });
      }
      const clones = (
        this.#s.clonesOfWallet.all(walletId) as {
          card_counter: number;
          first_batch_id: string;
          clone_batch_id: string;
          detected_at: number;
        }[]
      ).map((c) => ({
        cardCounter: c.card_counter,
        firstBatchId: c.first_batch_id,
        cloneBatchId: c.clone_batch_id,
        detectedAt: iso(c.detected_at),
      }));
      return {
        walletId,
        blocked: this.walletBlock(walletId),
        records,
        gaps: gaps(records.map((r) => r.cardCounter)),
        balanceBreaks,
        clones,
      };
    });
  }
}

function groupGaps<T>(
  rows: readonly T[],
  key: (r: T) => string,
  value: (r: T) => number,
): [string, Range[]][] {
  const out: [string, Range[]][] = [];
  let i = 0;
  while (i < rows.length) {
    const k = key(rows[i]!);
    const values: number[] = [];
    while (i < rows.length && key(rows[i]!) === k) values.push(value(rows[i++]!));
    const g = gaps(values);
    if (g.length > 0) out.push([k, g]);
  }
  return out;
}
