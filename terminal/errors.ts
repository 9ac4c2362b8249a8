/**
 * Stable codes of the terminal (posd). Every way a payment can fail has its own code; the ECR API,
 * `--json` output and the logs carry them. See docs/errors.md.
 */
import { type ErrorOptions, TapwalletError } from "../protocol/errors.js";

export type ErrorClass = "decline" | "error" | "usage";

export interface ErrorSpec {
  readonly class: ErrorClass;
  /** HTTP status of the cash-register API when this error ends a request. */
  readonly http: number;
  readonly meaning: string;
}

/**
 * posd's exit codes: 0 approved / ok, 1 error, 2 usage, 3 declined by the card or policy, 4 torn
 * (the payment is pending until the same wallet is presented again).
 */
export const EXIT_CODES = { ok: 0, error: 1, usage: 2, decline: 3, torn: 4 } as const;

/**
 * Every code of the terminal with what it means to the people and programs that get it:
 * - `class`: "decline" (the card or the terminal's policy said no, nothing charged), "error"
 *   (something failed), "usage" (the caller asked for something invalid). Whether a failed tap is
 *   *torn* is not a property of the code but of the moment: any failure after DEBIT went out, other
 *   than a refusal by the card (CardRefusal), leaves the payment pending (run-payment.ts).
 * - `http`: the status the cash-register API answers when this error ends a request. Payment
 *   outcomes (declines, card and reader errors) are not request errors: the payment resource is
 *   returned (200) and carries the code.
 * - the CLI exit code follows from the class (EXIT_CODES).
 */
