/**
 * The acquirer's database, on SQLite (a file, the default) or PostgreSQL (a URL): one storage
 * layer written once with Kysely, with the engine, its transactions and its retries in engine.ts
 * and the schema history in migrations.ts.
 *
 * `AcquirerStore` is the one object the app and the CLI open. It owns the engine and every
 * transaction, and composes one part per aggregate, each holding the queries of its own tables and
 * the row ↔ domain conversions:
 *
 * | part | file | tables |
 * | --- | --- | --- |
 * | batches and their stored answers | batches.ts | batches, batch_days |
 * | ledger | ledger.ts | records, card_certificates, clones |
 * | terminals | terminals.ts | terminals, revoked_terminals |
 * | hotlist | hotlist.ts | blocked_wallets, wallet_events, revoked_card_serials, hotlist |
 * | settlement report | reports.ts | (reads records, batches, batch_days, clones) |
 * | unresolved torn intents | unresolved-intents.ts | unresolved_intents |
 * | wallets terminals caught rolled back or edited | findings.ts | terminal_findings |
 * | settled consumption forwarded to the wallet platform | ../platform/store/consumption.ts | platform_bookings, platform_entries (reads records, wallets) |
 * | refunds batches carry, settled against their debits | refunds.ts, refund-settlement.ts, ../platform/store/refund-bookings.ts | refunds, refund_totals (reads records, wallets); platform_bookings, platform_entries |
 * | the operator audit log | audit.ts | operator_audit |
 *
 * The wallet platform's tables (wallets, bank accounts, bookings, loads) have their own store on
 * the same engine: acquirer-stub/platform/store/platform-store.ts. The one platform part here is
 * the forwarding of a settled batch's debits, because it must commit with the batch.
 *
 * A batch is decided and written in one transaction (`transaction()` → AcquirerTx): the ledger
 * snapshot it is decided on, the verdict, the entries and the new chain head are one, and a
 * conflict with another writer (another instance, or the CLI) runs it again from the start.
 *
 * Nothing is cached between requests: the server reads revocations and the hotlist version from
 * the database on every request, so a change made by the CLI or another instance takes effect at
 * once, and an instance keeps nothing on local disk but its keys.
 */
import { chmodSync, existsSync } from "node:fs";
import { sql } from "kysely";
import type { Logger } from "../../protocol/logger.js";
import type { BatchManifest } from "../../protocol/wallet/batch.js";
import type { RefundVerdict } from "../../protocol/wallet/refund.js";
import type { CheckedFinding } from "../domain/findings.js";
import type { BlockReason, HotlistState } from "../domain/hotlist.js";
import type { SettlementReport } from "../domain/settle.js";
import type { CheckedRecord } from "../domain/verify.js";
import { Consumption } from "../platform/store/consumption.js";
import { RefundBookings } from "../platform/store/refund-bookings.js";
import { type FraudEvidence, ShadowBalance } from "../platform/store/shadow-balance.js";
import { AfterBlockRecords } from "./after-block.js";
import { type AuditEntry, type AuditQuery, type OperatorActor, OperatorAudit } from "./audit.js";
import { type ApplyContext, Batches, type FinalDecision, type StoredBatch } from "./batches.js";
import {
  type DbTarget,
  describeTarget,
  type Engine,
  type EngineKind,
  inTransaction,
  type OpenOptions,
  openEngine,
  parseDbTarget,
} from "./engine.js";
import { Findings, type StoredFinding } from "./findings.js";
import { Hotlist, type WalletBlock } from "./hotlist.js";
import { type BatchCards, Ledger, type LedgerSnapshot, recordKey, type WalletLedger } from "./ledger.js";
import { type CheckedRefund, RefundSettlement } from "./refund-settlement.js";
import { Refunds } from "./refunds.js";
import { type ReportOptions, Reports } from "./reports.js";
import type { Db } from "./schema.js";
import { Terminals } from "./terminals.js";
import { type OpenUnresolvedIntent, UnresolvedIntents } from "./unresolved-intents.js";

