/**
 * The fingerprint of a terminal's request, for idempotency by its id: the same id with the same
 * content is answered again the same way; with other content it is a conflict (409).
 *
 * SHA-256 over the sending terminal's id and the body as canonical JSON (keys sorted at every
 * level), so that a terminal that rebuilds the same request in another key order is the same
 * request, and the same id from another terminal is not.
 */
import { hex, utf8 } from "../../protocol/bytes.js";
import { sha256 } from "../../protocol/crypto.js";
import { AcquirerError } from "../errors.js";

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  return value;
}

export function requestHash(terminalId: string, body: unknown): string {
  return hex(sha256(utf8(JSON.stringify([1, terminalId, canonical(body)]))));
}

/** The stored request with this id had other content (or came from another terminal). */
export function idempotencyConflict(what: string, id: string): AcquirerError {
  return new AcquirerError(
    "ACQ_ERR_IDEMPOTENCY_CONFLICT",
    `${what} ${id} was already used for a request with other content`,
    { details: { id } },
  );
}
