/**
 * Batch verification, pure: given the trust store, the clock and what the ledger already holds (a
 * synchronous read-only view), decide what a batch does. No I/O here; application/batches.ts runs
 * the record checks (CPU) outside any transaction and `decideBatch` + the write inside one.
 *
 * What rejects the whole batch, and why:
 * - The terminal is not authenticated (certificate chain, revocation, manifest signature, manifest
 *   ids ≠ certificate ids): nothing in the batch can be attributed to a merchant. HTTP 403, not
 *   stored (an unauthenticated request must not be able to claim a batch id).
 * - The batch does not continue this terminal's stored chain head: an earlier batch is missing (or
 *   this one was already settled). Settling it would move the head past records nobody has seen,
 *   and they could never be uploaded afterwards. HTTP 409, not stored: once the missing batch is
 *   settled, the same batch id can be sent again. When every record of it is already settled under
 *   another batch id it is a replay: 422 ACQ_ERR_REPLAYED_BATCH, each record ACQ_ERR_DUPLICATE.
 * - A link inside the batch breaks between two records whose terminal signatures both verify, or
 *   the last intact record does not hash to the signed manifest's chain head: a record was
 *   deleted, inserted or reordered in the terminal's database. The batch is incomplete; rejecting
 *   it whole (422, stored) leaves the head where it was so a repaired batch can still settle.
 *
 * What rejects one record, the rest of the batch settling normally: its terminal signature fails
 * (the stored record was edited: the break it causes in the next link is explained by it), its card
 * record is malformed, not a debit, or names another terminal, seq or wallet, its card certificate
 * is missing, unknown, revoked or invalid at the record's time, its card signature fails, it is a
 * duplicate, a clone (same wallet and counter, other content: the wallet is also blocked), or its
 * terminal seq was already used. Such a record says nothing about the others, and its slot in the
 * chain is accounted for, so the chain head still moves past it.
 */

import { equalBytes, hex } from "../../protocol/bytes.js";
import { ecdsaVerify, sha256 } from "../../protocol/crypto.js";
import type {
  BatchRecordWire,
  BatchResult,
  BatchUpload,
  RecordVerdict,
} from "../../protocol/wallet/batch.js";
import { manifestMessage } from "../../protocol/wallet/batch.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import {
  CHAIN_STATUS,
  decodeRecord,
  GENESIS_HASH,
  terminalRecordMessage,
  verifyCardRecord,
  type WalletRecord,
} from "../../protocol/wallet/records.js";
import { AcquirerError, type AcquirerErrorCode } from "../errors.js";
import { type AfterBlockFlag, againstBlock, DEFAULT_HOTLIST_GRACE_SECONDS } from "./block-binding.js";
import type { AcquirerTrust, AuthenticatedTerminal, VerifiedCard } from "./trust.js";

/** A record dated further than this ahead of the acquirer's clock is refused (terminal clock gone wrong). */
export const MAX_FUTURE_SKEW_SECONDS = 24 * 3600;

/** Hex the schema already checked (lower case, even length): a view, no validation. */
function bytes(text: string): Uint8Array {
  return Buffer.from(text, "hex");
}

function base64(text: string): Uint8Array {
  return Buffer.from(text, "base64");
}

let lastDay = { index: Number.NaN, text: "" };

/** UTC date of unix seconds: the business day of a record. */
export function businessDay(unixSeconds: number): string {
  // A batch's records mostly share a day: format it once.
  const index = Math.floor(unixSeconds / 86_400);
  if (index !== lastDay.index)
    lastDay = { index, text: new Date(index * 86_400_000).toISOString().slice(0, 10) };
  return lastDay.text;
}

/**
 * Canonical content hash of an upload (the idempotency fingerprint): the manifest, its signature,
 * the card certificates (sorted by key) and every record, in a fixed order. Independent of JSON
 * key order or spacing, so a terminal that rebuilds the same upload from its database gets the
 * same hash. The terminal's own certificate chain is left out: it authenticates the sender, it is
 * not the batch, and a terminal may renew its 30-day certificate between two attempts.
 */
