/**
 * The card side of vsmartcard's vpcd: a TCP client that puts a software card into the field of a
 * virtual reader that real pcscd sees ("Virtual PCD 00 00" on 127.0.0.1:35963, "… 00 01" on :35964).
 *
 * Wire protocol (both directions): every message is
 *
 *   length (2, big-endian) | payload (length)
 *
 * From vpcd, a 1-byte payload is a control code: 0x00 power off, 0x01 power on, 0x02 reset (none of
 * the three gets a reply), 0x04 get ATR (reply: the ATR). pcscd sends 0x04 about every 400 ms to see
 * whether the card is still there. A longer payload is a command APDU; the reply is the response APDU.
 *
 * The card itself stays a pure `process(apdu) → response`; this module only moves bytes, keeps one
 * command in flight at a time, reconnects when vpcd goes away, and carries the fault hooks tests use.
 */
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { hex } from "../../protocol/bytes.js";
import { type Logger, silentLogger } from "../../protocol/logger.js";
import { CardError } from "../errors.js";

/** What vpcd needs from a card. `powerOff` / `reset` let the applet drop its session. */
export interface VirtualCard {
  process(apdu: Uint8Array): Uint8Array | Promise<Uint8Array>;
  powerOff?(): void;
  reset?(): void;
}

export interface VpcdOptions {
  host: string;
  port: number;
  /** Default 3B 80 80 01 01: what an ACR122U shows for an Android HCE phone (ISO 14443-4, T=1). */
  atr?: Uint8Array;
  /** Delay before (re)connecting when vpcd is not there or went away; default 250 ms. */
  reconnectMs?: number;
  logger?: Logger;
}

/** Fault injection for tests; every hook is checked per command APDU (control codes are never faulted). */
export interface VpcdFaults {
  /** Wait this long before answering each APDU. */
  delayMs?: number;
  /** Close the socket instead of answering: the card leaves the field mid-exchange (then comes back). */
  dropBeforeAnswer?: (apdu: Uint8Array) => boolean;
  /** Never answer this APDU (a mute card). Nothing after it is answered until the link reconnects. */
  silent?: (apdu: Uint8Array) => boolean;
}

export interface VpcdApduEvent {
  command: Uint8Array;
  response: Uint8Array;
  /** Time the card took to answer, ms. */
  ms: number;
}

export interface VpcdLinkEvents {
  connected: [];
  disconnected: [];
  apdu: [event: VpcdApduEvent];
  error: [error: CardError];
}

export const DEFAULT_HCE_ATR: Uint8Array = Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01);

/** vpcd's own buffers are far smaller; anything longer is a broken stream, not an APDU. */
export const MAX_FRAME = 4096;

const CTRL_POWER_OFF = 0x00;
const CTRL_POWER_ON = 0x01;
const CTRL_RESET = 0x02;
const CTRL_GET_ATR = 0x04;

/**
 * Parse "host:port" (or "[v6addr]:port"). Invalid text → CardError CARD_ERR_USAGE.
 */
export function parseVpcdAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m ? Number(m[3]) : Number.NaN;
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CardError(
      "CARD_ERR_USAGE",
      `vpcd address must be host:port (e.g. 127.0.0.1:35963), got "${text}"`,
      {
        details: { address: text },
      },
    );
  }
  return { host, port };
}

/** Splits a TCP byte stream into vpcd frames; survives partial reads and several frames per chunk. */
export class VpcdFrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  /** Feed a chunk; returns the complete payloads in order. Throws CARD_ERR_VPCD on a bad length. */
  push(chunk: Buffer): Uint8Array[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Uint8Array[] = [];
    while (this.buffer.length >= 2) {
      const length = this.buffer.readUInt16BE(0);
      if (length === 0 || length > MAX_FRAME) {
        throw new CardError(
          "CARD_ERR_VPCD",
          `vpcd sent a frame of length ${length} (allowed 1..${MAX_FRAME})`,
          {
            details: { length },
          },
        );
      }
      if (this.buffer.length < 2 + length) break;
      // Copy: the payload outlives the socket's chunk buffer.
      frames.push(new Uint8Array(this.buffer.subarray(2, 2 + length)));
      this.buffer = this.buffer.subarray(2 + length);
    }
    return frames;
  }

  reset(): void {
    this.buffer = Buffer.alloc(0);
  }
}

/** One frame as one Buffer, so that it goes out in one write (one TCP segment with TCP_NODELAY). */
export function encodeVpcdFrame(payload: Uint8Array): Buffer {
  if (payload.length > 0xffff) throw new RangeError(`vpcd frame payload too long: ${payload.length}`);
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame.writeUInt16BE(payload.length, 0);
  frame.set(payload, 2);
  return frame;
}

/**
 * A software card in the field of a vpcd reader. Emits "connected" when the socket is up (the card is
 * in the field), "disconnected" when it goes down, "apdu" for every answered command and "error" for
 * protocol or card failures (only when someone listens: a link never crashes its process).
 */
export class VpcdLink extends EventEmitter<VpcdLinkEvents> {
  /** Test hooks; see VpcdFaults. May be replaced at any time. */
  faults: VpcdFaults = {};

  private readonly card: VirtualCard;
  private readonly host: string;
  private readonly port: number;
  private readonly atr: Uint8Array;
  private readonly reconnectMs: number;
  private readonly logger: Logger;

