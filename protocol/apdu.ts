/**
 * ISO 7816-4 short APDUs as immutable values. Short only (≤ 255 command data bytes, ≤ 256 response
 * data bytes): ACR122U and Android HCE are not reliable with extended length, so longer command
 * data is split with command chaining (chainCommand) and longer responses arrive with 61xx + GET
 * RESPONSE (transmit.ts).
 */
import { concat } from "./bytes.js";
import { ProtocolError } from "./errors.js";

export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  /** Command data (Nc = data.length); empty when the command has none. */
  readonly data: Uint8Array;
  /** Expected response length Ne 1..256; undefined = no Le field. */
  readonly ne: number | undefined;
}

export interface ResponseApdu {
  /** Response data without the status word (a view of the received bytes, not a copy). */
  readonly data: Uint8Array;
  /** SW1 SW2 as one number: 0x9000. */
  readonly sw: number;
  readonly sw1: number;
  readonly sw2: number;
}

/** Most command data bytes one short APDU carries. */
export const MAX_SHORT_DATA = 255;
/** Largest Ne of a short APDU (written as Le = 00). */
export const MAX_SHORT_NE = 256;
/** CLA bit saying "more parts of this command follow" (ISO 7816-4 command chaining). */
export const CHAINING_BIT = 0x10;

function fieldError(message: string, details: Record<string, unknown>): ProtocolError {
  return new ProtocolError("PROTO_ERR_APDU_FIELD", message, { details });
}

function isByte(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xff;
}

function checkHeader(c: { cla: number; ins: number; p1: number; p2: number; ne: number | undefined }): void {
  for (const name of ["cla", "ins", "p1", "p2"] as const) {
    if (!isByte(c[name]))
      throw fieldError(`APDU ${name.toUpperCase()} is not a byte: ${String(c[name])}`, { [name]: c[name] });
  }
  if (c.ne !== undefined && !(Number.isInteger(c.ne) && c.ne >= 1 && c.ne <= MAX_SHORT_NE)) {
    throw fieldError(`APDU Ne must be 1..256 or absent, got ${String(c.ne)}`, { ne: c.ne });
  }
}

/**
 * Build a command APDU: byte ranges are checked (PROTO_ERR_APDU_FIELD), data is copied so the value
 * cannot change behind the caller's back, and the object is frozen. Data longer than 255 bytes is
 * allowed here (chainCommand splits it) but encodeCommand refuses it.
 */
export function commandApdu(fields: {
  cla: number;
  ins: number;
  p1?: number;
  p2?: number;
  data?: Uint8Array;
  ne?: number;
}): CommandApdu {
  if (!(fields.data === undefined || fields.data instanceof Uint8Array)) {
    throw fieldError("APDU data must be a Uint8Array", {});
  }
  const c = {
    cla: fields.cla,
    ins: fields.ins,
    p1: fields.p1 ?? 0,
    p2: fields.p2 ?? 0,
    data: fields.data === undefined ? new Uint8Array(0) : fields.data.slice(),
    ne: fields.ne,
  };
  checkHeader(c);
  return Object.freeze(c);
}

/**
 * Encode a short command APDU, writing Lc only when there is data and Le only when Ne is set:
 *   case 1: CLA INS P1 P2
 *   case 2: CLA INS P1 P2 Le
 *   case 3: CLA INS P1 P2 Lc data
 *   case 4: CLA INS P1 P2 Lc data Le
 * Lc is 01..FF; Le is 01..FF, or 00 for Ne = 256. Data over 255 bytes → PROTO_ERR_APDU_DATA_TOO_LONG.
 */
export function encodeCommand(c: CommandApdu): Uint8Array {
  checkHeader(c);
  const nc = c.data.length;
  if (nc > MAX_SHORT_DATA) {
    throw new ProtocolError(
      "PROTO_ERR_APDU_DATA_TOO_LONG",
      `command data of ${nc} bytes does not fit a short APDU (max ${MAX_SHORT_DATA}; use chainCommand)`,
      { details: { length: nc, ins: c.ins } },
    );
  }
  const header = Uint8Array.of(c.cla, c.ins, c.p1, c.p2);
  const le = c.ne === undefined ? new Uint8Array(0) : Uint8Array.of(c.ne & 0xff);
  if (nc === 0) return concat(header, le);
  return concat(header, Uint8Array.of(nc), c.data, le);
}

function lengthError(bytes: Uint8Array, why: string): ProtocolError {
  return new ProtocolError(
    "PROTO_ERR_APDU_LENGTH",
    `not a short command APDU (${bytes.length} bytes): ${why}`,
    {
      details: { length: bytes.length },
    },
  );
}