export type { ApplyContext, StoredBatch } from "./batches.js";
export type { EngineKind } from "./engine.js";
export type { LedgerEntry, WalletLedger } from "./ledger.js";

/** The parts of the store on one executor (the pool, or one transaction). */
class Parts {
  readonly batches: Batches;
  readonly ledger: Ledger;
  readonly terminals: Terminals;
  readonly hotlist: Hotlist;
  readonly reports: Reports;
  readonly unresolved: UnresolvedIntents;
  readonly findings: Findings;
  readonly consumption: Consumption;
  readonly shadow: ShadowBalance;
  readonly refunds: RefundSettlement;
  readonly audit: OperatorAudit;
  readonly afterBlock: AfterBlockRecords;
  constructor(db: Db, kind: EngineKind) {
    this.batches = new Batches(db);
    this.ledger = new Ledger(db, kind);
    this.terminals = new Terminals(db);
    this.hotlist = new Hotlist(db);
    this.reports = new Reports(db);
    this.unresolved = new UnresolvedIntents(db);
    this.findings = new Findings(db);
    this.consumption = new Consumption(db);
    this.shadow = new ShadowBalance(db);
    this.refunds = new RefundSettlement(new Refunds(db), new RefundBookings(db));
    this.audit = new OperatorAudit(db);
    this.afterBlock = new AfterBlockRecords(db);
  }
}

/** What the batch transaction reads and writes: one snapshot, one verdict, one commit. */
export class AcquirerTx {
  readonly #p: Parts;
  constructor(db: Db, kind: EngineKind) {
    this.#p = new Parts(db, kind);
  }

  batch(terminalId: string, batchId: string): Promise<StoredBatch | undefined> {
    return this.#p.batches.get(terminalId, batchId);
  }

  /** The ledger as `decideBatch` sees it for this batch, read now. */
  async snapshot(
    terminalId: string,
    manifest: BatchManifest,
    checked: readonly CheckedRecord[],
  ): Promise<LedgerSnapshot> {
    const head = await this.#p.terminals.head(terminalId);
    return this.#p.ledger.snapshot(terminalId, manifest, checked, head);
  }