export function batchContentHash(u: BatchUpload): string {
  const m = u.manifest;
  const canonical = JSON.stringify([
    1,
    [m.batchId, m.terminalId, m.merchantId, m.createdAt, m.count, m.firstSeq, m.lastSeq],
    [m.previousHash, m.chainHead, m.totals.map((t) => [t.currency, t.count, t.amount])],
    u.manifestSignature,
    Object.entries(u.certificates).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    u.records.map((r) => [
      r.seq,
      r.status,
      r.cardRecord,
      r.cardSignature,
      r.cardCertificate,
      r.previousHash,
      r.terminalSignature,
    ]),
    // Only when the batch carries refunds: the hash of a batch without them is what it always was.
    ...(u.refunds === undefined
      ? []
      : [
          u.refunds.map((f) => [
            f.refundId,
            f.originalSeq,
            f.walletId,
            f.cardCounter,
            f.amount,
            f.currency,
            f.createdAt,
            f.signature,
          ]),
        ]),
  ]);
  return hex(sha256(Buffer.from(canonical, "utf8")));
}

/**
 * Authenticate the uploading terminal: its certificate chain at `now`, the acquirer's own list of
 * revoked terminal ids, the manifest ids against the certificate and the manifest signature.
 * Throws AcquirerError (HTTP 403) on any failure.
 */
export function authenticateBatch(
  upload: BatchUpload,
  trust: AcquirerTrust,
  now: Date,
  isTerminalRevoked: (terminalId: string) => boolean,
): AuthenticatedTerminal {
  const terminal = trust.authenticateTerminal(upload.terminalCertificates.map(base64), now);
  if (isTerminalRevoked(terminal.terminalId))
    throw new AcquirerError("ACQ_ERR_TERMINAL_REVOKED", `terminal ${terminal.terminalId} is revoked`, {
      details: { terminalId: terminal.terminalId },
    });
  const m = upload.manifest;
  if (m.terminalId !== terminal.terminalId || m.merchantId !== terminal.merchantId)
    throw new AcquirerError(
      "ACQ_ERR_TERMINAL_MISMATCH",
      "manifest terminal/merchant ids differ from the terminal certificate's",
      {
        details: {
          manifest: { terminalId: m.terminalId, merchantId: m.merchantId },
          certificate: { terminalId: terminal.terminalId, merchantId: terminal.merchantId },
        },
      },
    );
  if (!ecdsaVerify(terminal.publicKey, manifestMessage(m), bytes(upload.manifestSignature)))
    throw new AcquirerError("ACQ_ERR_MANIFEST_SIGNATURE", "manifest signature does not verify");
  return terminal;
}

/** One uploaded entry after the checks that need no database. */
export interface CheckedRecord {
  readonly index: number;
  readonly seq: number;
  readonly voided: boolean;
  readonly previousHash: Uint8Array;
  readonly terminalSignature: Uint8Array;
  /** chainHash of this entry as uploaded (what the next entry's previousHash must be). */
  readonly chainHash: Uint8Array;
  readonly terminalSignatureOk: boolean;
  readonly cardRecord: Uint8Array;
  readonly cardSignature: Uint8Array;
  /** The verified card's fingerprint (SHA-256 of its DER); "" when none. */
  readonly cardFingerprint: string;
  /** Its issuer CA's fingerprint (VerifiedCard.issuerFingerprint); "" when no card verified. */
  readonly cardIssuer: string;
  readonly record: WalletRecord | undefined;
  /** Why the record is rejected by the checks so far; undefined when it passed them. */
  readonly reason: AcquirerErrorCode | undefined;
}

export interface RecordCheckContext {
  readonly terminal: AuthenticatedTerminal;
  readonly trust: AcquirerTrust;
  readonly certificates: Readonly<Record<string, string>>;
  readonly nowSeconds: number;
  /** Cards verified in this batch, by claimed fingerprint (filled as records are checked). */
  readonly cards: Map<string, VerifiedCard>;
}

export function recordCheckContext(
  upload: BatchUpload,
  terminal: AuthenticatedTerminal,
  trust: AcquirerTrust,
  now: Date,
): RecordCheckContext {
  return {
    terminal,
    trust,
    certificates: upload.certificates,
    nowSeconds: Math.floor(now.getTime() / 1000),
    cards: new Map(),
  };
}

