/**
 * The signed record: what the card signs for every value or state change (debit, load, reversal,
 * parameter update, block, unblock), what the terminal counter-signs and chains, and what the
 * acquirer verifies. One canonical binary layout, so signatures are over exact bytes.
 *
 * Layout, version 1 (all integers big-endian; amounts packed BCD n12 like EMV 9F02):
 *   version (1) = 01 | type (1) | wallet id length (1) | wallet id (1..16 ASCII)
 *   | card counter (4) | amount (6 BCD) | currency (2, ISO 4217 numeric) | balance after (6 BCD)
 *   | terminal id length (1) | terminal id (0..16 ASCII) | terminal seq (4) | time (4, unix seconds)
 *   | binding (32)
 * binding: for a debit, the session transcript hash (so an answer from one session can never be
 * replayed into another); for an issuer command, SHA-256 of the issuer command (payload and card
 * challenge).
 */
import { decodeAmountBcd, encodeAmountBcd } from "../amount.js";
import { concat, fromUtf8, readU16be, readU32be, u8, u16be, u32be, utf8 } from "../bytes.js";
import { ecdsaSign, ecdsaVerify, sha256 } from "../crypto.js";
import { ProtocolError } from "../errors.js";
import { ID_PATTERN, LABEL, MAX_ID_LENGTH, RECORD_TYPE, type RecordType } from "./constants.js";

export const RECORD_VERSION = 1;
export const BINDING_LENGTH = 32;
/** Largest possible record: 3 + 16 + 4 + 6 + 2 + 6 + 1 + 16 + 4 + 4 + 32. */
export const MAX_RECORD_LENGTH = 94;

export interface WalletRecord {
  readonly type: RecordType;
  readonly walletId: string;
  readonly cardCounter: number;
  /** Minor units. */
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  readonly balanceAfter: number;
  /** Empty for issuer commands sent without a terminal session. */
  readonly terminalId: string;
  readonly terminalSeq: number;
  /** Unix seconds: the terminal's signed time (debit) or the issuer's (online commands). */
  readonly time: number;
  readonly binding: Uint8Array;
}

const TYPES = new Set<number>(Object.values(RECORD_TYPE));

function recordError(message: string): ProtocolError {
  return new ProtocolError("PROTO_ERR_RECORD_FORMAT", message);
}

function checkUint32(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw recordError(`${name} is not a 32-bit unsigned integer`);
}

export function encodeRecord(r: WalletRecord): Uint8Array {
  if (!TYPES.has(r.type)) throw recordError(`unknown record type ${r.type}`);
  if (!ID_PATTERN.test(r.walletId)) throw recordError("wallet id must be 1-16 characters of [A-Za-z0-9._-]");
  if (r.terminalId !== "" && !ID_PATTERN.test(r.terminalId)) throw recordError("terminal id is malformed");
  checkUint32("card counter", r.cardCounter);
  checkUint32("terminal seq", r.terminalSeq);
  checkUint32("time", r.time);
  if (!Number.isInteger(r.currency) || r.currency < 0 || r.currency > 999)
    throw recordError("currency is not ISO 4217");
  if (r.binding.length !== BINDING_LENGTH) throw recordError("binding must be 32 bytes");
  const wallet = utf8(r.walletId);
  const terminal = utf8(r.terminalId);
  return concat(
    u8(RECORD_VERSION),
    u8(r.type),
    u8(wallet.length),
    wallet,
    u32be(r.cardCounter),
    encodeAmountBcd(r.amount),
    u16be(r.currency),
    encodeAmountBcd(r.balanceAfter),
    u8(terminal.length),
    terminal,
    u32be(r.terminalSeq),
    u32be(r.time),
    r.binding,
  );
}

