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
import type { BatchResult, Hotlist, HotlistWire } from "../../protocol/wallet/batch.js";
import type { TerminalIdentity } from "../card-session/session.js";
import { batchUpload } from "../domain/batch.js";
import type { AcquirerPort, Batches, HotlistStore } from "./ports.js";

export interface UploadContext {
  readonly batches: Batches;
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
    const upload = batchUpload(batch, store.entries(batch.batchId), certificate, certificates);
    store.countAttempt(batch.batchId);
    const log = ctx.logger.child({ batchId: batch.batchId, records: upload.records.length });
    if (batch.attempts > 0) log.info({ attempt: batch.attempts + 1 }, "re-sending a batch under the same id");
    const result = await acquirer.uploadBatch(upload);
    store.applyResult(result);
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
  ctx: { readonly hotlist: HotlistStore; readonly logger: Logger },
  acquirer: AcquirerPort,
  verify: (wire: HotlistWire) => Hotlist,
): Promise<{ changed: boolean; version: number | undefined; wallets: number; serials: number }> {
  const current = ctx.hotlist.version();
  const wire = await acquirer.fetchHotlist(current);
  if (!wire) return { changed: false, version: current, ...ctx.hotlist.size() };
  const hotlist = verify(wire);
  ctx.hotlist.replace(hotlist);
  ctx.logger.info({ version: hotlist.version, wallets: hotlist.blockedWallets.length }, "hotlist updated");
  return {
    changed: true,
    version: hotlist.version,
    wallets: hotlist.blockedWallets.length,
    serials: hotlist.revokedSerials.length,
  };
}
