/**
 * The acquirer's database (better-sqlite3): WAL with synchronous=FULL set on every open, versioned
 * migrations through `PRAGMA user_version`, statements prepared once per open store. Everything is
 * synchronous: a batch is verified against the ledger and written in one `db.transaction()`, which
 * never spans an await, so it is stored whole or not at all.
 *
 * `AcquirerStore` is the one object the app and the CLI open. It owns the connection, the pragmas,
 * the migrations and every transaction, and composes one part per aggregate, each holding the SQL
 * and the prepared statements of its own tables and the row ↔ domain conversions:
 *
 * | part | file | tables |
 * | --- | --- | --- |
 * | batches and their stored answers | batches.ts | batches, batch_days |
 * | ledger | ledger.ts | records, card_certificates, clones |
 * | terminals | terminals.ts | terminals, revoked_terminals |
 * | hotlist | hotlist.ts | blocked_wallets, wallet_events, revoked_card_serials, meta |
 * | settlement report | reports.ts | (reads records, batches, batch_days, clones) |
 * | unresolved torn intents | unresolved-intents.ts | unresolved_intents |
 * | wallets terminals caught rolled back or edited | findings.ts | terminal_findings |
 *
 * The schema itself stays one versioned history in migrations.ts (a shipped migration is never
 * edited), whichever part reads or writes a table.
 *
 * The CLI (block, unblock, revoke-terminal, report) opens the same file while `serve` runs: WAL
 * lets them read and write concurrently, and the server reads revocations and the hotlist version
 * from the database on every request, so a change made by the CLI takes effect at once.
 */
import { chmodSync, existsSync } from "node:fs";
import type Database from "../../protocol/sqlite.js";
import { openDurable } from "../../protocol/sqlite.js";
import type { CheckedFinding } from "../domain/findings.js";
import type { BlockReason, HotlistState } from "../domain/hotlist.js";
import type { SettlementReport } from "../domain/settle.js";
import type { LedgerView } from "../domain/verify.js";
import { AcquirerError } from "../errors.js";
import { type ApplyContext, Batches, type FinalDecision, type StoredBatch } from "./batches.js";
import { Findings, type StoredFinding } from "./findings.js";
import { Hotlist, type WalletBlock } from "./hotlist.js";
import { type BatchCards, Ledger, type WalletLedger } from "./ledger.js";
import { MIGRATIONS } from "./migrations.js";
import { Reports } from "./reports.js";
import { Terminals } from "./terminals.js";
import { type OpenUnresolvedIntent, UnresolvedIntents } from "./unresolved-intents.js";

export type { ApplyContext, StoredBatch } from "./batches.js";
export type { LedgerEntry, WalletLedger } from "./ledger.js";

