/**
 * Cross-cutting behaviour as transports that wrap a transport (apdu4j's wrappers, ledgerjs's
 * RecordStore): one exchange at a time, a per-APDU timeout, trace logging, recording and strict
 * replay. The composition root assembles them, for example
 *
 *   serialized(withTimeout(withLogging(pcsc, logger), 2_000))
 *
 * serialized outside withTimeout frees the port once a timeout is reported; the inner exchange may
 * still be running at that point, so a session that timed out should be abandoned (card lost).
 * The function wrappers keep `close()` when the wrapped transport has one.
 */
import { equalBytes, hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import type { Logger } from "./logger.js";
import {
  type FormatTranscriptOptions,
  formatTranscript,
  type ParsedExchange,
  parseTranscript,
  type Transcript,
} from "./transcript.js";
import type { ClosableTransport, Transport } from "./transport.js";

function keepClose(inner: Transport, wrapper: Transport): Transport {
  const close = (inner as Partial<ClosableTransport>).close;
  if (typeof close !== "function") return wrapper;
  const closable: ClosableTransport = { exchange: wrapper.exchange, close: () => close.call(inner) };
  return closable;
}

/** One exchange at a time: a call while another is in flight rejects with PROTO_ERR_TRANSPORT_BUSY. */
export function serialized(t: ClosableTransport): ClosableTransport;
export function serialized(t: Transport): Transport;
export function serialized(t: Transport): Transport {
  let busy = false;
  return keepClose(t, {
    async exchange(command: Uint8Array): Promise<Uint8Array> {
      if (busy) {
        throw new ProtocolError("PROTO_ERR_TRANSPORT_BUSY", "an APDU exchange is already in flight", {
          details: { ins: command[1] },
        });
      }
      busy = true;
      try {
        return await t.exchange(command);
      } finally {
        busy = false;
      }
    },
  });
}

/**
 * Reject with PROTO_ERR_TRANSPORT_TIMEOUT when the inner exchange takes longer than `ms`. The late
 * answer (or late failure) of the inner exchange is dropped.
 *
 * After a timeout the transport is poisoned: the card (or a PC/SC transmit that never returns) may
 * still be busy with the abandoned command, so every later exchange rejects at once with
 * PROTO_ERR_TRANSPORT_TIMEOUT (`details.poisoned`) and never reaches the inner transport. The
 * customer presents the card again, which makes a new connection and a new stack.
 */
export function withTimeout(t: ClosableTransport, ms: number): ClosableTransport;
export function withTimeout(t: Transport, ms: number): Transport;
export function withTimeout(t: Transport, ms: number): Transport {
  if (!(Number.isFinite(ms) && ms > 0))
    throw new RangeError(`timeout must be a positive number of ms, got ${ms}`);
  let poisoned = false;
  return keepClose(t, {
    async exchange(command: Uint8Array): Promise<Uint8Array> {
      if (poisoned) {
        throw new ProtocolError(
          "PROTO_ERR_TRANSPORT_TIMEOUT",
          "an earlier APDU timed out; present the card again",
          { details: { ms, ins: command[1], poisoned: true } },
        );
      }
      // Promise.race subscribes to the inner exchange, so its late rejection is handled (and ignored).
      const inner = t.exchange(command);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          poisoned = true;
          reject(
            new ProtocolError("PROTO_ERR_TRANSPORT_TIMEOUT", `the card did not answer within ${ms} ms`, {
              details: { ms, ins: command[1] },
            }),
          );
        }, ms);
      });
      try {
        return await Promise.race([inner, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

/** APDUs and bytes that went through a transport. */
export interface TransportCounts {
  apdus: number;
  bytesOut: number;
  bytesIn: number;
}

/** A transport that counts what goes through it (the bench, the tap statistics, the logs). */
export interface CountedTransport extends Transport {
  /** Live counters since the wrapper was made. */
  readonly counts: Readonly<TransportCounts>;
}

export function isCounted(t: Transport): t is CountedTransport {
  return typeof (t as Partial<CountedTransport>).counts === "object";
}

/**
 * Count every exchange: the command (APDU and bytes out) when it is sent, the response's bytes when
 * it arrives. Keeps close() like the other wrappers.
 */
export function counting(t: Transport): CountedTransport & Partial<ClosableTransport> {
  const counts: TransportCounts = { apdus: 0, bytesOut: 0, bytesIn: 0 };
  const wrapper = keepClose(t, {
    async exchange(command: Uint8Array): Promise<Uint8Array> {
      counts.apdus++;
      counts.bytesOut += command.length;
      const response = await t.exchange(command);
      counts.bytesIn += response.length;
      return response;
    },
  });
  return Object.assign(wrapper, { counts });
}

function millis(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}

/**
 * Log every exchange at trace level: `=> 00a40400…` before, `<= 9000  # 0.152 ms` after (the lines
 * are valid transcript lines), with `durationMs` as a field. Never logs above trace: APDUs are
 * voluminous, and the card session logs what matters once.
 */
export function withLogging(t: ClosableTransport, logger: Logger): ClosableTransport;
export function withLogging(t: Transport, logger: Logger): Transport;
export function withLogging(t: Transport, logger: Logger): Transport {
  return keepClose(t, {
    async exchange(command: Uint8Array): Promise<Uint8Array> {
      const trace = logger.isLevelEnabled("trace");
      if (trace) logger.trace(`=> ${hex(command)}`);
      const start = performance.now();
      try {
        const response = await t.exchange(command);
        if (trace) {
          const durationMs = millis(start);
          logger.trace({ durationMs }, `<= ${hex(response)}  # ${durationMs.toFixed(3)} ms`);
        }
        return response;
      } catch (err) {
        if (trace) {
          const code = (err as { code?: unknown }).code;
          logger.trace(
            { durationMs: millis(start), code },
            `<= failed${typeof code === "string" ? `: ${code}` : ""}`,
          );
        }
        throw err;
      }
    },
  });
}

export interface RecordedExchange {
  readonly command: Uint8Array;
  readonly response: Uint8Array;
  readonly durationMs: number;
}

/**
 * Wraps a transport and keeps every completed exchange (copies of the bytes, with timing), to be
 * rendered as a transcript fixture. Exchanges that fail are passed on and not recorded: the text
 * format has no syntax for them.
 */
export class RecordingTransport implements ClosableTransport {
  readonly #inner: Transport;
  readonly #now: () => number;
  readonly #exchanges: RecordedExchange[] = [];

  constructor(inner: Transport, options?: { now?: () => number }) {
    this.#inner = inner;
    this.#now = options?.now ?? (() => performance.now());
  }

  async exchange(command: Uint8Array): Promise<Uint8Array> {
    const sent = command.slice();
    const start = this.#now();
    const response = await this.#inner.exchange(command);
    const durationMs = Math.round((this.#now() - start) * 1000) / 1000;
    this.#exchanges.push(Object.freeze({ command: sent, response: response.slice(), durationMs }));
    return response;
  }

  get exchanges(): readonly RecordedExchange[] {
    return this.#exchanges.slice();
  }

  /** The recorded exchanges in the transcript text format, with `# key: value` metadata first. */
  transcript(meta?: Record<string, string>, options?: FormatTranscriptOptions): string {
    return formatTranscript({ meta: meta ?? {}, exchanges: this.#exchanges }, options);
  }

  stats(): { apdus: number; bytesOut: number; bytesIn: number } {
    let bytesOut = 0;
    let bytesIn = 0;
    for (const e of this.#exchanges) {
      bytesOut += e.command.length;
      bytesIn += e.response.length;
    }
    return { apdus: this.#exchanges.length, bytesOut, bytesIn };
  }

  /** Forget what was recorded (e.g. between taps). */
  clear(): void {
    this.#exchanges.length = 0;
  }

  /** Closes the wrapped transport when it can be closed. */
  async close(): Promise<void> {
    const close = (this.#inner as Partial<ClosableTransport>).close;
    if (typeof close === "function") await close.call(this.#inner);
  }
}

/**
 * Plays a transcript back as the card. Strict: each command must equal the next recorded command
 * byte for byte, otherwise PROTO_ERR_REPLAY_MISMATCH naming the transcript line with the expected
 * and actual hex (the position does not advance); a command after the last exchange →
 * PROTO_ERR_REPLAY_EXHAUSTED. assertDone() fails when recorded exchanges were never played.
 */
export class ReplayTransport implements ClosableTransport {
  readonly meta: Readonly<Record<string, string>>;
  readonly #exchanges: readonly ParsedExchange[];
  #next = 0;

  constructor(transcript: Transcript) {
    this.meta = transcript.meta;
    this.#exchanges = transcript.exchanges;
  }

  /** Parse transcript text (PROTO_ERR_TRANSCRIPT_FORMAT on a bad line) and replay it. */
  static fromText(text: string): ReplayTransport {
    return new ReplayTransport(parseTranscript(text));
  }

  async exchange(command: Uint8Array): Promise<Uint8Array> {
    const expected = this.#exchanges[this.#next];
    if (!expected) {
      throw new ProtocolError(
        "PROTO_ERR_REPLAY_EXHAUSTED",
        `transcript has no exchange left after ${this.#exchanges.length}; got => ${hex(command)}`,
        { details: { played: this.#exchanges.length, actual: hex(command) } },
      );
    }
    if (!equalBytes(expected.command, command)) {
      throw new ProtocolError(
        "PROTO_ERR_REPLAY_MISMATCH",
        `transcript line ${expected.commandLine}: expected => ${hex(expected.command)}, got => ${hex(command)}`,
        { details: { line: expected.commandLine, expected: hex(expected.command), actual: hex(command) } },
      );
    }
    this.#next++;
    return expected.response.slice();
  }

  /** Exchanges not played yet. */
  get remaining(): number {
    return this.#exchanges.length - this.#next;
  }

  /** Throws PROTO_ERR_REPLAY_MISMATCH when recorded exchanges remain unplayed. */
  assertDone(): void {
    const next = this.#exchanges[this.#next];
    if (next) {
      throw new ProtocolError(
        "PROTO_ERR_REPLAY_MISMATCH",
        `transcript has ${this.remaining} unplayed exchange${this.remaining === 1 ? "" : "s"}, the next at line ${next.commandLine}: => ${hex(next.command)}`,
        { details: { line: next.commandLine, remaining: this.remaining, expected: hex(next.command) } },
      );
    }
  }

  async close(): Promise<void> {}
}
