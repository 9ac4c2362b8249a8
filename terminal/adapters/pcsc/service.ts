/**
 * The reader manager over nfc-pcsc: which readers exist, which have a card, one PcscTransport per
 * card presentation, and recovery when pcscd restarts.
 *
 * nfc-pcsc traps this class exists to contain (measured, shared/notes/pcsc-hil.md):
 * - `new NFC()` while pcscd is down busy-loops in SCardEstablishContext at 100% CPU and blocks the
 *   event loop: a context is only created once pcscd's socket exists *and* accepts a connection.
 * - An `error` event without a listener crashes the process: every reader and every context gets one.
 * - auto-processing sends its own SELECT (40-byte buffer) at insert and swallows `card` on surprises:
 *   it is turned off, `reader.aid` is never set; the engine does its own SELECT.
 * - After a pcscd restart nfc-pcsc never recovers (its readers end, the list stays empty, its
 *   context emits "RPC transport error (0x80100013)"): the context is closed and a new one created.
 * - Closing a reader or a context inside one of its event handlers deadlocks: always deferred with
 *   setImmediate. `nfc.close()` itself emits error 0x80100002 (cancelled): swallowed.
 * - A reader whose transmit hangs holds the reader's native mutex; `reader.close()` would then block
 *   the event loop until the transmit ends, so such a reader is left unclosed (logged).
 */
import { EventEmitter } from "node:events";
import { statSync } from "node:fs";
import { connect } from "node:net";
import { hex } from "../../../protocol/bytes.js";
import { type Logger, silentLogger } from "../../../protocol/logger.js";
import { TerminalError } from "../../errors.js";
import { isAcr122Name } from "./acr122.js";
import { loadNfcPcsc } from "./load.js";
import { formatPcscCode, isServiceGone, pcscCode } from "./pcsc-errors.js";
import { PcscTransport, type PcscTransportOptions } from "./transport.js";
import type { NfcContext, NfcPcscModule, NfcReader } from "./types.js";

export const PCSCD_SOCKET = "/run/pcscd/pcscd.comm";

export interface PcscServiceOptions {
  logger?: Logger;
  /** pcscd's socket; default /run/pcscd/pcscd.comm (fixed in pcsc-lite builds). */
  socketPath?: string;
  /** Options of every card connection (the response buffer; the timeout is the stack's). */
  transport?: Pick<PcscTransportOptions, "responseMaxLength">;
  /** How often the socket file is checked for disappearance or a new inode; default 500 ms. */
  watchIntervalMs?: number;
  /** How often to look for pcscd while it is down; default 100 ms. */
  retryMs?: number;
  /**
   * After an exchange lost the card, how long to wait for pcscd to report the removal before
   * treating a card it still reports as a new presentation; default 1000 ms (2.5 presence polls).
   */
  representMs?: number;
  /** Test seam: where nfc-pcsc comes from (default: the lazy import in load.ts). */
  load?: () => Promise<NfcPcscModule>;
}

export interface PcscReaderInfo {
  name: string;
  cardPresent: boolean;
  /** Hex of the ATR of the card in the field, when nfc-pcsc has seen one. */
  atr?: string;
}

export interface PcscCardEvent {
  reader: string;
  atr: Uint8Array;
  transport: PcscTransport;
}

export interface PcscServiceEvents {
  reader: [name: string];
  "reader.end": [name: string];
  card: [event: PcscCardEvent];
  "card.off": [name: string];
  error: [error: TerminalError];
  recovered: [];
}

interface ReaderEntry {
  reader: NfcReader;
  context: NfcContext;
  acr122: boolean;
  /** The transport of the current (or last) presentation. */
  transport: PcscTransport | undefined;
  /** Between our `card` and `card.off` events. */
  cardOn: boolean;
}

/**
 * Typed events: `reader` (name), `reader.end` (name), `card` ({reader, atr, transport}), `card.off`
 * (name), `error` (TerminalError; only emitted when someone listens, otherwise logged) and
 * `recovered` (a new PC/SC context after pcscd came back).
 */
export class PcscService extends EventEmitter<PcscServiceEvents> {
  private readonly module: NfcPcscModule;
  private readonly logger: Logger;
  private readonly socketPath: string;
  private readonly transportOptions: PcscServiceOptions["transport"];
  private readonly watchIntervalMs: number;
  private readonly retryMs: number;
  private readonly representMs: number;

  private context: NfcContext | undefined;
  /** Identity (inode + ctime) of pcscd's socket when the current context was created. */
  private contextSocket: string | undefined;
  private readonly entries = new Map<string, ReaderEntry>();
  private watchTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private started = false;
  private closed = false;
  private waitingLogged = false;

