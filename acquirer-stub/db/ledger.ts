/**
 * The ledger in the acquirer's database: every entry of every settled batch (`records`), accepted
 * or not (a rejected entry is evidence: a clone's record), the card certificates they were signed
 * under (`card_certificates`), and the clones found among them (`clones`). The database enforces
 * the verification's rules again: one accepted record per wallet and card counter, one accepted or
 * voided entry per terminal and seq.
 *
 * The verification decides synchronously against a LedgerView. `snapshot()` builds that view for
 * one batch with a few set queries inside the batch's transaction (the terminal's head, the
 * accepted records with the batch's wallet and counter pairs, the seqs of its range already
 * taken), instead of one query per record: on PostgreSQL that is a handful of round trips per
 * batch rather than 30,000. No transaction here: the store opens them.
 */

import { sql } from "kysely";
import { asBuffer, hex } from "../../protocol/bytes.js";
import type { BatchManifest } from "../../protocol/wallet/batch.js";
import { GENESIS_HASH } from "../../protocol/wallet/records.js";
import { gaps, type Range } from "../domain/settle.js";
import {
  businessDay,
  type CheckedRecord,
  type CloneEvent,
  type DecidedRecord,
  type LedgerView,
} from "../domain/verify.js";
import type { ApplyContext } from "./batches.js";
import { iso } from "./columns.js";
import type { WalletBlock } from "./hotlist.js";
import type { EngineKind } from "./migrations.js";
import type { Db } from "./schema.js";
import type { TerminalHead } from "./terminals.js";

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
  /** The widest block of the wallet id (at every issuer if it has one), or null. */
  readonly blocked: WalletBlock | null;
  /** Every block of the wallet id: at every issuer first, then per issuer CA. */
  readonly blocks: readonly WalletBlock[];
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

export type AcceptedRecord = NonNullable<ReturnType<LedgerView["acceptedRecord"]>>;

/** A verified card certificate of a batch, by fingerprint, with its issuer CA's fingerprint. */
export type BatchCards = ReadonlyMap<
  string,
  { der: Uint8Array; walletId: string; serial: string; issuerFingerprint: string }
>;

/** A wallet's blocks: at every issuer (`issuer` null) and at single issuers, each with its time. */
type WalletBlocks = readonly { issuer: string | null; blockedAt: number }[];

/** When a wallet's block applies to the cards of `issuer`: the earliest block at it or at every issuer. */
export function blockedFor(blocks: WalletBlocks | undefined, issuer: string): number | undefined {
  let at: number | undefined;
  for (const b of blocks ?? [])
    if ((b.issuer === null || b.issuer === issuer) && (at === undefined || b.blockedAt < at))
      at = b.blockedAt;
  return at;
}

/** The LedgerView of one batch, with the head it was read at (the compare-and-set's `from`). */
export interface LedgerSnapshot {
  readonly view: LedgerView;
  readonly head: TerminalHead | undefined;
}

/** Rows per multi-row INSERT and keys per IN list: well under both engines' parameter limits. */
const CHUNK = 400;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const pairKey = (walletId: string, cardCounter: number) => `${walletId}\u0000${cardCounter}`;

/** The key of one stored entry in Ledger.cardIssuers' answer. */
export const recordKey = (e: { terminalId: string; batchId: string; seq: number }) =>
  `${e.terminalId}\u0000${e.batchId}\u0000${e.seq}`;

const acceptedOf = (r: {
  card_record: Buffer | null;
  terminal_id: string;
  seq: number;
  batch_id: string;
}): AcceptedRecord => ({
  cardRecord: r.card_record ?? new Uint8Array(0),
  terminalId: r.terminal_id,
  seq: r.seq,
  batchId: r.batch_id,
});

export class Ledger {
  constructor(
    readonly db: Db,
    readonly kind: EngineKind,
  ) {}