  /**
   * Write a final decision: the batch row with its answer and, for a settled batch, every entry,
   * the card certificates, the terminal's new chain head (moved from the snapshot's), clone events
   * and the blocks they cause. Returns the response text (answered now and replayed later).
   */
  async applyDecision(
    decision: FinalDecision,
    ctx: ApplyContext,
    cards: BatchCards,
    snapshot: LedgerSnapshot,
  ): Promise<string> {
    const response = await this.#p.batches.insert(decision, ctx);
    if (decision.result.status !== "settled") return response;

    const m = ctx.upload.manifest;
    await this.#p.ledger.insertCardCertificates(cards);
    const days = await this.#p.ledger.insertEntries(ctx, decision.records);
    await this.#p.batches.addDays(ctx.terminalId, m.batchId, days);
    await this.#p.terminals.moveHead(
      ctx.terminalId,
      ctx.merchantId,
      snapshot.head?.chainHead,
      Buffer.from(m.chainHead, "hex"),
      m.batchId,
      ctx.now,
    );
    await this.#p.unresolved.insert(ctx);
    for (const clone of decision.clones) {
      await this.#p.ledger.insertClone(clone, ctx);
      // Blocked at the issuer of the card that signed the clone's record: the same wallet id at
      // another issuer is another wallet. Without a verified card (never for a clone), every issuer.
      const cloneRecord = decision.records.find(
        (d) => d.checked.seq === clone.cloneSeq && d.verdict.reason === "ACQ_ERR_CLONE",
      );
      const issuer = cloneRecord?.checked.cardIssuer || null;
      await this.#p.hotlist.block(clone.walletId, "clone", "clone-detection", ctx.now, issuer);
    }
    await this.#p.afterBlock.insert(decision.afterBlock, {
      terminalId: ctx.terminalId,
      batchId: m.batchId,
      now: ctx.now,
    });
    return response;
  }

  /**
   * Forward a settled batch's debits to the wallet platform (after `applyDecision`, in the same
   * transaction): each accepted debit of a wallet issued there is booked once against its offline
   * account. Returns how many were booked.
   */
  forwardConsumption(ctx: ApplyContext): Promise<number> {
    return this.#p.consumption.bookSettledDebits({
      terminalId: ctx.terminalId,
      batchId: ctx.upload.manifest.batchId,
      at: ctx.now,
    });
  }

  /**
   * After forwardConsumption: the platform's shadow balance checks the wallets this batch spent
   * from (platform/store/shadow-balance.ts); each wallet it has evidence against is blocked for
   * fraud and hotlisted in this same transaction. Returns the evidence.
   */
  async checkShadowBalances(ctx: ApplyContext, maxCounterJump?: number): Promise<FraudEvidence[]> {
    const evidence = await this.#p.shadow.check(
      { terminalId: ctx.terminalId, batchId: ctx.upload.manifest.batchId, at: ctx.now },
      maxCounterJump,
    );
    // Each wallet at the issuer of the card that signed the record its evidence is about; a card
    // stored without its issuer (before 008, not brought again since) blocks it at every issuer.
    const issuers = await this.#p.ledger.cardIssuers(evidence);
    const blocks = new Map<string, { walletId: string; issuer: string | null }>();
    for (const e of evidence) {
      const issuer = issuers.get(recordKey(e)) ?? null;
      blocks.set(`${e.walletId}\u0000${issuer ?? ""}`, { walletId: e.walletId, issuer });
    }
    for (const b of blocks.values())
      await this.#p.hotlist.block(b.walletId, "fraud", "fraud-detection", ctx.now, b.issuer);
    return evidence;
  }

  /**
   * Settle a settled batch's refunds (after `applyDecision`: a refund of a debit in the same batch
   * finds it accepted) and then the terminal's refunds that waited for a debit this batch decided.
   * Returns the verdicts of the carried ones and how many waiting ones were resolved.
   */
  async settleRefunds(
    carried: readonly CheckedRefund[],
    ctx: ApplyContext,
  ): Promise<{ verdicts: RefundVerdict[]; resolved: RefundVerdict[] }> {
    const verdicts = await this.#p.refunds.settleCarried(carried, ctx);
    const resolved = await this.#p.refunds.settleWaiting(ctx);
    return { verdicts, resolved };
  }

  /** Replace the stored answer of a batch written in this transaction (its refund verdicts added). */
  setResponse(terminalId: string, batchId: string, response: string): Promise<void> {
    return this.#p.batches.setResponse(terminalId, batchId, response);
  }

  /**
   * Store the findings a batch carried (after `applyDecision`). A proven rollback whose counter
   * the ledger already holds with other content is a fork: the wallet is blocked as a clone.
   * Returns the wallets blocked.
   */
  async recordFindings(
    checked: readonly CheckedFinding[],
    ctx: { terminalId: string; merchantId: string; batchId: string; now: number },
  ): Promise<string[]> {
    const blocked: string[] = [];
    const marked: (CheckedFinding & { fork: boolean })[] = [];
    for (const c of checked) {
      const accepted =
        c.reason === undefined && c.finding.kind === "rollback"
          ? await this.#p.ledger.acceptedRecord(c.finding.walletId, c.finding.counterClaimed)
          : undefined;
      const fork =
        accepted !== undefined && !Buffer.from(accepted.cardRecord).equals(Buffer.from(c.cardRecord));
      marked.push({ ...c, fork });
    }
    await this.#p.findings.insert(marked, ctx);
    for (const c of marked)
      if (
        c.fork &&
        (await this.#p.hotlist.block(
          c.finding.walletId,
          "clone",
          "clone-detection",
          ctx.now,
          c.cardIssuer ?? null,
        ))
      )
        blocked.push(c.finding.walletId);
    return blocked;
  }
}

export class AcquirerStore {
  readonly target: DbTarget;
  readonly engine: Engine;
  readonly #p: Parts;
  readonly #logger: Logger | undefined;