/**
 * Decode a command APDU on the card side. Only the four short cases are valid:
 *   4 bytes          case 1
 *   5 bytes          case 2, Le = b[4] (00 = 256)
 *   5 + Lc bytes     case 3, Lc = b[4] in 01..FF
 *   6 + Lc bytes     case 4, Le = last byte (00 = 256)
 * Anything else (fewer than 4 bytes, Lc = 00 which announces extended length, a length that
 * matches no case) → PROTO_ERR_APDU_LENGTH.
 */
export function decodeCommand(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw lengthError(bytes, "shorter than the 4-byte header");
  const [cla, ins, p1, p2] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  if (bytes.length === 4) return commandApdu({ cla, ins, p1, p2 });
  const b4 = bytes[4]!;
  if (bytes.length === 5) return commandApdu({ cla, ins, p1, p2, ne: b4 === 0 ? 256 : b4 });
  if (b4 === 0) throw lengthError(bytes, "Lc = 00 announces an extended-length APDU");
  const data = bytes.subarray(5, 5 + b4);
  if (bytes.length === 5 + b4) return commandApdu({ cla, ins, p1, p2, data });
  if (bytes.length === 6 + b4) {
    const le = bytes[5 + b4]!;
    return commandApdu({ cla, ins, p1, p2, data, ne: le === 0 ? 256 : le });
  }
  throw lengthError(bytes, `Lc = ${b4} does not match the ${bytes.length - 5} bytes after it`);
}

/**
 * Split a command whose data exceeds one block into a chain: every part but the last has
 * CLA | 0x10 and no Le; the last part has the original CLA and Ne. P1, P2 and INS repeat on every
 * part. Data of at most `blockSize` bytes gives [c] unchanged.
 */
export function chainCommand(c: CommandApdu, blockSize = MAX_SHORT_DATA): CommandApdu[] {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_SHORT_DATA) {
    throw new RangeError(`chaining block size must be 1..${MAX_SHORT_DATA}, got ${blockSize}`);
  }
  if (c.data.length <= blockSize) return [c];
  const parts: CommandApdu[] = [];
  for (let offset = 0; offset < c.data.length; offset += blockSize) {
    const last = offset + blockSize >= c.data.length;
    parts.push(
      commandApdu({
        cla: last ? c.cla : c.cla | CHAINING_BIT,
        ins: c.ins,
        p1: c.p1,
        p2: c.p2,
        data: c.data.subarray(offset, offset + blockSize),
        ...(last && c.ne !== undefined ? { ne: c.ne } : {}),
      }),
    );
  }
  return parts;
}

/** Whether a command is a non-final part of a chain (its CLA carries the chaining bit). */
export function isChained(c: CommandApdu): boolean {
  return (c.cla & CHAINING_BIT) !== 0;
}

/**
 * Decode a response APDU: data | SW1 SW2. Fewer than 2 bytes → PROTO_ERR_RESPONSE_TOO_SHORT (the
 * transport contract says a response always carries a status word: the card is gone). The data is
 * a view of `bytes`, not a copy.
 */
export function decodeResponse(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) {
    throw new ProtocolError(
      "PROTO_ERR_RESPONSE_TOO_SHORT",
      `response of ${bytes.length} byte${bytes.length === 1 ? "" : "s"} has no status word`,
      { details: { length: bytes.length } },
    );
  }
  const sw1 = bytes[bytes.length - 2]!;
  const sw2 = bytes[bytes.length - 1]!;
  return Object.freeze({ data: bytes.subarray(0, bytes.length - 2), sw: (sw1 << 8) | sw2, sw1, sw2 });
}

/** Build a response value from data and a status word (0x0000..0xFFFF). */
export function responseApdu(data: Uint8Array, sw: number): ResponseApdu {
  checkSw(sw);
  return Object.freeze({ data, sw, sw1: sw >> 8, sw2: sw & 0xff });
}

function checkSw(sw: number): void {
  if (!(Number.isInteger(sw) && sw >= 0 && sw <= 0xffff)) {
    throw fieldError(`status word must be 0x0000..0xFFFF, got ${String(sw)}`, { sw });
  }
}

/**
 * Encode data | SW1 SW2 (card side). At most 256 data bytes, what a short response carries; a card
 * with more to say answers 61xx and serves the rest with GET RESPONSE.
 */
export function encodeResponse(data: Uint8Array, sw: number): Uint8Array {
  checkSw(sw);
  if (data.length > MAX_SHORT_NE) {
    throw new ProtocolError(
      "PROTO_ERR_APDU_DATA_TOO_LONG",
      `response data of ${data.length} bytes does not fit a short response (max ${MAX_SHORT_NE}; use 61xx)`,
      { details: { length: data.length } },
    );
  }
  return concat(data, Uint8Array.of(sw >> 8, sw & 0xff));
}
