/**
 * The Transport over one nfc-pcsc reader with a card in its field: one object per card presentation
 * (PcscService creates it at the `card` event and retires it at `card.off`).
 *
 * What it guards against (each measured on pcscd + vpcd, see shared/notes/pcsc-hil.md):
 * - a too-small response buffer makes SCardTransmit fail *after* the card executed the command:
 *   the buffer is always at least 258 bytes (256 data + SW1 SW2);
 * - `transmit` throws synchronously when nfc-pcsc has no card connection;
 * - a card that leaves mid-APDU makes transmit resolve with an empty buffer;
 * - a mute card makes transmit hang forever (PC/SC has no timeout). The hung call also holds one
 *   libuv threadpool thread and the reader's native mutex until the card leaves the field, so after
 *   a timeout this transport is poisoned: it never transmits again (nor sends LED commands).
 */
import { performance } from "node:perf_hooks";
import { hex } from "../../../protocol/bytes.js";
import { ProtocolError } from "../../../protocol/errors.js";
import { type Logger, silentLogger } from "../../../protocol/logger.js";
import type { ClosableTransport } from "../../../protocol/transport.js";
import { TerminalError } from "../../errors.js";
import { acr122FeedbackCommand, type FeedbackOutcome } from "./acr122.js";
import { isServiceGone, mapPcscError } from "./pcsc-errors.js";
import type { NfcReader } from "./types.js";

export const DEFAULT_APDU_TIMEOUT_MS = 2000;
/** 256 data bytes + SW1 SW2: the most a short APDU can answer. */
export const MIN_RESPONSE_BUFFER = 258;
/** 4-byte header + Lc + 255 data + Le. */
const MAX_SHORT_COMMAND = 261;
const FEEDBACK_TIMEOUT_MS = 1000;

/** Timed-out transmits still pending in the native layer, over every transport of the process. */
let hungInProcess = 0;

/**
 * How many transmits of this process timed out and still hold a threadpool thread. While > 0 the
 * process cannot exit normally (process.exit() waits for the pool forever): see
 * terminal/adapters/reader/exit.ts.
 */
export function hungTransmitCount(): number {
  return hungInProcess;
}

export interface PcscTransportOptions {
  /** Per-APDU timeout; default 2000 ms. */
  timeoutMs?: number;
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
 * open: usable. removed: the card left (or was lost); every exchange rejects TERM_ERR_CARD_REMOVED.
 * poisoned: an APDU timed out; every exchange rejects TERM_ERR_TIMEOUT until a new presentation.
 * closed: released by its owner.
 */
export type PcscTransportState = "open" | "removed" | "poisoned" | "closed";

export class PcscTransport implements ClosableTransport {
  readonly readerName: string;
  readonly atr: Uint8Array;

  private readonly reader: NfcReader;
  private readonly timeoutMs: number;
  private readonly responseMaxLength: number;
  private readonly acr122: boolean;
  private readonly logger: Logger;
  private readonly onServiceGone: ((error: unknown) => void) | undefined;
  private readonly onCardLost: (() => void) | undefined;
  private current: PcscTransportState = "open";
  private busy = false;
  private hungTransmit = false;

  constructor(reader: NfcReader, atr: Uint8Array, options: PcscTransportOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_APDU_TIMEOUT_MS;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new RangeError(`APDU timeout must be a positive number of ms, got ${timeoutMs}`);
    }
    this.reader = reader;
    this.readerName = reader.name;
    this.atr = atr;
    this.timeoutMs = timeoutMs;
    this.responseMaxLength = Math.max(MIN_RESPONSE_BUFFER, options.responseMaxLength ?? MIN_RESPONSE_BUFFER);
    this.acr122 = options.acr122 ?? false;
    this.logger = (options.logger ?? silentLogger()).child({ reader: reader.name });
    this.onServiceGone = options.onServiceGone;
    this.onCardLost = options.onCardLost;
  }

  get state(): PcscTransportState {
    return this.current;
  }

  /** A transmit that timed out is still pending in the native layer (holding a threadpool thread). */
  get hung(): boolean {
    return this.hungTransmit;
  }

