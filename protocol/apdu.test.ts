import { describe, expect, it } from "vitest";
import { codeOf } from "../test-support/errors.js";
import {
  CHAINING_BIT,
  type CommandApdu,
  chainCommand,
  commandApdu,
  decodeCommand,
  decodeResponse,
  encodeCommand,
  encodeResponse,
  isChained,
  responseApdu,
} from "./apdu.js";
import { concat, fromHex, hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";

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

const bytes = (n: number) => new Uint8Array(n).map((_, i) => i & 0xff);

describe("commandApdu", () => {
  it("defaults P1, P2 to 00, data to empty and Ne to absent", () => {
    const c = commandApdu({ cla: 0x80, ins: 0xca });
    expect(c).toMatchObject({ cla: 0x80, ins: 0xca, p1: 0, p2: 0, ne: undefined });
    expect(c.data.length).toBe(0);
  });

  it("is frozen and keeps its own copy of the data", () => {
    const data = fromHex("0102");
    const c = commandApdu({ cla: 0, ins: 0xa4, data });
    data[0] = 0xff;
    expect(hex(c.data)).toBe("0102");
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { ins: number }).ins = 0;
    }).toThrow(TypeError);
  });

  it.each([
    ["CLA 256", { cla: 256, ins: 0 }],
    ["CLA -1", { cla: -1, ins: 0 }],
    ["INS 1.5", { cla: 0, ins: 1.5 }],
    ["P1 300", { cla: 0, ins: 0, p1: 300 }],
    ["P2 NaN", { cla: 0, ins: 0, p2: Number.NaN }],
    ["Ne 0", { cla: 0, ins: 0, ne: 0 }],
    ["Ne 257", { cla: 0, ins: 0, ne: 257 }],
  ])("refuses %s with PROTO_ERR_APDU_FIELD", (_name, fields) => {
    expect(codeOf(() => commandApdu(fields))).toBe("PROTO_ERR_APDU_FIELD");
  });

  it("accepts CLA FF, the class of PC/SC reader pseudo-APDUs (ACR122U LED and buzzer)", () => {
    expect(
      hex(
        encodeCommand(commandApdu({ cla: 0xff, ins: 0x00, p1: 0x40, p2: 0x0d, data: fromHex("00000101") })),
      ),
    ).toBe("ff00400d0400000101");
  });
});

describe("encodeCommand", () => {
  it.each<[string, Parameters<typeof commandApdu>[0], string]>([
    ["case 1: header only", { cla: 0x00, ins: 0x84, p1: 0x00, p2: 0x00 }, "00840000"],
    ["case 2: Le", { cla: 0x00, ins: 0x84, ne: 8 }, "0084000008"],
    ["case 2: Ne 256 is written as Le 00", { cla: 0x00, ins: 0xb0, ne: 256 }, "00b0000000"],
    ["case 2: Ne 255", { cla: 0x00, ins: 0xb0, ne: 255 }, "00b00000ff"],
    ["case 2: Ne 1", { cla: 0x00, ins: 0xb0, ne: 1 }, "00b0000001"],
    [
      "case 3: Lc and data, no Le",
      { cla: 0x80, ins: 0xe2, p1: 0x01, p2: 0x02, data: fromHex("aabbcc") },
      "80e2010203aabbcc",
    ],
    [
      "case 4: SELECT by AID with Le 00",
      { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: fromHex("f054415057414c01"), ne: 256 },
      "00a4040008f054415057414c0100",
    ],
    ["case 4: Le 10", { cla: 0x00, ins: 0x88, data: fromHex("01"), ne: 16 }, "00880000010110"],
  ])("%s", (_name, fields, wire) => {
    expect(hex(encodeCommand(commandApdu(fields)))).toBe(wire);
  });

  it("writes Lc FF for 255 bytes of data", () => {
    const wire = encodeCommand(commandApdu({ cla: 0, ins: 0xda, data: bytes(255) }));
    expect(wire.length).toBe(4 + 1 + 255);
    expect(wire[4]).toBe(0xff);
  });

  it("refuses 256 bytes of data with PROTO_ERR_APDU_DATA_TOO_LONG (chaining is the way)", () => {
    expect(codeOf(() => encodeCommand(commandApdu({ cla: 0, ins: 0xda, data: bytes(256) })))).toBe(
      "PROTO_ERR_APDU_DATA_TOO_LONG",
    );
  });

  it("checks hand-made values that skipped commandApdu", () => {
    const bad = { cla: 0x100, ins: 0, p1: 0, p2: 0, data: new Uint8Array(0), ne: undefined } as CommandApdu;
    expect(codeOf(() => encodeCommand(bad))).toBe("PROTO_ERR_APDU_FIELD");
  });
});

