/**
 * Stable codes of the acquirer: HTTP error bodies and per-record rejection reasons. See docs/errors.md.
 */
import { type ErrorOptions, TapwalletError } from "../protocol/errors.js";

export const ACQUIRER_ERROR_CODES = {
  ACQ_ERR_USAGE: "command-line arguments are missing or invalid",
  ACQ_ERR_BAD_REQUEST: "request body is not valid JSON or does not match the schema",
} as const;

export type AcquirerErrorCode = keyof typeof ACQUIRER_ERROR_CODES;

export class AcquirerError extends TapwalletError {
  declare readonly code: AcquirerErrorCode;
  constructor(code: AcquirerErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
