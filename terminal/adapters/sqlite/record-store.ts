/**
 * The terminal's durable record store (better-sqlite3, WAL, synchronous=FULL on every open).
 *
 * One row per terminal seq. A row is born `pending` (the intent, written and made durable before
 * DEBIT is sent, in the same transaction that allocates its seq) and ends `complete` (a verified,
 * card-signed record) or `voided` (the card proved it never committed). Final rows are appended to
 * a hash chain and counter-signed by the terminal in the same transaction that finalises them, so
 * the acquirer can detect an edited, deleted or reordered record.
 *
 * All methods are synchronous: better-sqlite3 transactions never span an await.
 */
import { chmodSync, existsSync } from "node:fs";
import { hex } from "../../../protocol/bytes.js";
import { sha256 } from "../../../protocol/crypto.js";
import Database from "../../../protocol/sqlite.js";
import {
  CHAIN_STATUS,
  type ChainEntry,
  chainHash,
  GENESIS_HASH,
  terminalRecordMessage,
} from "../../../protocol/wallet/records.js";
import { TerminalError } from "../../errors.js";
import { MIGRATIONS } from "./migrations.js";

export type TransactionStatus = "pending" | "complete" | "voided";

export interface NewIntent {
  readonly walletId: string;
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  /** Unix seconds, as signed to the card. */
  readonly terminalTime: number;
  readonly transcriptHash: Uint8Array;
  readonly reference?: string;
}

export interface Intent extends NewIntent {
  readonly seq: number;
  readonly createdAt: number;
}

export interface CompletedDebit {
  readonly cardCounter: number;
  readonly balanceAfter: number;
  readonly cardRecord: Uint8Array;
  readonly cardSignature: Uint8Array;
  readonly cardCertificate: Uint8Array;
  /** How it completed: "online" (the DEBIT answer) or "recovered" (from the card's log on a later tap). */
  readonly resolution: string;
}

export interface StoredTransaction {
  readonly seq: number;
  readonly status: TransactionStatus;
  readonly walletId: string;
  readonly amount: number;
  readonly currency: number;
  readonly terminalTime: number;
  readonly transcriptHash: Uint8Array;
  readonly reference: string | undefined;
  readonly createdAt: number;
  readonly resolvedAt: number | undefined;
  readonly resolution: string | undefined;
  readonly cardCounter: number | undefined;
  readonly balanceAfter: number | undefined;
  readonly cardRecord: Uint8Array | undefined;
  readonly cardSignature: Uint8Array | undefined;
  readonly cardCertificate: string | undefined;
  readonly chainIndex: number | undefined;
  readonly previousHash: Uint8Array | undefined;
  readonly terminalSignature: Uint8Array | undefined;
  readonly chainHash: Uint8Array | undefined;
  readonly batchId: string | undefined;
  readonly uploadStatus: string | undefined;
  readonly uploadReason: string | undefined;
}

/** Signs a terminal record message with the terminal key (synchronous: it runs inside a transaction). */
export type RecordSigner = (message: Uint8Array) => Uint8Array;

export interface StoreTotals {
  readonly count: number;
  readonly byCurrency: readonly { currency: number; count: number; amount: number }[];
}

interface Row {
  seq: number;
  status: TransactionStatus;
  wallet_id: string;
  amount: number;
  currency: number;
  terminal_time: number;
  transcript_hash: Buffer;
  reference: string | null;
  created_at: number;
  resolved_at: number | null;
  resolution: string | null;
  card_counter: number | null;
  balance_after: number | null;
  card_record: Buffer | null;
  card_signature: Buffer | null;
  card_certificate: string | null;
  chain_index: number | null;
  previous_hash: Buffer | null;
  terminal_signature: Buffer | null;
  chain_hash: Buffer | null;
  batch_id: string | null;
  upload_status: string | null;
  upload_reason: string | null;
}