  private constructor(engine: Engine, logger: Logger | undefined) {
    this.target = engine.target;
    this.engine = engine;
    this.#p = new Parts(engine.db, engine.kind);
    this.#logger = logger;
  }

  /**
   * Open (creating if needed) and migrate: a file path is SQLite (a new file is made private,
   * 0600), a postgres:// URL PostgreSQL. Throws ACQ_ERR_STORE_URL, _UNREACHABLE, _SCHEMA or
   * ACQ_ERR_STORE.
   */
  static async open(target: string, options: OpenOptions = {}): Promise<AcquirerStore> {
    const t = parseDbTarget(target);
    const isNew = t.kind === "sqlite" && t.path !== ":memory:" && !existsSync(t.path);
    const engine = await openEngine(t, options);
    if (isNew && t.kind === "sqlite") chmodSync(t.path, 0o600);
    return new AcquirerStore(engine, options.logger);
  }

  get kind(): EngineKind {
    return this.engine.kind;
  }

  /** The database as it may be logged (a URL without its password). */
  get description(): string {
    return describeTarget(this.target);
  }

  /** The Kysely instance (tests and benchmarks count rows through it). */
  get db() {
    return this.engine.db;
  }

  async close(): Promise<void> {
    await this.engine.db.destroy();
  }

