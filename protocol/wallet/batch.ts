/**
 * What a terminal uploads to the acquirer: the batch (a signed manifest plus the terminal's
 * chained records). JSON on the wire, with binary fields in lower-case hex; every signature is
 * over a canonical binary encoding defined here, never over JSON text. What the acquirer
 * publishes back, the hotlist, is in ./hotlist.ts.
 */
import { concat, u8, u16be, u32be, utf8 } from "../bytes.js";
import { ProtocolError } from "../errors.js";
import { ID_PATTERN, LABEL } from "./constants.js";
import type { RefundVerdict, RefundWire } from "./refund.js";

/** One chained terminal record as uploaded (a complete debit or a voided intent). */
export interface BatchRecordWire {
  /** Terminal seq. */
  readonly seq: number;
  readonly status: "complete" | "voided";
  /** The card-signed record (hex); empty for voided. */
  readonly cardRecord: string;
  /** Card signature (hex, 64 bytes); empty for voided. */
  readonly cardSignature: string;
  /** SHA-256 fingerprint (hex) of the card certificate, a key of `certificates`; empty for voided. */
  readonly cardCertificate: string;
  /** Chain hash before this record (hex, 32 bytes). */
  readonly previousHash: string;
  /** Terminal signature (hex, 64 bytes) over the terminal record message. */
  readonly terminalSignature: string;
}

export interface CurrencyTotal {
  /** ISO 4217 numeric. */
  readonly currency: number;
  readonly count: number;
  /** Minor units. */
  readonly amount: number;
}

export interface BatchManifest {
  /** UUID chosen by the terminal when it closes the batch: the idempotency key. */
  readonly batchId: string;
  readonly terminalId: string;
  readonly merchantId: string;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Records in the batch (complete and voided). */
  readonly count: number;
  /** Complete debits per currency, sorted by currency. */
  readonly totals: readonly CurrencyTotal[];
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Chain hash before the first record (hex). */
  readonly previousHash: string;
  /** Chain hash after the last record (hex). */
  readonly chainHead: string;
  /**
   * Torn intents the terminal could not resolve from the card's log (it no longer covered them):
   * the back office settles them. Absent when there are none (and from older terminals).
   */
  readonly unresolvedIntents?: readonly UnresolvedIntentWire[];
}

/** A pending intent the card's log could not settle: the card may have committed it. */
export interface UnresolvedIntentWire {
  readonly seq: number;
  readonly walletId: string;
  /** Minor units. */
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  /** Unix seconds, as signed to the card. */
  readonly terminalTime: number;
  /** The card counter before DEBIT (or a lower bound): a committed debit has a higher one. */
  readonly cardCounterSeen?: number;
  /** Why the card's log could not settle it. */
  readonly reason: string;
}

export const MAX_UNRESOLVED_INTENTS = 1000;
export const MAX_UNRESOLVED_REASON = 300;
const UNRESOLVED_LABEL = "TAPWALLET/1 UNRESOLVED INTENTS";

/** Signed bytes of the unresolved intents: label || n (2) || n × (seq, wallet, amount, currency, time, counter, reason). */
function unresolvedMessage(list: readonly UnresolvedIntentWire[]): Uint8Array {
  if (list.length > MAX_UNRESOLVED_INTENTS) throw manifestError("too many unresolved intents");
  const parts: Uint8Array[] = [utf8(UNRESOLVED_LABEL), u16be(list.length)];
  for (const u of list) {
    if (!ID_PATTERN.test(u.walletId)) throw manifestError("unresolved intent: malformed wallet id");
    const reason = utf8(u.reason);
    if (reason.length > MAX_UNRESOLVED_REASON) throw manifestError("unresolved intent: reason too long");
    const wallet = utf8(u.walletId);
    const counter = u.cardCounterSeen;
    parts.push(
      u32be(u.seq),
      u8(wallet.length),
      wallet,
      u64be(u.amount),
      u16be(u.currency),
      u32be(u.terminalTime),
      counter === undefined ? u8(0) : concat(u8(1), u32be(counter)),
      u16be(reason.length),
      reason,
    );
  }
  return concat(...parts);
}

export interface BatchUpload {
  readonly manifest: BatchManifest;
  /** Terminal signature (hex) over manifestMessage(manifest). */
  readonly manifestSignature: string;
  /** Terminal certificate (base64 DER) and its CA chain, leaf first. */
  readonly terminalCertificates: readonly string[];
  /** Card certificates (base64 DER) by SHA-256 fingerprint (hex). */
  readonly certificates: Readonly<Record<string, string>>;
  readonly records: readonly BatchRecordWire[];
  /**
   * Wallets this terminal caught rolled back or with an edited balance, for seqs of this batch
   * (voided records). Absent when there are none, and from older terminals. Outside the signed
   * manifest and the batch's content hash: each finding carries its own proof, the card-signed
   * record for this terminal and seq.
   */
  readonly findings?: readonly WalletFindingWire[];
  /**
   * Refunds of this terminal's debits (protocol/wallet/refund.ts), each signed by the terminal on
   * its own. Absent when there are none. A batch may carry refunds and no record (count 0, first
   * and last seq 0, previous hash = chain head): the refunds of a terminal with nothing new to
   * upload.
   */
  readonly refunds?: readonly RefundWire[];
}