describe("decodeCommand", () => {
  it.each([
    ["case 1", { cla: 0x00, ins: 0x84 }],
    ["case 2", { cla: 0x00, ins: 0x84, ne: 8 }],
    ["case 2 with Ne 256", { cla: 0x00, ins: 0xb0, ne: 256 }],
    ["case 3", { cla: 0x80, ins: 0xe2, p1: 1, p2: 2, data: fromHex("aabbcc") }],
    ["case 3 with 1 byte", { cla: 0x80, ins: 0xe2, data: fromHex("aa") }],
    ["case 3 with 255 bytes", { cla: 0x90, ins: 0xe2, data: bytes(255) }],
    ["case 4", { cla: 0x00, ins: 0xa4, p1: 4, data: fromHex("f054415057414c01"), ne: 256 }],
    ["case 4 with 255 bytes and Le 01", { cla: 0x00, ins: 0xa4, data: bytes(255), ne: 1 }],
  ])("round-trips %s", (_name, fields) => {
    const c = commandApdu(fields);
    const decoded = decodeCommand(encodeCommand(c));
    expect({ ...decoded, data: hex(decoded.data) }).toEqual({ ...c, data: hex(c.data) });
  });

  it.each([
    ["no bytes", ""],
    ["3 bytes", "00a404"],
    ["extended case 2 (Le 00 0100)", "00b00000000100"],
    ["extended case 3 (Lc 00 0001)", "00da0000000001aa"],
    ["Lc larger than the data", "00da000003aabb"],
    ["Lc smaller than the data by 2", "00da000001aabbcc"],
    ["Lc 00 with one byte after it", "00da000000aa"],
  ])("refuses %s with PROTO_ERR_APDU_LENGTH", (_name, wire) => {
    expect(codeOf(() => decodeCommand(fromHex(wire)))).toBe("PROTO_ERR_APDU_LENGTH");
  });
});

describe("chainCommand", () => {
  it("leaves a command with at most 255 bytes of data alone", () => {
    const c = commandApdu({ cla: 0x80, ins: 0x20, data: bytes(255), ne: 256 });
    expect(chainCommand(c)).toEqual([c]);
    const empty = commandApdu({ cla: 0x80, ins: 0x20 });
    expect(chainCommand(empty)).toEqual([empty]);
  });

  it("splits 600 bytes into 255 + 255 + 90 with CLA|0x10 on all but the last, Le only on the last", () => {
    const data = bytes(600);
    const parts = chainCommand(commandApdu({ cla: 0x80, ins: 0x82, p1: 1, p2: 2, data, ne: 256 }));
    expect(parts.map((p) => p.cla)).toEqual([0x90, 0x90, 0x80]);
    expect(parts.map((p) => p.data.length)).toEqual([255, 255, 90]);
    expect(parts.map((p) => p.ne)).toEqual([undefined, undefined, 256]);
    expect(parts.map(isChained)).toEqual([true, true, false]);
    expect(parts.every((p) => p.ins === 0x82 && p.p1 === 1 && p.p2 === 2)).toBe(true);
    expect(hex(concat(...parts.map((p) => p.data)))).toBe(hex(data));
    expect(hex(encodeCommand(parts[0]!)).slice(0, 10)).toBe("90820102ff");
    expect(hex(encodeCommand(parts[2]!)).slice(0, 10)).toBe("808201025a");
    expect(hex(encodeCommand(parts[2]!)).slice(-2)).toBe("00");
  });

  it("splits at an exact multiple of the block size without an empty last part", () => {
    const parts = chainCommand(commandApdu({ cla: 0x00, ins: 0xda, data: bytes(510) }));
    expect(parts.map((p) => [p.cla, p.data.length])).toEqual([
      [CHAINING_BIT, 255],
      [0x00, 255],
    ]);
  });

  it("takes a smaller block size", () => {
    const parts = chainCommand(commandApdu({ cla: 0x00, ins: 0xda, data: bytes(10) }), 4);
    expect(parts.map((p) => p.data.length)).toEqual([4, 4, 2]);
    expect(() => chainCommand(parts[0]!, 0)).toThrow(RangeError);
    expect(() => chainCommand(parts[0]!, 256)).toThrow(RangeError);
  });
});

