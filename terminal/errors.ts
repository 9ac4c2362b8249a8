/**
 * Stable codes of the terminal (posd). Every way a payment can fail has its own code; the ECR API,
 * `--json` output and the logs carry them. See docs/errors.md.
 */
import { type ErrorOptions, TapwalletError } from "../protocol/errors.js";

export const TERMINAL_ERROR_CODES = {
  TERM_ERR_INTERNAL: "an unexpected internal error (a bug: report it with the log)",
  TERM_ERR_USAGE: "command-line arguments are missing or invalid",
  TERM_ERR_CONFIG: "configuration file or environment value is missing or invalid",
  TERM_ERR_KEY: "terminal private key is missing, unreadable or cannot be decrypted",
  TERM_ERR_STORE: "the record store cannot be opened or is damaged",
  TERM_ERR_NO_CARD: "no card was presented before the wait ended",
  TERM_ERR_NOT_TAPWALLET: "the card does not have the tapwallet application (a foreign card)",
  TERM_ERR_CARD_REMOVED: "the card left the field during the exchange",
  TERM_ERR_TIMEOUT: "the card did not answer in time",
  TERM_ERR_READER: "the reader or the PC/SC service failed",
  TERM_ERR_READER_NOT_FOUND: "no reader matches the requested name",
  TERM_ERR_READER_AMBIGUOUS: "more than one reader matches the requested name",
  TERM_ERR_PCSC_UNAVAILABLE: "PC/SC is not available (pcscd not running or nfc-pcsc not installed)",
  TERM_ERR_PROTOCOL: "the card answered something the protocol does not allow",
  TERM_ERR_UNKNOWN_ISSUER: "the wallet's certificate is not from an accepted issuer",
  TERM_ERR_CARD_EXPIRED: "the wallet's certificate is expired or not yet valid",
  TERM_ERR_CARD_REVOKED: "the wallet's certificate is revoked",
  TERM_ERR_CARD_CERT: "the wallet's certificate is malformed or not a wallet certificate",
  TERM_ERR_HOTLISTED: "the wallet is on the hotlist (lost, stolen or cloned)",
  TERM_ERR_BAD_SIGNATURE: "a signature from the wallet does not verify",
  TERM_ERR_TERMINAL_REFUSED: "the wallet refused this terminal (certificate expired, unknown or revoked)",
  TERM_ERR_CARD_BLOCKED: "the wallet is blocked",
  TERM_ERR_CURRENCY_MISMATCH: "the wallet holds another currency",
  TERM_ERR_AMOUNT: "the amount is not acceptable",
  TERM_ERR_OVER_SINGLE_LIMIT: "the amount exceeds the wallet's single-spend limit",
  TERM_ERR_INSUFFICIENT_FUNDS: "the wallet's balance is too low",
  TERM_ERR_POLICY: "the wallet's policy refuses this payment (validity window, merchant category or region)",
  TERM_ERR_RECORD_MISMATCH:
    "the wallet's signed record does not match the payment asked for (replayed or altered)",
  TERM_ERR_RISK_LIMIT: "an offline risk limit is reached (unuploaded value, count or age): upload first",
  TERM_ERR_ECR_BAD_REQUEST: "the cash register's request is malformed (schema, JSON or size)",
  TERM_ERR_ECR_BUSY: "another payment is waiting for a card or in progress",
  TERM_ERR_ECR_CONFLICT: "this serviceId was already used for a different payment",
  TERM_ERR_ECR_NOT_FOUND: "no payment with this serviceId (or no such route)",
  TERM_ERR_ECR_NOT_ABORTABLE: "the card is being read: the payment can no longer be aborted",
  TERM_ERR_ECR_LISTEN: "the cash-register API cannot listen on the configured address (port in use?)",
  TERM_ERR_DUPLICATE_RECORD:
    "a record with this wallet id and card counter is already stored (replayed answer)",
  TERM_ERR_ACQUIRER_UNREACHABLE:
    "the acquirer did not answer (down, network error, timeout or 5xx) after retries",
  TERM_ERR_ACQUIRER_REJECTED:
    "the acquirer refused the request (4xx): the code from the acquirer is in details",
  TERM_ERR_ACQUIRER_RESPONSE: "the acquirer answered something that is not the expected JSON",
  TERM_ERR_HOTLIST_SIGNATURE: "the hotlist's signature or CRL does not verify with the acquirer CA",
} as const;

export type TerminalErrorCode = keyof typeof TERMINAL_ERROR_CODES;

export class TerminalError extends TapwalletError {
  declare readonly code: TerminalErrorCode;
  constructor(code: TerminalErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