export const TERMINAL_ERRORS = {
  TERM_ERR_INTERNAL: {
    class: "error",
    http: 500,
    meaning: "an unexpected internal error (a bug: report it with the log)",
  },
  TERM_ERR_USAGE: { class: "usage", http: 400, meaning: "command-line arguments are missing or invalid" },
  TERM_ERR_CONFIG: {
    class: "error",
    http: 500,
    meaning: "configuration file or environment value is missing or invalid",
  },
  TERM_ERR_KEY: {
    class: "error",
    http: 500,
    meaning: "terminal private key is missing, unreadable or cannot be decrypted",
  },
  TERM_ERR_STORE: { class: "error", http: 503, meaning: "the record store cannot be opened or is damaged" },
  TERM_ERR_INTERRUPTED: {
    class: "error",
    http: 200,
    meaning:
      "posd stopped during the payment (or stored-value operation) before anything was sent to the card: nothing was charged or loaded",
  },
  TERM_ERR_DATA_DIR_LOCKED: {
    class: "error",
    http: 503,
    meaning: "another posd run is using this data directory (one daemon per data directory)",
  },
  TERM_ERR_NO_CARD: { class: "error", http: 200, meaning: "no card was presented before the wait ended" },
  TERM_ERR_NOT_TAPWALLET: {
    class: "decline",
    http: 200,
    meaning: "the card does not have the tapwallet application (a foreign card)",
  },
  TERM_ERR_CARD_REMOVED: {
    class: "error",
    http: 200,
    meaning: "the card left the field during the exchange",
  },
  TERM_ERR_TIMEOUT: { class: "error", http: 200, meaning: "the card did not answer in time" },
  TERM_ERR_READER: { class: "error", http: 200, meaning: "the reader or the PC/SC service failed" },
  TERM_ERR_READER_NOT_FOUND: { class: "error", http: 200, meaning: "no reader matches the requested name" },
  TERM_ERR_READER_AMBIGUOUS: {
    class: "error",
    http: 200,
    meaning: "more than one reader matches the requested name",
  },
  TERM_ERR_PCSC_UNAVAILABLE: {
    class: "error",
    http: 200,
    meaning: "PC/SC is not available (pcscd not running or nfc-pcsc not installed)",
  },
  TERM_ERR_PROTOCOL: {
    class: "error",
    http: 200,
    meaning: "the card answered something the protocol does not allow",
  },
  TERM_ERR_UNKNOWN_ISSUER: {
    class: "decline",
    http: 200,
    meaning: "the wallet's certificate is not from an accepted issuer",
  },
  TERM_ERR_CARD_EXPIRED: {
    class: "decline",
    http: 200,
    meaning: "the wallet's certificate is expired or not yet valid",
  },
  TERM_ERR_CARD_REVOKED: { class: "decline", http: 200, meaning: "the wallet's certificate is revoked" },
  TERM_ERR_CARD_CERT: {
    class: "decline",
    http: 200,
    meaning: "the wallet's certificate is malformed or not a wallet certificate",
  },
  TERM_ERR_HOTLISTED: {
    class: "decline",
    http: 200,
    meaning: "the wallet is on the hotlist (lost, stolen or cloned)",
  },
  TERM_ERR_CARD_ROLLBACK: {
    class: "decline",
    http: 200,
    meaning:
      "the wallet's card counter did not move forward from the last one this terminal verified (a restored or cloned wallet): declined, before DEBIT when the card announces its counter, and reported to the acquirer",
  },
  TERM_ERR_CARD_BALANCE_FORGED: {
    class: "decline",
    http: 200,
    meaning:
      "at the next card counter the wallet's balance is not the last one this terminal verified minus the amount (an edited wallet): declined, its signed record kept as evidence for the acquirer",
  },
  TERM_ERR_LOCAL_BLOCKLIST: {
    class: "decline",
    http: 200,
    meaning:
      "the wallet is on this terminal's own blocklist: it was caught here rolled back or with a forged balance",
  },
  TERM_ERR_BAD_SIGNATURE: {
    class: "decline",
    http: 200,
    meaning: "a signature from the wallet does not verify",
  },
  TERM_ERR_TERMINAL_REFUSED: {
    class: "decline",
    http: 200,
    meaning:
      "the wallet refused this terminal (certificate expired, unknown, revoked, or not issued by an acquirer CA)",
  },
  TERM_ERR_CARD_BLOCKED: { class: "decline", http: 200, meaning: "the wallet is blocked" },
  TERM_ERR_CURRENCY_MISMATCH: { class: "decline", http: 200, meaning: "the wallet holds another currency" },
  TERM_ERR_AMOUNT: { class: "decline", http: 200, meaning: "the amount is not acceptable" },
  TERM_ERR_OVER_SINGLE_LIMIT: {
    class: "decline",
    http: 200,
    meaning: "the amount exceeds the wallet's single-spend limit",
  },
  TERM_ERR_INSUFFICIENT_FUNDS: { class: "decline", http: 200, meaning: "the wallet's balance is too low" },
  TERM_ERR_CARD_COUNTER_SPENT: {
    class: "decline",
    http: 200,
    meaning:
      "the wallet's 32-bit card counter is spent: it refuses every further change (replace the wallet)",
  },
  TERM_ERR_POLICY: {
    class: "decline",
    http: 200,
    meaning: "the wallet's policy refuses this payment (validity window, merchant category or region)",
  },
  TERM_ERR_RECORD_MISMATCH: {
    class: "error",
    http: 200,
    meaning: "the wallet's signed record does not match the payment asked for (replayed or altered)",
  },
  TERM_ERR_RISK_LIMIT: {
    class: "decline",
    http: 200,
    meaning: "an offline risk limit is reached (unuploaded value, count or age): upload first",
  },
  TERM_ERR_ECR_BAD_REQUEST: {
    class: "usage",
    http: 400,
    meaning: "the cash register's request is malformed (schema, JSON or size)",
  },
  TERM_ERR_ECR_BUSY: {
    class: "error",
    http: 409,
    meaning:
      "another payment or stored-value operation is waiting for a card or in progress (one card operation at a time)",
  },
  TERM_ERR_ECR_CONFLICT: {
    class: "usage",
    http: 409,
    meaning: "this serviceId was already used for a different payment (or refund, or stored-value operation)",
  },
  TERM_ERR_ECR_NOT_FOUND: {
    class: "usage",
    http: 404,
    meaning: "no payment (refund, stored-value operation) with this serviceId, or no such route",
  },
  TERM_ERR_ECR_NOT_ABORTABLE: {
    class: "error",
    http: 409,
    meaning: "the card is being read: the payment (or stored-value operation) can no longer be aborted",
  },
  TERM_ERR_ECR_LISTEN: {
    class: "error",
    http: 500,
    meaning: "the cash-register API cannot listen on the configured address (port in use?)",
  },
  TERM_ERR_DUPLICATE_RECORD: {
    class: "error",
    http: 200,
    meaning: "a record with this wallet id and card counter is already stored (replayed answer)",
  },
  TERM_ERR_REFUND_UNKNOWN_RECORD: {
    class: "usage",
    http: 422,
    meaning:
      "a refund names a terminal seq that is not a completed debit of this terminal (unknown, pending, voided or rejected by the acquirer): nothing stored",
  },
  TERM_ERR_REFUND_OVER_ORIGINAL: {
    class: "decline",
    http: 422,
    meaning:
      "the refund, with the refunds already stored for the same debit, would be more than the debit's amount: nothing stored",
  },
  TERM_ERR_ACQUIRER_UNREACHABLE: {
    class: "error",
    http: 502,
    meaning: "the acquirer did not answer (down, network error, timeout or 5xx) after retries",
  },
  TERM_ERR_ACQUIRER_REJECTED: {
    class: "error",
    http: 502,
    meaning: "the acquirer refused the request (4xx): the code from the acquirer is in details",
  },
  TERM_ERR_ACQUIRER_RESPONSE: {
    class: "error",
    http: 502,
    meaning: "the acquirer answered something that is not the expected JSON",
  },
  TERM_ERR_HOTLIST_SIGNATURE: {
    class: "error",
    http: 502,
    meaning: "the hotlist's signature or CRL does not verify with the acquirer CA",
  },
  TERM_ERR_HOTLIST_FORMAT: {
    class: "error",
    http: 502,
    meaning:
      "the acquirer's /v2/hotlist answer is not a well-formed format-2 hotlist (a format-1 body, an issuer fingerprint not 64 hex, entries out of canonical order): the stored one stays",
  },
  TERM_ERR_HOTLIST_REPLAYED: {
    class: "error",
    http: 502,
    meaning:
      "the hotlist fetched is older than the stored one, by version or issue time (a replayed list): the stored one stays",
  },
  TERM_ERR_HOTLIST_STALE: {
    class: "decline",
    http: 200,
    meaning:
      "no hotlist, or one older than hotlist.maxAgeHours: offline payments above the hotlist floor are declined until `posd sync`",
  },
  TERM_ERR_CURRENCY_NOT_ACCEPTED: {
    class: "decline",
    http: 200,
    meaning: "the terminal has no offline value limit for this currency, so it takes no payment in it",
  },
  TERM_ERR_ECR_FORBIDDEN: {
    class: "usage",
    http: 403,
    meaning:
      "the cash-register API refused the request: a Host that is not this terminal's, or a cross-origin browser request",
  },
  TERM_ERR_ECR_UNAUTHORIZED: {
    class: "usage",
    http: 401,
    meaning:
      "the cash-register API needs `Authorization: Bearer <ecr.token>` and the request has none or another",
  },
  TERM_ERR_OFFLINE: {
    class: "usage",
    http: 409,
    meaning:
      "the operation needs an online terminal (a load, a load reversal, an issuer command): set acquirer.url or pass --acquirer",
  },
  TERM_ERR_LOAD_REFUSED: {
    class: "decline",
    http: 200,
    meaning:
      "the wallet platform refused the load (wallet blocked or unknown, over the balance limit, account unknown, closed or short of funds): the platform's code is in details; nothing was loaded",
  },
  TERM_ERR_LOAD_CARD_REFUSED: {
    class: "decline",
    http: 200,
    meaning:
      "the card refused the issuer command (blocked, over its balance limit, another currency): nothing was loaded; the platform releases the load",
  },
  TERM_ERR_LOAD_IN_DOUBT: {
    class: "error",
    http: 200,
    meaning:
      "the load command went to the card and no verified answer came back, or the platform did not take the card's record: the load is settled the next time the wallet is presented at an online terminal",
  },
  TERM_ERR_ISSUER_COMMAND: {
    class: "error",
    http: 502,
    meaning:
      "the platform's issuer command does not match what the terminal asked for (amount, currency, load id, challenge): it was not sent to the card",
  },
  TERM_ERR_SV_UNKNOWN_LOAD: {
    class: "usage",
    http: 422,
    meaning:
      "a stored-value reverse names a load that is not a cash load made at this terminal (unknown here, or another load type): nothing was sent to the card",
  },
  TERM_ERR_SV_INTERRUPTED: {
    class: "error",
    http: 200,
    meaning:
      "posd stopped during a stored-value reverse: whether the card gave the load back is not known here; look the load up at the wallet platform (acquirer-stub wallet show) before asking again",
  },
} as const satisfies Record<string, ErrorSpec>;

