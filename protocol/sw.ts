/**
 * ISO 7816-4 status words: one table, one formatter (`formatSw`, four upper-case hex digits), one
 * describer. An application's proprietary words (protocol/wallet/status-words.ts) are passed in as
 * a table, never registered globally. The card session maps the words whose meaning it knows to
 * domain errors; use cases never see 0x6985.
 */
import type { ResponseApdu } from "./apdu.js";
import { type ErrorOptions, ProtocolError } from "./errors.js";

export const SW = {
  OK: 0x9000,
  // 62xx, 63xx: warnings (state of non-volatile memory unchanged / changed)
  WARNING_NO_INFORMATION: 0x6200,
  DATA_MAY_BE_CORRUPTED: 0x6281,
  END_OF_FILE_REACHED: 0x6282,
  SELECTED_FILE_DEACTIVATED: 0x6283,
  FCI_NOT_FORMATTED: 0x6284,
  VERIFICATION_FAILED: 0x6300,
  FILE_FILLED_UP: 0x6381,
  // 64xx, 65xx: execution errors
  EXECUTION_ERROR: 0x6400,
  MEMORY_CHANGED_NO_INFORMATION: 0x6500,
  MEMORY_FAILURE: 0x6581,
  // 67xx..6Fxx: checking errors
  WRONG_LENGTH: 0x6700,
  CLA_FUNCTION_NOT_SUPPORTED: 0x6800,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  SECURE_MESSAGING_NOT_SUPPORTED: 0x6882,
  LAST_COMMAND_EXPECTED: 0x6883,
  COMMAND_CHAINING_NOT_SUPPORTED: 0x6884,
  COMMAND_NOT_ALLOWED: 0x6900,
  COMMAND_INCOMPATIBLE_WITH_FILE: 0x6981,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  REFERENCE_DATA_NOT_USABLE: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  COMMAND_NOT_ALLOWED_NO_EF: 0x6986,
  SM_DATA_MISSING: 0x6987,
  SM_DATA_INCORRECT: 0x6988,
  WRONG_PARAMETERS: 0x6a00,
  WRONG_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  NOT_ENOUGH_MEMORY: 0x6a84,
  NC_INCONSISTENT_WITH_TLV: 0x6a85,
  INCORRECT_P1P2: 0x6a86,
  NC_INCONSISTENT_WITH_P1P2: 0x6a87,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  FILE_ALREADY_EXISTS: 0x6a89,
  DF_NAME_ALREADY_EXISTS: 0x6a8a,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
} as const;

export type StatusWordName = keyof typeof SW;

