/**
 * Rolled-back or edited wallets terminals caught and declined (`terminal_findings`), as they
 * arrived with a batch (acquirer-stub/domain/findings.ts checks the proof). Keyed by terminal id
 * and the terminal's finding id: a batch re-sent with the same findings changes nothing.
 */
import type { WalletFindingWire } from "../../protocol/wallet/batch.js";
import type { CheckedFinding } from "../domain/findings.js";
import type { Db, TerminalFindingsTable } from "./schema.js";

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

/** A stored finding as read back (the proof's bytes stay in the database). */
type Row = Omit<TerminalFindingsTable, "card_record" | "card_signature" | "card_certificate">;

export class Findings {
  constructor(readonly db: Db) {}

  /** Store the findings of one batch; returns how many were new. */
  async insert(
    checked: readonly (CheckedFinding & { fork: boolean })[],
    ctx: { terminalId: string; merchantId: string; batchId: string; now: number },
  ): Promise<number> {
    let added = 0;
    for (const c of checked) {
      const f = c.finding;
      const r = await this.db
        .insertInto("terminal_findings")
        .values({
          terminal_id: ctx.terminalId,
          finding_id: f.id,
          merchant_id: ctx.merchantId,
          wallet_id: f.walletId,
          kind: f.kind,
          seq: f.seq,
          seen_seq: f.seenSeq,
          counter_seen: f.counterSeen,
          balance_seen: f.balanceSeen,
          counter_claimed: f.counterClaimed,
          balance_claimed: f.balanceClaimed,
          amount: f.amount,
          currency: f.currency,
          card_record: Buffer.from(c.cardRecord),
          card_signature: Buffer.from(f.cardSignature, "hex"),
          card_certificate: Buffer.from(f.cardCertificate, "base64"),
          found_at: f.foundAt,
          reason: c.reason ?? null,
          fork: c.fork ? 1 : 0,
          batch_id: ctx.batchId,
          received_at: ctx.now,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      added += Number(r.numInsertedOrUpdatedRows ?? 0n);
    }
    return added;
  }

  /** Every finding, or one wallet's, oldest first. */
  async list(walletId?: string): Promise<StoredFinding[]> {
    let q = this.db
      .selectFrom("terminal_findings")
      .select([
        "terminal_id",
        "finding_id",
        "merchant_id",
        "wallet_id",
        "kind",
        "seq",
        "seen_seq",
        "counter_seen",
        "balance_seen",
        "counter_claimed",
        "balance_claimed",
        "amount",
        "currency",
        "found_at",
        "reason",
        "fork",
        "batch_id",
        "received_at",
      ])
      .orderBy("received_at")
      .orderBy("terminal_id")
      .orderBy("finding_id");
    if (walletId !== undefined) q = q.where("wallet_id", "=", walletId);
    const rows: Row[] = await q.execute();
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
