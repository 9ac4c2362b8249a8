/**
 * Cards from a PC/SC reader (an ACR122U, or pcscd + vpcd), for the daemon and `posd pay --reader`.
 *
 * A presentation is used for one payment only: after a payment the card must leave the field and
 * come back (a new `card` event) before it pays again, so a phone left lying on the reader is never
 * charged by the next sale. The wallet is identified by what it says at the APDU level, never by
 * the UID (phones present a random one each tap).
 */
import type { Logger } from "../../../protocol/logger.js";
import type { CardPresentation, CardSource } from "../../application/payment-manager.js";
import type { PaymentOutcome } from "../../application/run-payment.js";
import type { PcscCardEvent, PcscService } from "../pcsc/service.js";
import type { PcscTransport } from "../pcsc/transport.js";

export class PcscCardSource implements CardSource {
  readonly #service: PcscService;
  readonly #reader: string;
  readonly #logger: Logger;
  readonly #used = new WeakSet<PcscTransport>();

  constructor(service: PcscService, readerName: string, logger: Logger) {
    this.#service = service;
    this.#reader = readerName;
    this.#logger = logger;
  }

  get reader(): string {
    return this.#reader;
  }

  waitForCard(signal: AbortSignal): Promise<CardPresentation> {
    const present = this.#service.currentTransport(this.#reader);
    if (present && present.state === "open" && !this.#used.has(present))
      return Promise.resolve(this.#presentation(present));
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new DOMException("aborted", "AbortError"));
        return;
      }
      const onCard = (e: PcscCardEvent) => {
        if (e.reader !== this.#reader || this.#used.has(e.transport)) return;
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

  #presentation(transport: PcscTransport): CardPresentation {
    this.#used.add(transport);
    return {
      transport,
      finish: async (outcome: PaymentOutcome) => {
        const approved = outcome.status === "approved";
        await transport.feedback(approved ? "approved" : "declined");
        this.#logger.debug({ reader: this.#reader, outcome: outcome.status }, "card feedback given");
      },
    };
  }
}
