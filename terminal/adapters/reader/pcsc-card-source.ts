/**
 * Cards from a PC/SC reader (an ACR122U, or pcscd + vpcd), for the daemon and `posd pay --reader`.
 *
 * The reader is named by a query (exact name or unique substring, PcscService.findReader), resolved
 * again for every card event: a reader unplugged and plugged back, or listed again by a new PC/SC
 * context after a pcscd restart, is the same reader.
 *
 * A presentation is used for one payment only (unless `newTapPerPayment` is false): after a payment
 * the card must leave the field and come back (a new `card` event) before it pays again, so a phone
 * left lying on the reader is never charged by the next sale. The wallet is identified by what it
 * says at the APDU level, never by the UID (phones present a random one each tap).
 */
import type { Logger } from "../../../protocol/logger.js";
import type { CardPresentation, CardResult, CardSource } from "../../application/payment-manager.js";
import type { PcscCardEvent, PcscService } from "../pcsc/service.js";
import type { PcscTransport } from "../pcsc/transport.js";

export interface PcscCardSourceOptions {
  /** Default true: one payment per presentation. */
  readonly newTapPerPayment?: boolean;
}

export class PcscCardSource implements CardSource {
  readonly #service: PcscService;
  readonly #query: string;
  readonly #logger: Logger;
  readonly #newTapPerPayment: boolean;
  readonly #used = new WeakSet<PcscTransport>();

  constructor(service: PcscService, reader: string, logger: Logger, options: PcscCardSourceOptions = {}) {
    this.#service = service;
    this.#query = reader;
    this.#logger = logger;
    this.#newTapPerPayment = options.newTapPerPayment ?? true;
  }

  /** The reader as asked for (exact name or substring). */
  get query(): string {
    return this.#query;
  }

  /** The full name of the reader the query matches now, if exactly one does. */
  get reader(): string | undefined {
    try {
      return this.#service.findReader(this.#query);
    } catch {
      return undefined;
    }
  }

  /** Whether a card is in the field of the reader now (usable or not). */
  get cardPresent(): boolean {
    const name = this.reader;
    return name !== undefined && this.#service.currentTransport(name) !== undefined;
  }

  waitForCard(signal: AbortSignal): Promise<CardPresentation> {
    const name = this.reader;
    const present = name === undefined ? undefined : this.#service.currentTransport(name);
    if (present && this.#usable(present)) return Promise.resolve(this.#presentation(present));
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new DOMException("aborted", "AbortError"));
        return;
      }
      const onCard = (e: PcscCardEvent) => {
        if (e.reader !== this.reader || !this.#usable(e.transport)) return;
        cleanup();
        resolve(this.#presentation(e.transport));
      };
      const onAbort = () => {
        cleanup();
        reject(new DOMException("aborted", "AbortError"));
      };
      const cleanup = () => {
        this.#service.off("card", onCard);
        signal.removeEventListener("abort", onAbort);
      };
      this.#service.on("card", onCard);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #usable(transport: PcscTransport): boolean {
    return transport.state === "open" && !(this.#newTapPerPayment && this.#used.has(transport));
  }

  #presentation(transport: PcscTransport): CardPresentation {
    this.#used.add(transport);
    return {
      transport,
      finish: async (outcome: CardResult) => {
        const approved = outcome.status === "approved";
        await transport.feedback(approved ? "approved" : "declined");
        this.#logger.debug({ reader: transport.readerName, outcome: outcome.status }, "card feedback given");
      },
    };
  }
}
