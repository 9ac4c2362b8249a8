/**
 * PC/SC failures → TerminalError codes. nfc-pcsc's errors carry only a string code ("failure",
 * "card_not_connected"); the PC/SC return code exists only as text at the end of the wrapped error's
 * message, e.g. "SCardTransmit error: Card was removed.(0x80100069)".
 */
import { TerminalError, type TerminalErrorCode } from "../../errors.js";

/** The PC/SC return codes this adapter names (pcsclite.h / winscard.h). */
export const SCARD = {
  E_CANCELLED: 0x80100002,
  E_INVALID_HANDLE: 0x80100003,
  E_INSUFFICIENT_BUFFER: 0x80100008,
  E_UNKNOWN_READER: 0x80100009,
  E_NO_SMARTCARD: 0x8010000c,
  /** pcsc-lite: "RPC transport error", the client lost its socket to pcscd. */
  F_COMM_ERROR: 0x80100013,
  /** "Transaction failed": measured through vpcd for a transmit to a card that just left the field. */
  E_NOT_TRANSACTED: 0x80100016,
  E_READER_UNAVAILABLE: 0x80100017,
  E_NO_SERVICE: 0x8010001d,
  E_SERVICE_STOPPED: 0x8010001e,
  /** vpcd's answer to SCardControl (no escape commands). */
  E_UNSUPPORTED_FEATURE: 0x8010001f,
  W_UNRESPONSIVE_CARD: 0x80100066,
  W_UNPOWERED_CARD: 0x80100067,
  W_RESET_CARD: 0x80100068,
  W_REMOVED_CARD: 0x80100069,
} as const;

/** The card is gone (or was reset under us): the presentation is over, the customer must tap again. */
const CARD_GONE = new Set<number>([
  SCARD.W_REMOVED_CARD,
  SCARD.W_RESET_CARD,
  SCARD.E_NO_SMARTCARD,
  SCARD.E_NOT_TRANSACTED,
]);

/** pcscd itself went away: the PC/SC context is dead and must be re-created. */
const SERVICE_GONE = new Set<number>([SCARD.F_COMM_ERROR, SCARD.E_NO_SERVICE, SCARD.E_SERVICE_STOPPED]);

/** The PC/SC return code carried by an nfc-pcsc / pcsclite error, if any. */
export function pcscCode(error: unknown): number | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    const m = /\(0x([0-9a-f]{8})\)\s*$/i.exec(e.message) ?? /\b0x(8010[0-9a-f]{4})\b/i.exec(e.message);
    if (m) return Number.parseInt(m[1]!, 16);
    e = (e as { previous?: unknown }).previous ?? e.cause;
  }
  return undefined;
}

export function formatPcscCode(code: number): string {
  return `0x${code.toString(16).toUpperCase().padStart(8, "0")}`;
}

/** True when the error means pcscd went away (recover the context). */
export function isServiceGone(error: unknown): boolean {
  const code = pcscCode(error);
  return code !== undefined && SERVICE_GONE.has(code);
}

/** True when nfc-pcsc / pcsclite said there is no card connection (thrown synchronously by transmit). */
function isNotConnected(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return code === "card_not_connected" || code === "not_connected" || /not connected/i.test(error.message);
}

/**
 * Map a failed transmit/control to a TerminalError:
 * card removed / reset / no card / not connected → TERM_ERR_CARD_REMOVED; anything else (comm error,
 * buffer too small, service stopped, unknown) → TERM_ERR_READER. The PC/SC code goes to `details`.
 */
export function mapPcscError(error: unknown, context: { reader: string; operation: string }): TerminalError {
  const code = pcscCode(error);
  const details: Record<string, unknown> = { reader: context.reader, operation: context.operation };
  if (code !== undefined) details.pcscCode = formatPcscCode(code);
  const text = innermostMessage(error);
  let termCode: TerminalErrorCode;
  if ((code !== undefined && CARD_GONE.has(code)) || (code === undefined && isNotConnected(error))) {
    termCode = "TERM_ERR_CARD_REMOVED";
  } else {
    termCode = "TERM_ERR_READER";
  }
  const message =
    termCode === "TERM_ERR_CARD_REMOVED"
      ? `the card left reader "${context.reader}" during ${context.operation}: ${text}`
      : `reader "${context.reader}" failed during ${context.operation}: ${text}`;
  return new TerminalError(termCode, message, { cause: error, details });
}

function innermostMessage(error: unknown): string {
  let e: unknown = error;
  while (e instanceof Error && (e as { previous?: unknown }).previous instanceof Error) {
    e = (e as { previous?: unknown }).previous;
  }
  return e instanceof Error ? e.message : String(e);
}
