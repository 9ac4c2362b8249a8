/**
 * What the terminal's use cases need from the world, in domain terms. posd's SQLite stores
 * (SqliteTerminalStore and its parts) implement these; test-support/memory-terminal-store.ts
 * implements them in memory for use-case tests, and terminal/application/store-contract.test.ts
 * holds both to the same behaviour.
 *
 * Every method is synchronous: a SQLite transaction never spans an await, so whatever a method
 * promises ("in one transaction") holds when it returns. Stores date what they write with the
 * Clock they were built with, the same clock the rest of the terminal reads.
 */
import type {
  AttentionAnswer,
  AttentionRequest,
  CardRecordProof,
  CommandCompletion,
  CommandSignRequest,
  CommandState,
  LoadCommand,
  LoadRequest,
  LoadState,
  PresentedAnswer,
  PresentedRequest,
  ReversalCommand,
  ReversalOutcome,
  ReversalRequest,
  SignedIssuerCommand,
} from "../../protocol/platform/api.js";
import type { BatchResult, BatchUpload } from "../../protocol/wallet/batch.js";
import type {
  Hotlist,
  HotlistWire,
  IssuerHotlist,
  IssuerHotlistWire,
} from "../../protocol/wallet/hotlist.js";
import type { BatchEntry, OutgoingBatch } from "../domain/batch.js";
import type { ChainHead } from "../domain/chain.js";
import type { EcrState, NewEcrPayment, StateTally, StoredEcrPayment } from "../domain/ecr-payment.js";
import type {
  NewEcrStoredValue,
  StoredEcrStoredValue,
  StoredValueState,
} from "../domain/ecr-stored-value.js";
import type { LoadIntent, LoadIntentState, NewLoadIntent } from "../domain/loads.js";
import type {
  CompletedDebit,
  Intent,
  NewIntent,
  OfflineExposure,
  RecordSigner,
  StatusTally,
  StoredTransaction,
  TransactionStatus,
} from "../domain/records.js";
import type { NewRefund, StoredRefund } from "../domain/refunds.js";
import type { NewWalletFinding, SeenWallet, WalletFinding } from "../domain/wallet-watch.js";

/** The terminal's clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/**
 * Intents and records, one per terminal seq. A seq is never handed out twice (not even after a
 * crash or a restore), and a (wallet id, card counter) pair is stored at most once.
 */
export interface RecordLedger {
  /**
   * Allocate the next terminal seq and store the pending intent, durably, in one transaction.
   * Called before DEBIT is sent: if the process dies after this, the intent is found again.
   */
  createIntent(intent: NewIntent): Intent;
  /**
   * Make a pending intent complete with its verified card record, counter-signed and appended to
   * the hash chain in the same transaction. A torn intent resolved from the card's log completes
   * the same way, with resolution "recovered". Throws TERM_ERR_DUPLICATE_RECORD for a (wallet,
   * counter) already stored and TERM_ERR_STORE when `seq` is not pending; either changes nothing.
   */
  complete(seq: number, debit: CompletedDebit, sign: RecordSigner): StoredTransaction;
  /** Void a pending intent (the card proved it did not commit), chained like a complete record. */
  void(seq: number, resolution: string, sign: RecordSigner): StoredTransaction;
  /** Pending intents, oldest first; only the wallet's when `walletId` is given. */
  pendingIntents(walletId?: string): Intent[];
  /**
   * Mark a pending intent unresolved: the card's log no longer covers it, so only the back office
   * can settle it. It stays pending; the next batch closed carries it (Batches.close). Once set,
   * the reason is kept (a second call changes nothing).
   */
  markUnresolved(seq: number, reason: string): void;
  /** Highest card counter stored for a wallet (a later answer must be higher). */
  lastCardCounter(walletId: string): number | undefined;
  get(seq: number): StoredTransaction | undefined;
  /** Newest first: seqs above `sinceSeq` (default 0), at most `limit` (default 1000). */
  list(options?: { sinceSeq?: number; limit?: number }): StoredTransaction[];
  /** The last final record's chain hash and index. */
  chainHead(): ChainHead;
  /** The highest seq ever allocated, 0 before the first intent (a seq is never reused). */
  lastSeq(): number;
  /** How many intents and records are in each status, 0 for a status with none. */
  counts(): Readonly<Record<TransactionStatus, number>>;
}

