/**
 * Intents and records in the terminal's SQLite file (the `transactions` table): the RecordLedger
 * and RiskView ports, plus the meta values the daemon's status reads.
 *
 * One row per terminal seq. A row is born `pending` (the intent, written and made durable before
 * DEBIT is sent, in the same transaction that allocates its seq: AUTOINCREMENT never hands a seq
 * out twice) and ends `complete` (a verified, card-signed record) or `voided` (the card proved it
 * never committed). Final rows are linked into the hash chain (terminal/domain/chain.ts) and
 * counter-signed in the same transaction that finalises them; UNIQUE(wallet_id, card_counter)
 * refuses a replayed card answer.
 *
 * All methods are synchronous: better-sqlite3 transactions never span an await. Statements are
 * prepared once, when the store is built.
 */
import { hex } from "../../../protocol/bytes.js";
import { sha256 } from "../../../protocol/crypto.js";
import type Database from "../../../protocol/sqlite.js";
import type { RecordLedger, RiskView } from "../../application/ports.js";
import { type ChainHead, GENESIS_HEAD, headOf, linkRecord } from "../../domain/chain.js";
import type {
  AmountTally,
  CompletedDebit,
  Intent,
  NewIntent,
  OfflineExposure,
  RecordSigner,
  StoredTransaction,
  TransactionStatus,
} from "../../domain/records.js";
import { TerminalError } from "../../errors.js";
import type { Connection } from "./database.js";
import { type TransactionRow, toIntent, toTransaction } from "./rows.js";

interface Finalisation {
  status: "complete" | "voided";
  resolution: string;
  cardCounter?: number;
  balanceAfter?: number;
  cardRecord?: Uint8Array;
  cardSignature?: Uint8Array;
  certificate?: { fingerprint: string; der: Uint8Array };
}

const buffer = (b: Uint8Array | undefined) => (b ? Buffer.from(b) : null);