const u8 = (b: Buffer | null): Uint8Array | undefined => (b === null ? undefined : new Uint8Array(b));
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function toTransaction(r: Row): StoredTransaction {
  return {
    seq: r.seq,
    status: r.status,
    walletId: r.wallet_id,
    amount: r.amount,
    currency: r.currency,
    terminalTime: r.terminal_time,
    transcriptHash: new Uint8Array(r.transcript_hash),
    reference: opt(r.reference),
    createdAt: r.created_at,
    resolvedAt: opt(r.resolved_at),
    resolution: opt(r.resolution),
    cardCounter: opt(r.card_counter),
    balanceAfter: opt(r.balance_after),
    cardRecord: u8(r.card_record),
    cardSignature: u8(r.card_signature),
    cardCertificate: opt(r.card_certificate),
    chainIndex: opt(r.chain_index),
    previousHash: u8(r.previous_hash),
    terminalSignature: u8(r.terminal_signature),
    chainHash: u8(r.chain_hash),
    batchId: opt(r.batch_id),
    uploadStatus: opt(r.upload_status),
    uploadReason: opt(r.upload_reason),
  };
}

export interface RecordStoreOptions {
  /** Milliseconds since the epoch (injected so tests control time). */
  now?: () => number;
}

export class RecordStore {
  readonly path: string;
  readonly db: Database.Database;
  readonly #now: () => number;
  readonly #stmt: ReturnType<RecordStore["prepare"]>;

  private constructor(path: string, db: Database.Database, options: RecordStoreOptions) {
    this.path = path;
    this.db = db;
    this.#now = options.now ?? Date.now;
    this.#stmt = this.prepare();
  }

  /** The terminal's clock (milliseconds): what everything stored with this terminal is dated by. */
  now(): number {
    return this.#now();
  }

  /** Open (creating if needed) and migrate. The file is made private (0600). */
  static open(path: string, options: RecordStoreOptions = {}): RecordStore {
    const isNew = path !== ":memory:" && !existsSync(path);
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma("journal_mode = WAL");
      // better-sqlite3 defaults a WAL database to NORMAL, which loses the last commits on power
      // loss: a record the customer heard a beep for must survive, so FULL on every open.
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      db.pragma("busy_timeout = 5000");
      migrate(db);
      const check = db.pragma("quick_check", { simple: true });
      if (check !== "ok") throw new Error(`quick_check: ${String(check)}`);
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
    return new RecordStore(path, db, options);
  }

  private prepare() {
    const db = this.db;
    return {
      insertIntent: db.prepare(
        `INSERT INTO transactions (status, wallet_id, amount, currency, terminal_time, transcript_hash, reference, created_at)
         VALUES ('pending', @walletId, @amount, @currency, @terminalTime, @transcriptHash, @reference, @createdAt)`,
      ),
      bySeq: db.prepare("SELECT * FROM transactions WHERE seq = ?"),
      pendingByWallet: db.prepare(
        "SELECT * FROM transactions WHERE status = 'pending' AND wallet_id = ? ORDER BY seq",
      ),
      pendingAll: db.prepare("SELECT * FROM transactions WHERE status = 'pending' ORDER BY seq"),
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      insertCert: db.prepare("INSERT OR IGNORE INTO certificates (fingerprint, der) VALUES (?, ?)"),
      getCert: db.prepare("SELECT der FROM certificates WHERE fingerprint = ?"),
      finalize: db.prepare(
        `UPDATE transactions SET status = @status, resolved_at = @resolvedAt, resolution = @resolution,
           card_counter = @cardCounter, balance_after = @balanceAfter, card_record = @cardRecord,
           card_signature = @cardSignature, card_certificate = @cardCertificate, chain_index = @chainIndex,
           previous_hash = @previousHash, terminal_signature = @terminalSignature, chain_hash = @chainHash
         WHERE seq = @seq AND status = 'pending'`,
      ),
      list: db.prepare("SELECT * FROM transactions WHERE seq > ? ORDER BY seq DESC LIMIT ?"),
      maxCounter: db.prepare(
        "SELECT MAX(card_counter) AS c FROM transactions WHERE wallet_id = ? AND card_counter IS NOT NULL",
      ),
      lastSeq: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'transactions'"),
      counts: db.prepare("SELECT status, COUNT(*) AS n FROM transactions GROUP BY status"),
      unbatchedTotals: db.prepare(
        `SELECT currency, COUNT(*) AS count, SUM(amount) AS amount FROM transactions
         WHERE status = 'complete' AND batch_id IS NULL GROUP BY currency ORDER BY currency`,
      ),
      exposure: db.prepare(
        `SELECT currency, COUNT(*) AS count, SUM(amount) AS amount, MIN(created_at) AS oldest FROM transactions
         WHERE status = 'complete' AND upload_status IS NULL GROUP BY currency ORDER BY currency`,
      ),
    };
  }

