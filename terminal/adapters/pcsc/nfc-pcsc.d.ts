/**
 * The part of nfc-pcsc 0.8 (no type declarations of its own) that tapwallet uses. Only
 * terminal/adapters/pcsc imports the module, lazily (load.ts). Method shapes are from its source:
 * src/NFC.js, src/Reader.js and @pokusew/pcsclite's lib/pcsclite.js.
 */
declare module "nfc-pcsc" {
  import type { EventEmitter } from "node:events";

  /** @pokusew/pcsclite's CardReader (reader.reader): the raw PC/SC reader. */
  export interface PcscLiteReader extends EventEmitter {
    readonly name: string;
    /** SCARD_STATE_* bits of the last status change (undefined before the first one). */
    state?: number;
    readonly connected: boolean;
    readonly SCARD_STATE_PRESENT: number;
    readonly SCARD_STATE_EMPTY: number;
  }

  /** What nfc-pcsc keeps about the card in the field (set at insert, null after removal). */
  export interface CardInfo {
    atr?: Buffer;
    standard?: string;
    type?: string;
  }

  /**
   * events: "card" (CardInfo) once connected, "card.off" (CardInfo), "error" (Error), "end".
   * transmit/control throw synchronously (TransmitError "card_not_connected") without a card.
   */
  export class Reader extends EventEmitter {
    readonly name: string;
    readonly reader: PcscLiteReader;
    autoProcessing: boolean;
    card: CardInfo | null;
    connection: { type: number; protocol: number } | null;
    transmit(data: Buffer, responseMaxLength: number): Promise<Buffer>;
    /** SCardControl with IOCTL_CCID_ESCAPE (SCARD_CTL_CODE(1) = 0x42000001 on Linux). */
    control(data: Buffer, responseMaxLength: number): Promise<Buffer>;
    close(): void;
  }

  export class ACR122Reader extends Reader {}

  /** events: "reader" (Reader), "error" (Error). Constructing it while pcscd is down busy-loops. */
  export class NFC extends EventEmitter {
    constructor(logger?: unknown);
    readonly readers: Record<string, PcscLiteReader>;
    close(): void;
  }

  /** Every nfc-pcsc error: `code` is a string, the PC/SC error is `previous` (its message ends in "(0x8010xxxx)"). */
  export class BaseError extends Error {
    code: string;
    previous?: Error;
  }
}