  private socket: Socket | undefined;
  private isConnected = false;
  /** True between insert()/start() and remove()/stop(): keep (re)connecting. */
  private wanted = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Commands of the current connection, processed strictly one after the other. */
  private queue: Promise<void> = Promise.resolve();
  /** Bumped on every new socket, so that work queued for a dead connection is dropped. */
  private generation = 0;

  constructor(card: VirtualCard, options: VpcdOptions) {
    super();
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new CardError("CARD_ERR_USAGE", `vpcd port must be 1..65535, got ${options.port}`);
    }
    this.card = card;
    this.host = options.host;
    this.port = options.port;
    this.atr = options.atr ?? DEFAULT_HCE_ATR;
    this.reconnectMs = options.reconnectMs ?? 250;
    this.logger = (options.logger ?? silentLogger()).child({ vpcd: `${options.host}:${options.port}` });
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** Insert the card and keep it inserted: reconnects whenever vpcd is not there or goes away. */
  start(): void {
    if (this.stopped) throw new CardError("CARD_ERR_USAGE", "this vpcd link was stopped; create a new one");
    this.insert();
  }

  /** Put the card (back) into the field. */
  insert(): void {
    if (this.stopped) return;
    this.wanted = true;
    if (!this.socket && !this.timer) this.connectNow();
  }

  /** Take the card out of the field: close the socket and stop reconnecting until insert(). */
  async remove(): Promise<void> {
    this.wanted = false;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      socket.destroy();
    });
  }

  /** For good: remove the card; start() and insert() do nothing afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.remove();
  }

  private connectNow(): void {
    this.timer = undefined;
    if (!this.wanted || this.stopped || this.socket) return;
    const generation = ++this.generation;
    const reader = new VpcdFrameReader();
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    this.queue = Promise.resolve();

    socket.on("connect", () => {
      // vpcd (Debian 12) never sets TCP_NODELAY itself; ours avoids Nagle on the card side.
      socket.setNoDelay(true);
      this.isConnected = true;
      this.logger.debug("card inserted (connected to vpcd)");
      this.emit("connected");
    });
    socket.on("data", (chunk: Buffer) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        this.fail(e as CardError);
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        this.queue = this.queue
          .then(() => this.handleFrame(socket, generation, frame))
          .catch((e: unknown) => this.logger.error({ err: e }, "vpcd frame handling failed"));
      }
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      // ECONNREFUSED while pcscd/vpcd is down is expected: retried quietly.
      this.logger.debug({ err: e.code ?? e.message }, "vpcd socket error");
    });
    socket.on("close", () => {
      if (this.socket === socket) this.socket = undefined;
      const was = this.isConnected;
      this.isConnected = false;
      reader.reset();
      if (was) {
        this.logger.debug("card left the field (vpcd connection closed)");
        this.emit("disconnected");
      }
      if (this.wanted && !this.stopped && !this.timer) {
        this.timer = setTimeout(() => this.connectNow(), this.reconnectMs);
      }
    });
  }

  private async handleFrame(socket: Socket, generation: number, frame: Uint8Array): Promise<void> {
    if (generation !== this.generation || socket.destroyed) return;
    if (frame.length === 1) {
      switch (frame[0]) {
        case CTRL_POWER_OFF:
          this.logger.trace("vpcd: power off");
          this.card.powerOff?.();
          return;
        case CTRL_POWER_ON:
          this.logger.trace("vpcd: power on");
          return;
        case CTRL_RESET:
          this.logger.trace("vpcd: reset");
          this.card.reset?.();
          return;
        case CTRL_GET_ATR:
          this.logger.trace("vpcd: get ATR");
          socket.write(encodeVpcdFrame(this.atr));
          return;
        default:
          this.logger.warn({ code: frame[0] }, "vpcd sent an unknown control code; ignored");
          return;
      }
    }
    await this.handleApdu(socket, generation, frame);
  }

  private async handleApdu(socket: Socket, generation: number, command: Uint8Array): Promise<void> {
    const faults = this.faults;
    const started = performance.now();
    if (faults.silent?.(command)) {
      this.logger.debug({ command: hex(command) }, "fault: silent card, this APDU is never answered");
      // Never settles: everything after it on this connection waits, as on a mute card. The queue is
      // replaced when the socket reconnects.
      await new Promise<never>(() => {});
    }
    if (faults.delayMs !== undefined && faults.delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
    }
    let response: Uint8Array;
    try {
      response = await this.card.process(command);
    } catch (e) {
      // A card must never throw (it answers status words); answer 6F00 "no precise diagnosis".
      this.logger.error(
        { err: e, command: hex(command) },
        "card threw while processing an APDU; answered 6F00",
      );
      this.fail(new CardError("CARD_ERR_VPCD", "the card threw while processing an APDU", { cause: e }));
      response = Uint8Array.of(0x6f, 0x00);
    }
    if (generation !== this.generation || socket.destroyed) return;
    if (faults.dropBeforeAnswer?.(command)) {
      this.logger.debug({ command: hex(command) }, "fault: card leaves the field before answering");
      socket.destroy();
      return;
    }
    if (response.length < 2) {
      this.logger.warn({ response: hex(response) }, "card answered fewer than 2 bytes");
    }
    socket.write(encodeVpcdFrame(response));
    const ms = performance.now() - started;
    this.logger.trace({ command: hex(command), response: hex(response), ms }, "apdu");
    if (this.listenerCount("apdu") > 0) this.emit("apdu", { command, response, ms });
  }

  private fail(error: CardError): void {
    this.logger.error({ err: error }, error.message);
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }
}