  /** Load nfc-pcsc (TERM_ERR_PCSC_UNAVAILABLE when it cannot be) and start watching readers. */
  static async open(options: PcscServiceOptions = {}): Promise<PcscService> {
    const module = await (options.load ?? loadNfcPcsc)();
    const service = new PcscService(module, options);
    await service.start();
    return service;
  }

  constructor(module: NfcPcscModule, options: PcscServiceOptions = {}) {
    super();
    this.module = module;
    this.logger = (options.logger ?? silentLogger()).child({ component: "pcsc" });
    this.socketPath = options.socketPath ?? PCSCD_SOCKET;
    this.transportOptions = options.transport;
    this.watchIntervalMs = options.watchIntervalMs ?? 500;
    this.retryMs = options.retryMs ?? 100;
    this.representMs = options.representMs ?? 1000;
  }

  /**
   * Create the PC/SC context now if pcscd is up; otherwise keep waiting for it in the background
   * (readers then appear through `reader` events). Resolves once that decision is made.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.watchTimer = setInterval(() => this.watchSocket(), this.watchIntervalMs);
    this.watchTimer.unref();
    if (await this.pcscdAccepting()) {
      if (!this.closed) this.createContext();
    } else {
      this.logger.warn({ socket: this.socketPath }, "pcscd is not running; waiting for it");
      this.waitingLogged = true;
      void this.recover("pcscd not running at start", false);
    }
  }

  /** Every reader pcscd lists, with whether a card is in its field. */
  readers(): PcscReaderInfo[] {
    return [...this.entries.entries()].map(([name, entry]) => {
      const state = entry.reader.reader.state ?? 0;
      const cardPresent = (state & entry.reader.reader.SCARD_STATE_PRESENT) !== 0;
      const atr = entry.reader.card?.atr;
      return cardPresent && atr ? { name, cardPresent, atr: hex(atr) } : { name, cardPresent };
    });
  }