/** What the offline risk limits are checked against. */
export interface RiskView {
  /** Complete records the acquirer has not answered yet, per currency, and the oldest one's date. */
  offlineExposure(): OfflineExposure;
}

/** Payments the cash register asked for, by service id, kept across restarts. */
export interface EcrPayments {
  /** Store a new payment, waiting for a card. Throws if the service id is already stored. */
  create(payment: NewEcrPayment): void;
  get(serviceId: string): StoredEcrPayment | undefined;
  /** The payment whose intent has this seq. */
  bySeq(seq: number): StoredEcrPayment | undefined;
  /** Move to `state`; a seq or outcome given replaces the stored one, one not given keeps it. */
  update(
    serviceId: string,
    state: EcrState,
    change?: { readonly seq?: number; readonly outcome?: Record<string, unknown> },
  ): void;
  /**
   * After a restart, nothing is running: a payment still waiting for a card is aborted; one in
   * progress whose intent was written (it has a seq: DEBIT may have reached the card) becomes torn
   * and follows its intent; one in progress without a seq ends in error with `outcome`, as nothing
   * was sent to the card.
   */
  endInterrupted(outcome: Record<string, unknown>): void;
  /** Payments created at or after `sinceMs`, by state and currency. */
  tallySince(sinceMs: number): StateTally[];
}

/**
 * Stored-value operations the cash register asked for (load, reverse, balance), by service id, kept
 * across restarts (terminal/domain/ecr-stored-value.ts).
 */
export interface EcrStoredValues {
  /** Store a new operation, waiting for a card. Throws if the service id is already stored. */
  create(operation: NewEcrStoredValue): void;
  get(serviceId: string): StoredEcrStoredValue | undefined;
  /** Move to `state`; a load id or outcome given replaces the stored one, one not given keeps it. */
  update(
    serviceId: string,
    state: StoredValueState,
    change?: { readonly loadId?: string; readonly outcome?: Record<string, unknown> },
  ): void;
  /** Operations waiting for a card or in progress (after a restart: the ones cut off), oldest first. */
  unfinished(): StoredEcrStoredValue[];
}

export interface CloseBatchOptions {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly maxRecords: number;
  /** Signs the manifest with the terminal key. */
  readonly sign: RecordSigner;
}

/**
 * Upload batches. A batch is closed once over the oldest final records not yet batched (chain
 * order) and re-sent under the same id until the acquirer answers.
 */
export interface Batches {
  /** Close every unbatched final record into batches of at most maxRecords, one transaction each. */
  close(options: CloseBatchOptions): string[];
  /** Batches closed but not yet answered, oldest first. */
  pending(): OutgoingBatch[];
  recordCount(batchId: string): number;
  /** The batch's records in chain order. */
  entries(batchId: string): BatchEntry[];
  /** A card certificate (DER) by fingerprint. */
  certificate(fingerprint: string): Uint8Array | undefined;
  countAttempt(batchId: string): void;
  /** Store the acquirer's answer (per-record verdicts, the batch status) and the upload time. */
  applyResult(result: BatchResult): void;
  /** When an upload was last answered (ms). */
  lastUploadAt(): number | undefined;
  /** Records not yet in a batch (pending ones included), by status and currency. */
  unbatched(): StatusTally[];
}

/** What the terminal knows of the hotlist it holds (its freshness is the signed issue time). */
export interface HotlistInfo {
  readonly version: number;
  /** Unix seconds, signed by the acquirer. */
  readonly issuedAt: number;
  /** Unix seconds, signed; undefined when the acquirer did not say. */
  readonly nextUpdate: number | undefined;
  /** When this terminal stored it (ms). */
  readonly fetchedAt: number;
}

