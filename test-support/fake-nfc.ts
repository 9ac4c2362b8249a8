/**
 * Fakes of the nfc-pcsc shapes the PC/SC adapter uses (terminal/adapters/pcsc/types.ts), for unit
 * tests without pcscd. They reproduce the behaviours that matter: transmit throws synchronously
 * without a card, errors carry the PC/SC code only in `previous.message`, closing a context emits
 * error 0x80100002.
 */
import { EventEmitter } from "node:events";
import type { NfcContext, NfcPcscModule, NfcReader } from "../terminal/adapters/pcsc/types.js";

export const SCARD_STATE_PRESENT = 0x20;
export const SCARD_STATE_EMPTY = 0x10;

/** An error shaped like nfc-pcsc's TransmitError / ControlError wrapping a pcsclite error. */
export function pcscError(method: string, text: string, code: number): Error {
  const previous = new Error(`${method} error: ${text}(0x${code.toString(16).padStart(8, "0")})`);
  return Object.assign(new Error("An error occurred while transmitting."), {
    name: "TransmitError",
    code: "failure",
    previous,
  });
}

export class FakeNfcReader extends EventEmitter implements NfcReader {
  autoProcessing = true;
  card: { atr?: Buffer } | null = null;
  readonly reader = { state: SCARD_STATE_EMPTY as number | undefined, SCARD_STATE_PRESENT };
  closed = false;
  readonly transmits: { data: Buffer; length: number }[] = [];
  readonly controls: { data: Buffer; length: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** What the card does; default: 90 00. May throw or return a promise. */
  onTransmit: (data: Buffer, length: number) => Buffer | Promise<Buffer> = () => Buffer.of(0x90, 0x00);
  onControl: (data: Buffer, length: number) => Buffer | Promise<Buffer> = () => Buffer.of(0x90, 0x00);

  constructor(readonly name: string) {
    super();
  }

  transmit(data: Buffer, length: number): Promise<Buffer> {
    if (!this.card) {
      throw Object.assign(new Error("No card or connection available."), {
        name: "TransmitError",
        code: "card_not_connected",
      });
    }
    this.transmits.push({ data: Buffer.from(data), length });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return Promise.resolve()
      .then(() => this.onTransmit(data, length))
      .finally(() => {
        this.inFlight--;
      });
  }

  control(data: Buffer, length: number): Promise<Buffer> {
    if (!this.card) {
      throw Object.assign(new Error("No connection available."), {
        name: "ControlError",
        code: "not_connected",
      });
    }
    this.controls.push({ data: Buffer.from(data), length });
    return Promise.resolve().then(() => this.onControl(data, length));
  }

  close(): void {
    this.closed = true;
  }

  insert(atr: Uint8Array = Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01)): void {
    this.card = { atr: Buffer.from(atr) };
    this.reader.state = SCARD_STATE_PRESENT;
    this.emit("card", { ...this.card });
  }

  takeCard(): void {
    const card = this.card;
    this.card = null;
    this.reader.state = SCARD_STATE_EMPTY;
    this.emit("card.off", { ...card });
  }

  end(): void {
    this.emit("end");
  }
}

export class FakeNfcContext extends EventEmitter implements NfcContext {
  closed = false;
  readonly readers: FakeNfcReader[] = [];

  addReader(name: string): FakeNfcReader {
    const r = new FakeNfcReader(name);
    this.readers.push(r);
    this.emit("reader", r);
    return r;
  }

  /** What a pcscd restart looks like from nfc-pcsc: the context and every reader error, readers end. */
  pcscdDied(): void {
    const err = () => new Error("SCardGetStatusChange error: RPC transport error.(0x80100013)");
    this.emit("error", err());
    for (const r of this.readers) {
      r.emit("error", err());
      r.end();
    }
  }

  close(): void {
    this.closed = true;
    this.emit("error", new Error("SCardGetStatusChange error: Command cancelled.(0x80100002)"));
  }
}

export interface FakeNfcModule extends NfcPcscModule {
  readonly contexts: FakeNfcContext[];
  /** Called right after a context is created (add readers here). */
  onCreate: (context: FakeNfcContext) => void;
}

export function fakeNfcModule(onCreate: (context: FakeNfcContext) => void = () => {}): FakeNfcModule {
  const module: FakeNfcModule = {
    contexts: [],
    onCreate,
    createContext() {
      const c = new FakeNfcContext();
      module.contexts.push(c);
      // nfc-pcsc lists readers asynchronously, after the constructor returns.
      process.nextTick(() => module.onCreate(c));
      return c;
    },
    isAcr122Class: () => false,
  };
  return module;
}
