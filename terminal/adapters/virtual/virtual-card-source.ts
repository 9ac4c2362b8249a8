/**
 * A CardSource for virtual-card mode and tests: a software wallet "in the field". Either always
 * present (posd run --virtual: every payment finds the card at once), or presented on demand
 * with `present()` so a test plays the customer tapping at a moment of its choosing.
 */
import type { Transport } from "../../../protocol/transport.js";
import type { CardPresentation, CardResult, CardSource } from "../../application/payment-manager.js";

export class VirtualCardSource implements CardSource {
  readonly #alwaysPresent: boolean;
  #transport: Transport | undefined;
  #waiters: ((t: Transport) => void)[] = [];
  readonly finished: CardResult[] = [];

  constructor(transport?: Transport, options: { alwaysPresent?: boolean } = {}) {
    this.#transport = transport;
    this.#alwaysPresent = options.alwaysPresent ?? true;
  }

  /** Put a card in the field (wakes a waiting payment). */
  present(transport: Transport): void {
    this.#transport = transport;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(transport);
  }

  waitForCard(signal: AbortSignal): Promise<CardPresentation> {
    const presentation = (transport: Transport): CardPresentation => ({
      transport,
      finish: async (outcome) => {
        this.finished.push(outcome);
      },
    });
    if (this.#alwaysPresent && this.#transport) return Promise.resolve(presentation(this.#transport));
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new DOMException("aborted", "AbortError"));
        return;
      }
      const waiter = (t: Transport) => {
        signal.removeEventListener("abort", onAbort);
        resolve(presentation(t));
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new DOMException("aborted", "AbortError"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}