  /**
   * The reader named exactly `query`, else the only one whose name contains it (case-insensitive).
   * → TERM_ERR_READER_NOT_FOUND (listing the readers there are) or TERM_ERR_READER_AMBIGUOUS
   * (listing the candidates).
   */
  findReader(query: string): string {
    const names = [...this.entries.keys()];
    if (names.includes(query)) return query;
    const needle = query.toLowerCase();
    const candidates = names.filter((n) => n.toLowerCase().includes(needle));
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length === 0) {
      throw new TerminalError(
        "TERM_ERR_READER_NOT_FOUND",
        `no reader matches "${query}"; readers: ${names.length ? names.map((n) => `"${n}"`).join(", ") : "none"}`,
        { details: { query, readers: names } },
      );
    }
    throw new TerminalError(
      "TERM_ERR_READER_AMBIGUOUS",
      `"${query}" matches ${candidates.length} readers: ${candidates.map((n) => `"${n}"`).join(", ")}; give the full name`,
      { details: { query, candidates } },
    );
  }

  /** Resolve with the reader's name once findReader(query) succeeds; NOT_FOUND after `timeoutMs`. */
  async waitForReader(query: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return this.findReader(query);
      } catch (e) {
        if ((e as TerminalError).code !== "TERM_ERR_READER_NOT_FOUND" || Date.now() >= deadline) throw e;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.off("reader", done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, Math.min(250, deadline - Date.now())));
        this.on("reader", done);
      });
    }
  }

  /**
   * The transport of the card now in `reader`'s field (the one the last `card` event carried), if
   * any. It may already be unusable (state "removed" or "poisoned") before card.off arrives.
   */
  currentTransport(reader: string): PcscTransport | undefined {
    const entry = this.entries.get(reader);
    return entry?.cardOn ? entry.transport : undefined;
  }

  /** Transmits that timed out and still hold a threadpool thread (the process cannot exit while > 0). */
  hungTransmits(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.transport?.hung) n++;
    return n;
  }

  /** Close every reader and the context so Node can exit. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchTimer);
    const context = this.context;
    this.context = undefined;
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const e of entries) {
      e.transport?.cardRemoved();
      await e.transport?.close();
    }
    await new Promise<void>((resolve) => {
      // Deferred: close() may be called from inside a reader's event handler.
      setImmediate(() => {
        this.closeNative(context, entries);
        resolve();
      });
    });
    if (this.recovering) await this.recovering;
  }

  // ---- context lifecycle -------------------------------------------------------------------------

  /** Throws TERM_ERR_PCSC_UNAVAILABLE when nfc-pcsc cannot establish a PC/SC context. */
  private createContext(): void {
    const identity = this.socketIdentity();
    let context: NfcContext;
    try {
      context = this.module.createContext();
    } catch (cause) {
      throw new TerminalError(
        "TERM_ERR_PCSC_UNAVAILABLE",
        `cannot open a PC/SC context: ${(cause as Error).message}`,
        { cause },
      );
    }
    this.contextSocket = identity;
    this.context = context;
    context.on("error", (e: unknown) => {
      if (context !== this.context) return; // the 0x80100002 of a context we are closing
      this.logger.warn({ err: e, pcscCode: codeText(e) }, "PC/SC context error");
      this.fire("error", serviceError(e, "the PC/SC service failed"));
      // nfc-pcsc's reader-list thread stops on any error: the context is dead for good.
      void this.recover(`context error ${codeText(e) ?? (e as Error).message}`);
    });
    context.on("reader", (reader: NfcReader) => this.attachReader(context, reader));
    this.logger.debug("PC/SC context created");
  }

  private attachReader(context: NfcContext, reader: NfcReader): void {
    const name = reader.name;
    // Our own SELECT, our own buffer; a `card` event for every card.
    reader.autoProcessing = false;
    const entry: ReaderEntry = {
      reader,
      context,
      acr122: isAcr122Name(name) || this.module.isAcr122Class(reader),
      transport: undefined,
      cardOn: false,
    };
    reader.on("error", (e: unknown) => {
      if (context !== this.context) return;
      this.logger.debug({ err: e, reader: name, pcscCode: codeText(e) }, "reader error");
      // The context reports a dead pcscd once; its readers' copies of that error are not repeated.
      if (isServiceGone(e)) void this.recover(`reader error ${codeText(e)}`);
      else this.fire("error", serviceError(e, `reader "${name}" failed`, name));
    });
    reader.on("card", (card: { atr?: Buffer }) => {
      if (context !== this.context) return;
      this.present(entry, new Uint8Array(card.atr ?? []));
    });
    reader.on("card.off", () => {
      if (context !== this.context) return;
      this.retireCard(entry, name);
    });
    reader.on("end", () => {
      if (context !== this.context || this.entries.get(name) !== entry) return;
      this.entries.delete(name);
      this.retireCard(entry, name);
      this.logger.debug({ reader: name }, "reader ended");
      this.fire("reader.end", name);
      if (this.entries.size === 0) {
        // After a pcscd restart every reader ends and nfc-pcsc never lists them again. (A single
        // USB reader unplugged looks the same; a fresh context then costs nothing.)
        void this.recover("all readers ended");
      }
    });
    this.entries.set(name, entry);
    this.logger.debug({ reader: name, acr122: entry.acr122 }, "reader");
    this.fire("reader", name);
  }

  /** A new card presentation on `entry`'s reader: a fresh transport and a `card` event. */
  private present(entry: ReaderEntry, atr: Uint8Array): void {
    const name = entry.reader.name;
    entry.transport?.cardRemoved();
    const transport: PcscTransport = new PcscTransport(entry.reader, atr, {
      ...this.transportOptions,
      acr122: entry.acr122,
      logger: this.logger,
      onServiceGone: (err) => void this.recover(`transmit error ${codeText(err)}`),
      onCardLost: () => this.watchReturn(entry, transport),
    });
    entry.transport = transport;
    entry.cardOn = true;
    this.logger.debug({ reader: name, atr: hex(atr) }, "card");
    this.fire("card", { reader: name, atr, transport });
  }

  /**
   * An exchange showed the card gone. pcscd notices a removal only at its presence poll (every
   * 400 ms with vpcd): a card that leaves and comes back in between is invisible to it — no
   * card.off, no card, and the old handle works again (measured). So if pcscd still reports the card
   * after a few polls, this is a new presentation: card.off for the lost one, then card.
   */
  private watchReturn(entry: ReaderEntry, lost: PcscTransport): void {
    const context = entry.context;
    const timer = setTimeout(() => {
      if (this.closed || context !== this.context || entry.transport !== lost || !entry.cardOn) return;
      const state = entry.reader.reader.state ?? 0;
      if ((state & entry.reader.reader.SCARD_STATE_PRESENT) === 0 || !entry.reader.card) return;
      this.logger.debug(
        { reader: entry.reader.name },
        "card is back before pcscd saw it leave: new presentation",
      );
      this.retireCard(entry, entry.reader.name);
      this.present(entry, lost.atr);
    }, this.representMs);
    timer.unref();
  }

  private retireCard(entry: ReaderEntry, name: string): void {
    if (!entry.cardOn) return;
    entry.cardOn = false;
    // The transport may have marked itself removed already (it saw the card go mid-APDU).
    entry.transport?.cardRemoved();
    this.logger.debug({ reader: name }, "card.off");
    this.fire("card.off", name);
  }

  /**
   * Drop the dead context (deferred), wait until pcscd accepts connections again, create a new one.
   * Concurrent triggers share one recovery.
   */
  private recover(reason: string, hadContext = true): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.recovering ??= this.doRecover(reason, hadContext).finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  private async doRecover(reason: string, hadContext: boolean): Promise<void> {
    const old = this.context;
    this.context = undefined;
    const entries = [...this.entries.entries()];
    this.entries.clear();
    if (hadContext) this.logger.warn({ reason }, "PC/SC context lost; re-creating it");
    for (const [name, entry] of entries) {
      this.retireCard(entry, name);
      this.fire("reader.end", name);
    }
    // Closing inside the nfc-pcsc event that brought us here would deadlock.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.closeNative(
      old,
      entries.map(([, e]) => e),
    );
    for (;;) {
      if (this.closed) return;
      if (await this.pcscdAccepting()) {
        if (this.closed) return;
        try {
          this.createContext();
          break;
        } catch (e) {
          // pcscd went away again between the probe and SCardEstablishContext.
          this.logger.warn({ err: e }, "PC/SC context could not be created; retrying");
        }
      } else if (!this.waitingLogged) {
        this.logger.warn({ socket: this.socketPath }, "waiting for pcscd");
        this.waitingLogged = true;
      }
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    }
    this.waitingLogged = false;
    if (hadContext) {
      this.logger.info({ reason }, "PC/SC context re-created");
      this.fire("recovered");
    } else {
      this.logger.info("pcscd is up; PC/SC context created");
    }
  }

  private closeNative(context: NfcContext | undefined, entries: ReaderEntry[]): void {
    for (const e of entries) {
      if (e.transport?.hung) {
        // reader.close() would lock the native mutex the hung transmit holds, blocking the event loop.
        this.logger.warn({ reader: e.reader.name }, "reader has a hung transmit; not closed");
        continue;
      }
      try {
        e.reader.close();
      } catch (err) {
        this.logger.debug({ err, reader: e.reader.name }, "reader close failed");
      }
    }
    if (!context) return;
    try {
      context.close();
    } catch (err) {
      this.logger.debug({ err }, "PC/SC context close failed");
    }
  }

  // ---- pcscd presence ----------------------------------------------------------------------------

  /**
   * inode + ctime of pcscd's socket, undefined when absent. A new pcscd binds a new socket file; the
   * inode number alone may be reused on tmpfs, the creation time is not.
   */
  private socketIdentity(): string | undefined {
    try {
      const st = statSync(this.socketPath);
      return st.isSocket() ? `${st.ino}:${st.ctimeMs}` : undefined;
    } catch {
      return undefined;
    }
  }

  /** Synchronous stat on a tmpfs file: microseconds, and no threadpool thread needed. */
  private watchSocket(): void {
    if (this.closed || this.recovering || !this.context) return;
    const identity = this.socketIdentity();
    if (identity === undefined) void this.recover("pcscd socket disappeared");
    else if (this.contextSocket !== undefined && identity !== this.contextSocket) {
      void this.recover("pcscd socket replaced (pcscd restarted)");
    }
  }

  /**
   * The socket file alone is not enough: after a SIGKILL a stale one stays behind, and NFC() would
   * then spin on it. pcscd accepting a connection is (a bare connect and close costs it nothing).
   */
  private pcscdAccepting(): Promise<boolean> {
    if (this.socketIdentity() === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const socket = connect({ path: this.socketPath });
      const timer = setTimeout(() => finish(false), 1000);
      function finish(ok: boolean): void {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      }
      socket.once("connect", () => finish(true));
      socket.once("error", () => finish(false));
    });
  }

  /**
   * emit, except that `error` without a listener is logged instead of thrown, and a throwing
   * listener cannot break nfc-pcsc's event dispatch.
   */
  private fire<K extends keyof PcscServiceEvents>(event: K, ...args: PcscServiceEvents[K]): void {
    if (event === "error" && this.listenerCount("error") === 0) {
      this.logger.error({ err: args[0] }, "PC/SC error");
      return;
    }
    try {
      (EventEmitter.prototype.emit as (this: EventEmitter, e: string, ...a: unknown[]) => boolean).call(
        this,
        event,
        ...args,
      );
    } catch (e) {
      this.logger.error({ err: e, event }, "PcscService listener threw");
    }
  }
}

function serviceError(e: unknown, what: string, reader?: string): TerminalError {
  const code = codeText(e);
  return new TerminalError("TERM_ERR_READER", `${what}: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
    details: { ...(reader ? { reader } : {}), ...(code ? { pcscCode: code } : {}) },
  });
}

function codeText(e: unknown): string | undefined {
  const code = pcscCode(e);
  return code === undefined ? undefined : formatPcscCode(code);
}
