/**
 * The terminal's stores in memory: every port of terminal/application/ports.ts, with the
 * semantics of the SQLite adapters (terminal/adapters/sqlite/) that posd runs on, so use-case
 * tests need no database file. terminal/application/store-contract.test.ts runs the same
 * specification against both.
 *
 * What the SQLite schema enforces is enforced here too: a seq is never handed out twice, a
 * (wallet id, card counter) pair is stored once (TERM_ERR_DUPLICATE_RECORD), only a pending intent
 * is finalised (TERM_ERR_STORE), final records are chained by the same domain rule
 * (terminal/domain/chain.ts), and a failed call changes nothing. Values go in and come out as
 * copies, the way rows do, and outcomes are kept as JSON text.
 */
import { randomUUID } from "node:crypto";
import { hex } from "../protocol/bytes.js";
import { sha256 } from "../protocol/crypto.js";
import type { BatchResult } from "../protocol/wallet/batch.js";
import { isIssuerHotlist } from "../protocol/wallet/hotlist.js";
import { MAX_BATCH_REFUNDS } from "../protocol/wallet/refund.js";
import type {
  AttentionInfo,
  AttentionList,
  Batches,
  Clock,
  CloseBatchOptions,
  EcrPayments,
  EcrStoredValues,
  HotlistInfo,
  HotlistStore,
  LoadIntents,
  RecordLedger,
  RiskView,
  TerminalStores,
  VerifiedHotlist,
} from "../terminal/application/ports.js";
import { type BatchEntry, closeBatch, type OutgoingBatch, unresolvedWire } from "../terminal/domain/batch.js";
import {
  type ChainHead,
  type FinalRecord,
  GENESIS_HEAD,
  headOf,
  linkRecord,
} from "../terminal/domain/chain.js";
import type {
  EcrState,
  NewEcrPayment,
  StateTally,
  StoredEcrPayment,
} from "../terminal/domain/ecr-payment.js";
import type { LoadIntent, LoadIntentState, NewLoadIntent } from "../terminal/domain/loads.js";
import type {
  CompletedDebit,
  Intent,
  NewIntent,
  OfflineExposure,
  RecordSigner,
  StatusTally,
  StoredTransaction,
  TransactionStatus,
} from "../terminal/domain/records.js";
import { closeRefundOnlyBatch } from "../terminal/domain/refunds.js";
import { TerminalError } from "../terminal/errors.js";
import { MemoryRefunds, type RefundState } from "./memory-refunds.js";
import { MemoryStoredValues } from "./memory-stored-values.js";
import { MemoryWalletWatch } from "./memory-wallet-watch.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Row = Mutable<StoredTransaction>;
type EcrRow = Omit<Mutable<StoredEcrPayment>, "outcome"> & { outcome: string | undefined };
type BatchRow = Mutable<OutgoingBatch> & { firstChainIndex: number; order: number };

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const maybe = (b: Uint8Array | undefined) => (b === undefined ? undefined : copy(b));

/** What the four stores share: the contents of one terminal database. */
interface State extends RefundState {
  readonly clock: Clock;
  readonly rows: Map<number, Row>;
  lastSeq: number;
  head: ChainHead;
  readonly certificates: Map<string, Uint8Array>;
  readonly batches: Map<string, BatchRow>;
  lastUploadAt: number | undefined;
  readonly ecr: Map<string, EcrRow>;
  /** Pending intents marked unresolved: reason, when, the batch that reported them. */
  readonly unresolved: Map<number, { reason: string; at: number; batchId?: string }>;
}

