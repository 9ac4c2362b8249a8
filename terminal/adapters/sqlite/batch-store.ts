/**
 * Batches and the hotlist in the terminal's database. A batch is closed over the oldest final
 * records not yet batched, in chain order (so batches continue each other's hash chain), with its
 * signed manifest stored: until the acquirer answers, the very same batch is re-sent under the same
 * id, however often the upload is interrupted.
 */
import { randomUUID } from "node:crypto";
import { hex } from "../../../protocol/bytes.js";
import {
  type BatchManifest,
  type BatchRecordWire,
  type BatchResult,
  type BatchUpload,
  type CurrencyTotal,
  type Hotlist,
  manifestMessage,
} from "../../../protocol/wallet/batch.js";
import type { RecordStore } from "./record-store.js";

export interface StoredBatch {
  readonly batchId: string;
  readonly status: "closed" | "settled" | "rejected";
  readonly manifest: BatchManifest;
  readonly manifestSignature: string;
  readonly attempts: number;
}

interface FinalRow {
  seq: number;
  status: "complete" | "voided";
  amount: number;
  currency: number;
  card_record: Buffer | null;
  card_signature: Buffer | null;
  card_certificate: string | null;
  chain_index: number;
  previous_hash: Buffer;
  terminal_signature: Buffer;
  chain_hash: Buffer;
}

export interface CloseOptions {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly maxRecords: number;
  readonly sign: (message: Uint8Array) => Uint8Array;
  readonly now?: () => number;
}

/** Close every unbatched final record into batches of at most maxRecords. Returns the new batch ids. */
export function closeBatches(store: RecordStore, o: CloseOptions): string[] {
  const db = store.db;
  const now = o.now ?? (() => store.now());
  const select = db.prepare(
    `SELECT seq, status, amount, currency, card_record, card_signature, card_certificate, chain_index,
            previous_hash, terminal_signature, chain_hash
     FROM transactions WHERE chain_index IS NOT NULL AND batch_id IS NULL ORDER BY chain_index LIMIT ?`,
  );
  const assign = db.prepare(
    "UPDATE transactions SET batch_id = ? WHERE chain_index BETWEEN ? AND ? AND batch_id IS NULL",
  );
  const insert = db.prepare(
    `INSERT INTO batches (batch_id, status, first_chain_index, last_chain_index, manifest, manifest_signature, created_at)
     VALUES (?, 'closed', ?, ?, ?, ?, ?)`,
  );
  const ids: string[] = [];
  const closeOne = db.transaction((): boolean => {
    const rows = select.all(o.maxRecords) as FinalRow[];
    if (rows.length === 0) return false;
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    const totals = new Map<number, CurrencyTotal>();
    for (const r of rows) {
      if (r.status !== "complete") continue;
      const t = totals.get(r.currency) ?? { currency: r.currency, count: 0, amount: 0 };
      totals.set(r.currency, { currency: r.currency, count: t.count + 1, amount: t.amount + r.amount });
    }
    const manifest: BatchManifest = {
      batchId: randomUUID(),
      terminalId: o.terminalId,
      merchantId: o.merchantId,
      createdAt: Math.floor(now() / 1000),
      count: rows.length,
      totals: [...totals.values()].sort((a, b) => a.currency - b.currency),
      firstSeq: first.seq,
      lastSeq: last.seq,
      previousHash: hex(first.previous_hash),
      chainHead: hex(last.chain_hash),
    };
    const signature = hex(o.sign(manifestMessage(manifest)));
    insert.run(
      manifest.batchId,
      first.chain_index,
      last.chain_index,
      JSON.stringify(manifest),
      signature,
      now(),
    );
    assign.run(manifest.batchId, first.chain_index, last.chain_index);
    ids.push(manifest.batchId);
    return true;
  });
  while (closeOne.immediate()) {
    // one transaction per batch: a crash leaves whole batches or none
  }
  return ids;
}

function toBatch(r: {
  batch_id: string;
  status: StoredBatch["status"];
  manifest: string;
  manifest_signature: string;
  attempts: number;
}): StoredBatch {
  return {
    batchId: r.batch_id,
    status: r.status,
    manifest: JSON.parse(r.manifest) as BatchManifest,
    manifestSignature: r.manifest_signature,
    attempts: r.attempts,
  };
}

/** Batches closed but not yet answered by the acquirer, oldest first. */
export function pendingBatches(store: RecordStore): StoredBatch[] {
  return (
    store.db
      .prepare("SELECT * FROM batches WHERE status = 'closed' ORDER BY first_chain_index")
      .all() as Parameters<typeof toBatch>[0][]
  ).map(toBatch);
}

