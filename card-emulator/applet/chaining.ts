/**
 * Command chaining (ISO 7816-4): a command longer than 255 data bytes comes as several APDUs, CLA
 * bit 0x10 on every part but the last, each repeating CLA (without 0x10), INS, P1 and P2 of the
 * first. Every non-final part is answered 9000; the last one carries the whole command on. What can
 * go wrong, and the status word (an open chain is dropped):
 *
 *   a command that is not the next part of the open chain   6883 (and it is not executed)
 *   the chain growing past MAX_CHAINED_DATA                 6700
 *   the chain bit on a command that does not take chaining  6884
 *   a first part with a P1/P2 the command does not take     6A86
 *   a first part without data                               6700
 *
 * The first part is refused at once for anything its header decides (the later parts must repeat
 * that header, so waiting for the last part would only waste the terminal's air time).
 */
import type { CommandApdu } from "../../protocol/apdu.js";
import { concat } from "../../protocol/bytes.js";
import { SW } from "../../protocol/sw.js";
import type { CommandSpec } from "./context.js";

export const CHAIN_BIT = 0x10;
/** The largest chained command we buffer: three 2048-byte certificates and the rest of INITIATE. */
export const MAX_CHAINED_DATA = 3 * (2048 + 4) + 128;

/** Whether CLA announces more parts to come. */
export function isChained(cla: number): boolean {
  return (cla & CHAIN_BIT) !== 0;
}

/**
 * The open chain, if any: the first part's header and the parts received (copies: the caller's
 * buffers are not kept). Status words come back as numbers and data as bytes, so that a step of
 * `process` allocates nothing it did not before.
 */
export class CommandChain {
  #cla = 0;
  #ins = 0;
  #p1 = 0;
  #p2 = 0;
  #parts: Uint8Array[] | undefined;
  #length = 0;

  get open(): boolean {
    return this.#parts !== undefined;
  }

  /**
   * The data of the command `apdu` completes: its own data when no chain is open, else all parts
   * joined. A part that continues the chain → 9000; another command → 6883; too long → 6700.
   */
  take(apdu: CommandApdu): Uint8Array | number {
    const parts = this.#parts;
    if (!parts) return apdu.data;
    if (
      (apdu.cla & ~CHAIN_BIT) !== this.#cla ||
      apdu.ins !== this.#ins ||
      apdu.p1 !== this.#p1 ||
      apdu.p2 !== this.#p2
    ) {
      this.drop();
      return SW.LAST_COMMAND_EXPECTED;
    }
    this.#length += apdu.data.length;
    if (this.#length > MAX_CHAINED_DATA) {
      this.drop();
      return SW.WRONG_LENGTH;
    }
    parts.push(apdu.data.slice());
    if (isChained(apdu.cla)) return SW.OK;
    this.drop();
    return concat(...parts);
  }

  /**
   * Open a chain with its first part (chain bit set, no chain open): 6884 when `spec` does not take
   * chaining, 6A86 for a P1/P2 it does not take, 6700 for an empty part, else 9000.
   */
  begin(spec: CommandSpec, apdu: CommandApdu): number {
    if (!spec.chainable) return SW.COMMAND_CHAINING_NOT_SUPPORTED;
    if (spec.p1p2 && (apdu.p1 !== spec.p1p2[0] || apdu.p2 !== spec.p1p2[1])) return SW.INCORRECT_P1P2;
    if (apdu.data.length === 0) return SW.WRONG_LENGTH;
    this.#cla = apdu.cla & ~CHAIN_BIT;
    this.#ins = apdu.ins;
    this.#p1 = apdu.p1;
    this.#p2 = apdu.p2;
    this.#parts = [apdu.data.slice()];
    this.#length = apdu.data.length;
    return SW.OK;
  }

  drop(): void {
    this.#parts = undefined;
    this.#length = 0;
  }
}