  /** A cheap query with a deadline: the database answers. */
  async healthy(timeoutMs = 2_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const ping = sql<{ one: number }>`SELECT 1 AS one`.execute(this.engine.db);
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("health check timed out")), timeoutMs);
      });
      const r = await Promise.race([ping, deadline]);
      return Number(r.rows[0]?.one) === 1;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Run `fn` in one write transaction, retried from the start on a conflict (engine.ts). */
  transaction<T>(label: string, fn: (tx: AcquirerTx) => Promise<T>): Promise<T> {
    return inTransaction(
      this.engine,
      "write",
      label,
      (db) => fn(new AcquirerTx(db, this.engine.kind)),
      this.#logger,
    );
  }

  #write<T>(label: string, fn: (p: Parts) => Promise<T>): Promise<T> {
    return inTransaction(
      this.engine,
      "write",
      label,
      (db) => fn(new Parts(db, this.engine.kind)),
      this.#logger,
    );
  }

  #read<T>(label: string, fn: (p: Parts) => Promise<T>): Promise<T> {
    return inTransaction(
      this.engine,
      "snapshot",
      label,
      (db) => fn(new Parts(db, this.engine.kind)),
      this.#logger,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Batches

  batch(terminalId: string, batchId: string): Promise<StoredBatch | undefined> {
    return this.#p.batches.get(terminalId, batchId);
  }

  /** Every stored verdict with this batch id, one per terminal that used it. */
  batchesWithId(batchId: string): Promise<StoredBatch[]> {
    return this.#p.batches.byId(batchId);
  }

  isTerminalRevoked(terminalId: string): Promise<boolean> {
    return this.#p.terminals.isRevoked(terminalId);
  }

  /**
   * Revoke a terminal id: its batches are refused from now on. Returns false when it already was.
   * With an actor, the action is written to the audit log in the same transaction.
   */
  revokeTerminal(terminalId: string, now: number, reason?: string, actor?: OperatorActor): Promise<boolean> {
    return this.#write("revoke terminal", async (p) => {
      const changed = await p.terminals.revoke(terminalId, now, reason);
      if (actor)
        await p.audit.record(actor, {
          action: "revoke-terminal",
          subject: terminalId,
          reason: reason ?? null,
          outcome: { changed },
          at: now,
        });
      return changed;
    });
  }

  /** Findings terminals reported, oldest first; one wallet's when given. */
  findings(walletId?: string): Promise<StoredFinding[]> {
    return this.#p.findings.list(walletId);
  }

  /** Torn intents terminals could not resolve from the card's log, still open (oldest first). */
  unresolvedIntents(): Promise<OpenUnresolvedIntent[]> {
    return this.#p.unresolved.open();
  }

  // -------------------------------------------------------------------------------------------
  // Hotlist

  /**
   * Block a wallet (loss report): at every issuer, or for the cards of one issuer CA (`issuer`, its
   * fingerprint). Returns false when that block already stood (the list did not change). With an
   * actor, the action is written to the audit log in the same transaction.
   */
  blockWallet(
    walletId: string,
    reason: BlockReason,
    now: number,
    actor?: OperatorActor,
    issuer?: string,
  ): Promise<boolean> {
    return this.#write("block wallet", async (p) => {
      const changed = await p.hotlist.block(walletId, reason, "operator", now, issuer ?? null);
      if (actor)
        await p.audit.record(actor, {
          action: "block",
          subject: walletId,
          reason,
          outcome: {
            changed,
            ...(issuer === undefined ? {} : { issuer }),
            hotlistVersion: await p.hotlist.version(),
          },
          at: now,
        });
      return changed;
    });
  }

  /**
   * Release a wallet: every block of the wallet id, or with `issuer` only its block at that issuer
   * CA. Returns false when nothing was released. With an actor, the action is written to the audit
   * log in the same transaction (`note`: why, as the operator said it).
   */
  unblockWallet(
    walletId: string,
    now: number,
    actor?: OperatorActor,
    note?: string,
    issuer?: string,
  ): Promise<boolean> {
    return this.#write("unblock wallet", async (p) => {
      const changed = await p.hotlist.unblock(walletId, now, issuer);
      if (actor)
        await p.audit.record(actor, {
          action: "unblock",
          subject: walletId,
          reason: note ?? null,
          outcome: {
            changed,
            ...(issuer === undefined ? {} : { issuer }),
            hotlistVersion: await p.hotlist.version(),
          },
          at: now,
        });
      return changed;
    });
  }

  /** The wallet id's widest block (at every issuer if it has one), or null when it is not blocked. */
  walletBlock(walletId: string): Promise<WalletBlock | null> {
    return this.#p.hotlist.walletBlock(walletId);
  }

  /** Every block of the wallet id: at every issuer first, then per issuer CA. */
  walletBlocks(walletId: string): Promise<WalletBlock[]> {
    return this.#p.hotlist.walletBlocks(walletId);
  }

  /**
   * Record revoked card serials from the issuers' CRLs; the hotlist version moves when one is new
   * (and starts at 1 on a new database, so the first hotlist has a real issue time).
   */
  syncRevokedCardSerials(
    serials: readonly { serial: string; issuerFingerprint: string }[],
    now: number,
  ): Promise<number> {
    return this.#write("sync revoked card serials", (p) => p.hotlist.addRevokedSerials(serials, now));
  }

  hotlistVersion(): Promise<number> {
    return this.#p.hotlist.version();
  }

  /**
   * Re-issue the hotlist when its version was issued `maxAgeSeconds` or more before `now` (same
   * content, a new version and issue time); of several instances asking at once, one re-issues.
   * Returns whether this call did.
   */
  reissueStaleHotlist(now: number, maxAgeSeconds: number): Promise<boolean> {
    return this.#write("re-issue hotlist", (p) => p.hotlist.reissueIfOlder(now - maxAgeSeconds, now));
  }

  hotlistState(): Promise<HotlistState> {
    return this.#read("hotlist", (p) => p.hotlist.state());
  }

  // -------------------------------------------------------------------------------------------
  // Reports

  /** `options.now`: the caller's clock, which the fraud section's open items are aged to. */
  settlementReport(date: string, options?: ReportOptions): Promise<SettlementReport> {
    return this.#read("settlement report", (p) => p.reports.settlement(date, options));
  }

  /** The operator audit log, newest first. */
  operatorAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    return this.#read("operator audit", (p) => p.audit.list(query));
  }

  walletLedger(walletId: string): Promise<WalletLedger> {
    return this.#read("wallet ledger", async (p) =>
      p.ledger.walletLedger(walletId, await p.hotlist.walletBlocks(walletId)),
    );
  }
}