describe("decodeResponse / encodeResponse", () => {
  it("splits data and status word", () => {
    const r = decodeResponse(fromHex("0102039000"));
    expect(hex(r.data)).toBe("010203");
    expect(r.sw).toBe(0x9000);
    expect(r.sw1).toBe(0x90);
    expect(r.sw2).toBe(0x00);
  });

  it("reads a bare status word as a response with no data", () => {
    const r = decodeResponse(fromHex("6a82"));
    expect(r.data.length).toBe(0);
    expect(r.sw).toBe(0x6a82);
  });

  it.each(["", "90"])("refuses %j (card lost) with PROTO_ERR_RESPONSE_TOO_SHORT", (wire) => {
    expect(codeOf(() => decodeResponse(fromHex(wire)))).toBe("PROTO_ERR_RESPONSE_TOO_SHORT");
  });

  it.each([0, 1, 255, 256])("round-trips %i data bytes", (n) => {
    const wire = encodeResponse(bytes(n), 0x6283);
    expect(wire.length).toBe(n + 2);
    const r = decodeResponse(wire);
    expect(hex(r.data)).toBe(hex(bytes(n)));
    expect(r.sw).toBe(0x6283);
  });

  it("refuses more than 256 data bytes in one short response", () => {
    expect(codeOf(() => encodeResponse(bytes(257), 0x9000))).toBe("PROTO_ERR_APDU_DATA_TOO_LONG");
  });

  it.each([-1, 0x10000, 1.5])("refuses status word %s with PROTO_ERR_APDU_FIELD", (sw) => {
    expect(codeOf(() => encodeResponse(new Uint8Array(0), sw))).toBe("PROTO_ERR_APDU_FIELD");
    expect(codeOf(() => responseApdu(new Uint8Array(0), sw))).toBe("PROTO_ERR_APDU_FIELD");
  });

  it("builds response values for fakes and card code", () => {
    expect(responseApdu(fromHex("01"), 0x6110)).toMatchObject({ sw: 0x6110, sw1: 0x61, sw2: 0x10 });
  });
});

describe("decodeCommand / decodeResponse fuzzing", () => {
  const SEED = Number(process.env.TAPWALLET_FUZZ_SEED ?? 0xa9d0c0de);
  const ITERATIONS = 25_000;

  it(`throws only ProtocolError on ${ITERATIONS} random and mutated buffers, and what decodes re-encodes identically (seed ${SEED})`, () => {
    const rand = prng(SEED);
    const pick = (n: number) => Math.floor(rand() * n);
    const seeds = [
      "00840000",
      "0084000008",
      "00a4040008f054415057414c0100",
      hex(encodeCommand(commandApdu({ cla: 0x90, ins: 0x82, data: bytes(255) }))),
      "00b00000000100",
    ].map(fromHex);
    const started = performance.now();
    let decoded = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      let input: Uint8Array;
      if (rand() < 0.3) {
        input = Uint8Array.from({ length: pick(12) }, () => pick(256));
      } else {
        const seed = seeds[pick(seeds.length)]!;
        const out = Uint8Array.from(seed);
        if (rand() < 0.5 && out.length > 4) out[4] = [0x00, 0x01, 0xff, pick(256)][pick(4)]!;
        else if (out.length) out[pick(out.length)] = pick(256);
        input = rand() < 0.4 ? out.subarray(0, pick(out.length + 2)) : concat(out, new Uint8Array(pick(3)));
      }
      try {
        const c = decodeCommand(input);
        decoded++;
        if (hex(encodeCommand(c)) !== hex(input))
          throw new Error(`iteration ${i} (seed ${SEED}) does not round-trip`);
      } catch (e) {
        if (!(e instanceof ProtocolError) || e.code !== "PROTO_ERR_APDU_LENGTH") {
          throw new Error(`iteration ${i} (seed ${SEED}) decodeCommand(${hex(input)}): ${String(e)}`);
        }
      }
      try {
        const r = decodeResponse(input);
        if (r.data.length + 2 !== input.length) throw new Error(`iteration ${i}: response data length`);
      } catch (e) {
        if (!(e instanceof ProtocolError) || e.code !== "PROTO_ERR_RESPONSE_TOO_SHORT") {
          throw new Error(`iteration ${i} (seed ${SEED}) decodeResponse(${hex(input)}): ${String(e)}`);
        }
      }
    }
    expect(decoded).toBeGreaterThan(1000);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
