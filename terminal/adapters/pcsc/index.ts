/**
 * The PC/SC reader path of posd: a real ACR122U, or pcscd + vpcd with the software card. Only this
 * folder imports nfc-pcsc, and only when PcscService.open() runs.
 */
export { acr122FeedbackCommand, type FeedbackOutcome, isAcr122Name } from "./acr122.js";
export { loadNfcPcsc, NFC_PCSC_INSTALL_HINT } from "./load.js";
export { formatPcscCode, isServiceGone, mapPcscError, pcscCode, SCARD } from "./pcsc-errors.js";
export {
  PCSCD_SOCKET,
  type PcscCardEvent,
  type PcscReaderInfo,
  PcscService,
  type PcscServiceEvents,
  type PcscServiceOptions,
} from "./service.js";
export {
  EXIT_CODE_FD_ENV,
  ensureThreadpool,
  PCSC_THREADPOOL_SIZE,
  threadpoolSize,
} from "./threadpool.js";
export {
  DEFAULT_APDU_TIMEOUT_MS,
  hungTransmitCount,
  MIN_RESPONSE_BUFFER,
  PcscTransport,
  type PcscTransportOptions,
  type PcscTransportState,
} from "./transport.js";
export type { NfcContext, NfcPcscModule, NfcReader } from "./types.js";
