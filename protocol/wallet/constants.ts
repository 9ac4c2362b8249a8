/**
 * The tapwallet card application: AID, classes, instructions, tags and proprietary status words.
 * The terminal builds commands with these constants and the card emulator dispatches on the very
 * same ones, so the two sides cannot drift. docs/protocol.md describes each command.
 */
import { fromHex } from "../bytes.js";

/** Proprietary AID: F0 (proprietary RID) "TAPWAL" 01. Android HCE wallets declare it in category "other". */
export const AID = fromHex("F0 54 41 50 57 41 4C 01");
export const PROTOCOL_VERSION = 1;

export const CLA = {
  ISO: 0x00,
  PROPRIETARY: 0x80,
  /** Proprietary class with secure messaging (bit 0x04): every command after mutual authentication. */
  SECURE: 0x84,
} as const;

/** Bit 0x04 of CLA marks a secure-messaging command. */
export const CLA_SM_BIT = 0x04;

export const INS = {
  SELECT: 0xa4,
  GET_RESPONSE: 0xc0,
  GET_CHALLENGE: 0x84,
  GET_DATA: 0xca,
  INITIATE_AUTH: 0x88,
  EXTERNAL_AUTH: 0x82,
  UNBLOCK: 0x50,
  LOAD: 0x52,
  DEBIT: 0x54,
  LOAD_REVERSAL: 0x56,
  UPDATE_PARAMETERS: 0x58,
  GET_TRANSACTION_LOG: 0x5a,
  READ_BALANCE: 0x5c,
  BLOCK: 0x5e,
} as const;

/** P1 of GET TRANSACTION LOG. */
export const LOG_BY_SEQ = 0x01;
export const LOG_LAST_N = 0x02;
export const MAX_LOG_READ = 4;

/** Tags: private-class primitive two-byte tags, plus the ISO FCI templates. */
export const TAG = {
  FCI: 0x6f,
  DF_NAME: 0x84,
  FCI_PROPRIETARY: 0xa5,
  VERSION: 0xdf01,
  WALLET_ID: 0xdf02,
  CAPABILITIES: 0xdf03,
  CURRENCY: 0xdf04,
  STATE: 0xdf05,
  /** FCI: 8-byte ids of CA certificates the card has verified and cached (a terminal may then omit them). */
  CACHED_CAS: 0xdf06,
  CERTIFICATE: 0xdf10,
  EPHEMERAL_KEY: 0xdf11,
  NONCE: 0xdf12,
  SIGNATURE: 0xdf13,
  TIME: 0xdf14,
  AMOUNT: 0xdf20,
  TERMINAL_SEQ: 0xdf21,
  COUNTER: 0xdf22,
  BALANCE: 0xdf23,
  /**
   * GET TRANSACTION LOG, with inner 6A83: the oldest card counter the log still holds (the card
   * holds every record from it to its current counter; current + 1 for an empty log). Absent from
   * cards that predate it.
   */
  LOG_FROM: 0xdf24,
  RECORD: 0xdf30,
  ISSUER_PAYLOAD: 0xdf40,
  LOAD_ID: 0xdf41,
  SINGLE_LIMIT: 0xdf42,
  BALANCE_LIMIT: 0xdf43,
  AUTOLOAD_THRESHOLD: 0xdf44,
  AUTOLOAD_AMOUNT: 0xdf45,
  REASON: 0xdf46,
} as const;

export const CAPABILITY = {
  DEBIT: 0x0001,
  LOAD: 0x0002,
  TRANSACTION_LOG: 0x0004,
  PARAMETERS: 0x0008,
  BLOCK: 0x0010,
  CA_CACHE: 0x0020,
} as const;

export const WALLET_STATE = { ACTIVE: 0x00, BLOCKED: 0x01 } as const;

/**
 * Proprietary status words (SW1 = 93: ISO 7816-4 leaves 9xxx other than 9000 to applications).
 * A refused DEBIT answers exactly one of these, in the order of the checks in docs/protocol.md.
 */
export const WALLET_SW = {
  BLOCKED: 0x9301,
  CURRENCY_MISMATCH: 0x9302,
  AMOUNT_INVALID: 0x9303,
  OVER_SINGLE_LIMIT: 0x9304,
  INSUFFICIENT_FUNDS: 0x9305,
  POLICY_VALIDITY: 0x9306,
  POLICY_CATEGORY: 0x9307,
  POLICY_REGION: 0x9308,
  OVER_BALANCE_LIMIT: 0x9309,
  TERMINAL_REFUSED: 0x930a,
  TERMINAL_CLOCK: 0x930b,
  DUPLICATE_TERMINAL_SEQ: 0x930c,
  ISSUER_SIGNATURE: 0x930d,
  LOAD_NOT_FOUND: 0x930e,
  ALREADY_REVERSED: 0x930f,
} as const;

/** Record types in a signed record (byte 1). */
export const RECORD_TYPE = {
  DEBIT: 0x01,
  LOAD: 0x02,
  LOAD_REVERSAL: 0x03,
  PARAMETERS: 0x04,
  BLOCK: 0x05,
  UNBLOCK: 0x06,
} as const;
export type RecordType = (typeof RECORD_TYPE)[keyof typeof RECORD_TYPE];

export const NONCE_LENGTH = 16;
export const CHALLENGE_LENGTH = 16;
export const LOAD_ID_LENGTH = 8;
export const MAX_ID_LENGTH = 16;
/** SM adds a 16-byte GCM tag: a wrapped command carries at most 255 − 16 plaintext bytes. */
export const SM_TAG_LENGTH = 16;
export const MAX_SM_PLAINTEXT = 255 - SM_TAG_LENGTH;

/** Domain-separation labels: each signature and key derivation says what it is for. */
export const LABEL = {
  TRANSCRIPT: "TAPWALLET/1 TRANSCRIPT",
  CARD_AUTH: "TAPWALLET/1 CARD AUTH",
  TERMINAL_AUTH: "TAPWALLET/1 TERMINAL AUTH",
  SESSION_KEYS: "TAPWALLET/1 SM KEYS",
  CARD_RECORD: "TAPWALLET/1 CARD RECORD",
  TERMINAL_RECORD: "TAPWALLET/1 TERMINAL RECORD",
  ISSUER_COMMAND: "TAPWALLET/1 ISSUER COMMAND",
  BATCH_MANIFEST: "TAPWALLET/1 BATCH MANIFEST",
  PLATFORM_REQUEST: "TAPWALLET/1 PLATFORM REQUEST",
} as const;

/** Wallet, terminal and merchant ids: 1–16 printable ASCII characters from a safe set. */
export const ID_PATTERN = /^[A-Za-z0-9._-]{1,16}$/;