/** Decode untrusted record bytes; every length is checked before it is used. */
export function decodeRecord(bytes: Uint8Array): WalletRecord {
  let offset = 0;
  const take = (n: number, what: string): Uint8Array => {
    if (offset + n > bytes.length) throw recordError(`record ends inside ${what}`);
    const out = bytes.subarray(offset, offset + n);
    offset += n;
    return out;
  };
  const version = take(1, "version")[0]!;
  if (version !== RECORD_VERSION) throw recordError(`unsupported record version ${version}`);
  const type = take(1, "type")[0]!;
  if (!TYPES.has(type)) throw recordError(`unknown record type ${type}`);
  const walletLength = take(1, "wallet id length")[0]!;
  if (walletLength === 0 || walletLength > MAX_ID_LENGTH) throw recordError("wallet id length out of range");
  const walletId = fromUtf8(take(walletLength, "wallet id"));
  if (walletId === undefined || !ID_PATTERN.test(walletId)) throw recordError("wallet id is malformed");
  const cardCounter = readU32be(take(4, "card counter"));
  const amount = decodeBcdField(take(6, "amount"), "amount");
  const currency = readU16be(take(2, "currency"));
  const balanceAfter = decodeBcdField(take(6, "balance"), "balance");
  const terminalLength = take(1, "terminal id length")[0]!;
  if (terminalLength > MAX_ID_LENGTH) throw recordError("terminal id length out of range");
  const terminalId = fromUtf8(take(terminalLength, "terminal id"));
  if (terminalId === undefined || (terminalId !== "" && !ID_PATTERN.test(terminalId))) {
    throw recordError("terminal id is malformed");
  }
  const terminalSeq = readU32be(take(4, "terminal seq"));
  const time = readU32be(take(4, "time"));
  const binding = take(BINDING_LENGTH, "binding").slice();
  if (offset !== bytes.length) throw recordError(`${bytes.length - offset} bytes after the record`);
  return {
    type: type as RecordType,
    walletId,
    cardCounter,
    amount,
    currency,
    balanceAfter,
    terminalId,
    terminalSeq,
    time,
    binding,
  };
}

function decodeBcdField(b: Uint8Array, what: string): number {
  try {
    return decodeAmountBcd(b);
  } catch (cause) {
    throw new ProtocolError("PROTO_ERR_RECORD_FORMAT", `${what} is not valid BCD`, { cause });
  }
}

const CARD_RECORD_LABEL = utf8(LABEL.CARD_RECORD);
const TERMINAL_RECORD_LABEL = utf8(LABEL.TERMINAL_RECORD);

/** What the card signs: label || record bytes. */
export function cardRecordMessage(record: Uint8Array): Uint8Array {
  return concat(CARD_RECORD_LABEL, record);
}

export function signCardRecord(privateKey: Parameters<typeof ecdsaSign>[0], record: Uint8Array): Uint8Array {
  return ecdsaSign(privateKey, cardRecordMessage(record));
}

export function verifyCardRecord(
  publicKey: Parameters<typeof ecdsaVerify>[0],
  record: Uint8Array,
  signature: Uint8Array,
): boolean {
  return ecdsaVerify(publicKey, cardRecordMessage(record), signature);
}

/**
 * What the terminal signs for each stored record: label || previous chain hash (32) || terminal
 * seq (4) || status (1: 01 complete, 02 voided) || card record length (1) || card record
 * || card signature (64). A voided intent has no card record (length 0) and a zero-length signature.
 */
export const CHAIN_STATUS = { COMPLETE: 0x01, VOIDED: 0x02 } as const;
export type ChainStatus = (typeof CHAIN_STATUS)[keyof typeof CHAIN_STATUS];

export interface ChainEntry {
  readonly previousHash: Uint8Array;
  readonly terminalSeq: number;
  readonly status: ChainStatus;
  readonly cardRecord: Uint8Array;
  readonly cardSignature: Uint8Array;
}

export function terminalRecordMessage(e: ChainEntry): Uint8Array {
  if (e.previousHash.length !== 32) throw recordError("previous hash must be 32 bytes");
  checkUint32("terminal seq", e.terminalSeq);
  if (e.cardRecord.length > MAX_RECORD_LENGTH) throw recordError("card record too long");
  return concat(
    TERMINAL_RECORD_LABEL,
    e.previousHash,
    u32be(e.terminalSeq),
    u8(e.status),
    u8(e.cardRecord.length),
    e.cardRecord,
    e.cardSignature,
  );
}

/** The hash that links the next entry: SHA-256 of the signed message and the terminal signature. */
export function chainHash(e: ChainEntry, terminalSignature: Uint8Array): Uint8Array {
  return sha256(terminalRecordMessage(e), terminalSignature);
}

/** The chain starts from 32 zero bytes. */
export const GENESIS_HASH = new Uint8Array(32);
