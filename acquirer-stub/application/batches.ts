/**
 * Receiving a batch: terminal authentication, idempotency, the record checks, then the decision
 * and the write in one database transaction.
 *
 * Idempotency (notes/payments-facts.md): a batch id's first verdict is stored with its content hash
 * and replayed for every retry with the same content (same status, same bytes); the same id with
 * other content is a conflict (409); while a batch id — or any batch of the same terminal — is
 * being verified, another request for it answers 409 ACQ_ERR_IN_FLIGHT, which the client retries.
 *
 * The record checks (two ECDSA verifications per record) run before the transaction, in chunks that
 * yield to the event loop so health checks and hotlist fetches stay answered during a big batch;
 * the transaction itself is synchronous and short (reads by index, inserts), never around an await.
 *
 * A settled batch's accepted debits of wallets issued on the wallet platform are booked against
 * their offline accounts in the same transaction (platform/store/consumption.ts): the acquiring
 * system forwards the consumption it settles, exactly once, on whichever instance settles it.
 *
 * The refunds a batch carries (terminal-signed credits for its own debits) have their signatures
 * checked before the transaction, and are settled in it after the records are written
 * (db/refund-settlement.ts): credited to the wallets' online accounts, or left pending until their
 * debit is accepted by a later batch of the terminal. Their verdicts join the stored answer. A
 * batch rejected as a whole settles no refund: the terminal sends them again with its next batch.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Logger } from "../../protocol/logger.js";
import type { BatchResult, BatchUpload } from "../../protocol/wallet/batch.js";
import type { AcquirerStore } from "../db/store.js";
import { checkFinding } from "../domain/findings.js";
import { refundSignatureOk } from "../domain/refunds.js";
import type { AcquirerTrust } from "../domain/trust.js";
import {
  authenticateBatch,
  batchContentHash,
  type CheckedRecord,
  checkRecord,
  decideBatch,
  recordCheckContext,
} from "../domain/verify.js";
import { AcquirerError } from "../errors.js";

export interface BatchOutcome {
  /** 200 settled, 422 rejected as a whole. */
  readonly httpStatus: number;
  /** The JSON text of the BatchResult: the same bytes on every replay. */
  readonly body: string;
  /** True when this answer is the stored one replayed for a retry. */
  readonly replayed: boolean;
}

export interface BatchProcessorOptions {
  readonly store: AcquirerStore;
  readonly trust: AcquirerTrust;
  readonly clock?: () => Date;
  readonly logger?: Logger;
  /** Records checked between two yields to the event loop. */
  readonly chunkSize?: number;
  /** How long after a wallet's block its debits are still accepted, flagged (domain/block-binding.ts). */
  readonly hotlistGraceSeconds?: number;
  /** Card counters a debit may run ahead of what the platform knew (platform/store/shadow-balance.ts). */
  readonly maxCounterJump?: number;
  /** Test hook: runs after the commit, before the answer (a slow network, a crash after commit). */
  readonly afterCommit?: (batchId: string) => Promise<void>;
}

export class BatchProcessor {
  readonly #store: AcquirerStore;
  readonly #trust: AcquirerTrust;
  readonly #clock: () => Date;
  readonly #logger: Logger | undefined;
  readonly #chunkSize: number;
  readonly #graceSeconds: number | undefined;
  readonly #maxCounterJump: number | undefined;
  readonly #afterCommit: ((batchId: string) => Promise<void>) | undefined;
  readonly #inFlightBatches = new Set<string>();
  readonly #inFlightTerminals = new Set<string>();

  constructor(options: BatchProcessorOptions) {
    this.#store = options.store;
    this.#trust = options.trust;
    this.#clock = options.clock ?? (() => new Date());
    this.#logger = options.logger;
    this.#chunkSize = options.chunkSize ?? 500;
    this.#graceSeconds = options.hotlistGraceSeconds;
    this.#maxCounterJump = options.maxCounterJump;
    this.#afterCommit = options.afterCommit;
  }

