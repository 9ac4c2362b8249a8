/**
 * The one transport port. Every reader path implements it: PC/SC (nfc-pcsc, a real ACR122U or
 * pcscd + vpcd), in-process (the card object), recorded (a replayed transcript). The engine never
 * knows which one it has.
 *
 * Contract (apdu4j's BIBO): half-duplex, one exchange at a time; `exchange` takes one encoded short
 * command APDU and resolves with the card's response, which always ends in SW1 SW2 (at least two
 * bytes). A card that leaves the field rejects with a `PROTO_ERR_TRANSPORT_CLOSED` ProtocolError
 * (or a transport-specific typed error), never resolves with fewer than two bytes.
 *
 * Cross-cutting behaviour (GET RESPONSE, timeouts, logging, recording) wraps a transport; see
 * transport-wrappers.ts. Wrappers are assembled in one place, the composition root.
 */
export interface Transport {
  exchange(command: Uint8Array): Promise<Uint8Array>;
}

/** A transport whose resources must be released (a PC/SC card handle, a socket). */
export interface ClosableTransport extends Transport {
  close(): Promise<void>;
}