  /**
   * Allocate the next terminal seq and store the pending intent, durably, in one transaction.
   * Call before sending DEBIT: if the process dies after this, recovery finds the intent.
   */
  createIntent(intent: NewIntent): Intent {
    const createdAt = this.#now();
    const info = this.#stmt.insertIntent.run({
      walletId: intent.walletId,
      amount: intent.amount,
      currency: intent.currency,
      terminalTime: intent.terminalTime,
      transcriptHash: Buffer.from(intent.transcriptHash),
      reference: intent.reference ?? null,
      createdAt,
    });
    return { ...intent, seq: Number(info.lastInsertRowid), createdAt };
  }

  get(seq: number): StoredTransaction | undefined {
    const row = this.#stmt.bySeq.get(seq) as Row | undefined;
    return row && toTransaction(row);
  }

  pendingIntents(walletId?: string): Intent[] {
    const rows = (
      walletId === undefined ? this.#stmt.pendingAll.all() : this.#stmt.pendingByWallet.all(walletId)
    ) as Row[];
    return rows.map((r) => ({
      seq: r.seq,
      walletId: r.wallet_id,
      amount: r.amount,
      currency: r.currency,
      terminalTime: r.terminal_time,
      transcriptHash: new Uint8Array(r.transcript_hash),
      createdAt: r.created_at,
      ...(r.reference === null ? {} : { reference: r.reference }),
    }));
  }

  /** Highest card counter stored for a wallet (a later answer must be higher). */
  lastCardCounter(walletId: string): number | undefined {
    const row = this.#stmt.maxCounter.get(walletId) as { c: number | null };
    return row.c ?? undefined;
  }

  /** Make a pending intent complete with its verified card record; chain and counter-sign it. */
  complete(seq: number, debit: CompletedDebit, sign: RecordSigner): StoredTransaction {
    const fingerprint = hex(sha256(debit.cardCertificate));
    return this.#finalize(seq, sign, {
      status: "complete",
      resolution: debit.resolution,
      cardCounter: debit.cardCounter,
      balanceAfter: debit.balanceAfter,
      cardRecord: debit.cardRecord,
      cardSignature: debit.cardSignature,
      certificate: { fingerprint, der: debit.cardCertificate },
    });
  }

  /** Void a pending intent: the card proved it did not commit (refusal, or not in its log). */
  void(seq: number, resolution: string, sign: RecordSigner): StoredTransaction {
    return this.#finalize(seq, sign, { status: "voided", resolution });
  }

  #finalize(
    seq: number,
    sign: RecordSigner,
    f: {
      status: "complete" | "voided";
      resolution: string;
      cardCounter?: number;
      balanceAfter?: number;
      cardRecord?: Uint8Array;
      cardSignature?: Uint8Array;
      certificate?: { fingerprint: string; der: Uint8Array };
    },
  ): StoredTransaction {
    const run = this.db.transaction(() => {
      const head = this.chainHead();
      const entry: ChainEntry = {
        previousHash: head.hash,
        terminalSeq: seq,
        status: f.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
        cardRecord: f.cardRecord ?? new Uint8Array(0),
        cardSignature: f.cardSignature ?? new Uint8Array(0),
      };
      const terminalSignature = sign(terminalRecordMessage(entry));
      const next = chainHash(entry, terminalSignature);
      if (f.certificate) this.#stmt.insertCert.run(f.certificate.fingerprint, Buffer.from(f.certificate.der));
      const changed = this.#stmt.finalize.run({
        seq,
        status: f.status,
        resolvedAt: this.#now(),
        resolution: f.resolution,
        cardCounter: f.cardCounter ?? null,
        balanceAfter: f.balanceAfter ?? null,
        cardRecord: f.cardRecord ? Buffer.from(f.cardRecord) : null,
        cardSignature: f.cardSignature ? Buffer.from(f.cardSignature) : null,
        cardCertificate: f.certificate?.fingerprint ?? null,
        chainIndex: head.index + 1,
        previousHash: Buffer.from(head.hash),
        terminalSignature: Buffer.from(terminalSignature),
        chainHash: Buffer.from(next),
      }).changes;
      if (changed !== 1) throw new TerminalError("TERM_ERR_STORE", `seq ${seq} is not a pending intent`);
      this.#stmt.setMeta.run("chain_head", hex(next));
      this.#stmt.setMeta.run("chain_index", String(head.index + 1));
    });
    try {
      run.immediate();
    } catch (e) {
      if (e instanceof TerminalError) throw e;
      const message = (e as Error).message;
      if (/UNIQUE constraint failed: transactions\.wallet_id, transactions\.card_counter/.test(message)) {
        throw new TerminalError(
          "TERM_ERR_DUPLICATE_RECORD",
          "a record with this wallet id and card counter is already stored",
          {
            cause: e,
            details: { seq, cardCounter: f.cardCounter },
          },
        );
      }
      throw new TerminalError("TERM_ERR_STORE", `cannot store seq ${seq}: ${message}`, { cause: e });
    }
    return this.get(seq)!;
  }

  /** The last chain hash and its index (32 zero bytes and 0 before the first final record). */
  chainHead(): { hash: Uint8Array; index: number } {
    const head = this.#stmt.getMeta.get("chain_head") as { value: string } | undefined;
    const index = this.#stmt.getMeta.get("chain_index") as { value: string } | undefined;
    if (!head || !index) return { hash: GENESIS_HASH, index: 0 };
    return { hash: new Uint8Array(Buffer.from(head.value, "hex")), index: Number(index.value) };
  }

  certificate(fingerprint: string): Uint8Array | undefined {
    const row = this.#stmt.getCert.get(fingerprint) as { der: Buffer } | undefined;
    return row && new Uint8Array(row.der);
  }

  /** Newest first. */
  list(options: { sinceSeq?: number; limit?: number } = {}): StoredTransaction[] {
    return (this.#stmt.list.all(options.sinceSeq ?? 0, options.limit ?? 1000) as Row[]).map(toTransaction);
  }

  /** The highest seq ever allocated (0 when none). */
  lastSeq(): number {
    const row = this.#stmt.lastSeq.get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  counts(): Record<TransactionStatus, number> {
    const out: Record<TransactionStatus, number> = { pending: 0, complete: 0, voided: 0 };
    for (const r of this.#stmt.counts.all() as { status: TransactionStatus; n: number }[])
      out[r.status] = r.n;
    return out;
  }

  /** Complete records not yet in a batch, per currency. */
  unbatchedTotals(): StoreTotals {
    const byCurrency = this.#stmt.unbatchedTotals.all() as {
      currency: number;
      count: number;
      amount: number;
    }[];
    return { count: byCurrency.reduce((n, c) => n + c.count, 0), byCurrency };
  }

  /**
   * Value at risk: complete records the acquirer has not yet accepted (or rejected), per currency,
   * and when the oldest of them was stored (ms). What the offline risk limits are checked against.
   */
  offlineExposure(): {
    count: number;
    byCurrency: { currency: number; count: number; amount: number }[];
    oldestAt?: number;
  } {
    const rows = this.#stmt.exposure.all() as {
      currency: number;
      count: number;
      amount: number;
      oldest: number;
    }[];
    const oldest = rows.length === 0 ? undefined : Math.min(...rows.map((r) => r.oldest));
    return {
      count: rows.reduce((n, r) => n + r.count, 0),
      byCurrency: rows.map(({ currency, count, amount }) => ({ currency, count, amount })),
      ...(oldest === undefined ? {} : { oldestAt: oldest }),
    };
  }

  getMeta(key: string): string | undefined {
    return (this.#stmt.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#stmt.setMeta.run(key, value);
  }

  integrityCheck(): string {
    return String(this.db.pragma("integrity_check", { simple: true }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database): void {
  const current = Number(db.pragma("user_version", { simple: true }));
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this posd (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