  async exchange(command: Uint8Array): Promise<Uint8Array> {
    this.checkUsable(command);
    if (this.busy) {
      throw new ProtocolError(
        "PROTO_ERR_TRANSPORT_BUSY",
        "an APDU exchange is already in flight on this reader",
        {
          details: { reader: this.readerName, ins: command[1] },
        },
      );
    }
    if (command.length < 4 || command.length > MAX_SHORT_COMMAND) {
      throw new ProtocolError(
        "PROTO_ERR_APDU_LENGTH",
        `a short command APDU has 4..261 bytes, got ${command.length}`,
        {
          details: { length: command.length },
        },
      );
    }
    this.busy = true;
    const started = performance.now();
    let pending: Promise<Buffer>;
    try {
      // Copy: the native side keeps no reference, but the caller may reuse its array.
      pending = this.reader.transmit(Buffer.from(command), this.responseMaxLength);
    } catch (e) {
      // nfc-pcsc throws synchronously (not a rejected promise) when no card is connected.
      this.busy = false;
      throw this.failed(e, command);
    }
    let response: Buffer;
    try {
      response = await this.withTimeout(pending, command);
    } catch (e) {
      if (this.current !== "poisoned") this.busy = false;
      throw e instanceof TerminalError && e.code === "TERM_ERR_TIMEOUT" ? e : this.failed(e, command);
    }
    this.busy = false;
    if (response.length < 2) {
      // What a card that died mid-APDU looks like through pcscd (vpcd: the card closed its socket).
      this.current = "removed";
      this.onCardLost?.();
      throw new TerminalError(
        "TERM_ERR_CARD_REMOVED",
        `the card left reader "${this.readerName}" before answering (response of ${response.length} bytes)`,
        { details: { reader: this.readerName, responseLength: response.length, ins: command[1] } },
      );
    }
    if (this.logger.isLevelEnabled("trace")) {
      this.logger.trace(
        { command: hex(command), response: hex(response), ms: +(performance.now() - started).toFixed(3) },
        "apdu",
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
    if (this.busy || this.hungTransmit) {
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
    switch (this.current) {
      case "open":
        return;
      case "poisoned":
        throw new TerminalError(
          "TERM_ERR_TIMEOUT",
          `an earlier APDU on reader "${this.readerName}" timed out; present the card again`,
          { details: { reader: this.readerName, poisoned: true, ins: command[1] } },
        );
      case "removed":
      case "closed":
        throw new TerminalError("TERM_ERR_CARD_REMOVED", `no card on reader "${this.readerName}" any more`, {
          details: { reader: this.readerName, state: this.current, ins: command[1] },
        });
    }
  }

  private withTimeout(pending: Promise<Buffer>, command: Uint8Array): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.current = "poisoned";
        this.hungTransmit = true;
        hungInProcess++;
        this.logger.warn(
          { timeoutMs: this.timeoutMs, ins: command[1] },
          "card did not answer in time; this presentation is abandoned",
        );
        reject(
          new TerminalError(
            "TERM_ERR_TIMEOUT",
            `the card on reader "${this.readerName}" did not answer within ${this.timeoutMs} ms`,
            {
              details: { reader: this.readerName, timeoutMs: this.timeoutMs, ins: command[1] },
            },
          ),
        );
      }, this.timeoutMs);
      pending.then(
        (response) => {
          clearTimeout(timer);
          if (timedOut) {
            this.hungTransmit = false;
            hungInProcess--;
            this.logger.debug({ responseLength: response.length }, "late answer after a timeout dropped");
          } else resolve(response);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (timedOut) {
            this.hungTransmit = false;
            hungInProcess--;
            this.logger.debug({ err: error }, "late failure after a timeout dropped");
          } else reject(error);
        },
      );
    });
  }

  private failed(error: unknown, command: Uint8Array): TerminalError {
    const mapped = mapPcscError(error, { reader: this.readerName, operation: "transmit" });
    if (mapped.code === "TERM_ERR_CARD_REMOVED" && this.current === "open") {
      this.current = "removed";
      this.onCardLost?.();
    }
    this.logger.debug({ err: mapped, ins: command[1] }, "transmit failed");
    if (isServiceGone(error)) this.onServiceGone?.(error);
    return mapped;
  }
}
