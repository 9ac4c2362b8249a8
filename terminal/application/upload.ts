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
import type { BatchResult, BatchUpload, Hotlist, HotlistWire } from "../../protocol/wallet/batch.js";
import {
  applyResult,
  batchRecordCount,
  buildUpload,
  closeBatches,
  countAttempt,
  hotlistVersion,
  pendingBatches,
  replaceHotlist,
} from "../adapters/sqlite/batch-store.js";
import type { RecordStore } from "../adapters/sqlite/record-store.js";
import type { TerminalIdentity } from "../card/card-session.js";

/** The acquirer as the terminal sees it (terminal/adapters/http/acquirer-client.ts). */
export interface AcquirerPort {
  uploadBatch(upload: BatchUpload): Promise<BatchResult>;
  fetchHotlist(sinceVersion?: number): Promise<HotlistWire | undefined>;
}

export interface UploadContext {
  readonly store: RecordStore;
  readonly identity: TerminalIdentity;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly logger: Logger;
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
  options: { maxRecords: number; progress?: UploadProgress; now?: () => number },
): Promise<UploadSummary> {
  const sign = (m: Uint8Array) => ecdsaSign(ctx.identity.privateKey, m);
  const closed = closeBatches(ctx.store, {
    terminalId: ctx.terminalId,
    merchantId: ctx.merchantId,
    maxRecords: options.maxRecords,
    sign,
    ...(options.now ? { now: options.now } : {}),
  });
  const batches = pendingBatches(ctx.store);
  if (closed.length > 0) ctx.logger.info({ batches: closed.length }, "closed batches");
  const sizes = new Map(batches.map((b) => [b.batchId, batchRecordCount(ctx.store, b.batchId)]));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  options.progress?.start?.(total, batches.length);
  const certificates = [ctx.identity.certificate.der, ...ctx.identity.chain.map((c) => c.der)];
  const results: BatchResult[] = [];
  let accepted = 0;
  let rejected = 0;
  for (const batch of batches) {
    const upload = buildUpload(ctx.store, batch, certificates);
    countAttempt(ctx.store, batch.batchId);
    const log = ctx.logger.child({ batchId: batch.batchId, records: upload.records.length });
    if (batch.attempts > 0) log.info({ attempt: batch.attempts + 1 }, "re-sending a batch under the same id");
    const result = await acquirer.uploadBatch(upload);
    applyResult(ctx.store, result, options.now?.() ?? ctx.store.now());
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

/** Fetch the hotlist if it changed; `verify` checks its signature (and throws when it is bad). */
export async function syncHotlist(
  ctx: Pick<UploadContext, "store" | "logger">,
  acquirer: AcquirerPort,
  verify: (wire: HotlistWire) => Hotlist,
): Promise<{ changed: boolean; version: number | undefined; wallets: number; serials: number }> {
  const current = hotlistVersion(ctx.store);
  const wire = await acquirer.fetchHotlist(current);
  if (!wire) {
    const count = (table: string) =>
      (ctx.store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      changed: false,
      version: current,
      wallets: count("hotlist_wallets"),
      serials: count("hotlist_serials"),
    };
  }
  const hotlist = verify(wire);
  replaceHotlist(ctx.store, hotlist);
  ctx.logger.info({ version: hotlist.version, wallets: hotlist.blockedWallets.length }, "hotlist updated");
  return {
    changed: true,
    version: hotlist.version,
    wallets: hotlist.blockedWallets.length,
    serials: hotlist.revokedSerials.length,
  };
}
