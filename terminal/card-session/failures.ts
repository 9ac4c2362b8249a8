/**
 * The card session's translation of what goes wrong below it into the terminal's codes: transport
 * failures (every medium reports only the protocol's "closed" and "timeout"), codec failures on the
 * card's bytes, and certificate-chain failures. Unknown exceptions become TERM_ERR_INTERNAL
 * (asTerminalError): a bug is never reported as the card's protocol violation.
 */
import { isTapwalletError, ProtocolError } from "../../protocol/errors.js";
import type { TransportClosedReason } from "../../protocol/transport.js";
import { asTerminalError, TerminalError, type TerminalErrorCode } from "../errors.js";

/** PROTO_ERR_CERT_* (card chain) → what the cashier is told. */
const CERTIFICATE_FAILURES: Readonly<Record<string, readonly [TerminalErrorCode, string]>> = {
  PROTO_ERR_CERT_ISSUER: [
    "TERM_ERR_UNKNOWN_ISSUER",
    "the wallet's certificate is not from an accepted issuer",
  ],
  PROTO_ERR_CERT_EXPIRED: ["TERM_ERR_CARD_EXPIRED", "the wallet's certificate has expired"],
  PROTO_ERR_CERT_NOT_YET_VALID: ["TERM_ERR_CARD_EXPIRED", "the wallet's certificate is not valid yet"],
  PROTO_ERR_CERT_REVOKED: ["TERM_ERR_CARD_REVOKED", "the wallet's certificate is revoked"],
  PROTO_ERR_CERT_SIGNATURE: ["TERM_ERR_BAD_SIGNATURE", "the wallet's certificate signature does not verify"],
};

export function cardCertificateError(e: unknown): TerminalError {
  const code = isTapwalletError(e) ? e.code : "";
  const [termCode, message] = CERTIFICATE_FAILURES[code] ?? [
    "TERM_ERR_CARD_CERT",
    "the wallet's certificate is not acceptable",
  ];
  return new TerminalError(termCode, message, { cause: e, details: { reason: code || String(e) } });
}

/** Transport and codec failures → the typed outcome of a tap. TerminalErrors pass through. */
export function toTerminalError(e: unknown, context: string): TerminalError {
  if (!(e instanceof ProtocolError)) return asTerminalError(e);
  const details = e.details ?? {};
  switch (e.code) {
    case "PROTO_ERR_TRANSPORT_CLOSED":
      if (details.reason === ("reader-failed" satisfies TransportClosedReason)) {
        return new TerminalError("TERM_ERR_READER", `${context}: ${e.message}`, { cause: e, details });
      }
      return new TerminalError(
        "TERM_ERR_CARD_REMOVED",
        `the card left the field (${context}): ${e.message}`,
        {
          cause: e,
          details,
        },
      );
    case "PROTO_ERR_RESPONSE_TOO_SHORT":
      return new TerminalError("TERM_ERR_CARD_REMOVED", `the card left the field (${context})`, { cause: e });
    case "PROTO_ERR_TRANSPORT_TIMEOUT":
      return new TerminalError("TERM_ERR_TIMEOUT", `${context}: ${e.message}`, { cause: e, details });
    case "PROTO_ERR_TRANSPORT_BUSY":
      return new TerminalError("TERM_ERR_READER", `the reader is busy (${context})`, { cause: e });
    case "PROTO_ERR_SM_MAC":
      return new TerminalError(
        "TERM_ERR_PROTOCOL",
        `secure messaging failed (${context}): answer tampered or replayed`,
        { cause: e },
      );
    default:
      return new TerminalError(
        "TERM_ERR_PROTOCOL",
        `the card's answer is malformed (${context}): ${e.message}`,
        {
          cause: e,
          details: { reason: e.code },
        },
      );
  }
}