/** Group `items` by `key` and sum count and amount; sorted by the key's fields, like SQL's ORDER BY. */
function tally<T extends { amount: number }, K extends Record<string, string | number>>(
  items: Iterable<T>,
  key: (item: T) => K,
): (K & { count: number; amount: number })[] {
  const groups = new Map<string, K & { count: number; amount: number }>();
  for (const item of items) {
    const k = key(item);
    const id = JSON.stringify(Object.values(k));
    const g = groups.get(id) ?? { ...k, count: 0, amount: 0 };
    groups.set(id, { ...g, count: g.count + 1, amount: g.amount + item.amount });
  }
  const order = (a: K, b: K) => {
    for (const f of Object.keys(a)) {
      const x = a[f]!;
      const y = b[f]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };
  return [...groups.values()].sort(order);
}

function snapshot(r: Row): StoredTransaction {
  return {
    ...r,
    transcriptHash: copy(r.transcriptHash),
    cardRecord: maybe(r.cardRecord),
    cardSignature: maybe(r.cardSignature),
    previousHash: maybe(r.previousHash),
    terminalSignature: maybe(r.terminalSignature),
    chainHash: maybe(r.chainHash),
  };
}

class MemoryRecords implements RecordLedger, RiskView {
  constructor(private readonly s: State) {}

  createIntent(intent: NewIntent): Intent {
    if (!(intent.amount > 0)) throw new Error("CHECK constraint failed: amount > 0");
    const seq = ++this.s.lastSeq;
    const createdAt = this.s.clock.now();
    this.s.rows.set(seq, {
      seq,
      status: "pending",
      walletId: intent.walletId,
      amount: intent.amount,
      currency: intent.currency,
      terminalTime: intent.terminalTime,
      transcriptHash: copy(intent.transcriptHash),
      reference: intent.reference,
      createdAt,
      resolvedAt: undefined,
      resolution: undefined,
      cardCounter: undefined,
      balanceAfter: undefined,
      cardRecord: undefined,
      cardSignature: undefined,
      cardCertificate: undefined,
      chainIndex: undefined,
      previousHash: undefined,
      terminalSignature: undefined,
      chainHash: undefined,
      batchId: undefined,
      uploadStatus: undefined,
      uploadReason: undefined,
      ...(intent.cardCounterSeen === undefined ? {} : { cardCounterSeen: intent.cardCounterSeen }),
    });
    if (intent.serviceId !== undefined) {
      const payment = this.s.ecr.get(intent.serviceId);
      if (payment && payment.seq === undefined) payment.seq = seq;
    }
    return { ...intent, seq, createdAt };
  }

  get(seq: number): StoredTransaction | undefined {
    const row = this.s.rows.get(seq);
    return row && snapshot(row);
  }

  pendingIntents(walletId?: string): Intent[] {
    return [...this.s.rows.values()]
      .filter((r) => r.status === "pending" && (walletId === undefined || r.walletId === walletId))
      .map((r) => ({
        seq: r.seq,
        walletId: r.walletId,
        amount: r.amount,
        currency: r.currency,
        terminalTime: r.terminalTime,
        transcriptHash: copy(r.transcriptHash),
        createdAt: r.createdAt,
        ...(r.reference === undefined ? {} : { reference: r.reference }),
        ...(r.cardCounterSeen === undefined ? {} : { cardCounterSeen: r.cardCounterSeen }),
        ...(r.unresolvedReason === undefined ? {} : { unresolved: this.s.unresolved.get(r.seq)! }),
      }));
  }

  markUnresolved(seq: number, reason: string): void {
    const r = this.s.rows.get(seq);
    if (r?.status !== "pending" || r.unresolvedReason !== undefined) return;
    r.unresolvedReason = reason;
    this.s.unresolved.set(seq, { reason, at: this.s.clock.now() });
  }

  lastCardCounter(walletId: string): number | undefined {
    let max: number | undefined;
    for (const r of this.s.rows.values()) {
      if (
        r.walletId === walletId &&
        r.cardCounter !== undefined &&
        (max === undefined || r.cardCounter > max)
      )
        max = r.cardCounter;
    }
    return max;
  }

  complete(seq: number, debit: CompletedDebit, sign: RecordSigner): StoredTransaction {
    const row = this.#pending(seq);
    for (const other of this.s.rows.values()) {
      if (other.walletId === row.walletId && other.cardCounter === debit.cardCounter) {
        throw new TerminalError(
          "TERM_ERR_DUPLICATE_RECORD",
          "a record with this wallet id and card counter is already stored",
          { details: { seq, cardCounter: debit.cardCounter } },
        );
      }
    }
    const fingerprint = hex(sha256(debit.cardCertificate));
    const final = {
      seq,
      status: "complete" as const,
      cardRecord: debit.cardRecord,
      cardSignature: debit.cardSignature,
    };
    this.#finalize(row, final, debit.resolution, sign);
    if (!this.s.certificates.has(fingerprint))
      this.s.certificates.set(fingerprint, copy(debit.cardCertificate));
    Object.assign(row, {
      cardCounter: debit.cardCounter,
      balanceAfter: debit.balanceAfter,
      cardRecord: copy(debit.cardRecord),
      cardSignature: copy(debit.cardSignature),
      cardCertificate: fingerprint,
    });
    return snapshot(row);
  }

  void(seq: number, resolution: string, sign: RecordSigner): StoredTransaction {
    const row = this.#pending(seq);
    this.#finalize(row, { seq, status: "voided" }, resolution, sign);
    return snapshot(row);
  }

  #pending(seq: number): Row {
    const row = this.s.rows.get(seq);
    if (row?.status !== "pending")
      throw new TerminalError("TERM_ERR_STORE", `seq ${seq} is not a pending intent`);
    return row;
  }

  /** Link and mark final; the caller has checked everything that can fail except signing. */
  #finalize(row: Row, final: FinalRecord, resolution: string, sign: RecordSigner): void {
    const link = linkRecord(this.s.head, final, sign);
    Object.assign(row, {
      status: final.status,
      resolvedAt: this.s.clock.now(),
      resolution,
      chainIndex: link.chainIndex,
      previousHash: copy(link.previousHash),
      terminalSignature: copy(link.terminalSignature),
      chainHash: copy(link.chainHash),
    });
    this.s.head = headOf(link);
  }

  list(options: { sinceSeq?: number; limit?: number } = {}): StoredTransaction[] {
    const since = options.sinceSeq ?? 0;
    const limit = options.limit ?? 1000;
    const rows = [...this.s.rows.values()].filter((r) => r.seq > since).reverse();
    return (limit < 0 ? rows : rows.slice(0, limit)).map(snapshot);
  }

  chainHead(): ChainHead {
    return { hash: copy(this.s.head.hash), index: this.s.head.index };
  }

  lastSeq(): number {
    return this.s.lastSeq;
  }

  counts(): Record<TransactionStatus, number> {
    const out: Record<TransactionStatus, number> = { pending: 0, complete: 0, voided: 0 };
    for (const r of this.s.rows.values()) out[r.status] += 1;
    return out;
  }

  offlineExposure(): OfflineExposure {
    const open = [...this.s.rows.values()].filter(
      (r) => r.status === "complete" && r.uploadStatus === undefined,
    );
    const byCurrency = tally(open, (r) => ({ currency: r.currency }));
    return {
      count: open.length,
      byCurrency,
      ...(open.length === 0 ? {} : { oldestAt: Math.min(...open.map((r) => r.createdAt)) }),
    };
  }
}