const ISO_MEANINGS: ReadonlyMap<number, string> = new Map<number, string>([
  [SW.OK, "success"],
  [SW.WARNING_NO_INFORMATION, "warning, no information given (memory unchanged)"],
  [SW.DATA_MAY_BE_CORRUPTED, "part of returned data may be corrupted"],
  [SW.END_OF_FILE_REACHED, "end of file or record reached before reading Ne bytes"],
  [SW.SELECTED_FILE_DEACTIVATED, "selected file deactivated"],
  [SW.FCI_NOT_FORMATTED, "file control information not formatted"],
  [SW.VERIFICATION_FAILED, "verification failed"],
  [SW.FILE_FILLED_UP, "file filled up by the last write"],
  [SW.EXECUTION_ERROR, "execution error (memory unchanged)"],
  [SW.MEMORY_CHANGED_NO_INFORMATION, "execution error (memory changed)"],
  [SW.MEMORY_FAILURE, "memory failure"],
  [SW.WRONG_LENGTH, "wrong length"],
  [SW.CLA_FUNCTION_NOT_SUPPORTED, "functions in CLA not supported"],
  [SW.LOGICAL_CHANNEL_NOT_SUPPORTED, "logical channel not supported"],
  [SW.SECURE_MESSAGING_NOT_SUPPORTED, "secure messaging not supported"],
  [SW.LAST_COMMAND_EXPECTED, "last command of the chain expected"],
  [SW.COMMAND_CHAINING_NOT_SUPPORTED, "command chaining not supported"],
  [SW.COMMAND_NOT_ALLOWED, "command not allowed"],
  [SW.COMMAND_INCOMPATIBLE_WITH_FILE, "command incompatible with file structure"],
  [SW.SECURITY_STATUS_NOT_SATISFIED, "security status not satisfied"],
  [SW.AUTH_METHOD_BLOCKED, "authentication method blocked"],
  [SW.REFERENCE_DATA_NOT_USABLE, "reference data not usable"],
  [SW.CONDITIONS_NOT_SATISFIED, "conditions of use not satisfied"],
  [SW.COMMAND_NOT_ALLOWED_NO_EF, "command not allowed (no current EF)"],
  [SW.SM_DATA_MISSING, "expected secure messaging data objects missing"],
  [SW.SM_DATA_INCORRECT, "incorrect secure messaging data objects"],
  [SW.WRONG_PARAMETERS, "wrong parameters P1-P2"],
  [SW.WRONG_DATA, "incorrect parameters in the command data field"],
  [SW.FUNCTION_NOT_SUPPORTED, "function not supported"],
  [SW.FILE_NOT_FOUND, "file or application not found"],
  [SW.RECORD_NOT_FOUND, "record not found"],
  [SW.NOT_ENOUGH_MEMORY, "not enough memory space in the file"],
  [SW.NC_INCONSISTENT_WITH_TLV, "Nc inconsistent with TLV structure"],
  [SW.INCORRECT_P1P2, "incorrect parameters P1-P2"],
  [SW.NC_INCONSISTENT_WITH_P1P2, "Nc inconsistent with parameters P1-P2"],
  [SW.REFERENCED_DATA_NOT_FOUND, "referenced data or reference data not found"],
  [SW.FILE_ALREADY_EXISTS, "file already exists"],
  [SW.DF_NAME_ALREADY_EXISTS, "DF name already exists"],
  [SW.WRONG_P1P2, "wrong parameters P1-P2"],
  [SW.INS_NOT_SUPPORTED, "instruction code not supported or invalid"],
  [SW.CLA_NOT_SUPPORTED, "class not supported"],
  [SW.UNKNOWN, "no precise diagnosis"],
]);

/** "6985": a status word as four upper-case hex digits. */
export function formatSw(sw: number): string {
  return (sw & 0xffff).toString(16).toUpperCase().padStart(4, "0");
}

/** An application's own words and their meaning (they win over ISO ones). */
export type SwMeanings = ReadonlyMap<number, string>;

/**
 * A status word for people: "6985 conditions of use not satisfied", "6110 16 more bytes available",
 * "6C10 wrong Le, exact length 16", "63C2 verification failed, 2 tries left",
 * "unknown status word 9123". `meanings` names an application's proprietary words.
 */
export function describeSw(sw: number, meanings?: SwMeanings): string {
  const code = formatSw(sw);
  const meaning = meanings?.get(sw) ?? ISO_MEANINGS.get(sw);
  if (meaning !== undefined) return `${code} ${meaning}`;
  const sw1 = (sw >> 8) & 0xff;
  const sw2 = sw & 0xff;
  if (sw1 === 0x61) return `${code} ${sw2 === 0 ? 256 : sw2} more bytes available`;
  if (sw1 === 0x6c) return `${code} wrong Le, exact length ${sw2 === 0 ? 256 : sw2}`;
  if (sw1 === 0x63 && (sw2 & 0xf0) === 0xc0) {
    const tries = sw2 & 0x0f;
    return `${code} verification failed, ${tries} ${tries === 1 ? "try" : "tries"} left`;
  }
  return `unknown status word ${code}`;
}

/** The card answered a status word the caller did not accept. */
export class StatusWordError extends ProtocolError {
  readonly sw: number;
  readonly context: string;

  constructor(sw: number, context: string, options: ErrorOptions & { meanings?: SwMeanings } = {}) {
    super("PROTO_ERR_STATUS_WORD", `${context}: ${describeSw(sw, options.meanings)}`, {
      ...options,
      details: { sw: formatSw(sw), context, ...options.details },
    });
    this.sw = sw;
    this.context = context;
  }

  get sw1(): number {
    return (this.sw >> 8) & 0xff;
  }

  get sw2(): number {
    return this.sw & 0xff;
  }
}

/** The response when its status word is accepted (default: only 9000), else a StatusWordError. */
export function expectSw(
  response: ResponseApdu,
  context: string,
  accepted: readonly number[] = [SW.OK],
  meanings?: SwMeanings,
): ResponseApdu {
  if (!accepted.includes(response.sw))
    throw new StatusWordError(response.sw, context, meanings ? { meanings } : {});
  return response;
}
