/**
 * One clock per test world. Every part of a world (terminal store, card session, payment manager,
 * acquirer) reads the same clock: either all frozen at one instant, or all the real one. A frozen
 * clock in one part and the real clock in another is a time bomb that goes off on the day the two
 * drift apart (it kept main red from 2026-11-24), so fixtures take a WorldClock, never a default.
 */
export interface WorldClock {
  /** Milliseconds since the epoch. */
  readonly ms: () => number;
  /** Whole seconds since the epoch (what goes in a record's terminal time). */
  readonly seconds: () => number;
  readonly date: () => Date;
}

function clockOf(ms: () => number): WorldClock {
  return { ms, seconds: () => Math.floor(ms() / 1000), date: () => new Date(ms()) };
}

/** A world stopped at `at` (a Date, or milliseconds since the epoch). */
export function frozenClock(at: Date | number): WorldClock {
  const t = typeof at === "number" ? at : at.getTime();
  return clockOf(() => t);
}

/** A world on the machine's clock (what spawned CLIs and daemons use). */
export const realClock: WorldClock = clockOf(() => Date.now());