export class RecordStore implements RecordLedger, RiskView {
  readonly #c: Connection;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(c: Connection) {
    this.#c = c;
    this.#stmt = prepare(c.db);
  }

  createIntent(intent: NewIntent): Intent {
    return this.#c.db
      .transaction(() => {
        const created = this.#insertIntent(intent);
        if (intent.serviceId !== undefined) this.#stmt.linkEcrPayment.run(created.seq, intent.serviceId);
        return created;
      })
      .immediate();
  }

  #insertIntent(intent: NewIntent): Intent {
    const createdAt = this.#c.clock.now();
    const info = this.#stmt.insertIntent.run({
      walletId: intent.walletId,
      amount: intent.amount,
      currency: intent.currency,
      terminalTime: intent.terminalTime,
      transcriptHash: Buffer.from(intent.transcriptHash),
      reference: intent.reference ?? null,
      cardCounterSeen: intent.cardCounterSeen ?? null,
      createdAt,
    });
    return { ...intent, seq: Number(info.lastInsertRowid), createdAt };
  }

  get(seq: number): StoredTransaction | undefined {
    const row = this.#stmt.bySeq.get(seq) as TransactionRow | undefined;
    return row && toTransaction(row);
  }

  pendingIntents(walletId?: string): Intent[] {
    const rows = (
      walletId === undefined ? this.#stmt.pendingAll.all() : this.#stmt.pendingByWallet.all(walletId)
    ) as TransactionRow[];
    return rows.map(toIntent);
  }

  markUnresolved(seq: number, reason: string): void {
    this.#stmt.markUnresolved.run(reason, this.#c.clock.now(), seq);
  }

  lastCardCounter(walletId: string): number | undefined {
    const row = this.#stmt.maxCounter.get(walletId) as { c: number | null };
    return row.c ?? undefined;
  }

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

  void(seq: number, resolution: string, sign: RecordSigner): StoredTransaction {
    return this.#finalize(seq, sign, { status: "voided", resolution });
  }

  #finalize(seq: number, sign: RecordSigner, f: Finalisation): StoredTransaction {
    const run = this.#c.db.transaction(() => {
      const link = linkRecord(this.chainHead(), { seq, ...f }, sign);
      if (f.certificate) this.#stmt.insertCert.run(f.certificate.fingerprint, Buffer.from(f.certificate.der));
      const changed = this.#stmt.finalize.run({
        seq,
        status: f.status,
        resolvedAt: this.#c.clock.now(),
        resolution: f.resolution,
        cardCounter: f.cardCounter ?? null,
        balanceAfter: f.balanceAfter ?? null,
        cardRecord: buffer(f.cardRecord),
        cardSignature: buffer(f.cardSignature),
        cardCertificate: f.certificate?.fingerprint ?? null,
        chainIndex: link.chainIndex,
        previousHash: Buffer.from(link.previousHash),
        terminalSignature: Buffer.from(link.terminalSignature),
        chainHash: Buffer.from(link.chainHash),
      }).changes;
      if (changed !== 1) throw new TerminalError("TERM_ERR_STORE", `seq ${seq} is not a pending intent`);
      const head = headOf(link);
      this.#c.meta.set("chain_head", hex(head.hash));
      this.#c.meta.set("chain_index", String(head.index));
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

  chainHead(): ChainHead {
    const hash = this.#c.meta.get("chain_head");
    const index = this.#c.meta.get("chain_index");
    if (hash === undefined || index === undefined) return GENESIS_HEAD;
    return { hash: new Uint8Array(Buffer.from(hash, "hex")), index: Number(index) };
  }

  list(options: { sinceSeq?: number; limit?: number } = {}): StoredTransaction[] {
    return (this.#stmt.list.all(options.sinceSeq ?? 0, options.limit ?? 1000) as TransactionRow[]).map(
      toTransaction,
    );
  }

  offlineExposure(): OfflineExposure {
    const rows = this.#stmt.exposure.all() as (AmountTally & { oldest: number })[];
    const oldest = rows.length === 0 ? undefined : Math.min(...rows.map((r) => r.oldest));
    return {
      count: rows.reduce((n, r) => n + r.count, 0),
      byCurrency: rows.map(({ currency, count, amount }) => ({ currency, count, amount })),
      ...(oldest === undefined ? {} : { oldestAt: oldest }),
    };
  }

  /** The highest seq ever allocated (0 when none): AUTOINCREMENT's counter, not MAX(seq). */
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

  // ---- SQLite only, not a port (the daemon's status, maintenance) -------------------------------

  getMeta(key: string): string | undefined {
    return this.#c.meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.#c.meta.set(key, value);
  }
}

function prepare(db: Database.Database) {
  return {
    insertIntent: db.prepare(
      `INSERT INTO transactions (status, wallet_id, amount, currency, terminal_time, transcript_hash, reference, card_counter_seen, created_at)
       VALUES ('pending', @walletId, @amount, @currency, @terminalTime, @transcriptHash, @reference, @cardCounterSeen, @createdAt)`,
    ),
    linkEcrPayment: db.prepare("UPDATE ecr_payments SET seq = ? WHERE service_id = ? AND seq IS NULL"),
    bySeq: db.prepare("SELECT * FROM transactions WHERE seq = ?"),
    pendingByWallet: db.prepare(
      "SELECT * FROM transactions WHERE status = 'pending' AND wallet_id = ? ORDER BY seq",
    ),
    pendingAll: db.prepare("SELECT * FROM transactions WHERE status = 'pending' ORDER BY seq"),
    markUnresolved: db.prepare(
      `UPDATE transactions SET unresolved_reason = ?, unresolved_at = ?
       WHERE seq = ? AND status = 'pending' AND unresolved_reason IS NULL`,
    ),
    insertCert: db.prepare("INSERT OR IGNORE INTO certificates (fingerprint, der) VALUES (?, ?)"),
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
    exposure: db.prepare(
      `SELECT currency, COUNT(*) AS count, SUM(amount) AS amount, MIN(created_at) AS oldest FROM transactions
       WHERE status = 'complete' AND upload_status IS NULL GROUP BY currency ORDER BY currency`,
    ),
  };
}
