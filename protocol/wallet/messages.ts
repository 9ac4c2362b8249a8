/**
 * Builders and parsers for every tapwallet APDU's data field, shared by the terminal (which
 * builds commands and parses responses) and the card (which parses commands and builds
 * responses). Parsers take untrusted bytes: every field's tag and length is checked, and any
 * violation is a ProtocolError (PROTO_ERR_TLV_*), never another exception.
 */
import { decodeAmountBcd, encodeAmountBcd } from "../amount.js";
import { type CommandApdu, commandApdu } from "../apdu.js";
import { concat, fromUtf8, readU16be, readU32be, u16be, u32be, utf8 } from "../bytes.js";
import { sha256 } from "../crypto.js";
import { ProtocolError } from "../errors.js";
import { MAX_CERT_BYTES } from "../pki.js";
import { decodeTlvs, findAllTags, formatTag, requireTag, type Tlv, tlv, tlvConstructed } from "../tlv.js";
import {
  AID,
  CHALLENGE_LENGTH,
  CLA,
  ID_PATTERN,
  INS,
  LABEL,
  LOAD_ID_LENGTH,
  LOG_BY_SEQ,
  LOG_LAST_N,
  MAX_LOG_READ,
  NONCE_LENGTH,
  PROTOCOL_VERSION,
  TAG,
} from "./constants.js";
import { decodeRecord, MAX_RECORD_LENGTH, type WalletRecord } from "./records.js";

export const SIGNATURE_LENGTH = 64;
export const PUBLIC_KEY_LENGTH = 65;
export const CA_ID_LENGTH = 8;
export const MAX_CHAIN_CERTIFICATES = 3;

function valueError(message: string): ProtocolError {
  return new ProtocolError("PROTO_ERR_TLV_VALUE", message);
}

/**
 * The fields of a message come in the documented order and nothing else may appear: every tag must
 * be one of `layout`, in that order (a tag may repeat where the parser allows it, and optional ones
 * may be absent — requireTag checks presence and uniqueness). An extra TLV is refused, so that no
 * two parsers can read different things into the same bytes.
 */
function requireLayout(list: readonly Tlv[], layout: readonly number[], what: string): void {
  let last = 0;
  for (const t of list) {
    const index = layout.indexOf(t.tag);
    if (index < 0) throw valueError(`${what}: unexpected tag ${formatTag(t.tag)}`);
    if (index < last) throw valueError(`${what}: tag ${formatTag(t.tag)} out of order`);
    last = index;
  }
}

function decodeId(bytes: Uint8Array, what: string): string {
  const id = fromUtf8(bytes);
  if (id === undefined || !ID_PATTERN.test(id))
    throw valueError(`${what} is not 1-16 characters of [A-Za-z0-9._-]`);
  return id;
}

function requireUint32(list: readonly Tlv[], tag: number): number {
  return readU32be(requireTag(list, tag, { length: 4 }));
}

function requireAmount(list: readonly Tlv[], tag: number): number {
  return decodeAmountBcd(requireTag(list, tag, { length: 6 }));
}

function requireCurrency(list: readonly Tlv[]): number {
  const n = readU16be(requireTag(list, TAG.CURRENCY, { length: 2 }));
  if (n > 999) throw valueError("currency is not an ISO 4217 numeric code");
  return n;
}

function requirePublicKey(list: readonly Tlv[]): Uint8Array {
  const key = requireTag(list, TAG.EPHEMERAL_KEY, { length: PUBLIC_KEY_LENGTH });
  if (key[0] !== 0x04) throw valueError("ephemeral key is not an uncompressed P-256 point");
  return key;
}

/** 8-byte id of a CA certificate: the first bytes of SHA-256 over its DER. */
export function caId(certificateDer: Uint8Array): Uint8Array {
  return sha256(certificateDer).subarray(0, CA_ID_LENGTH);
}

