/**
 * The narrow shapes of nfc-pcsc objects that this adapter uses. The real classes (nfc-pcsc.d.ts)
 * satisfy them structurally; unit tests pass fakes of the same shapes.
 */
import type { EventEmitter } from "node:events";

export interface NfcCardInfo {
  atr?: Buffer;
}

/** nfc-pcsc's Reader (or ACR122Reader). */
export interface NfcReader extends EventEmitter {
  readonly name: string;
  autoProcessing: boolean;
  card: NfcCardInfo | null;
  readonly reader: { state?: number; readonly SCARD_STATE_PRESENT: number };
  transmit(data: Buffer, responseMaxLength: number): Promise<Buffer>;
  control(data: Buffer, responseMaxLength: number): Promise<Buffer>;
  close(): void;
}

/** nfc-pcsc's NFC: emits "reader" (NfcReader) and "error" (Error). */
export interface NfcContext extends EventEmitter {
  close(): void;
}

/** What load.ts hands to the service: a way to create a PC/SC context. */
export interface NfcPcscModule {
  createContext(): NfcContext;
  /** True when the reader object is nfc-pcsc's ACR122 class (LED and buzzer pseudo-APDUs). */
  isAcr122Class(reader: NfcReader): boolean;
}
