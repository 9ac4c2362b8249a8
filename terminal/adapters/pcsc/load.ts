/**
 * The one place that imports nfc-pcsc, lazily: virtual-card mode and every other part of posd run
 * on machines without the native module or pcscd.
 */
import { TerminalError } from "../../errors.js";
import type { NfcContext, NfcPcscModule, NfcReader } from "./types.js";

export const NFC_PCSC_INSTALL_HINT =
  "install the PC/SC stack: `apt-get install pcscd libpcsclite-dev build-essential` " +
  "(pcscd running, headers and a C++ toolchain to build @pokusew/pcsclite), then `npm install nfc-pcsc`; " +
  "or use virtual-card mode";

let cached: Promise<NfcPcscModule> | undefined;

/** Import nfc-pcsc once. Failure → TERM_ERR_PCSC_UNAVAILABLE saying what to install. */
export function loadNfcPcsc(): Promise<NfcPcscModule> {
  cached ??= importNfcPcsc();
  return cached;
}

async function importNfcPcsc(): Promise<NfcPcscModule> {
  let mod: typeof import("nfc-pcsc");
  try {
    mod = await import("nfc-pcsc");
  } catch (cause) {
    cached = undefined;
    throw new TerminalError(
      "TERM_ERR_PCSC_UNAVAILABLE",
      `nfc-pcsc cannot be loaded (${(cause as Error).message.split("\n")[0]}): ${NFC_PCSC_INSTALL_HINT}`,
      { cause },
    );
  }
  const { NFC, ACR122Reader } = mod;
  return {
    createContext: (): NfcContext => new NFC(),
    isAcr122Class: (reader: NfcReader): boolean => reader instanceof ACR122Reader,
  };
}
