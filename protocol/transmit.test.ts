import { describe, expect, it } from "vitest";
import { commandApdu } from "./apdu.js";
import { concat, fromHex, hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import { transmit } from "./transmit.js";
import type { Transport } from "./transport.js";

/**
 * A scripted card: answers each command with the next scripted response (hex) and keeps what it
 * was sent. A function entry computes the answer from the command.
 */
class ScriptedCard implements Transport {
  readonly sent: string[] = [];
  readonly #script: (string | ((command: Uint8Array) => string))[];

  constructor(script: (string | ((command: Uint8Array) => string))[]) {
    this.#script = [...script];
  }

  async exchange(command: Uint8Array): Promise<Uint8Array> {
    this.sent.push(hex(command));
    const next = this.#script.shift();
    if (next === undefined) throw new Error(`script exhausted at ${hex(command)}`);
    return fromHex(typeof next === "function" ? next(command) : next);
  }

  get left(): number {
    return this.#script.length;
  }
}

function filled(n: number, byte: number): string {
  return hex(new Uint8Array(n).fill(byte));
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw new Error(`expected a ProtocolError, got ${String(e)}`);
  }
  throw new Error("expected a ProtocolError, it resolved");
}

const select = commandApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, data: fromHex("f054415057414c01"), ne: 256 });

