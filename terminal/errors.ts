/**
 * Stable codes of the terminal (posd). Every way a payment can fail has its own code; the ECR API,
 * `--json` output and the logs carry them. See docs/errors.md.
 */
import { type ErrorOptions, TapwalletError } from "../protocol/errors.js";

export const TERMINAL_ERROR_CODES = {
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
} as const;

export type TerminalErrorCode = keyof typeof TERMINAL_ERROR_CODES;

export class TerminalError extends TapwalletError {
  declare readonly code: TerminalErrorCode;
  constructor(code: TerminalErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