// ---------------------------------------------------------------------------------------------
// SELECT → FCI
// 6F { 84 AID, A5 { DF01 version (1), DF02 wallet id, DF03 capabilities (2), DF04 currency (2),
//                   DF05 state (1), DF06 cached CA ids (8 × n, n ≤ 4), [DF22 card counter (4)] } }
// DF22 is optional (cards that predate it omit it); the FCI is signed into the transcript, so the
// counter a terminal reads there is the card's own.

export interface Fci {
  readonly version: number;
  readonly walletId: string;
  readonly capabilities: number;
  readonly currency: number;
  readonly state: number;
  readonly cachedCaIds: readonly Uint8Array[];
  /** The card counter at SELECT (DF22); absent on cards that do not announce it. */
  readonly counter?: number;
}

export function selectCommand(): CommandApdu {
  return commandApdu({ cla: CLA.ISO, ins: INS.SELECT, p1: 0x04, p2: 0x00, data: AID, ne: 256 });
}

export function encodeFci(f: Fci): Uint8Array {
  return tlvConstructed(
    TAG.FCI,
    tlv(TAG.DF_NAME, AID),
    tlvConstructed(
      TAG.FCI_PROPRIETARY,
      tlv(TAG.VERSION, Uint8Array.of(f.version)),
      tlv(TAG.WALLET_ID, utf8(f.walletId)),
      tlv(TAG.CAPABILITIES, u16be(f.capabilities)),
      tlv(TAG.CURRENCY, u16be(f.currency)),
      tlv(TAG.STATE, Uint8Array.of(f.state)),
      tlv(TAG.CACHED_CAS, concat(...f.cachedCaIds)),
      ...(f.counter === undefined ? [] : [tlv(TAG.COUNTER, u32be(f.counter))]),
    ),
  );
}

