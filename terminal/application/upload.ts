/**
 * End of day: close batches over the stored records, upload them, record what the acquirer
 * answered; and fetch the hotlist. The network is only touched outside database transactions.
 *
 * A batch is closed once and re-sent under the same id until the acquirer answers, so an upload
 * interrupted anywhere (process killed, connection reset, timeout after the acquirer committed)
 * settles exactly once.
 */

import { ecdsaSign } from "../../protocol/crypto.js";
import type { Logger } from "../../protocol/logger.js";
import { type BatchResult, MAX_BATCH_FINDINGS } from "../../protocol/wallet/batch.js";
import { isIssuerHotlist } from "../../protocol/wallet/hotlist.js";
import type { TerminalIdentity } from "../card-session/session.js";
import { batchUpload } from "../domain/batch.js";
import { refundWire } from "../domain/refunds.js";
import { findingWire } from "../domain/wallet-watch.js";
import { TerminalError } from "../errors.js";
import type {
  AcquirerPort,
  Batches,
  FetchedHotlist,
  HotlistStore,
  RefundLedger,
  VerifiedHotlist,
  WalletWatch,
} from "./ports.js";

export interface UploadContext {
  readonly batches: Batches;
  readonly identity: TerminalIdentity;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly logger: Logger;
  /** Rolled-back or forged wallets caught here: each finding rides with the batch holding its seq. */
  readonly walletWatch?: WalletWatch;
  /** Refunds: those a batch holds ride with it (Batches.close put them there). */
  readonly refunds?: Pick<RefundLedger, "inBatch">;
}

export interface UploadProgress {
  /** Called before the first batch with the number of records to send, then after each batch. */
  start?(totalRecords: number, batches: number): void;
  batch?(records: number, result: BatchResult): void;
}

export interface UploadSummary {
  readonly batches: number;
  readonly records: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly results: readonly BatchResult[];
}

export async function uploadBatches(
  ctx: UploadContext,
  acquirer: AcquirerPort,
  options: { maxRecords: number; progress?: UploadProgress },
): Promise<UploadSummary> {
  const store = ctx.batches;
  const closed = store.close({
    terminalId: ctx.terminalId,
    merchantId: ctx.merchantId,
    maxRecords: options.maxRecords,
    sign: (m) => ecdsaSign(ctx.identity.privateKey, m),
  });
  const batches = store.pending();
  if (closed.length > 0) ctx.logger.info({ batches: closed.length }, "closed batches");
  const sizes = new Map(batches.map((b) => [b.batchId, store.recordCount(b.batchId)]));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  options.progress?.start?.(total, batches.length);
  const certificates = [ctx.identity.certificate.der, ...ctx.identity.chain.map((c) => c.der)];
  const certificate = (fingerprint: string) => store.certificate(fingerprint);
  const results: BatchResult[] = [];
  let accepted = 0;
  let rejected = 0;
  for (const batch of batches) {
    const entries = store.entries(batch.batchId);
    const findings = (ctx.walletWatch?.unreported(entries.map((e) => e.seq)) ?? []).slice(
      0,
      MAX_BATCH_FINDINGS,
    );
    const refunds = ctx.refunds?.inBatch(batch.batchId) ?? [];
    const upload = {
      ...batchUpload(batch, entries, certificate, certificates),
      ...(findings.length > 0 ? { findings: findings.map(findingWire) } : {}),
      ...(refunds.length > 0 ? { refunds: refunds.map(refundWire) } : {}),
    };
    store.countAttempt(batch.batchId);
    const log = ctx.logger.child({ batchId: batch.batchId, records: upload.records.length });
    if (batch.attempts > 0) log.info({ attempt: batch.attempts + 1 }, "re-sending a batch under the same id");
    const result = await acquirer.uploadBatch(upload);
    store.applyResult(result);
    // The acquirer answered (settled or rejected): it stored the findings with the batch.
    if (findings.length > 0)
      ctx.walletWatch?.markReported(
        findings.map((f) => f.id),
        batch.batchId,
      );
    accepted += result.accepted;
    rejected += result.rejected;
    results.push(result);
    log.info(
      { status: result.status, accepted: result.accepted, rejected: result.rejected },
      "batch answered",
    );
    options.progress?.batch?.(sizes.get(batch.batchId) ?? upload.records.length, result);
  }
  return { batches: batches.length, records: total, accepted, rejected, results };
}

/**
 * Fetch the hotlist if it changed; `verify` checks its signature (and throws when it is bad:
 * verifyFetchedHotlist, by format). A signed hotlist older than the stored one, by version or by
 * issue time, is a replay (an old list served from anywhere): TERM_ERR_HOTLIST_REPLAYED, and the
 * stored one stays. Whatever is refused leaves the stored hotlist as it was.
 */
export async function syncHotlist(
  ctx: { readonly hotlist: HotlistStore; readonly logger: Logger },
  acquirer: AcquirerPort,
  verify: (wire: FetchedHotlist) => VerifiedHotlist,
): Promise<{ changed: boolean; version: number | undefined; wallets: number; serials: number }> {
  const stored = ctx.hotlist.info();
  const current = stored?.version;
  const wire = await acquirer.fetchHotlist(current);
  if (!wire) return { changed: false, version: current, ...ctx.hotlist.size() };
  const hotlist = verify(wire);
  if (stored && (hotlist.version < stored.version || hotlist.issuedAt < stored.issuedAt)) {
    const when = (s: number) => new Date(s * 1000).toISOString();
    throw new TerminalError(
      "TERM_ERR_HOTLIST_REPLAYED",
      `hotlist refused: version ${hotlist.version} issued ${when(hotlist.issuedAt)} is older than the stored ` +
        `version ${stored.version} issued ${when(stored.issuedAt)} (a replayed hotlist); the stored one stays`,
      {
        details: {
          version: hotlist.version,
          issuedAt: hotlist.issuedAt,
          storedVersion: stored.version,
          storedIssuedAt: stored.issuedAt,
        },
      },
    );
  }
  ctx.hotlist.replace(hotlist);
  const size = ctx.hotlist.size();
  const format = isIssuerHotlist(hotlist) ? 2 : 1;
  ctx.logger.info({ version: hotlist.version, format, ...size }, "hotlist updated");
  return { changed: true, version: hotlist.version, ...size };
}
