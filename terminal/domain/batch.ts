/**
 * Upload batches as pure rules. A batch covers consecutive final records in chain order, so that
 * batches continue each other's hash chain; its manifest (count, totals per currency of the
 * complete records, first/last seq, the chain hash before and after) is signed by the terminal when
 * the batch is closed and stored with it. The upload body is built from the stored batch the same
 * way every time, so a re-sent batch is byte-for-byte the batch the acquirer may already hold.
 */
import { hex } from "../../protocol/bytes.js";
import {
  type BatchManifest,
  type BatchRecordWire,
  type BatchUpload,
  type CurrencyTotal,
  MAX_UNRESOLVED_REASON,
  manifestMessage,
  type UnresolvedIntentWire,
} from "../../protocol/wallet/batch.js";
import type { Intent, RecordSigner } from "./records.js";

export type BatchStatus = "closed" | "settled" | "rejected";

export interface OutgoingBatch {
  readonly batchId: string;
  readonly status: BatchStatus;
  readonly manifest: BatchManifest;
  readonly manifestSignature: string;
  /** Upload attempts so far. */
  readonly attempts: number;
}

/** A final record as a batch carries it. */
export interface BatchEntry {
  readonly seq: number;
  readonly status: "complete" | "voided";
  readonly amount: number;
  readonly currency: number;
  readonly cardRecord: Uint8Array | undefined;
  readonly cardSignature: Uint8Array | undefined;
  /** Fingerprint of the card certificate (complete records). */
  readonly cardCertificate: string | undefined;
  readonly chainIndex: number;
  readonly previousHash: Uint8Array;
  readonly terminalSignature: Uint8Array;
  readonly chainHash: Uint8Array;
}

export interface BatchHeader {
  readonly batchId: string;
  readonly terminalId: string;
  readonly merchantId: string;
  /** When the batch is closed, ms. */
  readonly closedAt: number;
  /** Torn intents the card's log could not settle, reported (and signed) with this batch. */
  readonly unresolvedIntents?: readonly UnresolvedIntentWire[];
}

/** A pending intent marked unresolved, as the manifest carries it. */
export function unresolvedWire(i: Intent): UnresolvedIntentWire {
  return {
    seq: i.seq,
    walletId: i.walletId,
    amount: i.amount,
    currency: i.currency,
    terminalTime: i.terminalTime,
    ...(i.cardCounterSeen === undefined ? {} : { cardCounterSeen: i.cardCounterSeen }),
    reason: (i.unresolved?.reason ?? "unresolved").slice(0, MAX_UNRESOLVED_REASON),
  };
}

/** The signed manifest of a batch over `entries` (non-empty, in chain order). */
export function closeBatch(
  entries: readonly BatchEntry[],
  header: BatchHeader,
  sign: RecordSigner,
): { manifest: BatchManifest; manifestSignature: string } {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) throw new RangeError("a batch needs at least one record");
  const totals = new Map<number, CurrencyTotal>();
  for (const r of entries) {
    if (r.status !== "complete") continue;
    const t = totals.get(r.currency) ?? { currency: r.currency, count: 0, amount: 0 };
    totals.set(r.currency, { currency: r.currency, count: t.count + 1, amount: t.amount + r.amount });
  }
  const manifest: BatchManifest = {
    batchId: header.batchId,
    terminalId: header.terminalId,
    merchantId: header.merchantId,
    createdAt: Math.floor(header.closedAt / 1000),
    count: entries.length,
    totals: [...totals.values()].sort((a, b) => a.currency - b.currency),
    firstSeq: first.seq,
    lastSeq: last.seq,
    previousHash: hex(first.previousHash),
    chainHead: hex(last.chainHash),
    ...(header.unresolvedIntents?.length ? { unresolvedIntents: header.unresolvedIntents } : {}),
  };
  return { manifest, manifestSignature: hex(sign(manifestMessage(manifest))) };
}

const base64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

/** The upload body for a stored batch and its entries (in chain order). */
export function batchUpload(
  batch: OutgoingBatch,
  entries: readonly BatchEntry[],
  certificate: (fingerprint: string) => Uint8Array | undefined,
  terminalCertificates: readonly Uint8Array[],
): BatchUpload {
  const certificates: Record<string, string> = {};
  const records: BatchRecordWire[] = entries.map((r) => {
    if (r.cardCertificate && !(r.cardCertificate in certificates)) {
      const der = certificate(r.cardCertificate);
      if (der) certificates[r.cardCertificate] = base64(der);
    }
    return {
      seq: r.seq,
      status: r.status,
      cardRecord: r.cardRecord ? hex(r.cardRecord) : "",
      cardSignature: r.cardSignature ? hex(r.cardSignature) : "",
      cardCertificate: r.cardCertificate ?? "",
      previousHash: hex(r.previousHash),
      terminalSignature: hex(r.terminalSignature),
    };
  });
  return {
    manifest: batch.manifest,
    manifestSignature: batch.manifestSignature,
    terminalCertificates: terminalCertificates.map(base64),
    certificates,
    records,
  };
}