function cardFor(
  fingerprint: string,
  time: number,
  ctx: RecordCheckContext,
): VerifiedCard | AcquirerErrorCode {
  const known = ctx.cards.get(fingerprint);
  if (known) return known;
  // Own property only: "__proto__" or "constructor" must not resolve to something inherited.
  const b64 = Object.hasOwn(ctx.certificates, fingerprint) ? ctx.certificates[fingerprint] : undefined;
  if (b64 === undefined) return "ACQ_ERR_CARD_CERT";
  const check = ctx.trust.checkCard(base64(b64), time);
  if (!check.ok) return check.reason;
  // The map key is the client's claim: it must be the certificate's real fingerprint.
  if (check.card.fingerprint !== fingerprint) return "ACQ_ERR_CARD_CERT";
  ctx.cards.set(fingerprint, check.card);
  return check.card;
}

/**
 * The checks of one entry that need no database: terminal signature (first: it covers everything
 * the terminal stored), layout, debit type, terminal id and seq, time, card certificate and card
 * signature. Also computes the entry's chain hash.
 */
export function checkRecord(w: BatchRecordWire, index: number, ctx: RecordCheckContext): CheckedRecord {
  const voided = w.status === "voided";
  const previousHash = bytes(w.previousHash);
  const terminalSignature = bytes(w.terminalSignature);
  const cardRecord = bytes(w.cardRecord);
  const cardSignature = bytes(w.cardSignature);
  const message = terminalRecordMessage({
    previousHash,
    terminalSeq: w.seq,
    status: voided ? CHAIN_STATUS.VOIDED : CHAIN_STATUS.COMPLETE,
    cardRecord,
    cardSignature,
  });
  const terminalSignatureOk = ecdsaVerify(ctx.terminal.publicKey, message, terminalSignature);
  const base = {
    index,
    seq: w.seq,
    voided,
    previousHash,
    terminalSignature,
    chainHash: sha256(message, terminalSignature),
    terminalSignatureOk,
    cardRecord,
    cardSignature,
  };
  const rejected = (
    reason: AcquirerErrorCode,
    record?: WalletRecord,
    card?: VerifiedCard,
  ): CheckedRecord => ({
    ...base,
    cardFingerprint: card?.fingerprint ?? "",
    cardIssuer: card?.issuerFingerprint ?? "",
    record,
    reason,
  });

  if (!terminalSignatureOk) return rejected("ACQ_ERR_TERMINAL_SIGNATURE");
  if (voided) {
    if (cardRecord.length > 0 || cardSignature.length > 0 || w.cardCertificate !== "")
      return rejected("ACQ_ERR_RECORD_FORMAT");
    return { ...base, cardFingerprint: "", cardIssuer: "", record: undefined, reason: undefined };
  }
  if (cardSignature.length !== 64 || w.cardCertificate === "") return rejected("ACQ_ERR_RECORD_FORMAT");
  let record: WalletRecord;
  try {
    record = decodeRecord(cardRecord);
  } catch {
    return rejected("ACQ_ERR_RECORD_FORMAT");
  }
  if (record.type !== RECORD_TYPE.DEBIT) return rejected("ACQ_ERR_RECORD_TYPE", record);
  if (record.amount <= 0) return rejected("ACQ_ERR_RECORD_FORMAT", record);
  if (record.terminalId !== ctx.terminal.terminalId || record.terminalSeq !== w.seq)
    return rejected("ACQ_ERR_RECORD_MISMATCH", record);
  if (record.time > ctx.nowSeconds + MAX_FUTURE_SKEW_SECONDS) return rejected("ACQ_ERR_RECORD_TIME", record);
  const card = cardFor(w.cardCertificate, record.time, ctx);
  if (typeof card === "string") return rejected(card, record);
  if (record.time < card.validFrom || record.time > card.validUntil)
    return rejected("ACQ_ERR_CARD_CERT", record, card);
  if (record.walletId !== card.walletId) return rejected("ACQ_ERR_RECORD_MISMATCH", record, card);
  if (!verifyCardRecord(card.publicKey, cardRecord, cardSignature))
    return rejected("ACQ_ERR_CARD_SIGNATURE", record, card);
  return {
    ...base,
    cardFingerprint: card.fingerprint,
    cardIssuer: card.issuerFingerprint,
    record,
    reason: undefined,
  };
}

