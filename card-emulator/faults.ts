/**
 * Fault injection: ways the software card misbehaves on purpose so the terminal's tests can check
 * that each misbehaviour is caught. Off by default. The applet itself knows none of them: they are
 * applied by FaultyApplet (applet/faulty.ts), the decorator that serve, the test fixtures and the
 * demo put in front of it, and by the transports for the delay. This module holds what the
 * transports need without loading the applet: the configuration and the two errors. Each fault:
 *
 * - tearAfterDebitCommit: a DEBIT commits, then the card leaves the field instead of answering.
 *   FaultyApplet throws TearError; the in-process transport rejects (card removed), serve drops the
 *   vpcd connection (and the card comes back into the field).
 * - tearAfterOnlineCommit: the same for an issuer command (LOAD, LOAD REVERSAL, UPDATE PARAMETERS,
 *   BLOCK, UNBLOCK): it commits, then the card leaves the field (the load in doubt).
 * - delayMs: every answer arrives N ms late (the transport: InProcessTransport, serve's link).
 * - corruptSignature: one bit of a signature the card sends is flipped. `true` or "record": the
 *   signed record answering DEBIT and the online commands (the log keeps the true signature, so
 *   GET TRANSACTION LOG returns a good one); "auth": the INITIATE AUTHENTICATE signature; "all": both.
 * - certificate: the card presents a fixture certificate, signs with its key and announces its
 *   wallet id — cards/rogue (unknown issuer), cards/expired, cards/revoked — so that only the
 *   certificate check fails. Applies from the next SELECT.
 * - replayDebitAnswer: DEBIT commits nothing and answers the previous signed debit record of the
 *   log (an old record bound to an old transcript) through the current secure channel; with no
 *   previous debit the card behaves normally.
 * - silentAfterInitiate: the card receives INITIATE AUTHENTICATE and answers neither it nor anything
 *   after it until it is reset or leaves the field (FaultyApplet throws SilentError; the transport
 *   never answers).
 */

export type CertificateFault = "unknown-issuer" | "expired" | "revoked";
export type SignatureFault = boolean | "record" | "auth" | "all";

export interface Faults {
  tearAfterDebitCommit?: boolean;
  tearAfterOnlineCommit?: boolean;
  delayMs?: number;
  corruptSignature?: SignatureFault;
  certificate?: CertificateFault;
  replayDebitAnswer?: boolean;
  silentAfterInitiate?: boolean;
}

/** The fixture (fixtures/pki/) each certificate fault presents. */
export const CERTIFICATE_FAULT_FIXTURES: Readonly<Record<CertificateFault, string>> = {
  "unknown-issuer": "cards/rogue",
  expired: "cards/expired",
  revoked: "cards/revoked",
};

export const CERTIFICATE_FAULTS = Object.keys(CERTIFICATE_FAULT_FIXTURES) as CertificateFault[];

/**
 * Thrown out of `FaultyApplet.process` instead of the answer to a DEBIT that committed when
 * `tearAfterDebitCommit` is set: the card is torn from the field before it answers. The in-process
 * transport turns it into "card removed" (PROTO_ERR_TRANSPORT_CLOSED); `serve` drops the vpcd
 * connection.
 */
export class TearError extends Error {
  constructor(message = "fault: card torn from the field after the DEBIT commit, before answering") {
    super(message);
    this.name = "TearError";
  }
}

/**
 * Thrown out of `FaultyApplet.process` for every command from INITIATE AUTHENTICATE on when
 * `silentAfterInitiate` is set: the transport must not answer at all (the terminal's per-APDU timeout
 * is what ends the exchange). Cleared by powerOff() / reset().
 */
export class SilentError extends Error {
  constructor(message = "fault: the card stays silent") {
    super(message);
    this.name = "SilentError";
  }
}

export function corruptsRecordSignature(f: Faults | undefined): boolean {
  const c = f?.corruptSignature;
  return c === true || c === "record" || c === "all";
}

export function corruptsAuthSignature(f: Faults | undefined): boolean {
  const c = f?.corruptSignature;
  return c === "auth" || c === "all";
}

/**
 * Flip one bit of a signature (the last byte's low bit): still 64 bytes, never verifies. Every signed
 * answer of the card ends with its signature, so FaultyApplet applies it to the whole answer data.
 */
export function corrupt(signature: Uint8Array): Uint8Array {
  const out = signature.slice();
  out[out.length - 1]! ^= 0x01;
  return out;
}
