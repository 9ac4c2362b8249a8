/**
 * A tiny stand-in card for testing the byte movers (vpcd link, PC/SC transport) without the wallet
 * applet. It never throws. Commands (CLA 00):
 *
 *   A4 04 00 Lc AID [Le]  SELECT: the test AID → 6F 0A 84 08 <AID> 90 00; another AID → 6A 82
 *   EE 00 00 Lc data      ECHO: data 90 00
 *   CB P1 P2 [Le]         LONG: P1 P2 = total length n; answers 61 xx and hands the bytes
 *                         (i & 0xFF for i in 0..n-1) out through GET RESPONSE (C0), at most Le each
 *   5E P1 00              SLOW: waits P1 × 100 ms, then 90 00
 *   anything else         6D 00
 */
import type { VirtualCard } from "../card-emulator/adapters/vpcd.js";

export const TEST_AID = Uint8Array.of(0xf0, 0x54, 0x41, 0x50, 0x57, 0x41, 0x4c, 0x01);
export const SELECT_TEST_AID = Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x08, ...TEST_AID, 0x00);
export const SELECT_TEST_AID_HEX = "00A4040008F054415057414C0100";
/** FCI the stand-in card answers to SELECT (without SW). */
export const TEST_FCI = Uint8Array.of(0x6f, 0x0a, 0x84, 0x08, ...TEST_AID);

export const INS_ECHO = 0xee;
export const INS_LONG = 0xcb;
export const INS_SLOW = 0x5e;

const sw = (sw1: number, sw2: number, data: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw1;
  out[data.length + 1] = sw2;
  return out;
};

export class StandInCard implements VirtualCard {
  powerOffs = 0;
  resets = 0;
  readonly commands: Uint8Array[] = [];
  private pending: Uint8Array = new Uint8Array(0);

  process(apdu: Uint8Array): Uint8Array | Promise<Uint8Array> {
    this.commands.push(apdu);
    if (apdu.length < 4) return sw(0x67, 0x00);
    const [cla, ins, p1, p2] = apdu as unknown as [number, number, number, number];
    if (cla !== 0x00) return sw(0x6e, 0x00);
    const lc = apdu.length > 5 ? apdu[4]! : 0;
    const data = apdu.subarray(5, 5 + lc);
    switch (ins) {
      case 0xa4: {
        if (p1 !== 0x04 || data.length !== TEST_AID.length || !data.every((b, i) => b === TEST_AID[i])) {
          return sw(0x6a, 0x82);
        }
        return sw(0x90, 0x00, TEST_FCI);
      }
      case INS_ECHO:
        return sw(0x90, 0x00, data);
      case INS_LONG: {
        const n = (p1 << 8) | p2;
        this.pending = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
        return this.nextChunk(0);
      }
      case 0xc0: {
        const le = apdu.length === 5 ? apdu[4]! || 256 : 256;
        return this.nextChunk(le);
      }
      case INS_SLOW:
        return new Promise((resolve) => setTimeout(() => resolve(sw(0x90, 0x00)), p1 * 100));
      default:
        return sw(0x6d, 0x00);
    }
  }

  powerOff(): void {
    this.powerOffs++;
    this.pending = new Uint8Array(0);
  }

  reset(): void {
    this.resets++;
    this.pending = new Uint8Array(0);
  }

  /** Hand out up to `le` pending bytes, then 61 xx while more remain, else 90 00. */
  private nextChunk(le: number): Uint8Array {
    const chunk = this.pending.subarray(0, le);
    this.pending = this.pending.subarray(chunk.length);
    const left = this.pending.length;
    return left > 0 ? sw(0x61, left >= 256 ? 0x00 : left, chunk) : sw(0x90, 0x00, chunk);
  }
}
