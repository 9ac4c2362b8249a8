/**
 * The connection to one nfc-pcsc reader with a card in its field: one object per card presentation
 * (PcscService creates it at the `card` event and retires it at `card.off`). It is thin: the
 * composition root wraps it in the one transport stack (terminal/composition/card-transport.ts)
 * for serialization, the per-APDU timeout, tracing and counting. Its only errors are the protocol's
 * PROTO_ERR_TRANSPORT_CLOSED (`details.reason` "card-removed" or "reader-failed", with the PC/SC
 * code) and PROTO_ERR_APDU_LENGTH for a command no short APDU can carry.
 *
 * What it guards against (each measured on pcscd + vpcd, see shared/notes/pcsc-hil.md):
 * - a too-small response buffer makes SCardTransmit fail *after* the card executed the command:
 *   the buffer is always at least 258 bytes (256 data + SW1 SW2);
 * - `transmit` throws synchronously when nfc-pcsc has no card connection;
 * - a card that leaves mid-APDU makes transmit resolve with an empty buffer;
 * - a mute card makes transmit hang forever (PC/SC has no timeout). The stack's timeout gives up on
 *   it, but the hung call holds one libuv threadpool thread and the reader's native mutex until the
 *   card leaves the field: while a transmit is pending natively, LED commands are skipped, the
 *   presentation is not offered for another payment, and the process-wide count tells
 *   adapters/pcsc/process-exit.ts that a normal exit would hang.
 */
import { hex } from "../../../protocol/bytes.js";
import { ProtocolError } from "../../../protocol/errors.js";
import { type Logger, silentLogger } from "../../../protocol/logger.js";
import type { ClosableTransport, TransportClosedReason } from "../../../protocol/transport.js";
import { acr122FeedbackCommand, type FeedbackOutcome } from "./acr122.js";
import { isServiceGone, mapPcscError } from "./pcsc-errors.js";
import type { NfcReader } from "./types.js";

export const DEFAULT_APDU_TIMEOUT_MS = 2000;
/** 256 data bytes + SW1 SW2: the most a short APDU can answer. */
export const MIN_RESPONSE_BUFFER = 258;
/** 4-byte header + Lc + 255 data + Le. */
const MAX_SHORT_COMMAND = 261;
const FEEDBACK_TIMEOUT_MS = 1000;

/** Transmits still pending in the native layer, over every connection of the process. */
let pendingInProcess = 0;

/**
 * How many transmits of this process are still pending in the native layer (each holds a
 * threadpool thread). While > 0 the process cannot exit normally (process.exit() waits for the pool
 * forever): see terminal/adapters/pcsc/process-exit.ts.
 */
export function hungTransmitCount(): number {
  return pendingInProcess;
}

export interface PcscTransportOptions {
  /** Response buffer given to SCardTransmit; raised to at least 258. */
  responseMaxLength?: number;
  /** nfc-pcsc put this reader in its ACR122 class (LED / buzzer pseudo-APDUs work). */
  acr122?: boolean;
  logger?: Logger;
  /** Told when a failure says pcscd itself went away (PcscService re-creates its context). */
  onServiceGone?: (error: unknown) => void;
  /** Told when an exchange shows the card gone (PcscService then watches for its quick return). */
  onCardLost?: () => void;
}

/**
 * open: usable. removed: the card left (or was lost); every exchange rejects
 * PROTO_ERR_TRANSPORT_CLOSED. closed: released by its owner.
 */
export type PcscTransportState = "open" | "removed" | "closed";

function closed(
  message: string,
  reason: TransportClosedReason,
  details: Record<string, unknown>,
  cause?: unknown,
) {
  return new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", message, {
    ...(cause === undefined ? {} : { cause }),
    details: { reason, ...details },
  });
}

export class PcscTransport implements ClosableTransport {
  readonly readerName: string;
  readonly atr: Uint8Array;

  private readonly reader: NfcReader;
  private readonly responseMaxLength: number;
  private readonly acr122: boolean;
  private readonly logger: Logger;
  private readonly onServiceGone: ((error: unknown) => void) | undefined;
  private readonly onCardLost: (() => void) | undefined;
  private current: PcscTransportState = "open";
  private pending = false;