/** At most this many findings ride with one batch. */
export const MAX_BATCH_FINDINGS = 1000;

/** A wallet whose signed record contradicts what the terminal last verified of it. */
export interface WalletFindingWire {
  /** The terminal's own id for the finding (the acquirer keys it by terminal id and this id). */
  readonly id: number;
  readonly walletId: string;
  /** "rollback": the counter did not move forward; "balance-forged": wrong balance at the next counter. */
  readonly kind: "rollback" | "balance-forged";
  /** The terminal seq of the declined (voided) payment the record answers. */
  readonly seq: number;
  /** What the terminal had verified last: its seq, card counter and balance after (minor units). */
  readonly seenSeq: number;
  readonly counterSeen: number;
  readonly balanceSeen: number;
  /** What the card signed in this record. */
  readonly counterClaimed: number;
  readonly balanceClaimed: number;
  /** Minor units and ISO 4217 numeric of the declined payment. */
  readonly amount: number;
  readonly currency: number;
  /**
   * The card-signed record (hex) and its signature (hex, 64 bytes): the proof. Both empty for a
   * wallet declined before DEBIT (the counter it announced at SELECT was behind): nothing was signed.
   */
  readonly cardRecord: string;
  readonly cardSignature: string;
  /** The card certificate (base64 DER). */
  readonly cardCertificate: string;
  /** Unix seconds. */
  readonly foundAt: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function manifestError(message: string): ProtocolError {
  return new ProtocolError("PROTO_ERR_RECORD_FORMAT", `batch manifest: ${message}`);
}

function hex32(text: string, what: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(text)) throw manifestError(`${what} must be 32 bytes of lower-case hex`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw manifestError("total is not a non-negative safe integer");
  const hi = Math.floor(n / 0x1_0000_0000);
  return concat(u32be(hi), u32be(n - hi * 0x1_0000_0000));
}

/**
 * Canonical bytes the terminal signs for a manifest:
 * label || batch id (16, UUID bytes) || len(terminal id) || terminal id || len(merchant id) ||
 * merchant id || created at (4) || count (4) || first seq (4) || last seq (4) || previous hash (32)
 * || chain head (32) || n totals (1) || n × (currency (2) || count (4) || amount (8))
 * [|| unresolved intents (unresolvedMessage), only when the manifest carries them: a manifest
 * without them has the same bytes as before].
 */
export function manifestMessage(m: BatchManifest): Uint8Array {
  if (!UUID_RE.test(m.batchId)) throw manifestError("batch id must be a lower-case UUID");
  if (!ID_PATTERN.test(m.terminalId) || !ID_PATTERN.test(m.merchantId)) throw manifestError("malformed id");
  if (m.totals.length > 255) throw manifestError("too many currencies");
  const terminal = utf8(m.terminalId);
  const merchant = utf8(m.merchantId);
  return concat(
    utf8(LABEL.BATCH_MANIFEST),
    new Uint8Array(Buffer.from(m.batchId.replaceAll("-", ""), "hex")),
    u8(terminal.length),
    terminal,
    u8(merchant.length),
    merchant,
    u32be(m.createdAt),
    u32be(m.count),
    u32be(m.firstSeq),
    u32be(m.lastSeq),
    hex32(m.previousHash, "previous hash"),
    hex32(m.chainHead, "chain head"),
    u8(m.totals.length),
    ...m.totals.map((t) => concat(u16be(t.currency), u32be(t.count), u64be(t.amount))),
    ...(m.unresolvedIntents === undefined ? [] : [unresolvedMessage(m.unresolvedIntents)]),
  );
}

/** Per-record verdict the acquirer answers. `reason` is an ACQ_ERR_* code when rejected. */
export interface RecordVerdict {
  readonly seq: number;
  readonly status: "accepted" | "rejected" | "voided";
  readonly reason?: string;
}

export interface BatchResult {
  readonly batchId: string;
  readonly status: "settled" | "rejected";
  readonly reason?: string;
  readonly accepted: number;
  readonly rejected: number;
  readonly records: readonly RecordVerdict[];
  /** One verdict per refund the batch carried; absent when it carried none. */
  readonly refunds?: readonly RefundVerdict[];
  /**
   * Refunds of earlier batches of this terminal that waited for their debit (pending) and that
   * this batch settled or rejected; absent when none did.
   */
  readonly refundsResolved?: readonly RefundVerdict[];
}

// The hotlist lives in ./hotlist.ts (formats 1 and 2); re-exported here for older imports.
export {
  HOTLIST_LABEL,
  type Hotlist,
  type HotlistWire,
  hotlistMessage,
  type IssuerHotlist,
  type IssuerHotlistWire,
} from "./hotlist.js";