/**
 * A verified hotlist, of either format (protocol/wallet/hotlist.ts): format 2 keyed by issuer CA,
 * or format 1 (an acquirer without /v2/hotlist), whose every entry holds at every issuer.
 */
export type VerifiedHotlist = IssuerHotlist | Hotlist;

/** What the acquirer answered at GET /v2/hotlist, or at GET /v1/hotlist when it has no /v2. */
export type FetchedHotlist = IssuerHotlistWire | HotlistWire;

/**
 * The acquirer's hotlist as the terminal enforces it offline. Each entry is kept with its issuer
 * CA (the fingerprint of its certificate) or as "every issuer": the entries of a format-1 list, and
 * those a terminal held before it knew issuers, so that an upgraded terminal never forgets a block.
 */
export interface HotlistStore {
  /** Replace the stored hotlist by `hotlist`, in one transaction (dated by the store's clock). */
  replace(hotlist: VerifiedHotlist): void;
  version(): number | undefined;
  /** The stored hotlist's version and dates; undefined before the first sync. */
  info(): HotlistInfo | undefined;
  /** Entries stored (a wallet id blocked at two issuers counts twice). */
  size(): { wallets: number; serials: number };
  /**
   * On the tap path, for a card whose chain went through the issuer CA `issuer` (fingerprint): its
   * wallet id blocked at that issuer or at every issuer, or its certificate serial revoked by that
   * issuer (or listed for every issuer). A serial or wallet id listed for another issuer only does
   * not match: issuers' serials and wallet ids may collide.
   */
  isHotlisted(walletId: string, serial: string, issuer: string): boolean;
}

/** When the attention list was fetched, and what it held. */
export interface AttentionInfo {
  readonly wallets: number;
  /** Platform time of the list, unix seconds. */
  readonly asOf: number;
  /** When this terminal stored it (ms). */
  readonly fetchedAt: number;
}

/**
 * The wallets the platform has work for at their next online presentation (issuer commands,
 * loads in doubt; POST /v1/platform/attention), as this terminal last fetched them. A plain payment
 * at an online terminal presents a listed wallet to the platform before its DEBIT; every other tap
 * stays offline.
 */
export interface AttentionList {
  /** Replace the stored list, in one transaction (dated by the store's clock). */
  replace(wallets: readonly string[], asOf: number): void;
  /** On the tap path, after SELECT. */
  has(walletId: string): boolean;
  /** The wallet was presented and the platform's work for it done here: not presented again until listed again. */
  done(walletId: string): void;
  /** Undefined before the first fetch. */
  info(): AttentionInfo | undefined;
}

/**
 * Per wallet, what this terminal last verified (counter, balance), its own blocklist of wallets it
 * caught rolled back or forged, and those findings until the acquirer has them
 * (terminal/domain/wallet-watch.ts). The local blocklist is this terminal's, not the acquirer's
 * hotlist: a hotlist sync never changes it.
 */
export interface WalletWatch {
  /** The newest consistent record verified for the wallet, undefined before the first. */
  last(walletId: string): SeenWallet | undefined;
  /** Remember a verified, consistent record; one with a lower seq than the stored one is ignored. */
  remember(seen: SeenWallet): void;
  /** On the tap path, right after authentication. */
  isBlocked(walletId: string): boolean;
  /** Store the finding and put its wallet on the local blocklist, in one transaction. */
  flag(finding: NewWalletFinding): WalletFinding;
  /** Findings not yet answered by the acquirer whose seq is one of `seqs`, oldest first. */
  unreported(seqs: readonly number[]): WalletFinding[];
  /** The acquirer answered the batch that carried these findings. */
  markReported(ids: readonly number[], batchId: string): void;
  /** Wallets on the local blocklist, and the finding that put each there. */
  blocklist(): { walletId: string; findingId: number; since: number }[];
}

