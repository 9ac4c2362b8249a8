/**
 * Stable codes of the acquirer: HTTP error bodies and per-record rejection reasons. See docs/errors.md.
 */
import { type ErrorOptions, TapwalletError } from "../protocol/errors.js";

export const ACQUIRER_ERROR_CODES = {
  ACQ_ERR_USAGE: "command-line arguments are missing or invalid",
  ACQ_ERR_BAD_REQUEST: "request body is not valid JSON or does not match the schema",
  ACQ_ERR_BODY_TOO_LARGE: "request body is larger than the accepted limit",
  ACQ_ERR_UNSUPPORTED_MEDIA_TYPE: "request body is not application/json",
  ACQ_ERR_NOT_FOUND: "no such route, batch or wallet",
  ACQ_ERR_UNAUTHORIZED: "an operator route was called without the operator token",
  ACQ_ERR_NO_OPERATOR_TOKEN:
    "serve was started without an operator token (TAPWALLET_ACQUIRER_OPERATOR_TOKEN unset or empty) and without --operator-routes off or --insecure-operator-routes: it refuses to start (exit 2) and nothing listens",
  ACQ_ERR_WEAK_OPERATOR_TOKEN:
    "serve was given an operator token (TAPWALLET_ACQUIRER_OPERATOR_TOKEN) shorter than 16 characters: it refuses to start (exit 2) and nothing listens; make one with `openssl rand -hex 32`",
  ACQ_ERR_INTERNAL: "an unexpected internal error (a bug: report it with the log); nothing was stored",
  ACQ_ERR_STORE: "the acquirer database cannot be opened, migrated or written",
  ACQ_ERR_STORE_URL:
    "the --db value (or TAPWALLET_ACQUIRER_DB) is neither a file path nor a postgres:// URL naming a database",
  ACQ_ERR_STORE_UNREACHABLE:
    "the acquirer database cannot be reached at start (refused, unknown host, wrong password, no such database)",
  ACQ_ERR_STORE_SCHEMA:
    "the acquirer database's schema is newer than this acquirer-stub, or was made by one before 0.2: nothing was changed",
  ACQ_ERR_STORE_UNAVAILABLE: "the database connection was lost during the request; nothing was stored: retry",
  ACQ_ERR_STORE_CONFLICT:
    "concurrent writers (other instances) kept conflicting with this write past its retries; nothing was stored: retry",
  ACQ_ERR_CONFIG: "a trust file (root, issuer or acquirer CA, key, CRL) is missing or invalid",
  ACQ_ERR_TERMINAL_CERT:
    "terminal certificate does not chain to the root through an acquirer CA, or is invalid now",
  ACQ_ERR_TERMINAL_REVOKED: "terminal certificate is on the acquirer CA's CRL or the terminal id is revoked",
  ACQ_ERR_TERMINAL_MISMATCH: "manifest terminal or merchant id differs from the terminal certificate's",
  ACQ_ERR_MANIFEST_SIGNATURE: "batch manifest signature does not verify with the terminal certificate",
  ACQ_ERR_CHAIN_BREAK:
    "terminal hash chain broken: the batch does not continue the stored chain head, or a link inside it breaks",
  ACQ_ERR_REPLAYED_BATCH: "every record of this batch was already settled under another batch id",
  ACQ_ERR_IDEMPOTENCY_CONFLICT: "this batch id was already used for a batch with different content",
  ACQ_ERR_IN_FLIGHT: "this batch, or another batch of the same terminal, is being processed: retry later",
  ACQ_ERR_RECORD_FORMAT: "record fields are malformed (card record layout, voided entry with card data)",
  ACQ_ERR_RECORD_TYPE: "record type is not a debit: only debits settle through terminal batches",
  ACQ_ERR_RECORD_MISMATCH:
    "card record's terminal id, terminal seq or wallet id differs from the terminal's or the certificate's",
  ACQ_ERR_RECORD_TIME: "record time is too far in the future of the acquirer's clock",
  ACQ_ERR_TERMINAL_SIGNATURE: "terminal signature over the chained record does not verify (record altered)",
  ACQ_ERR_CARD_CERT: "card certificate missing, malformed, invalid at the record's time or not a card",
  ACQ_ERR_UNKNOWN_ISSUER: "card certificate does not chain to the root through an accepted issuer CA",
  ACQ_ERR_CARD_REVOKED: "card certificate is on its issuer's CRL",
  ACQ_ERR_CARD_SIGNATURE: "card signature over the record does not verify",
  ACQ_ERR_DUPLICATE: "the same record (wallet id, card counter, same content) was already accepted",
  ACQ_ERR_CLONE: "another record with this wallet id and card counter was already accepted: wallet blocked",
  ACQ_ERR_SEQ_REUSED: "this terminal seq was already used by another record of the terminal",
  ACQ_ERR_FINDING_UNPROVEN:
    "a terminal's finding carries no card-signed record (the wallet was declined before DEBIT): stored as the terminal's word",
  // Refunds of returned goods riding in a batch (protocol/wallet/refund.ts).
  ACQ_ERR_REFUND_SIGNATURE:
    "the terminal signature over a refund does not verify with the terminal certificate (refund altered): not stored",
  ACQ_ERR_REFUND_FOREIGN_RECORD:
    "the refunded debit (wallet id and card counter) was accepted from another terminal: a terminal refunds only its own",
  ACQ_ERR_REFUND_MISMATCH:
    "the refund's terminal seq, wallet id, card counter or currency differ from the accepted debit it names",
  ACQ_ERR_REFUND_UNKNOWN_RECORD:
    "the refunded seq of this terminal was voided or rejected: it can never be refunded",
  ACQ_ERR_REFUND_OVER_ORIGINAL:
    "the refund, with the refunds already settled for the same debit, would exceed the debit's amount",
  ACQ_ERR_REFUND_ID_REUSED: "this terminal already sent another refund (other content) under this refund id",
  // The wallet platform (acquirer-stub/platform/): online terminals' requests, loads and reversals.
  ACQ_ERR_REQUEST_SIGNATURE:
    "a wallet-platform request carries no terminal signature, or it does not verify over the method, path and body received",
  ACQ_ERR_REQUEST_TIME:
    "the terminal time in a wallet-platform request is more than 300 s from the platform's clock",
  ACQ_ERR_WALLET_UNKNOWN: "no wallet with this id was issued on the wallet platform",
  ACQ_ERR_WALLET_BLOCKED:
    "the wallet (or the card as the terminal read it) is not active: lost, blocked or closed; for a record in a batch, it is dated after the wallet's block plus the hotlist grace period",
  ACQ_ERR_WALLET_EXISTS: "this wallet id was already issued with other parameters",
  ACQ_ERR_CARD_MISMATCH:
    "the card certificate names another wallet, or differs from the certificate registered for the wallet",
  ACQ_ERR_CURRENCY: "the load's currency differs from the wallet's or the funding account's",
  ACQ_ERR_LOAD_AMOUNT: "the load amount is not 1..999999999999 minor units",
  ACQ_ERR_OVER_BALANCE_LIMIT:
    "the card's balance plus the load would exceed the card's or the wallet's balance limit",
  ACQ_ERR_NO_BOUND_ACCOUNT: "a bound or auto load for a wallet without a bound bank account",
  ACQ_ERR_AUTO_LOAD_OFF: "an auto load for a wallet whose auto-load is not switched on",
  ACQ_ERR_ACCOUNT_UNKNOWN: "no bank account with this number",
  ACQ_ERR_ACCOUNT_CLOSED: "the bank account is closed",
  ACQ_ERR_ACCOUNT_EXISTS: "this bank account number was already opened with other values",
  ACQ_ERR_INSUFFICIENT_FUNDS:
    "the funding account's available balance (bank balance less holds, or the online account less pending loads) does not cover the load",
  ACQ_ERR_CHALLENGE_REUSED: "the card challenge was already used for another issuer command of this wallet",
  ACQ_ERR_LOAD_UNKNOWN: "no load with this id",
  ACQ_ERR_LOAD_STATE:
    "the load is not in a state that allows this (already completed with another proof, voided, reversed, or not reversible)",
  ACQ_ERR_LOAD_SIGNATURE:
    "the card signature over the forwarded record does not verify with the wallet's card certificate",
  ACQ_ERR_LOAD_RECORD_MISMATCH:
    "the forwarded card record is not the one the platform's command asks for (type, wallet, amount, currency or binding: details.fields)",
  ACQ_ERR_REVERSAL_UNKNOWN: "no reversal with this request id for this load",
  ACQ_ERR_REVERSAL_DAY:
    "a completed cash load can be revoked only on its business day (UTC date of its issue)",
  ACQ_ERR_PARAMS_RANGE:
    "wallet parameters out of range: each 0..999999999999 minor units, the single limit and the auto-load amount at most the balance limit, the auto-load threshold under it",
  ACQ_ERR_COMMAND_UNKNOWN:
    "no issuer command with this id (or no signing with this request id) for the wallet",
  ACQ_ERR_COMMAND_STATE:
    "the issuer command is no longer pending (delivered, or superseded by a newer one): nothing to sign",
  ACQ_ERR_WALLET_NOT_LOST: "the wallet is not reported lost or blocked: there is nothing to release",
} as const;

export type AcquirerErrorCode = keyof typeof ACQUIRER_ERROR_CODES;

export class AcquirerError extends TapwalletError {
  declare readonly code: AcquirerErrorCode;
  constructor(code: AcquirerErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