export function batchRecordCount(store: RecordStore, batchId: string): number {
  return (
    store.db.prepare("SELECT COUNT(*) AS n FROM transactions WHERE batch_id = ?").get(batchId) as {
      n: number;
    }
  ).n;
}

/** The upload body for a stored batch: byte-for-byte the same every time it is built. */
export function buildUpload(
  store: RecordStore,
  batch: StoredBatch,
  terminalCertificates: readonly Uint8Array[],
): BatchUpload {
  const rows = store.db
    .prepare(
      `SELECT seq, status, amount, currency, card_record, card_signature, card_certificate, chain_index,
              previous_hash, terminal_signature, chain_hash
       FROM transactions WHERE batch_id = ? ORDER BY chain_index`,
    )
    .all(batch.batchId) as FinalRow[];
  const certificates: Record<string, string> = {};
  const records: BatchRecordWire[] = rows.map((r) => {
    if (r.card_certificate && !(r.card_certificate in certificates)) {
      const der = store.certificate(r.card_certificate);
      if (der) certificates[r.card_certificate] = Buffer.from(der).toString("base64");
    }
    return {
      seq: r.seq,
      status: r.status,
      cardRecord: r.card_record ? r.card_record.toString("hex") : "",
      cardSignature: r.card_signature ? r.card_signature.toString("hex") : "",
      cardCertificate: r.card_certificate ?? "",
      previousHash: r.previous_hash.toString("hex"),
      terminalSignature: r.terminal_signature.toString("hex"),
    };
  });
  return {
    manifest: batch.manifest,
    manifestSignature: batch.manifestSignature,
    terminalCertificates: terminalCertificates.map((d) => Buffer.from(d).toString("base64")),
    certificates,
    records,
  };
}

export function countAttempt(store: RecordStore, batchId: string): void {
  store.db.prepare("UPDATE batches SET attempts = attempts + 1 WHERE batch_id = ?").run(batchId);
}

/** Record the acquirer's answer: per-record verdicts, the batch's status, the time of the upload. */
export function applyResult(store: RecordStore, result: BatchResult, now = store.now()): void {
  const db = store.db;
  const setRecord = db.prepare(
    "UPDATE transactions SET upload_status = ?, upload_reason = ? WHERE batch_id = ? AND seq = ?",
  );
  const rejectAll = db.prepare(
    "UPDATE transactions SET upload_status = 'rejected', upload_reason = ? WHERE batch_id = ? AND upload_status IS NULL",
  );
  db.transaction(() => {
    for (const v of result.records) setRecord.run(v.status, v.reason ?? null, result.batchId, v.seq);
    if (result.status === "rejected") rejectAll.run(result.reason ?? "batch rejected", result.batchId);
    db.prepare("UPDATE batches SET status = ?, settled_at = ?, result = ? WHERE batch_id = ?").run(
      result.status,
      now,
      JSON.stringify(result),
      result.batchId,
    );
    store.setMeta("last_upload_at", new Date(now).toISOString());
    store.setMeta("last_upload_ms", String(now));
  }).immediate();
}

// ---- hotlist ----------------------------------------------------------------------------------

export function replaceHotlist(store: RecordStore, hotlist: Hotlist): void {
  const db = store.db;
  db.transaction(() => {
    db.prepare("DELETE FROM hotlist_wallets").run();
    db.prepare("DELETE FROM hotlist_serials").run();
    const w = db.prepare("INSERT OR IGNORE INTO hotlist_wallets (wallet_id) VALUES (?)");
    const s = db.prepare("INSERT OR IGNORE INTO hotlist_serials (serial) VALUES (?)");
    for (const id of hotlist.blockedWallets) w.run(id);
    for (const serial of hotlist.revokedSerials) s.run(serial);
    store.setMeta("hotlist_version", String(hotlist.version));
    store.setMeta("hotlist_issued_at", String(hotlist.issuedAt));
    store.setMeta("hotlist_fetched_at", new Date(store.now()).toISOString());
  }).immediate();
}

export function hotlistVersion(store: RecordStore): number | undefined {
  const v = store.getMeta("hotlist_version");
  return v === undefined ? undefined : Number(v);
}

/** A fast membership check for the tap path (prepared once). */
export function hotlistChecker(store: RecordStore): (walletId: string, serial: string) => boolean {
  const w = store.db.prepare("SELECT 1 FROM hotlist_wallets WHERE wallet_id = ?");
  const s = store.db.prepare("SELECT 1 FROM hotlist_serials WHERE serial = ?");
  return (walletId, serial) => w.get(walletId) !== undefined || s.get(serial) !== undefined;
}
