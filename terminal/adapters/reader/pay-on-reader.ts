/**
 * `posd pay --reader NAME`: one payment on a PC/SC reader. Opens PC/SC, waits for the reader and
 * for a card (up to the configured card wait), runs the payment, gives LED/buzzer feedback, closes.
 * `use` gets the bare connection: the caller puts it in the transport stack (composition/root.ts cardLink).
 */
import type { Logger } from "../../../protocol/logger.js";
import type { Transport } from "../../../protocol/transport.js";
import type { CardPresentation } from "../../application/payment-manager.js";
import type { PaymentOutcome } from "../../application/run-payment.js";
import type { TerminalContext } from "../../composition/root.js";
import { TerminalError } from "../../errors.js";
import { PcscService } from "../pcsc/service.js";
import { PcscCardSource } from "./pcsc-card-source.js";

export async function payOnReader(
  ctx: TerminalContext,
  options: { reader: string | undefined; log: Logger; onWaiting?: (reader: string) => void },
  pay: (transport: Transport) => Promise<PaymentOutcome>,
): Promise<PaymentOutcome> {
  return withReaderCard(ctx, options, pay, (presentation, outcome) => presentation.finish(outcome));
}

/** Wait for a card on the reader, run `use` with it, then release PC/SC. */
export async function withReaderCard<T>(
  ctx: TerminalContext,
  options: { reader: string | undefined; log: Logger; onWaiting?: (reader: string) => void },
  use: (transport: Transport) => Promise<T>,
  after?: (presentation: CardPresentation, result: T) => Promise<void>,
): Promise<T> {
  if (!options.reader) {
    throw new TerminalError(
      "TERM_ERR_USAGE",
      "no reader given: pass --reader NAME (see `posd readers`) or --virtual",
    );
  }
  const service = await PcscService.open({ logger: options.log });
  try {
    const reader = await service.waitForReader(options.reader, 5_000);
    const source = new PcscCardSource(service, reader, options.log);
    options.onWaiting?.(reader);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ctx.config.reader.cardWaitMs);
    let presentation: Awaited<ReturnType<PcscCardSource["waitForCard"]>>;
    try {
      presentation = await source.waitForCard(abort.signal);
    } catch {
      throw new TerminalError(
        "TERM_ERR_NO_CARD",
        `no card was presented on "${reader}" within ${ctx.config.reader.cardWaitMs} ms`,
      );
    } finally {
      clearTimeout(timer);
    }
    const result = await use(presentation.transport);
    await after?.(presentation, result);
    return result;
  } finally {
    await service.close();
  }
}