export class AcquirerStore {
  readonly path: string;
  readonly db: Database.Database;
  /** The ledger as the domain sees it (read-only, used inside the batch transaction). */
  readonly view: LedgerView;
  readonly #batches: Batches;
  readonly #ledger: Ledger;
  readonly #terminals: Terminals;
  readonly #hotlist: Hotlist;
  readonly #reports: Reports;
  readonly #unresolved: UnresolvedIntents;
  readonly #findings: Findings;
  readonly #ping: { get(): unknown };

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    this.#batches = new Batches(db);
    this.#ledger = new Ledger(db);
    this.#terminals = new Terminals(db);
    this.#hotlist = new Hotlist(db);
    this.#reports = new Reports(db);
    this.#unresolved = new UnresolvedIntents(db);
    this.#findings = new Findings(db);
    this.#ping = db.prepare("SELECT 1").pluck();
    this.view = {
      terminalHead: (terminalId) => this.#terminals.head(terminalId),
      acceptedRecord: (walletId, cardCounter) => this.#ledger.acceptedRecord(walletId, cardCounter),
      seqTaken: (terminalId, seq) => this.#ledger.seqTaken(terminalId, seq),
      settledEntry: (terminalId, seq, previousHash) =>
        this.#ledger.settledEntry(terminalId, seq, previousHash),
    };
  }

  /** Open (creating if needed) and migrate. A new file is made private (0600). */
  static open(path: string): AcquirerStore {
    const isNew = path !== ":memory:" && !existsSync(path);
    let db: Database.Database;
    try {
      // A settled batch was answered to a terminal, so it must survive power loss: WAL + FULL.
      // openDurable closes the connection itself when it fails.
      db = openDurable(path, MIGRATIONS, "program");
    } catch (cause) {
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

  /** A cheap query: the database answers. */
  healthy(): boolean {
    try {
      return this.#ping.get() === 1;
    } catch {
      return false;
    }
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // -------------------------------------------------------------------------------------------
  // Batches

  batch(batchId: string): StoredBatch | undefined {
    return this.#batches.get(batchId);
  }

  isTerminalRevoked(terminalId: string): boolean {
    return this.#terminals.isRevoked(terminalId);
  }

  /** Revoke a terminal id: its batches are refused from now on. Returns false when it already was. */
  revokeTerminal(terminalId: string, now: number, reason?: string): boolean {
    return this.#terminals.revoke(terminalId, now, reason);
  }

  /**
   * Write a final decision: the batch row with its answer and, for a settled batch, every entry,
   * the card certificates, the terminal's new chain head, clone events and the blocks they cause.
   * Call inside `transaction()` together with the decision, so the ledger read and written is one.
   * Returns the response text (what is answered now and replayed later).
   */
  applyDecision(decision: FinalDecision, ctx: ApplyContext, cards: BatchCards): string {
    const response = this.#batches.insert(decision, ctx);
    if (decision.result.status !== "settled") return response;

    const m = ctx.upload.manifest;
    this.#ledger.insertCardCertificates(cards);
    const days = this.#ledger.insertEntries(ctx, decision.records);
    this.#batches.addDays(m.batchId, days);
    this.#terminals.setHead(
      ctx.terminalId,
      ctx.merchantId,
      Buffer.from(m.chainHead, "hex"),
      m.batchId,
      ctx.now,
    );
    this.#unresolved.insert(ctx);
    for (const clone of decision.clones) {
      this.#ledger.insertClone(clone, ctx);
      this.#hotlist.block(clone.walletId, "clone", "clone-detection", ctx.now);
    }
    return response;
  }

  /**
   * Store the findings a batch carried (call inside `transaction()`, after `applyDecision`). A
   * proven rollback whose counter the ledger already holds with other content is a fork: the
   * wallet is blocked as a clone. Returns the wallets blocked.
   */
  recordFindings(
    checked: readonly CheckedFinding[],
    ctx: { terminalId: string; merchantId: string; batchId: string; now: number },
  ): string[] {
    const blocked: string[] = [];
    const marked = checked.map((c) => {
      const accepted =
        c.reason === undefined && c.finding.kind === "rollback"
          ? this.#ledger.acceptedRecord(c.finding.walletId, c.finding.counterClaimed)
          : undefined;
      const fork =
        accepted !== undefined && !Buffer.from(accepted.cardRecord).equals(Buffer.from(c.cardRecord));
      return { ...c, fork };
    });
    this.#findings.insert(marked, ctx);
    for (const c of marked)
      if (c.fork && this.#hotlist.block(c.finding.walletId, "clone", "clone-detection", ctx.now))
        blocked.push(c.finding.walletId);
    return blocked;
  }

  /** Findings terminals reported, oldest first; one wallet's when given. */
  findings(walletId?: string): StoredFinding[] {
    return this.#findings.list(walletId);
  }

  /** Torn intents terminals could not resolve from the card's log, still open (oldest first). */
  unresolvedIntents(): OpenUnresolvedIntent[] {
    return this.#unresolved.open();
  }

  // -------------------------------------------------------------------------------------------
  // Hotlist

  /** Block a wallet (loss report). Returns false when it already was blocked (the list did not change). */
  blockWallet(walletId: string, reason: BlockReason, now: number): boolean {
    return this.transaction(() => this.#hotlist.block(walletId, reason, "operator", now));
  }

  /** Release a wallet. Returns false when it was not blocked. */
  unblockWallet(walletId: string, now: number): boolean {
    return this.transaction(() => this.#hotlist.unblock(walletId, now));
  }

  walletBlock(walletId: string): WalletBlock | null {
    return this.#hotlist.walletBlock(walletId);
  }

  /**
   * Record revoked card serials from the issuers' CRLs; the hotlist version moves when one is new
   * (and starts at 1 on a new database, so the first hotlist has a real issue time).
   */
  syncRevokedCardSerials(
    serials: readonly { serial: string; issuerFingerprint: string }[],
    now: number,
  ): number {
    return this.transaction(() => this.#hotlist.addRevokedSerials(serials, now));
  }

  hotlistVersion(): number {
    return this.#hotlist.version();
  }

  /**
   * Re-issue the hotlist when its version was issued `maxAgeSeconds` or more before `now` (same
   * content, a new version and issue time), in one immediate transaction so that concurrent
   * instances re-issue once. Returns whether it did.
   */
  reissueStaleHotlist(now: number, maxAgeSeconds: number): boolean {
    return this.db.transaction(() => this.#hotlist.reissueIfOlder(now - maxAgeSeconds, now)).immediate();
  }

  hotlistState(): HotlistState {
    return this.transaction(() => this.#hotlist.state());
  }

  // -------------------------------------------------------------------------------------------
  // Reports

  settlementReport(date: string): SettlementReport {
    return this.transaction(() => this.#reports.settlement(date));
  }

  walletLedger(walletId: string): WalletLedger {
    return this.transaction(() => this.#ledger.walletLedger(walletId, this.#hotlist.walletBlock(walletId)));
  }
}