  async acceptedRecord(walletId: string, cardCounter: number): Promise<AcceptedRecord | undefined> {
    const found = await this.acceptedRecords([{ walletId, cardCounter }]);
    return found.get(pairKey(walletId, cardCounter));
  }

  /** The accepted records with these wallet and counter pairs, by pair. */
  async acceptedRecords(
    pairs: readonly { walletId: string; cardCounter: number }[],
  ): Promise<Map<string, AcceptedRecord>> {
    const found = new Map<string, AcceptedRecord>();
    if (this.kind === "postgres" && pairs.length > 0) {
      // One query for every pair: a join on two arrays, which the planner runs as index lookups
      // (a long row-value IN list made it scan, and a 10,000-record batch took seconds).
      const wallets = pairs.map((p) => p.walletId);
      const counters = pairs.map((p) => p.cardCounter);
      const { rows } = await sql<{
        wallet_id: string;
        card_counter: number;
        card_record: Buffer | null;
        terminal_id: string;
        seq: number;
        batch_id: string;
      }>`SELECT r.wallet_id, r.card_counter, r.card_record, r.terminal_id, r.seq, r.batch_id
         FROM records r JOIN unnest(${wallets}::text[], ${counters}::bigint[]) AS k (w, c)
           ON r.wallet_id = k.w AND r.card_counter = k.c
         WHERE r.status = 'accepted'`.execute(this.db);
      for (const r of rows) found.set(pairKey(r.wallet_id!, r.card_counter!), acceptedOf(r));
      return found;
    }
    for (const chunk of chunks(pairs)) {
      const rows = await this.db
        .selectFrom("records")
        .select(["wallet_id", "card_counter", "card_record", "terminal_id", "seq", "batch_id"])
        .where("status", "=", "accepted")
        .where((eb) =>
          eb(
            eb.refTuple("wallet_id", "card_counter"),
            "in",
            chunk.map((p) => eb.tuple(p.walletId, p.cardCounter)),
          ),
        )
        .execute();
      for (const r of rows) found.set(pairKey(r.wallet_id!, r.card_counter!), acceptedOf(r));
    }
    return found;
  }

  /**
   * Everything `decideBatch` reads for this batch, read now (inside the batch's transaction).
   * `head` is read by the caller (the terminals part) and passed in.
   */
  async snapshot(
    terminalId: string,
    manifest: BatchManifest,
    checked: readonly CheckedRecord[],
    head: TerminalHead | undefined,
  ): Promise<LedgerSnapshot> {
    const seqs = checked.map((c) => c.seq);
    const lo = Math.min(...seqs);
    const hi = Math.max(...seqs);
    const taken = new Set<number>();
    const settled = new Map<string, Uint8Array>();
    if (checked.length > 0) {
      const rows = await this.db
        .selectFrom("records")
        .select("seq")
        .where("terminal_id", "=", terminalId)
        .where("status", "in", ["accepted", "voided"])
        .where("seq", ">=", lo)
        .where("seq", "<=", hi)
        .execute();
      for (const r of rows) taken.add(r.seq);
      const continues = manifest.previousHash === hex(head?.chainHead ?? GENESIS_HASH);
      if (!continues) {
        // Replay detection only: entries of settled batches with the same seq and previous hash.
        const prior = await this.db
          .selectFrom("records as r")
          .innerJoin("batches as b", (j) =>
            j.onRef("b.terminal_id", "=", "r.terminal_id").onRef("b.batch_id", "=", "r.batch_id"),
          )
          .select(["r.seq", "r.previous_hash", "r.card_record"])
          .where("r.terminal_id", "=", terminalId)
          .where("b.status", "=", "settled")
          .where("r.seq", ">=", lo)
          .where("r.seq", "<=", hi)
          .execute();
        for (const p of prior)
          if (!settled.has(`${p.seq}:${hex(p.previous_hash)}`))
            settled.set(`${p.seq}:${hex(p.previous_hash)}`, p.card_record ?? new Uint8Array(0));
      }
    }
    const pairs = checked.flatMap((c) =>
      c.record && !c.voided ? [{ walletId: c.record.walletId, cardCounter: c.record.cardCounter }] : [],
    );
    const accepted = await this.acceptedRecords(pairs);
    const blocked = await this.blockedAt([...new Set(pairs.map((p) => p.walletId))]);
    const view: LedgerView = {
      terminalHead: (id) => (id === terminalId ? head : undefined),
      acceptedRecord: (walletId, cardCounter) => accepted.get(pairKey(walletId, cardCounter)),
      seqTaken: (id, seq) => id === terminalId && taken.has(seq),
      settledEntry: (id, seq, previousHash) => {
        if (id !== terminalId) return undefined;
        const cardRecord = settled.get(`${seq}:${hex(previousHash)}`);
        return cardRecord ? { cardRecord } : undefined;
      },
      blockedAt: (walletId, issuer) => blockedFor(blocked.get(walletId), issuer),
    };
    return { view, head };
  }