  /**
   * The stored answer for a batch id: the given terminal's, or, without one (an operator asking),
   * the only terminal's that used the id (ACQ_ERR_BAD_REQUEST when several did: say which).
   */
  async stored(batchId: string, terminalId?: string): Promise<BatchOutcome | undefined> {
    const found =
      terminalId === undefined
        ? await this.#store.batchesWithId(batchId)
        : [await this.#store.batch(terminalId, batchId)].filter((b) => b !== undefined);
    if (found.length > 1)
      throw new AcquirerError(
        "ACQ_ERR_BAD_REQUEST",
        `batch id ${batchId} was used by ${found.length} terminals: give ?terminalId=`,
        { details: { batchId } },
      );
    const b = found[0];
    return b ? { httpStatus: b.httpStatus, body: b.response, replayed: true } : undefined;
  }

  /**
   * Verify and settle (or reject) a schema-valid upload. Resolves with the verdict (stored, replayed
   * for retries); throws AcquirerError for answers that are not verdicts and are not stored:
   * 403 terminal not authenticated, 409 conflict / in flight / not continuing the chain.
   */
  async submit(upload: BatchUpload): Promise<BatchOutcome> {
    const m = upload.manifest;
    const contentHash = batchContentHash(upload);
    // Authentication first (the certificate, its revocation, the manifest signature): an answer,
    // stored or new, is only ever given to the terminal that signed the batch, and a batch id is
    // that terminal's alone (batches are keyed by terminal and id), so no other terminal can squat
    // it or learn what it holds.
    const now = this.#clock();
    const revoked = await this.#store.isTerminalRevoked(m.terminalId);
    const terminal = authenticateBatch(upload, this.#trust, now, (id) => id === m.terminalId && revoked);
    const replay = await this.#replay(this.#store, terminal.terminalId, m.batchId, contentHash);
    if (replay) return replay;
    const key = `${terminal.terminalId}/${m.batchId}`;
    if (this.#inFlightBatches.has(key))
      throw new AcquirerError("ACQ_ERR_IN_FLIGHT", `batch ${m.batchId} is being processed`, {
        details: { batchId: m.batchId },
      });
    if (this.#inFlightTerminals.has(terminal.terminalId))
      throw new AcquirerError(
        "ACQ_ERR_IN_FLIGHT",
        `another batch of terminal ${terminal.terminalId} is being processed`,
        { details: { batchId: m.batchId, terminalId: terminal.terminalId } },
      );
    this.#inFlightBatches.add(key);
    this.#inFlightTerminals.add(terminal.terminalId);
    const log = this.#logger?.child({ batchId: m.batchId, terminalId: terminal.terminalId });
    const started = performance.now();
    let outcome: BatchOutcome;
    try {
      const ctx = recordCheckContext(upload, terminal, this.#trust, now);
      const checked: CheckedRecord[] = [];
      const records = upload.records;
      for (let i = 0; i < records.length; i++) {
        checked.push(checkRecord(records[i]!, i, ctx));
        if ((i + 1) % this.#chunkSize === 0 && i + 1 < records.length) await yieldToEventLoop();
      }

      // Findings prove themselves (the card-signed record): checked here, stored with the verdict.
      const findings = (upload.findings ?? []).map((f) => checkFinding(f, upload, terminal, this.#trust));
      const refunds = (upload.refunds ?? []).map((wire) => ({
        wire,
        signatureOk: refundSignatureOk(wire, terminal.terminalId, terminal.publicKey),
      }));

      const nowSeconds = Math.floor(now.getTime() / 1000);
      const cards = new Map(
        [...ctx.cards.values()].map((c) => [
          c.fingerprint,
          {
            der: c.certificate.der,
            walletId: c.walletId,
            serial: c.certificate.serialNumber,
            issuerFingerprint: c.issuerFingerprint,
          },
        ]),
      );
      const committed = await this.#store.transaction(`batch ${m.batchId}`, async (tx) => {
        // Another instance (or the CLI) may have stored this batch since the check above: the
        // transaction makes this exact, and a retry after a conflict lands here again.
        const raced = await this.#replay(tx, terminal.terminalId, m.batchId, contentHash);
        if (raced) return { outcome: raced };
        const snapshot = await tx.snapshot(terminal.terminalId, m, checked);
        const decision = decideBatch(
          {
            upload,
            terminal,
            checked,
            ...(this.#graceSeconds === undefined ? {} : { hotlistGraceSeconds: this.#graceSeconds }),
          },
          snapshot.view,
        );
        if (decision.kind === "not-continuing")
          throw new AcquirerError(
            "ACQ_ERR_CHAIN_BREAK",
            "batch does not continue this terminal's stored chain head: upload the earlier batch first",
            {
              details: {
                batchId: m.batchId,
                expectedPreviousHash: decision.expectedPreviousHash,
                previousHash: m.previousHash,
                lastSettledBatchId: decision.lastBatchId ?? null,
              },
            },
          );
        const apply = {
          upload,
          contentHash,
          terminalId: terminal.terminalId,
          merchantId: terminal.merchantId,
          now: nowSeconds,
        };
        let body = await tx.applyDecision(decision, apply, cards, snapshot);
        // The platform's offline accounts learn of the consumption in the commit that settles it:
        // never twice (a retry is replayed above), never lost (a crash rolls both back).
        const settled = decision.result.status === "settled";
        const forwarded = settled ? await tx.forwardConsumption(apply) : 0;
        const fraud = settled ? await tx.checkShadowBalances(apply, this.#maxCounterJump) : [];
        const refundOutcome = settled ? await tx.settleRefunds(refunds, apply) : undefined;
        if (refundOutcome && (refunds.length > 0 || refundOutcome.resolved.length > 0)) {
          body = JSON.stringify({
            ...decision.result,
            ...(refunds.length > 0 ? { refunds: refundOutcome.verdicts } : {}),
            // The terminal learns here that its pending refunds of earlier batches ended.
            ...(refundOutcome.resolved.length > 0 ? { refundsResolved: refundOutcome.resolved } : {}),
          });
          await tx.setResponse(terminal.terminalId, m.batchId, body);
        }
        const blocked = await tx.recordFindings(findings, {
          terminalId: terminal.terminalId,
          merchantId: terminal.merchantId,
          batchId: m.batchId,
          now: nowSeconds,
        });
        const fresh: BatchOutcome = { httpStatus: decision.httpStatus, body, replayed: false };
        return { outcome: fresh, decision, blocked, forwarded, refundOutcome, fraud };
      });
      outcome = committed.outcome;
      // Logged after the commit: a transaction retried after a conflict logs its verdict once.
      if (committed.decision) {
        const { decision, blocked, forwarded, refundOutcome, fraud } = committed;
        for (const e of fraud)
          log?.warn(
            {
              walletId: e.walletId,
              kind: e.kind,
              seq: e.seq,
              cardCounter: e.cardCounter,
              exposure: e.exposure,
            },
            `shadow balance: ${e.detail}; wallet blocked for fraud and hotlisted`,
          );
        for (const v of refundOutcome?.verdicts ?? [])
          log?.[v.status === "rejected" ? "warn" : "info"](
            { refundId: v.refundId, status: v.status, reason: v.reason },
            "refund answered",
          );
        for (const v of refundOutcome?.resolved ?? [])
          log?.info(
            { refundId: v.refundId, status: v.status, reason: v.reason },
            "refund that waited for its debit resolved",
          );
        for (const c of findings)
          log?.warn(
            {
              walletId: c.finding.walletId,
              kind: c.finding.kind,
              seq: c.finding.seq,
              proof: c.reason ?? "verified",
              blocked: blocked.includes(c.finding.walletId),
            },
            "terminal finding: wallet caught rolled back or edited",
          );
        this.#logOutcome(log, decision.result, decision.message, decision.clones.length, forwarded, started);
        for (const c of decision.clones)
          log?.warn(
            { walletId: c.walletId, cardCounter: c.cardCounter, first: c.first, cloneSeq: c.cloneSeq },
            "clone detected: wallet blocked and hotlisted",
          );
        for (const f of decision.afterBlock)
          log?.warn(
            {
              walletId: f.walletId,
              seq: f.seq,
              cardCounter: f.cardCounter,
              recordTime: f.recordTime,
              blockedAt: f.blockedAt,
            },
            "debit dated after its wallet's block accepted inside the hotlist grace period (the issuer's loss)",
          );
        const late = decision.result.records.filter((r) => r.reason === "ACQ_ERR_WALLET_BLOCKED").length;
        if (late > 0)
          log?.warn(
            { records: late },
            "debits dated after their wallet's block and its grace period rejected",
          );
      }
    } finally {
      this.#inFlightBatches.delete(key);
      this.#inFlightTerminals.delete(terminal.terminalId);
    }
    if (!outcome.replayed && this.#afterCommit) await this.#afterCommit(m.batchId);
    return outcome;
  }

  async #replay(
    from: Pick<AcquirerStore, "batch">,
    terminalId: string,
    batchId: string,
    contentHash: string,
  ): Promise<BatchOutcome | undefined> {
    const stored = await from.batch(terminalId, batchId);
    if (!stored) return undefined;
    if (stored.contentHash !== contentHash)
      throw new AcquirerError(
        "ACQ_ERR_IDEMPOTENCY_CONFLICT",
        `batch id ${batchId} was already used for a batch with different content`,
        { details: { batchId } },
      );
    return { httpStatus: stored.httpStatus, body: stored.response, replayed: true };
  }

  #logOutcome(
    log: Logger | undefined,
    result: BatchResult,
    message: string | undefined,
    clones: number,
    forwarded: number,
    started: number,
  ): void {
    if (!log) return;
    const fields = {
      status: result.status,
      reason: result.reason,
      accepted: result.accepted,
      rejected: result.rejected,
      clones,
      // Debits booked on the wallet platform (those of wallets it issued).
      platformDebits: forwarded,
      ms: Math.round(performance.now() - started),
    };
    if (result.status === "settled") log.info(fields, "batch settled");
    else log.warn({ ...fields, why: message }, "batch rejected");
  }
}