describe("transmit", () => {
  it("sends one short command and returns the card's answer", async () => {
    const card = new ScriptedCard(["6f009000"]);
    const r = await transmit(card, select);
    expect(card.sent).toEqual(["00a4040008f054415057414c0100"]);
    expect(hex(r.data)).toBe("6f00");
    expect(r.sw).toBe(0x9000);
  });

  it("returns an error word as a response, without throwing", async () => {
    const card = new ScriptedCard(["6a82"]);
    expect((await transmit(card, select)).sw).toBe(0x6a82);
  });

  it("follows 61xx with GET RESPONSE and concatenates the data in order", async () => {
    const card = new ScriptedCard([
      `${filled(3, 0xaa)}6110`,
      `${filled(16, 0xbb)}6105`,
      `${filled(5, 0xcc)}9000`,
    ]);
    const r = await transmit(card, select);
    expect(card.sent.slice(1)).toEqual(["00c0000010", "00c0000005"]);
    expect(hex(r.data)).toBe(filled(3, 0xaa) + filled(16, 0xbb) + filled(5, 0xcc));
    expect(r.sw).toBe(0x9000);
  });

  it("reads 6100 as 256 more bytes (GET RESPONSE with Le 00)", async () => {
    const card = new ScriptedCard(["6100", `${filled(256, 0x11)}6120`, `${filled(32, 0x22)}9000`]);
    const r = await transmit(card, select);
    expect(card.sent.slice(1)).toEqual(["00c0000000", "00c0000020"]);
    expect(r.data.length).toBe(288);
    expect(r.sw).toBe(0x9000);
  });

  it("keeps the final status word of a GET RESPONSE sequence, even a warning", async () => {
    const card = new ScriptedCard(["01026102", "03046283"]);
    const r = await transmit(card, select);
    expect(hex(r.data)).toBe("01020304");
    expect(r.sw).toBe(0x6283);
  });

  it("re-sends the same command with Le = xx after 6Cxx", async () => {
    const readBinary = commandApdu({ cla: 0x00, ins: 0xb0, ne: 256 });
    const card = new ScriptedCard(["6c08", `${filled(8, 0x33)}9000`]);
    const r = await transmit(card, readBinary);
    expect(card.sent).toEqual(["00b0000000", "00b0000008"]);
    expect(r.data.length).toBe(8);
  });

  it("adds Le to a command that had none when the card answers 6Cxx, and 6C00 means 256", async () => {
    const card = new ScriptedCard(["6c00", `${filled(256, 0x44)}9000`]);
    const r = await transmit(card, commandApdu({ cla: 0x80, ins: 0xca, p1: 0x9f, p2: 0x7f }));
    expect(card.sent).toEqual(["80ca9f7f", "80ca9f7f00"]);
    expect(r.data.length).toBe(256);
  });

  it("handles 6Cxx in answer to a GET RESPONSE by asking again with the exact length", async () => {
    const card = new ScriptedCard(["aa6110", "6c04", "bbbbbbbb9000"]);
    const r = await transmit(card, select);
    expect(card.sent.slice(1)).toEqual(["00c0000010", "00c0000004"]);
    expect(hex(r.data)).toBe("aabbbbbbbb");
  });

  it("chains 600 bytes of data as 255 + 255 + 90 with CLA 10 on the first two", async () => {
    const data = new Uint8Array(600).map((_, i) => i & 0xff);
    const card = new ScriptedCard(["9000", "9000", "c0ffee9000"]);
    const r = await transmit(card, commandApdu({ cla: 0x00, ins: 0x2a, p1: 0x00, p2: 0xbe, data, ne: 256 }));
    expect(card.sent.map((s) => s.slice(0, 10))).toEqual(["102a00beff", "102a00beff", "002a00be5a"]);
    expect(card.sent.map((s) => s.length / 2)).toEqual([5 + 255, 5 + 255, 5 + 90 + 1]);
    expect(card.sent[2]!.slice(-2)).toBe("00"); // Le only on the last part
    expect(card.sent[0]!.endsWith(hex(data.subarray(0, 255)))).toBe(true);
    const wireData = concat(...card.sent.map((s, i) => fromHex(s).subarray(5, i === 2 ? -1 : undefined)));
    expect(hex(wireData)).toBe(hex(data));
    expect(hex(r.data)).toBe("c0ffee");
  });

  it("stops the chain at the first part that does not answer 9000 and returns that answer", async () => {
    const card = new ScriptedCard(["9000", "6884", "9000"]);
    const r = await transmit(card, commandApdu({ cla: 0x80, ins: 0x2a, data: new Uint8Array(700) }));
    expect(r.sw).toBe(0x6884);
    expect(card.sent).toHaveLength(2);
    expect(card.left).toBe(1);
  });

  it("follows 61xx on the last part of a chain", async () => {
    const card = new ScriptedCard(["9000", "6102", "abcd9000"]);
    const r = await transmit(card, commandApdu({ cla: 0x80, ins: 0x2a, data: new Uint8Array(300) }));
    expect(card.sent[2]).toBe("00c0000002");
    expect(hex(r.data)).toBe("abcd");
  });

  it("gives up with PROTO_ERR_GET_RESPONSE_LOOP after maxRounds follow-ups (default 16)", async () => {
    const endless = new ScriptedCard(Array.from({ length: 40 }, () => "aa6101"));
    expect(await codeOf(transmit(endless, select))).toBe("PROTO_ERR_GET_RESPONSE_LOOP");
    expect(endless.sent).toHaveLength(1 + 16);

    const sixC = new ScriptedCard(Array.from({ length: 40 }, () => "6c10"));
    expect(await codeOf(transmit(sixC, select, { maxRounds: 3 }))).toBe("PROTO_ERR_GET_RESPONSE_LOOP");
    expect(sixC.sent).toHaveLength(1 + 3);
  });

  it("succeeds when the last allowed round finishes the answer", async () => {
    const card = new ScriptedCard(["016101", "026101", "039000"]);
    expect(hex((await transmit(card, select, { maxRounds: 2 })).data)).toBe("010203");
  });

  it("reports a response under 2 bytes as PROTO_ERR_RESPONSE_TOO_SHORT", async () => {
    expect(await codeOf(transmit(new ScriptedCard(["90"]), select))).toBe("PROTO_ERR_RESPONSE_TOO_SHORT");
    expect(await codeOf(transmit(new ScriptedCard([""]), select))).toBe("PROTO_ERR_RESPONSE_TOO_SHORT");
    expect(await codeOf(transmit(new ScriptedCard(["6101", "01"]), select))).toBe(
      "PROTO_ERR_RESPONSE_TOO_SHORT",
    );
  });

  it("passes transport errors through unchanged", async () => {
    const lost: Transport = {
      exchange: async () => {
        throw new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "card left the field");
      },
    };
    expect(await codeOf(transmit(lost, select))).toBe("PROTO_ERR_TRANSPORT_CLOSED");
  });
});