  /** The blocks of each of these wallets (at every issuer, at single issuers), for those on the hotlist. */
  async blockedAt(walletIds: readonly string[]): Promise<Map<string, WalletBlocks>> {
    const out = new Map<string, { issuer: string | null; blockedAt: number }[]>();
    for (const ids of chunks(walletIds)) {
      const rows = await this.db
        .selectFrom("blocked_wallets")
        .select(["wallet_id", "issuer_fingerprint", "blocked_at"])
        .where("wallet_id", "in", ids)
        .execute();
      for (const r of rows) {
        const list = out.get(r.wallet_id) ?? [];
        list.push({ issuer: r.issuer_fingerprint, blockedAt: Number(r.blocked_at) });
        out.set(r.wallet_id, list);
      }
    }
    return out;
  }

  /**
   * The issuer CA of the card that signed each of these stored entries, keyed by recordKey. An
   * entry without a card, or whose certificate was stored before issuers were (issuer_fingerprint
   * null, until a batch brings it again), has none: a block it causes then holds at every issuer,
   * as blocks did before.
   */
  async cardIssuers(
    entries: readonly { terminalId: string; batchId: string; seq: number }[],
  ): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const groups = new Map<string, { terminalId: string; batchId: string; seqs: Set<number> }>();
    for (const e of entries) {
      const key = `${e.terminalId}\u0000${e.batchId}`;
      const g = groups.get(key) ?? { terminalId: e.terminalId, batchId: e.batchId, seqs: new Set<number>() };
      g.seqs.add(e.seq);
      groups.set(key, g);
    }
    for (const g of groups.values())
      for (const chunk of chunks([...g.seqs])) {
        const rows = await this.db
          .selectFrom("records as r")
          .innerJoin("card_certificates as c", "c.fingerprint", "r.card_certificate")
          .select(["r.seq", "c.issuer_fingerprint"])
          .where("r.terminal_id", "=", g.terminalId)
          .where("r.batch_id", "=", g.batchId)
          .where("r.seq", "in", chunk)
          .execute();
        for (const r of rows)
          if (r.issuer_fingerprint !== null)
            out.set(recordKey({ ...g, seq: Number(r.seq) }), r.issuer_fingerprint);
      }
    return out;
  }

  async insertCardCertificates(cards: BatchCards): Promise<void> {
    const rows = [...cards].map(([fingerprint, card]) => ({
      fingerprint,
      der: asBuffer(card.der),
      wallet_id: card.walletId,
      serial: card.serial,
      issuer_fingerprint: card.issuerFingerprint,
    }));
    // A certificate stored before 008 has no issuer yet: the first batch that brings it again fills it.
    for (const chunk of chunks(rows))
      await this.db
        .insertInto("card_certificates")
        .values(chunk)
        .onConflict((oc) =>
          oc
            .column("fingerprint")
            .doUpdateSet((eb) => ({ issuer_fingerprint: eb.ref("excluded.issuer_fingerprint") }))
            .where("card_certificates.issuer_fingerprint", "is", null),
        )
        .execute();
  }

  /** Store every entry of a settled batch, in upload order. Returns the business days they fall on. */
  async insertEntries(ctx: ApplyContext, entries: readonly DecidedRecord[]): Promise<Set<string>> {
    const batchId = ctx.upload.manifest.batchId;
    const wire = ctx.upload.records;
    const days = new Set<string>();
    const rows = entries.map((d) => {
      const c = d.checked;
      const r = c.record;
      const w = wire[c.index]!;
      const day = r ? businessDay(r.time) : null;
      if (day) days.add(day);
      return {
        batch_id: batchId,
        position: c.index,
        terminal_id: ctx.terminalId,
        merchant_id: ctx.merchantId,
        seq: c.seq,
        status: d.verdict.status,
        reason: d.verdict.reason ?? null,
        wallet_id: r?.walletId ?? null,
        card_counter: r?.cardCounter ?? null,
        type: r?.type ?? null,
        amount: r?.amount ?? null,
        currency: r?.currency ?? null,
        balance_after: r?.balanceAfter ?? null,
        record_time: r?.time ?? null,
        business_day: day,
        card_record: c.voided ? null : asBuffer(c.cardRecord),
        card_signature: c.voided ? null : asBuffer(c.cardSignature),
        card_certificate: w.cardCertificate === "" ? null : w.cardCertificate,
        previous_hash: asBuffer(c.previousHash),
        terminal_signature: asBuffer(c.terminalSignature),
      };
    });
    for (const chunk of chunks(rows)) await this.db.insertInto("records").values(chunk).execute();
    return days;
  }

  /** Record a clone found in the batch being settled (the store blocks its wallet with it). */
  async insertClone(clone: CloneEvent, ctx: ApplyContext): Promise<void> {
    await this.db
      .insertInto("clones")
      .values({
        wallet_id: clone.walletId,
        card_counter: clone.cardCounter,
        first_terminal_id: clone.first.terminalId,
        first_seq: clone.first.seq,
        first_batch_id: clone.first.batchId,
        clone_terminal_id: ctx.terminalId,
        clone_seq: clone.cloneSeq,
        clone_batch_id: ctx.upload.manifest.batchId,
        detected_at: ctx.now,
        detected_day: businessDay(ctx.now),
      })
      .execute();
  }

  /** A wallet's accepted records with their gaps, balance breaks and clones; `blocks` from the hotlist. */
  async walletLedger(walletId: string, blocks: readonly WalletBlock[]): Promise<WalletLedger> {
    const rows = await this.db
      .selectFrom("records")
      .select([
        "card_counter",
        "type",
        "amount",
        "currency",
        "balance_after",
        "terminal_id",
        "merchant_id",
        "seq",
        "record_time",
        "batch_id",
      ])
      .where("wallet_id", "=", walletId)
      .where("status", "=", "accepted")
      .orderBy("card_counter")
      .execute();
    const records: LedgerEntry[] = rows.map((r) => ({
      cardCounter: r.card_counter!,
      type: r.type!,
      amount: r.amount!,
      currency: r.currency!,
      balanceAfter: r.balance_after!,
      terminalId: r.terminal_id,
      merchantId: r.merchant_id,
      seq: r.seq,
      time: r.record_time!,
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
    const clones = await this.db
      .selectFrom("clones")
      .select(["card_counter", "first_batch_id", "clone_batch_id", "detected_at"])
      .where("wallet_id", "=", walletId)
      .orderBy("id")
      .execute();
    return {
      walletId,
      blocked: blocks[0] ?? null,
      blocks,
      records,
      gaps: gaps(records.map((r) => r.cardCounter)),
      balanceBreaks,
      clones: clones.map((c) => ({
        cardCounter: c.card_counter,
        firstBatchId: c.first_batch_id,
        cloneBatchId: c.clone_batch_id,
        detectedAt: iso(c.detected_at),
      })),
    };
  }
}