function toEntry(r: Row): BatchEntry {
  return {
    seq: r.seq,
    status: r.status as "complete" | "voided",
    amount: r.amount,
    currency: r.currency,
    cardRecord: maybe(r.cardRecord),
    cardSignature: maybe(r.cardSignature),
    cardCertificate: r.cardCertificate,
    chainIndex: r.chainIndex!,
    previousHash: copy(r.previousHash!),
    terminalSignature: copy(r.terminalSignature!),
    chainHash: copy(r.chainHash!),
  };
}

class MemoryBatches implements Batches {
  constructor(private readonly s: State) {}

  #chained(batchId: string | undefined): Row[] {
    return [...this.s.rows.values()]
      .filter((r) => r.chainIndex !== undefined && r.batchId === batchId)
      .sort((a, b) => a.chainIndex! - b.chainIndex!);
  }

  close(o: CloseBatchOptions): string[] {
    const ids: string[] = [];
    for (;;) {
      const unbatched = this.#chained(undefined);
      const rows = o.maxRecords < 0 ? unbatched : unbatched.slice(0, o.maxRecords);
      if (rows.length === 0) {
        const refundBatch = this.#closeRefunds(o);
        return refundBatch === undefined ? ids : [...ids, refundBatch];
      }
      const closedAt = this.s.clock.now();
      const unresolved = new MemoryRecords(this.s)
        .pendingIntents()
        .filter((i) => i.unresolved && i.unresolved.batchId === undefined);
      const header = {
        batchId: randomUUID(),
        terminalId: o.terminalId,
        merchantId: o.merchantId,
        closedAt,
        unresolvedIntents: unresolved.map(unresolvedWire),
      };
      const { manifest, manifestSignature } = closeBatch(rows.map(toEntry), header, o.sign);
      for (const u of unresolved) this.s.unresolved.get(u.seq)!.batchId = manifest.batchId;
      const firstChainIndex = rows[0]!.chainIndex!;
      this.s.batches.set(manifest.batchId, {
        batchId: manifest.batchId,
        status: "closed",
        manifest,
        manifestSignature,
        attempts: 0,
        firstChainIndex,
        order: this.s.batches.size,
      });
      for (const r of rows) r.batchId = manifest.batchId;
      ids.push(manifest.batchId);
    }
  }

  /** As BatchStore: with the newest batch never sent, else in a batch of their own. */
  #closeRefunds(o: CloseBatchOptions): string | undefined {
    const unbatched = [...this.s.refunds.values()]
      .filter((r) => r.batchId === undefined)
      .sort((a, b) => a.refundId - b.refundId)
      .slice(0, MAX_BATCH_REFUNDS);
    if (unbatched.length === 0 || this.s.head.index === 0) return undefined;
    const open = this.#pendingRows().at(-1);
    if (open && open.attempts === 0) {
      for (const r of unbatched) r.batchId = open.batchId;
      return undefined;
    }
    const { manifest, manifestSignature } = closeRefundOnlyBatch(
      this.s.head,
      {
        batchId: randomUUID(),
        terminalId: o.terminalId,
        merchantId: o.merchantId,
        closedAt: this.s.clock.now(),
      },
      o.sign,
    );
    this.s.batches.set(manifest.batchId, {
      batchId: manifest.batchId,
      status: "closed",
      manifest,
      manifestSignature,
      attempts: 0,
      firstChainIndex: this.s.head.index + 1,
      order: this.s.batches.size,
    });
    for (const r of unbatched) r.batchId = manifest.batchId;
    return manifest.batchId;
  }

  #pendingRows(): BatchRow[] {
    return [...this.s.batches.values()]
      .filter((b) => b.status === "closed")
      .sort((a, b) => a.firstChainIndex - b.firstChainIndex || a.order - b.order);
  }

  pending(): OutgoingBatch[] {
    return this.#pendingRows().map(({ firstChainIndex: _, order: __, ...b }) => structuredClone(b));
  }

  recordCount(batchId: string): number {
    return [...this.s.rows.values()].filter((r) => r.batchId === batchId).length;
  }

  entries(batchId: string): BatchEntry[] {
    return this.#chained(batchId).map(toEntry);
  }

  certificate(fingerprint: string): Uint8Array | undefined {
    return maybe(this.s.certificates.get(fingerprint));
  }

  countAttempt(batchId: string): void {
    const b = this.s.batches.get(batchId);
    if (b) b.attempts++;
  }

  applyResult(result: BatchResult): void {
    const rows = [...this.s.rows.values()].filter((r) => r.batchId === result.batchId);
    for (const v of result.records) {
      for (const r of rows.filter((x) => x.seq === v.seq)) {
        r.uploadStatus = v.status;
        r.uploadReason = v.reason;
      }
    }
    if (result.status === "rejected") {
      for (const r of rows.filter((x) => x.uploadStatus === undefined)) {
        r.uploadStatus = "rejected";
        r.uploadReason = result.reason ?? "batch rejected";
      }
      for (const u of this.s.unresolved.values()) if (u.batchId === result.batchId) delete u.batchId;
    }
    for (const v of result.refundsResolved ?? []) {
      const r = this.s.refunds.get(v.refundId);
      if (r?.uploadStatus !== "pending") continue;
      r.uploadStatus = v.status;
      r.uploadReason = v.reason;
    }
    for (const r of this.s.refunds.values()) {
      if (r.batchId !== result.batchId) continue;
      const v = result.refunds?.find((x) => x.refundId === r.refundId);
      if (v) {
        r.uploadStatus = v.status;
        r.uploadReason = v.reason;
      } else if (result.status === "rejected" && r.uploadStatus === undefined) r.batchId = undefined;
    }
    const batch = this.s.batches.get(result.batchId);
    if (batch) batch.status = result.status;
    this.s.lastUploadAt = this.s.clock.now();
  }

  lastUploadAt(): number | undefined {
    return this.s.lastUploadAt;
  }

  unbatched(): StatusTally[] {
    const rows = [...this.s.rows.values()].filter((r) => r.batchId === undefined);
    return tally(rows, (r) => ({ status: r.status, currency: r.currency }));
  }
}