/** This terminal's loads (terminal/domain/loads.ts): each is written before the platform is asked. */
export interface LoadIntents {
  /** Durable before it returns. A load id already stored is an error (ids are random, 8 bytes). */
  begin(intent: NewLoadIntent): LoadIntent;
  /** A pending load ends; a load already resolved keeps its first resolution. */
  resolve(loadId: string, state: Exclude<LoadIntentState, "pending">, resolution?: string): void;
  /** Keep the card's verified record of a pending load until the platform books it. */
  keepProof(loadId: string, proof: { record: Uint8Array; signature: Uint8Array }): void;
  get(loadId: string): LoadIntent | undefined;
  /** Pending loads, oldest first: `posd status` lists them as loads in doubt. */
  inDoubt(): LoadIntent[];
}

/**
 * The issuer's wallet platform, as an online terminal sees it (protocol/platform/api.ts). Every call
 * is idempotent by its id. A refusal is a TerminalError TERM_ERR_LOAD_REFUSED with the platform's
 * code in `details.code`; no answer after retries, TERM_ERR_ACQUIRER_UNREACHABLE.
 */
export interface WalletPlatform {
  presented(walletId: string, request: PresentedRequest): Promise<PresentedAnswer>;
  requestLoad(request: LoadRequest): Promise<LoadCommand>;
  completeLoad(loadId: string, proof: CardRecordProof): Promise<LoadState>;
  requestReversal(loadId: string, request: ReversalRequest): Promise<ReversalCommand>;
  completeReversal(loadId: string, outcome: ReversalOutcome): Promise<LoadState>;
  signCommand(commandId: string, request: CommandSignRequest): Promise<SignedIssuerCommand>;
  completeCommand(commandId: string, completion: CommandCompletion): Promise<CommandState>;
  /** The wallets the platform has work for (fetched on the hotlist schedule). */
  attention(request: AttentionRequest): Promise<AttentionAnswer>;
}

/**
 * Refunds of returned goods (terminal/domain/refunds.ts), credits signed by this terminal and
 * referenced to its own complete debits. Batches.close sends the unbatched ones with the next batch
 * (or a batch of their own when there is no record to upload), and applyResult keeps the
 * acquirer's verdict on each.
 */
export interface RefundLedger {
  /**
   * In one transaction: check the original (a complete debit of this terminal, in this currency)
   * and what is left of it to refund, allocate the next refund id, sign the refund with `sign`
   * and store it. Throws TERM_ERR_REFUND_UNKNOWN_RECORD, TERM_ERR_REFUND_OVER_ORIGINAL or
   * TERM_ERR_USAGE and stores nothing; a service id already stored is TERM_ERR_ECR_CONFLICT.
   */
  create(refund: NewRefund, terminalId: string, sign: RecordSigner): StoredRefund;
  get(refundId: number): StoredRefund | undefined;
  byServiceId(serviceId: string): StoredRefund | undefined;
  /** The refunds of one original debit, oldest first. */
  forSeq(originalSeq: number): StoredRefund[];
  /** The refunds a batch carries, by refund id. */
  inBatch(batchId: string): StoredRefund[];
  /** Refunds not settled yet (not sent, or pending at the acquirer for their payment), oldest first. */
  outstanding(): StoredRefund[];
}

/** Everything a terminal stores, as the use cases see it. */
export interface TerminalStores {
  readonly records: RecordLedger;
  readonly risk: RiskView;
  readonly ecrPayments: EcrPayments;
  readonly ecrStoredValues: EcrStoredValues;
  readonly batches: Batches;
  readonly hotlist: HotlistStore;
  readonly attention: AttentionList;
  readonly walletWatch: WalletWatch;
  readonly loads: LoadIntents;
  readonly refunds: RefundLedger;
  readonly clock: Clock;
}

/** The acquirer as the terminal sees it (posd talks to it with its HTTP acquirer client). */
export interface AcquirerPort {
  uploadBatch(upload: BatchUpload): Promise<BatchResult>;
  /** The hotlist (not yet verified), or undefined when `sinceVersion` is still current. */
  fetchHotlist(sinceVersion?: number): Promise<FetchedHotlist | undefined>;
}
