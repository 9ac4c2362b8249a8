import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { commandApdu } from "./apdu.js";
import { fromHex, hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import { createLogger } from "./logger.js";
import { transmit } from "./transmit.js";
import type { ClosableTransport, Transport } from "./transport.js";
import {
  counting,
  isCounted,
  RecordingTransport,
  ReplayTransport,
  serialized,
  withLogging,
  withTimeout,
} from "./transport-wrappers.js";

async function errorOf(promise: Promise<unknown>): Promise<ProtocolError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw new Error(`expected a ProtocolError, got ${String(e)}`);
  }
  throw new Error("expected a ProtocolError, it resolved");
}

/** A card that answers "<INS>9000" after `delayMs` (0 = next microtask). */
function echoCard(delayMs = 0): Transport & { calls: number } {
  const card = {
    calls: 0,
    async exchange(command: Uint8Array): Promise<Uint8Array> {
      card.calls++;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return Uint8Array.of(command[1]!, 0x90, 0x00);
    },
  };
  return card;
}

/** A card whose answer the test releases by hand. */
function manualCard(): Transport & { release(response: string): void; fail(e: Error): void } {
  let pending: { resolve: (r: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  return {
    exchange: () =>
      new Promise<Uint8Array>((resolve, reject) => {
        pending = { resolve, reject };
      }),
    release: (response) => pending?.resolve(fromHex(response)),
    fail: (e) => pending?.reject(e),
  };
}

const CMD = fromHex("00a4040008f054415057414c0100");

afterEach(() => {
  vi.useRealTimers();
});

describe("serialized", () => {
  it("rejects a second exchange while one is in flight with PROTO_ERR_TRANSPORT_BUSY", async () => {
    const card = manualCard();
    const t = serialized(card);
    const first = t.exchange(CMD);
    expect((await errorOf(t.exchange(CMD))).code).toBe("PROTO_ERR_TRANSPORT_BUSY");
    card.release("9000");
    expect(hex(await first)).toBe("9000");
  });

  it("accepts the next exchange once the previous one finished, successfully or not", async () => {
    const card = manualCard();
    const t = serialized(card);
    const first = t.exchange(CMD);
    card.fail(new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "card gone"));
    expect((await errorOf(first)).code).toBe("PROTO_ERR_TRANSPORT_CLOSED");
    const second = t.exchange(CMD);
    card.release("6a82");
    expect(hex(await second)).toBe("6a82");
  });

  it("runs sequential exchanges one after the other", async () => {
    const t = serialized(echoCard());
    for (let i = 0; i < 5; i++) expect(hex(await t.exchange(CMD))).toBe("a49000");
  });
});

describe("counting", () => {
  it("counts APDUs and bytes both ways, the command when it is sent", async () => {
    const t = counting(echoCard());
    await t.exchange(CMD);
    await t.exchange(CMD);
    expect(t.counts).toEqual({ apdus: 2, bytesOut: 2 * CMD.length, bytesIn: 6 });
    expect(isCounted(t)).toBe(true);
    expect(isCounted(echoCard())).toBe(false);
  });
});

describe("withTimeout", () => {
  it("rejects with PROTO_ERR_TRANSPORT_TIMEOUT when the card takes longer, and drops the late answer", async () => {
    vi.useFakeTimers();
    const card = manualCard();
    const t = withTimeout(card, 500);
    let settled = false;
    const pending = errorOf(t.exchange(CMD)).finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(499);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const e = await pending;
    expect(e.code).toBe("PROTO_ERR_TRANSPORT_TIMEOUT");
    expect(e.details).toMatchObject({ ms: 500 });
    card.release("9000"); // the late answer goes nowhere
  });

  it("does not turn a late failure into an unhandled rejection", async () => {
    vi.useFakeTimers();
    const card = manualCard();
    const pending = errorOf(withTimeout(card, 100).exchange(CMD));
    await vi.advanceTimersByTimeAsync(100);
    expect((await pending).code).toBe("PROTO_ERR_TRANSPORT_TIMEOUT");
    card.fail(new Error("late failure"));
    await vi.advanceTimersByTimeAsync(10);
  });

  it("returns an answer that arrives in time and leaves no timer behind", async () => {
    vi.useFakeTimers();
    const t = withTimeout(echoCard(10), 1_000);
    const answer = t.exchange(CMD);
    await vi.advanceTimersByTimeAsync(10);
    expect(hex(await answer)).toBe("a49000");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("passes the card's own error through", async () => {
    const card = manualCard();
    const pending = errorOf(withTimeout(card, 1_000).exchange(CMD));
    card.fail(new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "gone"));
    expect((await pending).code).toBe("PROTO_ERR_TRANSPORT_CLOSED");
  });

  it("is poisoned after a timeout: later exchanges fail at once and never reach the card", async () => {
    vi.useFakeTimers();
    const card = manualCard();
    let reached = 0;
    const counted: Transport = {
      exchange(c) {
        reached++;
        return card.exchange(c);
      },
    };
    const t = withTimeout(counted, 100);
    const first = errorOf(t.exchange(CMD));
    await vi.advanceTimersByTimeAsync(100);
    expect((await first).code).toBe("PROTO_ERR_TRANSPORT_TIMEOUT");
    card.release("9000"); // the late answer does not cure it
    const second = await errorOf(t.exchange(CMD));
    expect(second).toMatchObject({ code: "PROTO_ERR_TRANSPORT_TIMEOUT", details: { poisoned: true } });
    expect(reached).toBe(1);
  });

  it("refuses a timeout that is not a positive number", () => {
    expect(() => withTimeout(echoCard(), 0)).toThrow(RangeError);
    expect(() => withTimeout(echoCard(), Number.NaN)).toThrow(RangeError);
  });

  it("keeps close() of a closable transport", async () => {
    const close = vi.fn(async () => {});
    const closable: ClosableTransport = { exchange: echoCard().exchange, close };
    const wrapped = serialized(withTimeout(closable, 1_000));
    await wrapped.close();
    expect(close).toHaveBeenCalledTimes(1);
    expect("close" in withTimeout(echoCard(), 10)).toBe(false);
  });
});

describe("withLogging", () => {
  function capture(level: string) {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    return { lines, logger: createLogger({ name: "test", level, pretty: false, destination }) };
  }

  it("logs each exchange at trace level as => hex and <= hex with its duration", async () => {
    const { lines, logger } = capture("trace");
    const t = withLogging(echoCard(), logger);
    await t.exchange(CMD);
    expect(lines.map((l) => l.level)).toEqual([10, 10]);
    expect(lines[0]!.msg).toBe(`=> ${hex(CMD)}`);
    expect(lines[1]!.msg).toMatch(/^<= a49000 {2}# \d+\.\d{3} ms$/);
    expect(typeof lines[1]!.durationMs).toBe("number");
  });

  it("logs a failed exchange with its code, still at trace, and rethrows", async () => {
    const { lines, logger } = capture("trace");
    const card = manualCard();
    const pending = errorOf(withLogging(card, logger).exchange(CMD));
    card.fail(new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "gone"));
    expect((await pending).code).toBe("PROTO_ERR_TRANSPORT_CLOSED");
    expect(lines[1]).toMatchObject({ level: 10, msg: "<= failed: PROTO_ERR_TRANSPORT_CLOSED" });
  });

  it("writes nothing at debug or info level", async () => {
    for (const level of ["debug", "info"]) {
      const { lines, logger } = capture(level);
      await withLogging(echoCard(), logger).exchange(CMD);
      expect(lines).toEqual([]);
    }
  });
});

describe("RecordingTransport and ReplayTransport", () => {
  /** A tiny card: SELECT → FCI, GET DATA → 61xx + GET RESPONSE, anything else → 6D00. */
  function fakeCard(): Transport {
    return {
      async exchange(command) {
        const ins = command[1];
        if (ins === 0xa4) return fromHex("6f03840101" + "9000");
        if (ins === 0xca) return fromHex("01020304" + "6102");
        if (ins === 0xc0) return fromHex("0506" + "9000");
        return fromHex("6d00");
      },
    };
  }

  async function session(t: Transport) {
    const fci = await transmit(
      t,
      commandApdu({ cla: 0, ins: 0xa4, p1: 4, data: fromHex("f054415057414c01"), ne: 256 }),
    );
    const data = await transmit(t, commandApdu({ cla: 0x80, ins: 0xca, p1: 0x9f, p2: 0x7f, ne: 256 }));
    return [hex(fci.data), hex(data.data)];
  }

  it("records exchanges with timing, counts bytes and renders a transcript", async () => {
    let clock = 0;
    const recorder = new RecordingTransport(fakeCard(), { now: () => (clock += 0.25) });
    expect(await session(recorder)).toEqual(["6f03840101", "010203040506"]);
    expect(recorder.exchanges.map((e) => [hex(e.command), hex(e.response)])).toEqual([
      ["00a4040008f054415057414c0100", "6f038401019000"],
      ["80ca9f7f00", "010203046102"],
      ["00c0000002", "05069000"],
    ]);
    expect(recorder.exchanges[0]!.durationMs).toBe(0.25);
    expect(recorder.stats()).toEqual({ apdus: 3, bytesOut: 14 + 5 + 5, bytesIn: 7 + 6 + 4 });
    expect(recorder.transcript({ card: "fake", scenario: "select + get data" })).toBe(
      [
        "# tapwallet apdu transcript v1",
        "# card: fake",
        "# scenario: select + get data",
        "=> 00a4040008f054415057414c0100",
        "<= 6f038401019000  # 0.250 ms",
        "=> 80ca9f7f00",
        "<= 010203046102  # 0.250 ms",
        "=> 00c0000002",
        "<= 05069000  # 0.250 ms",
        "",
      ].join("\n"),
    );
    recorder.clear();
    expect(recorder.stats().apdus).toBe(0);
  });

  it("keeps copies, so a caller reusing its buffers cannot change the record", async () => {
    const recorder = new RecordingTransport(fakeCard());
    const command = fromHex("00a40400");
    const response = await recorder.exchange(command);
    command.fill(0);
    response.fill(0);
    expect(hex(recorder.exchanges[0]!.command)).toBe("00a40400");
    expect(hex(recorder.exchanges[0]!.response)).toBe("6f038401019000");
  });

  it("replays a recorded session strictly: same answers, nothing left over", async () => {
    const recorder = new RecordingTransport(fakeCard());
    const live = await session(recorder);
    const replay = ReplayTransport.fromText(recorder.transcript({ card: "fake" }));
    expect(replay.meta).toEqual({ card: "fake" });
    expect(replay.remaining).toBe(3);
    expect(await session(replay)).toEqual(live);
    expect(replay.remaining).toBe(0);
    expect(() => replay.assertDone()).not.toThrow();
  });

  it("names the transcript line, expected and actual hex on the first differing command", async () => {
    const recorder = new RecordingTransport(fakeCard());
    await session(recorder);
    const replay = ReplayTransport.fromText(recorder.transcript({ card: "fake" }));
    await replay.exchange(fromHex("00a4040008f054415057414c0100"));
    const e = await errorOf(replay.exchange(fromHex("80ca9f7e00")));
    expect(e.code).toBe("PROTO_ERR_REPLAY_MISMATCH");
    // header (1), meta (2), => (3), <= (4), => (5)
    expect(e.message).toBe("transcript line 5: expected => 80ca9f7f00, got => 80ca9f7e00");
    expect(e.details).toEqual({ line: 5, expected: "80ca9f7f00", actual: "80ca9f7e00" });
    // the position does not move past a mismatch
    expect(hex(await replay.exchange(fromHex("80ca9f7f00")))).toBe("010203046102");
  });

  it("rejects a command after the last exchange with PROTO_ERR_REPLAY_EXHAUSTED", async () => {
    const replay = ReplayTransport.fromText("=> 00a40400\n<= 9000\n");
    await replay.exchange(fromHex("00a40400"));
    expect((await errorOf(replay.exchange(fromHex("00a40400")))).code).toBe("PROTO_ERR_REPLAY_EXHAUSTED");
  });

  it("fails assertDone while exchanges remain, naming the next one", async () => {
    const replay = ReplayTransport.fromText("=> 00a40400\n<= 9000\n\n=> 00b00000\n<= 9000\n");
    await replay.exchange(fromHex("00a40400"));
    expect(() => replay.assertDone()).toThrow(/1 unplayed exchange, the next at line 4: => 00b00000/);
    try {
      replay.assertDone();
    } catch (e) {
      expect((e as ProtocolError).code).toBe("PROTO_ERR_REPLAY_MISMATCH");
    }
  });

  it("hands out copies of the recorded responses", async () => {
    const replay = ReplayTransport.fromText("=> 00a40400\n<= 9000\n=> 00a40400\n<= 9000\n");
    (await replay.exchange(fromHex("00a40400"))).fill(0);
    expect(hex(await replay.exchange(fromHex("00a40400")))).toBe("9000");
  });

  it("refuses malformed transcript text with PROTO_ERR_TRANSCRIPT_FORMAT", () => {
    expect(() => ReplayTransport.fromText("=> 00a40400\n")).toThrow(/line 1/);
  });

  it("composes: record under logging, timeout and serialization, then replay", async () => {
    const logger = createLogger({ name: "t", level: "silent", pretty: false });
    const recorder = new RecordingTransport(fakeCard());
    const t = serialized(withTimeout(withLogging(recorder, logger), 1_000));
    const live = await session(t);
    const replay = ReplayTransport.fromText(recorder.transcript());
    expect(await session(serialized(replay))).toEqual(live);
    replay.assertDone();
  });
});
