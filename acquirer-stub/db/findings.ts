/**
 * Rolled-back or edited wallets terminals caught and declined (`terminal_findings`), as they
 * arrived with a batch (acquirer-stub/domain/findings.ts checks the proof). Keyed by terminal id
 * and the terminal's finding id: a batch re-sent with the same findings changes nothing.
 */
import type Database from "../../protocol/sqlite.js";
import type { WalletFindingWire } from "../../protocol/wallet/batch.js";
import type { CheckedFinding } from "../domain/findings.js";

export interface StoredFinding
  extends Omit<WalletFindingWire, "id" | "cardRecord" | "cardSignature" | "cardCertificate"> {
  readonly terminalId: string;
  readonly findingId: number;
  readonly merchantId: string;
  /** null: the card-signed record proves what the finding claims; else why it does not (ACQ_ERR_*). */
  readonly reason: string | null;
  /** The acquirer already accepted another record with this wallet and counter: a proven fork. */
  readonly fork: boolean;
  readonly batchId: string;
  /** Unix seconds. */
  readonly receivedAt: number;
}

interface Row {
  terminal_id: string;
  finding_id: number;
  merchant_id: string;
  wallet_id: string;
  kind: "rollback" | "balance-forged";
  seq: number;
  seen_seq: number;
  counter_seen: number;
  balance_seen: number;
  counter_claimed: number;
  balance_claimed: number;
  amount: number;
  currency: number;
  found_at: number;
  reason: string | null;
  fork: number;
  batch_id: string;
  received_at: number;
}

export class Findings {
  readonly #s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#s = statements(db);
  }

  /** Store the findings of one batch; returns how many were new. */
  insert(
    checked: readonly (CheckedFinding & { fork: boolean })[],
    ctx: { terminalId: string; merchantId: string; batchId: string; now: number },
  ): number {
    let added = 0;
    for (const c of checked) {
      const f = c.finding;
      added += this.#s.insert.run({
        terminalId: ctx.terminalId,
        findingId: f.id,
        merchantId: ctx.merchantId,
        walletId: f.walletId,
        kind: f.kind,
        seq: f.seq,
        seenSeq: f.seenSeq,
        counterSeen: f.counterSeen,
        balanceSeen: f.balanceSeen,
        counterClaimed: f.counterClaimed,
        balanceClaimed: f.balanceClaimed,
        amount: f.amount,
        currency: f.currency,
        cardRecord: Buffer.from(c.cardRecord),
        cardSignature: Buffer.from(f.cardSignature, "hex"),
        cardCertificate: Buffer.from(f.cardCertificate, "base64"),
        foundAt: f.foundAt,
        reason: c.reason ?? null,
        fork: c.fork ? 1 : 0,
        batchId: ctx.batchId,
        receivedAt: ctx.now,
      }).changes;
    }
    return added;
  }

  /** Every finding, or one wallet's, oldest first. */
  list(walletId?: string): StoredFinding[] {
    const rows = (walletId === undefined ? this.#s.list.all() : this.#s.byWallet.all(walletId)) as Row[];
    return rows.map((r) => ({
      terminalId: r.terminal_id,
      findingId: r.finding_id,
      merchantId: r.merchant_id,
      walletId: r.wallet_id,
      kind: r.kind,
      seq: r.seq,
      seenSeq: r.seen_seq,
      counterSeen: r.counter_seen,
      balanceSeen: r.balance_seen,
      counterClaimed: r.counter_claimed,
      balanceClaimed: r.balance_claimed,
      amount: r.amount,
      currency: r.currency,
      foundAt: r.found_at,
      reason: r.reason,
      fork: r.fork === 1,
      batchId: r.batch_id,
      receivedAt: r.received_at,
    }));
  }
}

const COLUMNS = `terminal_id, finding_id, merchant_id, wallet_id, kind, seq, seen_seq, counter_seen,
  balance_seen, counter_claimed, balance_claimed, amount, currency, found_at, reason, fork, batch_id,
  received_at`;

function statements(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT OR IGNORE INTO terminal_findings (terminal_id, finding_id, merchant_id, wallet_id, kind, seq,
         seen_seq, counter_seen, balance_seen, counter_claimed, balance_claimed, amount, currency,
         card_record, card_signature, card_certificate, found_at, reason, fork, batch_id, received_at)
       VALUES (@terminalId, @findingId, @merchantId, @walletId, @kind, @seq, @seenSeq, @counterSeen,
         @balanceSeen, @counterClaimed, @balanceClaimed, @amount, @currency, @cardRecord, @cardSignature,
         @cardCertificate, @foundAt, @reason, @fork, @batchId, @receivedAt)`,
    ),
    list: db.prepare(
      `SELECT ${COLUMNS} FROM terminal_findings ORDER BY received_at, terminal_id, finding_id`,
    ),
    byWallet: db.prepare(
      `SELECT ${COLUMNS} FROM terminal_findings WHERE wallet_id = ? ORDER BY received_at, terminal_id, finding_id`,
    ),
  };
}