/** A hotlist entry's key: the id and its issuer CA ("" for every issuer). */
const entryKey = (id: string, issuer: string | null) => `${id}\u0000${issuer ?? ""}`;

class MemoryHotlist implements HotlistStore {
  #wallets = new Set<string>();
  #serials = new Set<string>();
  #info: HotlistInfo | undefined;

  constructor(private readonly clock: Clock) {}

  replace(hotlist: VerifiedHotlist): void {
    this.#wallets = new Set(hotlist.blockedWallets.map((id) => entryKey(id, null)));
    this.#serials = new Set();
    if (isIssuerHotlist(hotlist))
      for (const e of hotlist.issuers) {
        for (const id of e.blockedWallets) this.#wallets.add(entryKey(id, e.issuer));
        for (const serial of e.revokedSerials) this.#serials.add(entryKey(serial, e.issuer));
      }
    else for (const serial of hotlist.revokedSerials) this.#serials.add(entryKey(serial, null));
    this.#info = {
      version: hotlist.version,
      issuedAt: hotlist.issuedAt,
      nextUpdate: hotlist.nextUpdate,
      fetchedAt: this.clock.now(),
    };
  }

  version(): number | undefined {
    return this.#info?.version;
  }

  info(): HotlistInfo | undefined {
    return this.#info;
  }

  size(): { wallets: number; serials: number } {
    return { wallets: this.#wallets.size, serials: this.#serials.size };
  }

  isHotlisted(walletId: string, serial: string, issuer: string): boolean {
    const listed = (set: Set<string>, id: string) =>
      set.has(entryKey(id, null)) || set.has(entryKey(id, issuer));
    return listed(this.#wallets, walletId) || listed(this.#serials, serial);
  }
}

class MemoryAttention implements AttentionList {
  #wallets = new Set<string>();
  #info: Omit<AttentionInfo, "wallets"> | undefined;
  constructor(readonly clock: Clock) {}
  replace(wallets: readonly string[], asOf: number): void {
    this.#wallets = new Set(wallets);
    this.#info = { asOf, fetchedAt: this.clock.now() };
  }
  has(walletId: string): boolean {
    return this.#wallets.has(walletId);
  }
  done(walletId: string): void {
    this.#wallets.delete(walletId);
  }
  info(): AttentionInfo | undefined {
    return this.#info ? { ...this.#info, wallets: this.#wallets.size } : undefined;
  }
}

class MemoryEcrPayments implements EcrPayments {
  constructor(private readonly s: State) {}

  create(p: NewEcrPayment): void {
    if (this.s.ecr.has(p.serviceId)) throw new Error("UNIQUE constraint failed: ecr_payments.service_id");
    const now = this.s.clock.now();
    this.s.ecr.set(p.serviceId, {
      serviceId: p.serviceId,
      requestHash: p.requestHash,
      amount: p.amount,
      currency: p.currency,
      reference: p.reference,
      state: "waiting_for_card",
      seq: undefined,
      outcome: undefined,
      createdAt: now,
      updatedAt: now,
    });
  }

  get(serviceId: string): StoredEcrPayment | undefined {
    const row = this.s.ecr.get(serviceId);
    if (!row) return undefined;
    const outcome =
      row.outcome === undefined ? undefined : (JSON.parse(row.outcome) as Record<string, unknown>);
    return { ...row, outcome };
  }

  update(
    serviceId: string,
    state: EcrState,
    change: { readonly seq?: number; readonly outcome?: Record<string, unknown> } = {},
  ): void {
    const row = this.s.ecr.get(serviceId);
    if (!row) return;
    if (change.seq !== undefined && !this.s.rows.has(change.seq))
      throw new Error("FOREIGN KEY constraint failed");
    row.state = state;
    if (change.seq !== undefined) row.seq = change.seq;
    if (change.outcome !== undefined) row.outcome = JSON.stringify(change.outcome);
    row.updatedAt = this.s.clock.now();
  }

  bySeq(seq: number): StoredEcrPayment | undefined {
    for (const row of this.s.ecr.values()) if (row.seq === seq) return this.get(row.serviceId);
    return undefined;
  }

  endInterrupted(outcome: Record<string, unknown>): void {
    const now = this.s.clock.now();
    for (const row of this.s.ecr.values()) {
      if (row.state === "waiting_for_card") Object.assign(row, { state: "aborted", updatedAt: now });
      else if (row.state === "in_progress" && row.seq !== undefined)
        Object.assign(row, { state: "torn", updatedAt: now });
      else if (row.state === "in_progress")
        Object.assign(row, { state: "error", outcome: JSON.stringify(outcome), updatedAt: now });
    }
  }

  tallySince(sinceMs: number): StateTally[] {
    const rows = [...this.s.ecr.values()].filter((r) => r.createdAt >= sinceMs);
    return tally(rows, (r) => ({ state: r.state, currency: r.currency }));
  }
}

/** LoadIntents in memory, with the SQLite store's rules (terminal/adapters/sqlite/load-store.ts). */
class MemoryLoads implements LoadIntents {
  readonly #rows = new Map<string, LoadIntent>();
  constructor(private readonly clock: Clock) {}

  begin(intent: NewLoadIntent): LoadIntent {
    if (this.#rows.has(intent.loadId)) throw new Error(`load ${intent.loadId} is already stored`);
    const row: LoadIntent = { ...intent, state: "pending", createdAt: this.clock.now() };
    this.#rows.set(intent.loadId, row);
    return row;
  }

  resolve(loadId: string, state: Exclude<LoadIntentState, "pending">, resolution?: string): void {
    const row = this.#rows.get(loadId);
    if (row?.state !== "pending") return;
    this.#rows.set(loadId, {
      ...row,
      state,
      resolvedAt: this.clock.now(),
      ...(resolution === undefined ? {} : { resolution }),
    });
  }

  keepProof(loadId: string, proof: { record: Uint8Array; signature: Uint8Array }): void {
    const row = this.#rows.get(loadId);
    if (row?.state === "pending")
      this.#rows.set(loadId, {
        ...row,
        proof: { record: copy(proof.record), signature: copy(proof.signature) },
      });
  }

  get(loadId: string): LoadIntent | undefined {
    return this.#rows.get(loadId);
  }

  inDoubt(): LoadIntent[] {
    return [...this.#rows.values()]
      .filter((r) => r.state === "pending")
      .sort((a, b) => a.createdAt - b.createdAt || a.loadId.localeCompare(b.loadId));
  }
}

