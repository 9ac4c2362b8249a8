/**
 * The one transport port. Every reader path implements it: PC/SC (nfc-pcsc, a real ACR122U or
 * pcscd + vpcd), in-process (the card object), recorded (a replayed transcript). The engine never
 * knows which one it has.
 *
 * Contract (apdu4j's BIBO): half-duplex, one exchange at a time; `exchange` takes one encoded short
 * command APDU and resolves with the card's response, which always ends in SW1 SW2 (at least two
 * bytes). A card that leaves the field rejects with a `PROTO_ERR_TRANSPORT_CLOSED` ProtocolError
 * (`details.reason`: a TransportClosedReason), never resolves with fewer than two bytes; a card that
 * does not answer in time is PROTO_ERR_TRANSPORT_TIMEOUT (from the withTimeout wrapper). Those are
 * the only failures a medium reports.
 *
 * Cross-cutting behaviour (serialization, timeouts, logging, counting, recording) wraps a
 * transport; see transport-wrappers.ts. The terminal assembles its stack in one function of its
 * composition root (terminal/composition/card-transport.ts).
 */
export interface Transport {
  exchange(command: Uint8Array): Promise<Uint8Array>;
}

/** A transport whose resources must be released (a PC/SC card handle, a socket). */
export interface ClosableTransport extends Transport {
  close(): Promise<void>;
}

/** Why an exchange failed with PROTO_ERR_TRANSPORT_CLOSED: the card left (the default), or the reader failed. */
export type TransportClosedReason = "card-removed" | "reader-failed";
