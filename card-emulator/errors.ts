/**
 * Stable codes of the card emulator's host side (state file, CLI, vpcd link). The applet itself
 * never throws: it answers status words (see docs/protocol.md).
 */
import { type ErrorOptions, TapwalletError } from "../protocol/errors.js";

export const CARD_ERROR_CODES = {
  CARD_ERR_USAGE: "command-line arguments are missing or invalid",
  CARD_ERR_STATE: "the card state file is missing, unreadable or inconsistent",
  CARD_ERR_KEY: "the card private key cannot be decrypted (wrong TAPWALLET_CARD_PASSPHRASE or damaged key)",
  CARD_ERR_PERSONALIZE:
    "personalisation failed: the issuer CA, its key or the requested card data is unusable",
  CARD_ERR_VPCD: "the connection to vpcd failed",
} as const;

export type CardErrorCode = keyof typeof CARD_ERROR_CODES;

export class CardError extends TapwalletError {
  declare readonly code: CardErrorCode;
  constructor(code: CardErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