export class MemoryTerminalStore implements TerminalStores {
  readonly records: MemoryRecords;
  readonly risk: MemoryRecords;
  readonly ecrPayments: EcrPayments;
  readonly ecrStoredValues: EcrStoredValues;
  readonly batches: Batches;
  readonly hotlist: HotlistStore;
  readonly attention: AttentionList;
  readonly walletWatch: MemoryWalletWatch;
  readonly loads: MemoryLoads;
  readonly refunds: MemoryRefunds;
  readonly clock: Clock;
  readonly #state: State;

  constructor(clock: Clock) {
    this.clock = clock;
    this.#state = {
      clock,
      rows: new Map(),
      lastSeq: 0,
      head: GENESIS_HEAD,
      certificates: new Map(),
      batches: new Map(),
      lastUploadAt: undefined,
      ecr: new Map(),
      unresolved: new Map(),
      refunds: new Map(),
      lastRefundId: 0,
    };
    this.records = new MemoryRecords(this.#state);
    this.risk = this.records;
    this.ecrPayments = new MemoryEcrPayments(this.#state);
    this.ecrStoredValues = new MemoryStoredValues(clock);
    this.batches = new MemoryBatches(this.#state);
    this.hotlist = new MemoryHotlist(clock);
    this.attention = new MemoryAttention(clock);
    this.walletWatch = new MemoryWalletWatch(clock);
    this.loads = new MemoryLoads(clock);
    this.refunds = new MemoryRefunds(this.#state, this.records, clock);
  }

  /** What a merchant editing the database does: overwrite a stored record's card record. */
  editCardRecord(seq: number, cardRecord: Uint8Array): void {
    const row = this.#state.rows.get(seq);
    if (!row) throw new Error(`no record with seq ${seq}`);
    row.cardRecord = copy(cardRecord);
  }
}
