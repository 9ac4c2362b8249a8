/**
 * Typed errors with stable string codes. Codes are API (documented in docs/errors.md and
 * checked by errors.test.ts); messages are for people and may change.
 *
 * Each program owns a prefix and declares its codes in its own `errors.ts`:
 * PROTO_ERR_ (protocol/), TERM_ERR_ (terminal/), CARD_ERR_ (card-emulator/), ACQ_ERR_ (acquirer-stub/).
 */

export interface ErrorOptions {
  cause?: unknown;
  /** Machine-readable context (never secrets): shown in JSON output and logs. */
  details?: Record<string, unknown>;
}

export class TapwalletError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Codes of protocol/: codecs, crypto, PKI, transports. One line each: code → meaning. */
export const PROTOCOL_ERROR_CODES = {
  PROTO_ERR_HEX: "text is not valid hexadecimal",
  PROTO_ERR_TLV_TRUNCATED: "TLV ends before its tag, length or value is complete",
  PROTO_ERR_TLV_LENGTH:
    "TLV length form is not supported (indefinite, more than 3 length bytes) or not minimal",
  PROTO_ERR_TLV_TAG: "TLV tag is longer than 3 bytes or malformed",
  PROTO_ERR_TLV_DEPTH: "TLV nesting is deeper than the allowed bound",
  PROTO_ERR_TLV_TRAILING: "bytes left over after the last TLV",
  PROTO_ERR_TLV_MISSING: "a required TLV tag is absent",
  PROTO_ERR_TLV_VALUE: "a TLV value has the wrong length or content",
  PROTO_ERR_APDU_LENGTH: "APDU bytes do not form a valid short command or response",
  PROTO_ERR_APDU_DATA_TOO_LONG: "APDU data longer than a short APDU allows (use chaining)",
  PROTO_ERR_APDU_FIELD: "APDU field out of range: CLA/INS/P1/P2 not a byte, Ne not 1..256, SW not 2 bytes",
  PROTO_ERR_RESPONSE_TOO_SHORT: "response shorter than the two status bytes: card lost",
  PROTO_ERR_GET_RESPONSE_LOOP: "card kept answering 61xx/6Cxx past the round cap",
  PROTO_ERR_STATUS_WORD: "card answered an unexpected status word",
  PROTO_ERR_AMOUNT: "amount text is not a valid non-negative decimal for the currency",
  PROTO_ERR_AMOUNT_RANGE: "amount is outside the range a 6-byte BCD field or a safe integer holds",
  PROTO_ERR_CURRENCY: "unknown or unsupported ISO 4217 currency",
  PROTO_ERR_BCD: "bytes are not valid packed BCD",
  PROTO_ERR_KEY: "key bytes are not a valid P-256 key",
  PROTO_ERR_KEY_PASSPHRASE: "private key cannot be decrypted (wrong passphrase or damaged file)",
  PROTO_ERR_SIGNATURE_FORMAT: "signature is neither 64-byte r||s nor valid DER",
  PROTO_ERR_SM_MAC: "secure messaging authentication failed (tampered, replayed or reordered)",
  PROTO_ERR_CERT_TOO_LARGE: "certificate larger than the accepted bound",
  PROTO_ERR_CERT_PARSE: "certificate is not valid DER X.509",
  PROTO_ERR_CERT_ALGORITHM: "certificate key is not ECDSA P-256",
  PROTO_ERR_CERT_SIGNATURE: "certificate signature does not verify with its issuer key",
  PROTO_ERR_CERT_ISSUER: "certificate does not chain to a trusted issuer",
  PROTO_ERR_CERT_EXPIRED: "certificate validity ended before the time of use",
  PROTO_ERR_CERT_NOT_YET_VALID: "certificate validity starts after the time of use",
  PROTO_ERR_CERT_NOT_CA: "issuer certificate is not a CA (basicConstraints) or has no keyCertSign",
  PROTO_ERR_CERT_PATH_LENGTH: "chain is longer than a CA's pathLenConstraint allows",
  PROTO_ERR_CERT_KEY_USAGE: "certificate keyUsage is missing or does not allow this use",
  PROTO_ERR_CERT_ROLE:
    "certificate does not fit its place in the chain: a CA or leaf without the role purpose of its place (root → issuer CA → card, root → acquirer CA → terminal), a CA used as a card or terminal, or a leaf without its wallet or terminal id",
  PROTO_ERR_CERT_EXTENSION: "certificate carries an unknown critical extension or a malformed one",
  PROTO_ERR_CERT_REVOKED: "certificate serial is on the revocation list",
  PROTO_ERR_CRL_PARSE: "CRL is not valid DER",
  PROTO_ERR_CRL_SIGNATURE: "CRL signature does not verify with its issuer key",
  PROTO_ERR_TRANSPORT_TIMEOUT: "the card did not answer within the per-APDU timeout",
  PROTO_ERR_TRANSPORT_CLOSED: "the transport is closed or the card left the field",
  PROTO_ERR_TRANSPORT_BUSY: "an exchange was started while another was in flight",
  PROTO_ERR_REPLAY_MISMATCH: "recorded transcript does not match the command sent",
  PROTO_ERR_REPLAY_EXHAUSTED: "recorded transcript has no more exchanges",
  PROTO_ERR_TRANSCRIPT_FORMAT: "transcript file line is malformed",
  PROTO_ERR_RECORD_FORMAT: "signed record bytes do not follow the record layout",
  PROTO_ERR_HOTLIST_FORMAT:
    "a format-2 hotlist is malformed: not format 2 (a format-1 body), a field missing or unknown, an issuer fingerprint not 64 hex, a serial not hex, a wallet id malformed, or entries out of canonical order",
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES;

export class ProtocolError extends TapwalletError {
  declare readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

export function isTapwalletError(e: unknown): e is TapwalletError {
  return e instanceof TapwalletError;
}
