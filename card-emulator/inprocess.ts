/**
 * Virtual-card mode: a card object (the WalletApplet, a FaultyApplet around it, or any VirtualCard)
 * as a Transport, with no reader, pcscd or socket. A test can take the card out of the field and put
 * it back.
 *
 * - `exchange` calls `process`; the answer arrives `delayMs` late when set (the option, else the
 *   card's `faults.delayMs`, which a FaultyApplet has).
 * - A TearError out of `process` (the tear fault) takes the card out of the field: that exchange and
 *   every later one reject with PROTO_ERR_TRANSPORT_CLOSED until `insert()`.
 * - A SilentError (the silent fault) leaves the exchange pending until `remove()` rejects it; the
 *   terminal's per-APDU timeout is what notices.
 * - While removed, exchanges reject with PROTO_ERR_TRANSPORT_CLOSED; removing powers the card off.
 */
import { ProtocolError } from "../protocol/errors.js";
import type { Transport } from "../protocol/transport.js";
import type { VirtualCard } from "./adapters/vpcd.js";
import { type Faults, SilentError, TearError } from "./faults.js";

export interface InProcessOptions {
  /** Answer every APDU this late (ms). Default: the card's `faults.delayMs`, else none. */
  delayMs?: number;
}

function closed(message: string, ins?: number): ProtocolError {
  return new ProtocolError(
    "PROTO_ERR_TRANSPORT_CLOSED",
    message,
    ins === undefined ? {} : { details: { ins } },
  );
}

export class InProcessTransport implements Transport {
  readonly card: VirtualCard;
  readonly #delayMs: number | undefined;
  #present = true;
  /** Exchanges left hanging by a silent card: rejected when the card is removed. */
  readonly #hanging = new Set<(e: Error) => void>();

  constructor(card: VirtualCard, options: InProcessOptions = {}) {
    this.card = card;
    this.#delayMs = options.delayMs;
  }

  /** Whether the card is in the field. */
  get present(): boolean {
    return this.#present;
  }

  async exchange(command: Uint8Array): Promise<Uint8Array> {
    if (!this.#present) throw closed("the card is not in the field", command[1]);
    let response: Uint8Array;
    try {
      response = await this.card.process(command);
    } catch (e) {
      if (e instanceof TearError) {
        this.remove();
        throw closed("the card left the field before answering", command[1]);
      }
      if (e instanceof SilentError) return this.#hang();
      throw e;
    }
    const delay = this.#delayMs ?? (this.card as { faults?: Faults }).faults?.delayMs;
    if (delay !== undefined && delay > 0) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (!this.#present) throw closed("the card left the field before answering", command[1]);
    }
    return response;
  }

  /** Take the card out of the field: it is powered off; pending and later exchanges fail. */
  remove(): void {
    if (!this.#present) return;
    this.#present = false;
    this.card.powerOff?.();
    const error = closed("the card left the field");
    for (const reject of this.#hanging) reject(error);
    this.#hanging.clear();
  }

  /** Put the card back into the field (powered on, nothing selected). */
  insert(): void {
    this.#present = true;
  }

  #hang(): Promise<Uint8Array> {
    return new Promise<Uint8Array>((_, reject) => {
      this.#hanging.add(reject);
    });
  }
}
