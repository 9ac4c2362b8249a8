/**
 * The card's response APDUs: data || SW1 SW2, at most 255 data bytes at a time (the ACR122U and
 * Android HCE are happiest with short APDUs both ways). A longer answer goes out as its first 255
 * bytes and `61xx` (xx = min(bytes left, FF)); the rest waits for GET RESPONSE `00 C0 00 00 Le`.
 */
import type { CommandApdu } from "../../protocol/apdu.js";
import { concat } from "../../protocol/bytes.js";
import { SW } from "../../protocol/sw.js";
import { INS } from "../../protocol/wallet/constants.js";

export const MAX_RESPONSE_CHUNK = 255;

/** A response of only a status word. */
export function sw(word: number): Uint8Array {
  return Uint8Array.of(word >> 8, word & 0xff);
}

/** GET RESPONSE is ISO class only (`00 C0`); it is answered before any other check but decoding. */
export function isGetResponse(apdu: CommandApdu): boolean {
  return apdu.ins === INS.GET_RESPONSE && apdu.cla === 0x00;
}

/** What is left of the last answer, for GET RESPONSE; volatile like the rest of the card's session. */
export class ResponseBuffer {
  #left: Uint8Array | undefined;

  /** Whether GET RESPONSE has something to serve. */
  get pending(): boolean {
    return this.#left !== undefined;
  }

  /** Data and status word; data over 255 bytes → the first 255 and 61xx, the rest kept. */
  answer(data: Uint8Array, word: number): Uint8Array {
    if (data.length <= MAX_RESPONSE_CHUNK) return concat(data, sw(word));
    // Only a successful answer is ever long; its final status word is then 9000.
    this.#left = data.slice(MAX_RESPONSE_CHUNK);
    return concat(data.subarray(0, MAX_RESPONSE_CHUNK), this.#moreData());
  }

  /**
   * 00 C0 00 00 Le (ISO case 2): the next up to min(Le, 255) bytes (Le 00 = 256), with 61xx while
   * more is left and 9000 with the last piece. Nothing pending → 6985; P1/P2 not 00 00 → 6A86;
   * command data, or Le absent → 6700. A refused GET RESPONSE forgets what was pending.
   */
  next(apdu: CommandApdu): Uint8Array {
    const left = this.#left;
    if (!left) return sw(SW.CONDITIONS_NOT_SATISFIED);
    const refusal =
      apdu.p1 !== 0 || apdu.p2 !== 0
        ? SW.INCORRECT_P1P2
        : apdu.data.length !== 0 || apdu.ne === undefined
          ? SW.WRONG_LENGTH
          : undefined;
    if (refusal !== undefined) {
      this.#left = undefined;
      return sw(refusal);
    }
    const n = Math.min(apdu.ne ?? MAX_RESPONSE_CHUNK, MAX_RESPONSE_CHUNK, left.length);
    const chunk = left.subarray(0, n);
    if (n === left.length) {
      this.#left = undefined;
      return concat(chunk, sw(SW.OK));
    }
    this.#left = left.slice(n);
    return concat(chunk, this.#moreData());
  }

  /** Forget what was pending (any command but GET RESPONSE, power-off, reset, a failure). */
  clear(): void {
    this.#left = undefined;
  }

  #moreData(): Uint8Array {
    const left = this.#left?.length ?? 0;
    return Uint8Array.of(0x61, Math.min(left, MAX_RESPONSE_CHUNK));
  }
}
