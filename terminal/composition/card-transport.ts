/**
 * The one transport stack between a card connection and the card session, assembled here and
 * nowhere else (as yubikit's `_build_base_processor` composes its processors):
 *
 *   counting( serialized( withTimeout( withLogging( connection ) ) ) )
 *
 * - the connection is thin, one per medium: PcscTransport (an ACR122U, or pcscd + vpcd), the
 *   in-process virtual card, a RecordingTransport around either, or a ReplayTransport;
 * - withLogging traces each APDU at trace level, as transcript lines;
 * - withTimeout bounds each APDU (config reader.apduTimeoutMs) and is poisoned after a timeout;
 * - serialized refuses a second exchange while one is in flight (outside the timeout, so the port
 *   is free again once a timeout is reported);
 * - counting gives the tap statistics (APDUs, bytes) that runPayment reports.
 */
import type { Logger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import {
  type CountedTransport,
  counting,
  serialized,
  withLogging,
  withTimeout,
} from "../../protocol/transport-wrappers.js";
import type { CardPresentation, CardSource } from "../application/payment-manager.js";

export interface CardTransportOptions {
  /** Per-APDU timeout (ms). */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

export function cardTransport(connection: Transport, options: CardTransportOptions): CountedTransport {
  return counting(serialized(withTimeout(withLogging(connection, options.logger), options.timeoutMs)));
}

/**
 * A card source whose presentations carry the stack. One stack per connection, kept as long as the
 * connection lives: a presentation that timed out stays poisoned, even if it is offered again.
 */
export function withCardTransport(source: CardSource, options: CardTransportOptions): CardSource {
  const stacks = new WeakMap<Transport, CountedTransport>();
  const stackFor = (connection: Transport): CountedTransport => {
    let stack = stacks.get(connection);
    if (!stack) {
      stack = cardTransport(connection, options);
      stacks.set(connection, stack);
    }
    return stack;
  };
  return {
    async waitForCard(signal: AbortSignal): Promise<CardPresentation> {
      const presentation = await source.waitForCard(signal);
      return { ...presentation, transport: stackFor(presentation.transport) };
    },
  };
}