export type TerminalErrorCode = keyof typeof TERMINAL_ERRORS;

/** code → meaning, for the registry that generates docs/errors.md. */
export const TERMINAL_ERROR_CODES: Readonly<Record<TerminalErrorCode, string>> = Object.fromEntries(
  Object.entries(TERMINAL_ERRORS).map(([code, spec]) => [code, spec.meaning]),
) as Record<TerminalErrorCode, string>;

export function isTerminalErrorCode(code: string): code is TerminalErrorCode {
  return Object.hasOwn(TERMINAL_ERRORS, code);
}

export function errorClass(code: TerminalErrorCode): ErrorClass {
  return TERMINAL_ERRORS[code].class;
}

export function httpStatus(code: TerminalErrorCode): number {
  return TERMINAL_ERRORS[code].http;
}

export function exitCode(code: TerminalErrorCode): number {
  return EXIT_CODES[TERMINAL_ERRORS[code].class];
}

/** Protocol codes that reach the CLI only from what its user typed (an amount, a currency). */
const USAGE_PROTOCOL_CODES: ReadonlySet<string> = new Set([
  "PROTO_ERR_AMOUNT",
  "PROTO_ERR_AMOUNT_RANGE",
  "PROTO_ERR_CURRENCY",
]);

/** The exit code of a command that ended with this error. */
export function exitCodeForError(e: TapwalletError): number {
  if (isTerminalErrorCode(e.code)) return exitCode(e.code);
  return USAGE_PROTOCOL_CODES.has(e.code) ? EXIT_CODES.usage : EXIT_CODES.error;
}

export class TerminalError extends TapwalletError {
  declare readonly code: TerminalErrorCode;
  constructor(code: TerminalErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/**
 * The card refused the command before committing anything (a DEBIT answered with a refusal status
 * word): the intent may be voided. Any other failure after DEBIT went out may hide a commit.
 */
export class CardRefusal extends TerminalError {}

/**
 * The one conversion of an unknown exception: a TerminalError passes; anything else is a bug or an
 * unforeseen failure and becomes TERM_ERR_INTERNAL (never a protocol violation of the card).
 */
export function asTerminalError(e: unknown): TerminalError {
  if (e instanceof TerminalError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new TerminalError("TERM_ERR_INTERNAL", `internal error: ${message}`, { cause: e });
}