export function parseFci(data: Uint8Array): Fci {
  const top = decodeTlvs(data);
  const fci = top[0];
  if (top.length !== 1 || fci?.tag !== TAG.FCI || !fci.children)
    throw valueError("response is not an FCI template");
  const name = requireTag(fci.children, TAG.DF_NAME);
  if (name.length !== AID.length || name.some((b, i) => b !== AID[i]))
    throw valueError("FCI names another application");
  const prop = fci.children.find((t) => t.tag === TAG.FCI_PROPRIETARY);
  if (!prop?.children) throw new ProtocolError("PROTO_ERR_TLV_MISSING", "FCI has no proprietary template");
  const p = prop.children;
  const version = requireTag(p, TAG.VERSION, { length: 1 })[0]!;
  if (version !== PROTOCOL_VERSION) throw valueError(`unsupported protocol version ${version}`);
  const cached = requireTag(p, TAG.CACHED_CAS, { maxLength: 4 * CA_ID_LENGTH });
  if (cached.length % CA_ID_LENGTH !== 0) throw valueError("cached CA ids are not multiples of 8 bytes");
  const cachedCaIds: Uint8Array[] = [];
  for (let i = 0; i < cached.length; i += CA_ID_LENGTH) cachedCaIds.push(cached.slice(i, i + CA_ID_LENGTH));
  return {
    version,
    walletId: decodeId(requireTag(p, TAG.WALLET_ID, { minLength: 1, maxLength: 16 }), "wallet id"),
    capabilities: readU16be(requireTag(p, TAG.CAPABILITIES, { length: 2 })),
    currency: requireCurrency(p),
    state: requireTag(p, TAG.STATE, { length: 1 })[0]!,
    cachedCaIds,
    ...(p.some((t) => t.tag === TAG.COUNTER) ? { counter: requireUint32(p, TAG.COUNTER) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// INITIATE AUTHENTICATE (80 88 00 00, chained when over 255 bytes, Le 00)
// data: DF10 terminal certificate, DF10 CA certificate (0..2, omitted when the card cached it),
//       DF11 terminal ephemeral key (65), DF12 terminal nonce (16), DF14 terminal time (4)
// response: DF10 card certificate, DF11 card ephemeral key (65), DF12 card nonce (16),
//           DF13 card signature (64) over LABEL.CARD_AUTH || transcript hash

export interface InitiateAuth {
  /** Leaf first, then intermediates. */
  readonly certificates: readonly Uint8Array[];
  readonly ephemeralKey: Uint8Array;
  readonly nonce: Uint8Array;
  /** Unix seconds. */
  readonly time: number;
}

export function encodeInitiateAuth(m: InitiateAuth): Uint8Array {
  return concat(
    ...m.certificates.map((c) => tlv(TAG.CERTIFICATE, c)),
    tlv(TAG.EPHEMERAL_KEY, m.ephemeralKey),
    tlv(TAG.NONCE, m.nonce),
    tlv(TAG.TIME, u32be(m.time)),
  );
}

export function initiateAuthCommand(data: Uint8Array): CommandApdu {
  return commandApdu({ cla: CLA.PROPRIETARY, ins: INS.INITIATE_AUTH, data, ne: 256 });
}

export function parseInitiateAuth(data: Uint8Array): InitiateAuth {
  const list = decodeTlvs(data, { maxDepth: 1 });
  requireLayout(list, [TAG.CERTIFICATE, TAG.EPHEMERAL_KEY, TAG.NONCE, TAG.TIME], "INITIATE AUTHENTICATE");
  const certificates = findAllTags(list, TAG.CERTIFICATE).map((t) => t.value);
  if (certificates.length < 1 || certificates.length > MAX_CHAIN_CERTIFICATES) {
    throw valueError(`expected 1-${MAX_CHAIN_CERTIFICATES} certificates, got ${certificates.length}`);
  }
  for (const c of certificates) if (c.length > MAX_CERT_BYTES) throw valueError("certificate too large");
  return {
    certificates,
    ephemeralKey: requirePublicKey(list),
    nonce: requireTag(list, TAG.NONCE, { length: NONCE_LENGTH }),
    time: requireUint32(list, TAG.TIME),
  };
}

export interface CardAuth {
  readonly certificate: Uint8Array;
  readonly ephemeralKey: Uint8Array;
  readonly nonce: Uint8Array;
}

/** The signed part of the card's answer (everything but its signature). */
export function encodeCardAuth(m: CardAuth): Uint8Array {
  return concat(
    tlv(TAG.CERTIFICATE, m.certificate),
    tlv(TAG.EPHEMERAL_KEY, m.ephemeralKey),
    tlv(TAG.NONCE, m.nonce),
  );
}

export function parseCardAuth(
  data: Uint8Array,
): CardAuth & { signature: Uint8Array; signedPart: Uint8Array } {
  const list = decodeTlvs(data, { maxDepth: 1 });
  if (list.length !== 4 || list[3]?.tag !== TAG.SIGNATURE)
    throw valueError("card answer must be cert, key, nonce, signature");
  const certificate = requireTag(list, TAG.CERTIFICATE, { minLength: 1, maxLength: MAX_CERT_BYTES });
  const signature = requireTag(list, TAG.SIGNATURE, { length: SIGNATURE_LENGTH });
  return {
    certificate,
    ephemeralKey: requirePublicKey(list),
    nonce: requireTag(list, TAG.NONCE, { length: NONCE_LENGTH }),
    signature,
    // The signature TLV is last and 67 bytes long (DF13 40 + 64).
    signedPart: data.subarray(0, data.length - (3 + SIGNATURE_LENGTH)),
  };
}

/**
 * Transcript hash H = SHA-256(LABEL.TRANSCRIPT || len(fci) || fci || len(init) || init
 * || len(card) || card), lengths as 2-byte big-endian: the FCI as the card answered it, the
 * INITIATE AUTHENTICATE data as sent (all chained parts joined), and the signed part of the card's
 * answer. Both sides sign it; the session keys are salted with it; every debit record binds it.
 */
export function transcriptHash(fci: Uint8Array, initiateData: Uint8Array, cardPart: Uint8Array): Uint8Array {
  return sha256(
    utf8(LABEL.TRANSCRIPT),
    u16be(fci.length),
    fci,
    u16be(initiateData.length),
    initiateData,
    u16be(cardPart.length),
    cardPart,
  );
}

export function cardAuthMessage(transcript: Uint8Array): Uint8Array {
  return concat(utf8(LABEL.CARD_AUTH), transcript);
}

export function terminalAuthMessage(transcript: Uint8Array): Uint8Array {
  return concat(utf8(LABEL.TERMINAL_AUTH), transcript);
}

// ---------------------------------------------------------------------------------------------
// EXTERNAL AUTHENTICATE (80 82 00 00): data DF13 terminal signature (64) over
// LABEL.TERMINAL_AUTH || transcript hash. Answer 9000 and no data; secure messaging starts.

export function externalAuthCommand(signature: Uint8Array): CommandApdu {
  return commandApdu({ cla: CLA.PROPRIETARY, ins: INS.EXTERNAL_AUTH, data: tlv(TAG.SIGNATURE, signature) });
}

export function parseExternalAuth(data: Uint8Array): Uint8Array {
  const list = decodeTlvs(data, { maxDepth: 1 });
  requireLayout(list, [TAG.SIGNATURE], "EXTERNAL AUTHENTICATE");
  return requireTag(list, TAG.SIGNATURE, { length: SIGNATURE_LENGTH });
}

// ---------------------------------------------------------------------------------------------
// DEBIT (84 54 00 00, secure): DF20 amount (6 BCD), DF04 currency (2), DF21 terminal seq (4)
// answer: a signed record (below)

export interface Debit {
  readonly amount: number;
  readonly currency: number;
  readonly terminalSeq: number;
}

export function encodeDebit(d: Debit): Uint8Array {
  return concat(
    tlv(TAG.AMOUNT, encodeAmountBcd(d.amount)),
    tlv(TAG.CURRENCY, u16be(d.currency)),
    tlv(TAG.TERMINAL_SEQ, u32be(d.terminalSeq)),
  );
}

export function parseDebit(data: Uint8Array): Debit {
  const list = decodeTlvs(data, { maxDepth: 1 });
  requireLayout(list, [TAG.AMOUNT, TAG.CURRENCY, TAG.TERMINAL_SEQ], "DEBIT");
  return {
    amount: requireAmount(list, TAG.AMOUNT),
    currency: requireCurrency(list),
    terminalSeq: requireUint32(list, TAG.TERMINAL_SEQ),
  };
}

// ---------------------------------------------------------------------------------------------
// Signed record (answer of DEBIT, LOAD, LOAD REVERSAL, UPDATE PARAMETERS, BLOCK, UNBLOCK and
// each entry of GET TRANSACTION LOG): DF30 record bytes, DF13 card signature (64) over
// LABEL.CARD_RECORD || record bytes.

export interface SignedRecord {
  readonly bytes: Uint8Array;
  readonly record: WalletRecord;
  readonly signature: Uint8Array;
}

export function encodeSignedRecord(bytes: Uint8Array, signature: Uint8Array): Uint8Array {
  return concat(tlv(TAG.RECORD, bytes), tlv(TAG.SIGNATURE, signature));
}

function signedRecordFrom(recordTlv: Tlv | undefined, sigTlv: Tlv | undefined): SignedRecord {
  if (recordTlv?.tag !== TAG.RECORD || sigTlv?.tag !== TAG.SIGNATURE)
    throw valueError("expected a record and its signature");
  if (recordTlv.value.length > MAX_RECORD_LENGTH) throw valueError("record too long");
  if (sigTlv.value.length !== SIGNATURE_LENGTH) throw valueError("record signature must be 64 bytes");
  const bytes = recordTlv.value.slice();
  return { bytes, record: decodeRecord(bytes), signature: sigTlv.value.slice() };
}

export function parseSignedRecord(data: Uint8Array): SignedRecord {
  const list = decodeTlvs(data, { maxDepth: 1 });
  if (list.length !== 2) throw valueError("expected exactly a record and its signature");
  return signedRecordFrom(list[0], list[1]);
}

export function parseSignedRecords(data: Uint8Array): SignedRecord[] {
  const list = decodeTlvs(data, { maxDepth: 1 });
  if (list.length % 2 !== 0 || list.length > 2 * MAX_LOG_READ)
    throw valueError("log answer is not record/signature pairs");
  const out: SignedRecord[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(signedRecordFrom(list[i], list[i + 1]));
  return out;
}

// ---------------------------------------------------------------------------------------------
// GET TRANSACTION LOG (84 5A P1 P2, secure), only this session's terminal's entries:
//   P1 01: data DF21 terminal seq → that entry, or inner 6A83 with data DF24 (the oldest counter
//          the log holds; cards that predate DF24 answer 6A83 without data)
//   P1 02: P2 = n (1..4) → up to n most recent entries, newest first (possibly none)

export function logBySeqData(terminalSeq: number): Uint8Array {
  return tlv(TAG.TERMINAL_SEQ, u32be(terminalSeq));
}

export function parseLogBySeq(data: Uint8Array): number {
  const list = decodeTlvs(data, { maxDepth: 1 });
  requireLayout(list, [TAG.TERMINAL_SEQ], "GET TRANSACTION LOG");
  return requireUint32(list, TAG.TERMINAL_SEQ);
}

/** What a 6A83 answer to GET TRANSACTION LOG by seq says about the log's coverage. */
export interface LogNotFound {
  /** Every record with a counter from here to the card's current counter is in the log. */
  readonly logFrom?: number;
}

export function encodeLogNotFound(n: LogNotFound): Uint8Array {
  return n.logFrom === undefined ? new Uint8Array(0) : tlv(TAG.LOG_FROM, u32be(n.logFrom));
}

/** Empty data (a card that predates DF24) → {}; otherwise exactly DF24 (4). */
export function parseLogNotFound(data: Uint8Array): LogNotFound {
  if (data.length === 0) return {};
  const list = decodeTlvs(data, { maxDepth: 1 });
  requireLayout(list, [TAG.LOG_FROM], "GET TRANSACTION LOG (not found)");
  return { logFrom: requireUint32(list, TAG.LOG_FROM) };
}

export const LOG_MODE = { BY_SEQ: LOG_BY_SEQ, LAST_N: LOG_LAST_N } as const;

// ---------------------------------------------------------------------------------------------
// READ BALANCE (84 5C 00 00, secure): DF23 balance, DF04 currency, DF22 counter, DF05 state,
// DF42 single limit, DF43 balance limit, DF44 auto-load threshold, DF45 auto-load amount

export interface BalanceInfo {
  readonly balance: number;
  readonly currency: number;
  readonly counter: number;
  readonly state: number;
  readonly singleLimit: number;
  readonly balanceLimit: number;
  readonly autoLoadThreshold: number;
  readonly autoLoadAmount: number;
}

export function encodeBalance(b: BalanceInfo): Uint8Array {
  return concat(
    tlv(TAG.BALANCE, encodeAmountBcd(b.balance)),
    tlv(TAG.CURRENCY, u16be(b.currency)),
    tlv(TAG.COUNTER, u32be(b.counter)),
    tlv(TAG.STATE, Uint8Array.of(b.state)),
    tlv(TAG.SINGLE_LIMIT, encodeAmountBcd(b.singleLimit)),
    tlv(TAG.BALANCE_LIMIT, encodeAmountBcd(b.balanceLimit)),
    tlv(TAG.AUTOLOAD_THRESHOLD, encodeAmountBcd(b.autoLoadThreshold)),
    tlv(TAG.AUTOLOAD_AMOUNT, encodeAmountBcd(b.autoLoadAmount)),
  );
}

export function parseBalance(data: Uint8Array): BalanceInfo {
  const list = decodeTlvs(data, { maxDepth: 1 });
  requireLayout(
    list,
    [
      TAG.BALANCE,
      TAG.CURRENCY,
      TAG.COUNTER,
      TAG.STATE,
      TAG.SINGLE_LIMIT,
      TAG.BALANCE_LIMIT,
      TAG.AUTOLOAD_THRESHOLD,
      TAG.AUTOLOAD_AMOUNT,
    ],
    "READ BALANCE",
  );
  return {
    balance: requireAmount(list, TAG.BALANCE),
    currency: requireCurrency(list),
    counter: requireUint32(list, TAG.COUNTER),
    state: requireTag(list, TAG.STATE, { length: 1 })[0]!,
    singleLimit: requireAmount(list, TAG.SINGLE_LIMIT),
    balanceLimit: requireAmount(list, TAG.BALANCE_LIMIT),
    autoLoadThreshold: requireAmount(list, TAG.AUTOLOAD_THRESHOLD),
    autoLoadAmount: requireAmount(list, TAG.AUTOLOAD_AMOUNT),
  };
}

// ---------------------------------------------------------------------------------------------
// Issuer-signed online commands: GET CHALLENGE (00 84 00 00 10) first, then one of
// LOAD 52 / LOAD REVERSAL 56 / UPDATE PARAMETERS 58 / BLOCK 5E / UNBLOCK 50, CLA 80 outside a
// session or 84 inside one. data: DF40 payload, DF13 issuer signature (64) over
// LABEL.ISSUER_COMMAND || INS (1) || wallet id length (1) || wallet id || challenge (16) || payload.
// The challenge is single-use: the card forgets it after the next command, whatever its outcome.
//   LOAD payload:          DF20 amount, DF04 currency, DF41 load id (8), DF14 issuer time (4)
//   LOAD REVERSAL payload: DF41 load id (8), DF14 issuer time (4)
//   UPDATE PARAMETERS:     any of DF42 single limit, DF43 balance limit, DF44 auto-load threshold,
//                          DF45 auto-load amount (6 BCD each), DF14 issuer time (4)
//   BLOCK / UNBLOCK:       DF46 reason (1: 01 lost, 02 stolen, 03 fraud, 04 clone, 00 other), DF14 issuer time (4)
// answer: a signed record (type LOAD 02, LOAD_REVERSAL 03, PARAMETERS 04, BLOCK 05, UNBLOCK 06).

export function getChallengeCommand(): CommandApdu {
  return commandApdu({ cla: CLA.ISO, ins: INS.GET_CHALLENGE, ne: CHALLENGE_LENGTH });
}

export function issuerCommandMessage(
  ins: number,
  walletId: string,
  challenge: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const id = utf8(walletId);
  return concat(utf8(LABEL.ISSUER_COMMAND), Uint8Array.of(ins, id.length), id, challenge, payload);
}

export function encodeIssuerCommand(payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return concat(tlv(TAG.ISSUER_PAYLOAD, payload), tlv(TAG.SIGNATURE, signature));
}

export function parseIssuerCommand(data: Uint8Array): { payload: Uint8Array; signature: Uint8Array } {
  const list = decodeTlvs(data, { maxDepth: 1 });
  requireLayout(list, [TAG.ISSUER_PAYLOAD, TAG.SIGNATURE], "issuer command");
  return {
    payload: requireTag(list, TAG.ISSUER_PAYLOAD, { maxLength: 128 }),
    signature: requireTag(list, TAG.SIGNATURE, { length: SIGNATURE_LENGTH }),
  };
}

export interface LoadPayload {
  readonly amount: number;
  readonly currency: number;
  readonly loadId: Uint8Array;
  readonly time: number;
}

export function encodeLoadPayload(p: LoadPayload): Uint8Array {
  return concat(
    tlv(TAG.AMOUNT, encodeAmountBcd(p.amount)),
    tlv(TAG.CURRENCY, u16be(p.currency)),
    tlv(TAG.LOAD_ID, p.loadId),
    tlv(TAG.TIME, u32be(p.time)),
  );
}

export function parseLoadPayload(payload: Uint8Array): LoadPayload {
  const list = decodeTlvs(payload, { maxDepth: 1 });
  requireLayout(list, [TAG.AMOUNT, TAG.CURRENCY, TAG.LOAD_ID, TAG.TIME], "LOAD");
  return {
    amount: requireAmount(list, TAG.AMOUNT),
    currency: requireCurrency(list),
    loadId: requireTag(list, TAG.LOAD_ID, { length: LOAD_ID_LENGTH }),
    time: requireUint32(list, TAG.TIME),
  };
}

export interface ReversalPayload {
  readonly loadId: Uint8Array;
  readonly time: number;
}

export function encodeReversalPayload(p: ReversalPayload): Uint8Array {
  return concat(tlv(TAG.LOAD_ID, p.loadId), tlv(TAG.TIME, u32be(p.time)));
}

export function parseReversalPayload(payload: Uint8Array): ReversalPayload {
  const list = decodeTlvs(payload, { maxDepth: 1 });
  requireLayout(list, [TAG.LOAD_ID, TAG.TIME], "LOAD REVERSAL");
  return {
    loadId: requireTag(list, TAG.LOAD_ID, { length: LOAD_ID_LENGTH }),
    time: requireUint32(list, TAG.TIME),
  };
}

export interface ParametersPayload {
  readonly singleLimit?: number;
  readonly balanceLimit?: number;
  readonly autoLoadThreshold?: number;
  readonly autoLoadAmount?: number;
  readonly time: number;
}

const PARAMETER_TAGS = [
  ["singleLimit", TAG.SINGLE_LIMIT],
  ["balanceLimit", TAG.BALANCE_LIMIT],
  ["autoLoadThreshold", TAG.AUTOLOAD_THRESHOLD],
  ["autoLoadAmount", TAG.AUTOLOAD_AMOUNT],
] as const;

export function encodeParametersPayload(p: ParametersPayload): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, tag] of PARAMETER_TAGS) {
    const v = p[key];
    if (v !== undefined) parts.push(tlv(tag, encodeAmountBcd(v)));
  }
  parts.push(tlv(TAG.TIME, u32be(p.time)));
  return concat(...parts);
}

export function parseParametersPayload(payload: Uint8Array): ParametersPayload {
  const list = decodeTlvs(payload, { maxDepth: 1 });
  requireLayout(list, [...PARAMETER_TAGS.map(([, tag]) => tag), TAG.TIME], "UPDATE PARAMETERS");
  const out: { -readonly [K in keyof ParametersPayload]: ParametersPayload[K] } = {
    time: requireUint32(list, TAG.TIME),
  };
  for (const [key, tag] of PARAMETER_TAGS) {
    if (list.some((t) => t.tag === tag)) out[key] = requireAmount(list, tag);
  }
  if (PARAMETER_TAGS.every(([key]) => out[key] === undefined))
    throw valueError("parameter update changes nothing");
  return out;
}

export const BLOCK_REASON = { OTHER: 0x00, LOST: 0x01, STOLEN: 0x02, FRAUD: 0x03, CLONE: 0x04 } as const;

export interface BlockPayload {
  readonly reason: number;
  readonly time: number;
}

export function encodeBlockPayload(p: BlockPayload): Uint8Array {
  return concat(tlv(TAG.REASON, Uint8Array.of(p.reason)), tlv(TAG.TIME, u32be(p.time)));
}

export function parseBlockPayload(payload: Uint8Array): BlockPayload {
  const list = decodeTlvs(payload, { maxDepth: 1 });
  requireLayout(list, [TAG.REASON, TAG.TIME], "BLOCK / UNBLOCK");
  const reason = requireTag(list, TAG.REASON, { length: 1 })[0]!;
  if (reason > BLOCK_REASON.CLONE) throw valueError(`unknown block reason ${reason}`);
  return { reason, time: requireUint32(list, TAG.TIME) };
}

// ---------------------------------------------------------------------------------------------
// GET DATA card certificate (80 CA DF 10 00): the card's X.509 certificate (DER), long answers
// through 61xx / GET RESPONSE. Lets a terminal or a wallet app read it without authenticating.

export function getCertificateCommand(): CommandApdu {
  return commandApdu({ cla: CLA.PROPRIETARY, ins: INS.GET_DATA, p1: 0xdf, p2: 0x10, ne: 256 });
}