export interface ChainBreak {
  /** Index of the entry whose incoming link breaks (records.length: the manifest's chain head). */
  readonly at: number;
  readonly message: string;
}

/**
 * Links are checked only between entries whose terminal signatures verify: an entry whose
 * signature fails was edited, is rejected on its own, and explains the break next to it.
 */
export function findChainBreak(
  checked: readonly CheckedRecord[],
  manifestPreviousHash: Uint8Array,
  manifestChainHead: Uint8Array,
): ChainBreak | undefined {
  const first = checked[0];
  if (first?.terminalSignatureOk && !equalBytes(first.previousHash, manifestPreviousHash))
    return { at: 0, message: `seq ${first.seq} does not continue the manifest's previous hash` };
  for (let i = 1; i < checked.length; i++) {
    const prev = checked[i - 1]!;
    const cur = checked[i]!;
    if (prev.terminalSignatureOk && cur.terminalSignatureOk && !equalBytes(cur.previousHash, prev.chainHash))
      return {
        at: i,
        message: `link from seq ${prev.seq} to seq ${cur.seq} breaks (record deleted, inserted or reordered)`,
      };
  }
  const last = checked.at(-1);
  if (last?.terminalSignatureOk && !equalBytes(last.chainHash, manifestChainHead))
    return { at: checked.length, message: `seq ${last.seq} does not lead to the manifest's chain head` };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Decision against the ledger

/** What the decision needs to read from the ledger, synchronously, inside the write transaction. */
export interface LedgerView {
  /** The terminal's chain head after its last settled batch; undefined for a new terminal. */
  terminalHead(terminalId: string): { chainHead: Uint8Array; lastBatchId: string } | undefined;
  /** The accepted record with this wallet id and card counter, if any. */
  acceptedRecord(
    walletId: string,
    cardCounter: number,
  ): { cardRecord: Uint8Array; terminalId: string; seq: number; batchId: string } | undefined;
  /** Whether an accepted or voided entry of this terminal already has this seq. */
  seqTaken(terminalId: string, seq: number): boolean;
  /** An entry of a settled batch with this terminal, seq and previous hash (replay detection). */
  settledEntry(
    terminalId: string,
    seq: number,
    previousHash: Uint8Array,
  ): { cardRecord: Uint8Array } | undefined;
  /**
   * When the wallet was blocked for the cards of this issuer CA (unix seconds): the earliest of its
   * block at every issuer and its block at this issuer, if it is on the hotlist now. A block of the
   * same wallet id at another issuer does not count (issuers' wallet ids may collide).
   */
  blockedAt(walletId: string, issuerFingerprint: string): number | undefined;
}

export type Difference =
  | {
      kind: "currency-total";
      currency: number;
      manifestCount: number;
      manifestAmount: number;
      acceptedCount: number;
      acceptedAmount: number;
    }
  | { kind: "record-count"; manifest: number; uploaded: number }
  | { kind: "first-seq" | "last-seq"; manifest: number; uploaded: number }
  | {
      kind: "rejected-record";
      seq: number;
      reason: string;
      walletId?: string;
      cardCounter?: number;
      amount?: number;
      currency?: number;
    };

/** A record to store (accepted, voided or rejected), in chain order. */
export interface DecidedRecord {
  readonly checked: CheckedRecord;
  readonly verdict: RecordVerdict;
}

export interface CloneEvent {
  readonly walletId: string;
  readonly cardCounter: number;
  readonly first: { terminalId: string; seq: number; batchId: string };
  readonly cloneSeq: number;
}

export type BatchDecision =
  | {
      /** The batch does not continue the stored head: 409, nothing stored. */
      readonly kind: "not-continuing";
      readonly expectedPreviousHash: string;
      readonly lastBatchId: string | undefined;
    }
  | {
      readonly kind: "final";
      /** 200 settled, 422 rejected as a whole. Both are stored and replayed for the batch id. */
      readonly httpStatus: 200 | 422;
      readonly result: BatchResult;
      readonly message: string | undefined;
      /** Entries to store; empty for a batch rejected as a whole. */
      readonly records: readonly DecidedRecord[];
      readonly clones: readonly CloneEvent[];
      readonly differences: readonly Difference[];
      /** Accepted debits dated after their wallet's block, inside the grace period (block-binding.ts). */
      readonly afterBlock: readonly AfterBlockFlag[];
    };

export interface DecideInput {
  readonly upload: BatchUpload;
  readonly terminal: AuthenticatedTerminal;
  readonly checked: readonly CheckedRecord[];
  /** How long after a block a debit is still accepted (flagged); default the terminals' hotlist age. */
  readonly hotlistGraceSeconds?: number;
}

function rejectedWhole(
  input: DecideInput,
  reason: AcquirerErrorCode,
  message: string,
  perRecord: (c: CheckedRecord) => AcquirerErrorCode,
): BatchDecision {
  const records = input.checked.map(
    (c): RecordVerdict => ({ seq: c.seq, status: "rejected", reason: perRecord(c) }),
  );
  return {
    kind: "final",
    httpStatus: 422,
    message,
    result: {
      batchId: input.upload.manifest.batchId,
      status: "rejected",
      reason,
      accepted: 0,
      rejected: records.length,
      records,
    },
    records: [],
    clones: [],
    differences: [],
    afterBlock: [],
  };
}

export function decideBatch(input: DecideInput, view: LedgerView): BatchDecision {
  const { upload, terminal, checked } = input;
  const m = upload.manifest;
  const head = view.terminalHead(terminal.terminalId);
  const expected = head?.chainHead ?? GENESIS_HASH;
  if (m.previousHash !== hex(expected)) {
    const replay =
      checked.length > 0 &&
      checked.every((c) => {
        const e = view.settledEntry(terminal.terminalId, c.seq, c.previousHash);
        return e !== undefined && equalBytes(e.cardRecord, c.cardRecord);
      });
    if (replay)
      return rejectedWhole(
        input,
        "ACQ_ERR_REPLAYED_BATCH",
        "every record of this batch was already settled under another batch id",
        () => "ACQ_ERR_DUPLICATE",
      );
    return { kind: "not-continuing", expectedPreviousHash: hex(expected), lastBatchId: head?.lastBatchId };
  }

  const chainBreak = findChainBreak(checked, bytes(m.previousHash), bytes(m.chainHead));
  if (chainBreak)
    return rejectedWhole(
      input,
      "ACQ_ERR_CHAIN_BREAK",
      chainBreak.message,
      (c) => c.reason ?? "ACQ_ERR_CHAIN_BREAK",
    );

  const acceptedHere = new Map<string, CheckedRecord>();
  const seqsHere = new Set<number>();
  const decided: DecidedRecord[] = [];
  const clones: CloneEvent[] = [];
  const afterBlock: AfterBlockFlag[] = [];
  const grace = input.hotlistGraceSeconds ?? DEFAULT_HOTLIST_GRACE_SECONDS;
  let accepted = 0;
  for (const c of checked) {
    let reason = c.reason;
    if (reason === undefined) {
      const seqTaken = seqsHere.has(c.seq) || view.seqTaken(terminal.terminalId, c.seq);
      if (c.voided) {
        if (seqTaken) reason = "ACQ_ERR_SEQ_REUSED";
      } else {
        const r = c.record!;
        const key = `${r.walletId}\u0000${r.cardCounter}`;
        const here = acceptedHere.get(key);
        const prior = here
          ? {
              cardRecord: here.cardRecord,
              terminalId: terminal.terminalId,
              seq: here.seq,
              batchId: m.batchId,
            }
          : view.acceptedRecord(r.walletId, r.cardCounter);
        if (prior) {
          if (equalBytes(prior.cardRecord, c.cardRecord)) reason = "ACQ_ERR_DUPLICATE";
          else {
            reason = "ACQ_ERR_CLONE";
            clones.push({
              walletId: r.walletId,
              cardCounter: r.cardCounter,
              first: { terminalId: prior.terminalId, seq: prior.seq, batchId: prior.batchId },
              cloneSeq: c.seq,
            });
          }
        } else if (seqTaken) reason = "ACQ_ERR_SEQ_REUSED";
        else {
          const blockedAt = view.blockedAt(r.walletId, c.cardIssuer);
          const against = againstBlock(r.time, blockedAt, grace);
          if (against === "after-grace") reason = "ACQ_ERR_WALLET_BLOCKED";
          else {
            if (against === "in-grace")
              afterBlock.push({
                seq: c.seq,
                walletId: r.walletId,
                cardCounter: r.cardCounter,
                amount: r.amount,
                currency: r.currency,
                recordTime: r.time,
                blockedAt: blockedAt!,
              });
            acceptedHere.set(key, c);
          }
        }
      }
    }
    if (reason === undefined) seqsHere.add(c.seq);
    const verdict: RecordVerdict =
      reason !== undefined
        ? { seq: c.seq, status: "rejected", reason }
        : { seq: c.seq, status: c.voided ? "voided" : "accepted" };
    if (verdict.status === "accepted") accepted++;
    decided.push({ checked: c, verdict });
  }
  const rejected = decided.filter((d) => d.verdict.status === "rejected").length;
  return {
    kind: "final",
    httpStatus: 200,
    message: undefined,
    result: {
      batchId: m.batchId,
      status: "settled",
      accepted,
      rejected,
      records: decided.map((d) => d.verdict),
    },
    records: decided,
    clones,
    differences: reconcile(upload, decided),
    afterBlock,
  };
}

/**
 * Every difference between what the terminal's signed manifest claims and what the acquirer
 * accepted: per-currency count and amount, record count, first and last seq, and each rejected
 * record (which explains a total that differs).
 */
export function reconcile(upload: BatchUpload, decided: readonly DecidedRecord[]): Difference[] {
  const m = upload.manifest;
  const out: Difference[] = [];
  if (m.count !== decided.length)
    out.push({ kind: "record-count", manifest: m.count, uploaded: decided.length });
  const first = decided[0]?.checked.seq;
  const last = decided.at(-1)?.checked.seq;
  if (first !== undefined && first !== m.firstSeq)
    out.push({ kind: "first-seq", manifest: m.firstSeq, uploaded: first });
  if (last !== undefined && last !== m.lastSeq)
    out.push({ kind: "last-seq", manifest: m.lastSeq, uploaded: last });

  const acceptedTotals = new Map<number, { count: number; amount: number }>();
  for (const d of decided) {
    if (d.verdict.status !== "accepted") continue;
    const r = d.checked.record!;
    const t = acceptedTotals.get(r.currency) ?? { count: 0, amount: 0 };
    t.count++;
    t.amount += r.amount;
    acceptedTotals.set(r.currency, t);
  }
  const manifestTotals = new Map(m.totals.map((t) => [t.currency, t]));
  const currencies = [...new Set([...manifestTotals.keys(), ...acceptedTotals.keys()])].sort((a, b) => a - b);
  for (const currency of currencies) {
    const claimed = manifestTotals.get(currency) ?? { count: 0, amount: 0 };
    const got = acceptedTotals.get(currency) ?? { count: 0, amount: 0 };
    if (claimed.count !== got.count || claimed.amount !== got.amount)
      out.push({
        kind: "currency-total",
        currency,
        manifestCount: claimed.count,
        manifestAmount: claimed.amount,
        acceptedCount: got.count,
        acceptedAmount: got.amount,
      });
  }
  for (const d of decided) {
    if (d.verdict.status !== "rejected") continue;
    const r = d.checked.record;
    out.push({
      kind: "rejected-record",
      seq: d.checked.seq,
      reason: d.verdict.reason!,
      ...(r
        ? { walletId: r.walletId, cardCounter: r.cardCounter, amount: r.amount, currency: r.currency }
        : {}),
    });
  }
  return out;
}
