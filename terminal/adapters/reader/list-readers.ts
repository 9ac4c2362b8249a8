/**
 * `posd readers`: the PC/SC readers pcscd lists, and whether a card is in each one's field.
 *
 * A new PC/SC context learns the readers and their card state through events a few milliseconds
 * after it is created (nfc-pcsc connects to a card before it reports it), so the list is read once
 * no such event came for a moment.
 */
import { connect } from "node:net";
import type { Logger } from "../../../protocol/logger.js";
import { TerminalError } from "../../errors.js";
import { PCSCD_SOCKET, type PcscReaderInfo, PcscService, type PcscServiceOptions } from "../pcsc/service.js";

export interface ListReadersOptions {
  readonly logger: Logger;
  readonly socketPath?: string;
  /** The list counts as complete once no reader or card event came for this long; default 300 ms. */
  readonly settleMs?: number;
  /** Give up waiting for it to settle after this long; default 3 s. */
  readonly maxWaitMs?: number;
  /** Test seam (PcscService.open's `load`). */
  readonly load?: PcscServiceOptions["load"];
}

/** Whether pcscd accepts connections on its socket (a stale socket file after a crash does not). */
export function pcscdAccepting(socketPath = PCSCD_SOCKET, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath });
    const timer = setTimeout(() => done(false), timeoutMs);
    function done(ok: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    }
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** TERM_ERR_PCSC_UNAVAILABLE when nfc-pcsc cannot be loaded or pcscd is not running. */
export async function listReaders(options: ListReadersOptions): Promise<PcscReaderInfo[]> {
  const socketPath = options.socketPath ?? PCSCD_SOCKET;
  if (!(await pcscdAccepting(socketPath))) {
    throw new TerminalError(
      "TERM_ERR_PCSC_UNAVAILABLE",
      `pcscd is not running (nothing accepts connections on ${socketPath}): start it with ` +
        "`sudo systemctl start pcscd` (or `sudo bash scripts/pcsc-setup.sh start` for the virtual reader)",
      { details: { socket: socketPath } },
    );
  }
  const service = await PcscService.open({
    logger: options.logger,
    socketPath,
    ...(options.load ? { load: options.load } : {}),
  });
  try {
    await quiet(service, options.settleMs ?? 300, options.maxWaitMs ?? 3_000);
    return service.readers().sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    await service.close();
  }
}

/** Resolves once no reader or card event came for `settleMs` (or after `maxWaitMs`). */
function quiet(service: PcscService, settleMs: number, maxWaitMs: number): Promise<void> {
  const events = ["reader", "reader.end", "card", "card.off"] as const;
  return new Promise((resolve) => {
    let settle = setTimeout(done, settleMs);
    const cap = setTimeout(done, maxWaitMs);
    function bump(): void {
      clearTimeout(settle);
      settle = setTimeout(done, settleMs);
    }
    function done(): void {
      clearTimeout(settle);
      clearTimeout(cap);
      for (const e of events) service.off(e, bump);
      resolve();
    }
    for (const e of events) service.on(e, bump);
  });
}