  constructor(reader: NfcReader, atr: Uint8Array, options: PcscTransportOptions = {}) {
    this.reader = reader;
    this.readerName = reader.name;
    this.atr = atr;
    this.responseMaxLength = Math.max(MIN_RESPONSE_BUFFER, options.responseMaxLength ?? MIN_RESPONSE_BUFFER);
    this.acr122 = options.acr122 ?? false;
    this.logger = (options.logger ?? silentLogger()).child({ reader: reader.name });
    this.onServiceGone = options.onServiceGone;
    this.onCardLost = options.onCardLost;
  }

  get state(): PcscTransportState {
    return this.current;
  }

  /** A transmit is pending in the native layer (a mute card's may never return). */
  get hung(): boolean {
    return this.pending;
  }

  async exchange(command: Uint8Array): Promise<Uint8Array> {
    this.checkUsable(command);
    if (command.length < 4 || command.length > MAX_SHORT_COMMAND) {
      throw new ProtocolError(
        "PROTO_ERR_APDU_LENGTH",
        `a short command APDU has 4..261 bytes, got ${command.length}`,
        { details: { length: command.length } },
      );
    }
    let response: Buffer;
    try {
      // Copy: the native side keeps no reference, but the caller may reuse its array. nfc-pcsc
      // throws synchronously (not a rejected promise) when no card is connected.
      const transmit = this.reader.transmit(Buffer.from(command), this.responseMaxLength);
      this.pending = true;
      pendingInProcess++;
      try {
        response = await transmit;
      } finally {
        this.pending = false;
        pendingInProcess--;
      }
    } catch (e) {
      throw this.failed(e, command);
    }
    if (response.length < 2) {
      // What a card that died mid-APDU looks like through pcscd (vpcd: the card closed its socket).
      this.current = "removed";
      this.onCardLost?.();
      throw closed(
        `the card left reader "${this.readerName}" before answering (response of ${response.length} bytes)`,
        "card-removed",
        { reader: this.readerName, responseLength: response.length, ins: command[1] },
      );
    }
    return new Uint8Array(response);
  }

  /**
   * Best-effort LED + buzzer on an ACR122U (green + one beep, or red + two beeps). Does nothing on
   * other readers; a failure (e.g. vpcd's 0x8010001F, or a CCID driver without ifdDriverOptions
   * 0x0001) is logged at debug and ignored.
   */
  async feedback(outcome: FeedbackOutcome): Promise<void> {
    if (!this.acr122) return;
    if (this.pending) {
      // A control call would queue behind the native mutex the pending transmit holds.
      this.logger.debug({ outcome }, "reader busy: LED/buzzer feedback skipped");
      return;
    }
    const command = Buffer.from(acr122FeedbackCommand(outcome));
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        this.reader.control(command, 2),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer to the LED command")), FEEDBACK_TIMEOUT_MS);
        }),
      ]);
      if (answer[0] !== 0x90)
        this.logger.debug({ outcome, answer: hex(answer) }, "reader refused LED command");
    } catch (e) {
      this.logger.debug(
        { outcome, err: mapPcscError(e, { reader: this.readerName, operation: "feedback" }) },
        "LED/buzzer feedback failed (ignored)",
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** The service saw the card leave the field (or the reader go away). */
  cardRemoved(): void {
    if (this.current === "open") this.current = "removed";
  }

  /** Release this presentation. Nothing is sent: nfc-pcsc owns the card connection. */
  async close(): Promise<void> {
    if (this.current === "open" || this.current === "removed") this.current = "closed";
  }

  private checkUsable(command: Uint8Array): void {
    if (this.current === "open") return;
    throw closed(`no card on reader "${this.readerName}" any more`, "card-removed", {
      reader: this.readerName,
      state: this.current,
      ins: command[1],
    });
  }

  private failed(error: unknown, command: Uint8Array): ProtocolError {
    const mapped = mapPcscError(error, { reader: this.readerName, operation: "transmit" });
    const cardGone = mapped.code === "TERM_ERR_CARD_REMOVED";
    if (cardGone && this.current === "open") {
      this.current = "removed";
      this.onCardLost?.();
    }
    this.logger.debug({ err: mapped, ins: command[1] }, "transmit failed");
    if (isServiceGone(error)) this.onServiceGone?.(error);
    return closed(
      mapped.message,
      cardGone ? "card-removed" : "reader-failed",
      {
        ...mapped.details,
        ins: command[1],
      },
      error,
    );
  }
}
