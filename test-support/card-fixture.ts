/**
 * Software cards for tests: a WalletApplet on the fixture card cards/alice (byte-stable keys and
 * certificate) in a memory store, behind a FaultyApplet (no fault unless asked; `applet.faults` may
 * change between commands), with an in-process transport in front of it.
 */

import { FaultyApplet, type FaultyAppletOptions } from "../card-emulator/applet/faulty.js";
import { type CardState, MemoryCardStateStore } from "../card-emulator/applet/state.js";
import { InProcessTransport } from "../card-emulator/inprocess.js";
import { fixtureCardState } from "../card-emulator/personalize.js";
import type { RandomSource } from "../protocol/crypto.js";

export interface FixtureCard {
  readonly applet: FaultyApplet;
  readonly store: MemoryCardStateStore;
  readonly transport: InProcessTransport;
}

export function fixtureCard(
  overrides: Partial<Omit<CardState, "privateKey" | "certificate">> = {},
  options: FaultyAppletOptions & { fixture?: string } = {},
): FixtureCard {
  const store = new MemoryCardStateStore(fixtureCardState(options.fixture ?? "cards/alice", overrides));
  const applet = new FaultyApplet(store, options);
  return { applet, store, transport: new InProcessTransport(applet) };
}

/**
 * A deterministic random source (xorshift128+ over a seed): the same seed gives the same bytes.
 * For transcripts and fuzzing only — never for keys that protect anything.
 */
export function seededRandom(seed: number): RandomSource & { next(): number } {
  let s0 = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let s1 = (seed * 0x85ebca6b) >>> 0 || 2;
  const nextU32 = (): number => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return (s0 + s1) >>> 0;
  };
  const random = ((length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const v = nextU32();
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }) as RandomSource & { next(): number };
  random.next = () => nextU32() / 0x1_0000_0000;
  return random;
}
