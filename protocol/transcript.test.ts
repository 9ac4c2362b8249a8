import { describe, expect, it } from "vitest";
import { fromHex, hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import { formatTranscript, parseTranscript, TRANSCRIPT_HEADER } from "./transcript.js";

function errorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw new Error(`expected a ProtocolError, got ${String(e)}`);
  }
  throw new Error("expected a ProtocolError, nothing was thrown");
}

/** mulberry32: a small seeded PRNG so a fuzz failure reproduces from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAMPLE = [
  "# tapwallet apdu transcript v1",
  "# card: emulator 0.1",
  "# scenario: select then read",
  "",
  "=> 00a4040008f054415057414c0100",
  "<= 6f0a840801020304050607089000  # 0.152 ms",
  "# a comment between exchanges: not metadata",
  "=> 00B0000000",
  "<= 6A82",
  "",
].join("\n");

describe("parseTranscript", () => {
  it("reads metadata, exchanges, timings and line numbers", () => {
    const t = parseTranscript(SAMPLE);
    expect(t.meta).toEqual({ card: "emulator 0.1", scenario: "select then read" });
    expect(t.exchanges).toHaveLength(2);
    expect(hex(t.exchanges[0]!.command)).toBe("00a4040008f054415057414c0100");
    expect(hex(t.exchanges[0]!.response)).toBe("6f0a840801020304050607089000");
    expect(t.exchanges[0]!.durationMs).toBe(0.152);
    expect(t.exchanges[0]!.commandLine).toBe(5);
    expect(t.exchanges[0]!.responseLine).toBe(6);
    expect(hex(t.exchanges[1]!.command)).toBe("00b0000000");
    expect(t.exchanges[1]!.durationMs).toBeUndefined();
    expect(t.exchanges[1]!.commandLine).toBe(8);
  });

  it("accepts upper-case hex, spaces between bytes, CRLF line ends and no header", () => {
    const t = parseTranscript("=> 00 A4 04 00\r\n<= 90 00\r\n");
    expect(hex(t.exchanges[0]!.command)).toBe("00a40400");
    expect(hex(t.exchanges[0]!.response)).toBe("9000");
    expect(t.meta).toEqual({});
  });

  it("reads an empty transcript as no exchanges", () => {
    expect(parseTranscript("").exchanges).toEqual([]);
    expect(parseTranscript(`${TRANSCRIPT_HEADER}\n`).exchanges).toEqual([]);
  });

  it.each([
    ["a line that is no exchange", "=> 00a40400\n<= 9000\nhello\n", 3],
    ["odd-length hex", "=> 00a4040\n<= 9000\n", 1],
    ["non-hex characters", "=> 00a4zz00\n<= 9000\n", 1],
    ["a command without bytes", "=>\n<= 9000\n", 1],
    ["a response without a command", "# x: y\n<= 9000\n", 2],
    ["two commands in a row", "=> 00a40400\n=> 00a40400\n<= 9000\n", 1],
    ["a command at the end of the file", "=> 00a40400\n<= 9000\n\n=> 00b00000\n", 4],
    ["a response of one byte", "=> 00a40400\n<= 90\n", 2],
    ["a repeated metadata key", "# card: a\n# card: b\n", 2],
  ])("refuses %s with PROTO_ERR_TRANSCRIPT_FORMAT naming the line", (_name, text, line) => {
    const e = errorOf(() => parseTranscript(text));
    expect(e.code).toBe("PROTO_ERR_TRANSCRIPT_FORMAT");
    expect(e.details).toMatchObject({ line });
    expect(e.message).toContain(`line ${line}`);
  });
});

describe("formatTranscript", () => {
  const exchanges = [
    { command: fromHex("00A4040008F054415057414C0100"), response: fromHex("9000"), durationMs: 0.1524 },
    { command: fromHex("00b0000000"), response: fromHex("6a82") },
  ];

  it("writes the header, metadata and lower-case hex with timing comments", () => {
    expect(formatTranscript({ meta: { card: "emulator 0.1" }, exchanges })).toBe(
      [
        "# tapwallet apdu transcript v1",
        "# card: emulator 0.1",
        "=> 00a4040008f054415057414c0100",
        "<= 9000  # 0.152 ms",
        "=> 00b0000000",
        "<= 6a82",
        "",
      ].join("\n"),
    );
  });

  it("leaves timings out on request, for fixtures that must not churn", () => {
    expect(formatTranscript({ exchanges }, { timings: false })).not.toContain("ms");
  });

  it("round-trips through parseTranscript", () => {
    const text = formatTranscript({ meta: { reader: "vpcd", "test.case": "a-b_c" }, exchanges });
    const t = parseTranscript(text);
    expect(t.meta).toEqual({ reader: "vpcd", "test.case": "a-b_c" });
    expect(t.exchanges.map((e) => [hex(e.command), hex(e.response)])).toEqual(
      exchanges.map((e) => [hex(e.command), hex(e.response)]),
    );
    expect(formatTranscript(t)).toBe(text);
  });

  it.each([
    ["a key with a space", { "my key": "v" }],
    ["a value over two lines", { key: "a\nb" }],
  ])("refuses metadata with %s", (_name, meta) => {
    expect(errorOf(() => formatTranscript({ meta, exchanges: [] })).code).toBe("PROTO_ERR_TRANSCRIPT_FORMAT");
  });

  it("refuses exchanges the format cannot hold", () => {
    const empty = { command: new Uint8Array(0), response: fromHex("9000") };
    const short = { command: fromHex("00a40400"), response: fromHex("90") };
    expect(errorOf(() => formatTranscript({ exchanges: [empty] })).code).toBe("PROTO_ERR_TRANSCRIPT_FORMAT");
    expect(errorOf(() => formatTranscript({ exchanges: [short] })).code).toBe("PROTO_ERR_TRANSCRIPT_FORMAT");
  });
});

describe("parseTranscript fuzzing", () => {
  const SEED = Number(process.env.TAPWALLET_FUZZ_SEED ?? 0x5eed7e47);
  const ITERATIONS = 20_000;

  it(`throws only PROTO_ERR_TRANSCRIPT_FORMAT on ${ITERATIONS} random and mutated texts (seed ${SEED})`, () => {
    const rand = prng(SEED);
    const pick = (n: number) => Math.floor(rand() * n);
    const alphabet = "=><# :\n\r\t0123456789abcdefABCDEFxyz.ms\u00e9\u{1f4b3}";
    const started = performance.now();
    let parsed = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      let text: string;
      if (rand() < 0.3) {
        text = Array.from({ length: pick(80) }, () => alphabet[pick(alphabet.length)]).join("");
      } else {
        const chars = [...SAMPLE];
        for (let m = 0, n = 1 + pick(4); m < n; m++) {
          const at = pick(chars.length + 1);
          const op = pick(3);
          if (op === 0) chars.splice(at, 1);
          else if (op === 1) chars.splice(at, 0, alphabet[pick(alphabet.length)]!);
          else chars.splice(at, pick(20));
        }
        text = chars.join("");
      }
      try {
        const t = parseTranscript(text);
        parsed++;
        for (const e of t.exchanges)
          if (e.response.length < 2) throw new Error(`iteration ${i}: short response`);
      } catch (e) {
        if (!(e instanceof ProtocolError) || e.code !== "PROTO_ERR_TRANSCRIPT_FORMAT") {
          throw new Error(`iteration ${i} (seed ${SEED}) ${JSON.stringify(text)}: ${String(e)}`);
        }
      }
    }
    expect(parsed).toBeGreaterThan(100);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
