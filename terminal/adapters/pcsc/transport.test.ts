import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { fromHex, hex } from "../../../protocol/bytes.js";
import { createLogger } from "../../../protocol/logger.js";
import { FakeNfcReader, pcscError } from "../../../test-support/fake-nfc.js";
import { SELECT_TEST_AID, StandInCard, TEST_FCI } from "../../../test-support/stand-in-card.js";
import { cardTransport } from "../../composition/card-transport.js";
import { hungTransmitCount, PcscTransport } from "./transport.js";

const ATR = Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01);

function readerWithCard(name = "Virtual PCD 00 00"): FakeNfcReader {
  const reader = new FakeNfcReader(name);
  const card = new StandInCard();
  reader.onTransmit = async (data) => Buffer.from(await card.process(new Uint8Array(data)));
  reader.insert(ATR);
  return reader;
}

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger({ name: "t", level: "debug", pretty: false, destination }) };
}

const never = () => new Promise<Buffer>(() => {});

const removed = { code: "PROTO_ERR_TRANSPORT_CLOSED", details: { reason: "card-removed" } };

describe("PcscTransport (the PC/SC connection)", () => {
  it("exchanges an APDU as bytes, with a response buffer of at least 258", async () => {
    const reader = readerWithCard();
    const t = new PcscTransport(reader, ATR, { responseMaxLength: 40 });
    const response = await t.exchange(SELECT_TEST_AID);
    expect(response).toBeInstanceOf(Uint8Array);
    expect(hex(response)).toBe(`${hex(TEST_FCI)}9000`);
    expect(reader.transmits).toEqual([{ data: Buffer.from(SELECT_TEST_AID), length: 258 }]);
    expect(t.readerName).toBe("Virtual PCD 00 00");
    expect(hex(t.atr)).toBe("3b80800101");

    const big = new PcscTransport(reader, ATR, { responseMaxLength: 4096 });
    await big.exchange(SELECT_TEST_AID);
    expect(reader.transmits[1]!.length).toBe(4096);
  });

  it("a card that is not connected (nfc-pcsc throws synchronously) → closed: card removed", async () => {
    const reader = new FakeNfcReader("r");
    const t = new PcscTransport(reader, ATR);
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject(removed);
    expect(t.state).toBe("removed");
  });

  it.each([
    ["removed", 0x80100069],
    ["reset", 0x80100068],
    ["no smart card", 0x8010000c],
    ["transaction failed (vpcd, card just left)", 0x80100016],
  ])("card %s → closed: card removed, and the presentation is over", async (_what, code) => {
    const reader = readerWithCard();
    reader.onTransmit = () => Promise.reject(pcscError("SCardTransmit", "x.", code));
    const t = new PcscTransport(reader, ATR);
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
      details: { reason: "card-removed", pcscCode: `0x${code.toString(16).toUpperCase()}` },
    });
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject(removed);
    expect(reader.transmits).toHaveLength(1);
  });

  it.each([
    ["comm error", 0x80100013],
    ["buffer too small", 0x80100008],
    ["service stopped", 0x8010001e],
  ])("%s → closed: reader failed, with the PC/SC code", async (_what, code) => {
    const reader = readerWithCard();
    reader.onTransmit = () => Promise.reject(pcscError("SCardTransmit", "x.", code));
    let serviceGone = 0;
    const t = new PcscTransport(reader, ATR, { onServiceGone: () => serviceGone++ });
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
      details: { reason: "reader-failed", pcscCode: `0x${code.toString(16).toUpperCase()}` },
    });
    expect(serviceGone).toBe(code === 0x80100008 ? 0 : 1);
  });

  it("a response shorter than 2 bytes (card died mid-APDU) → closed: card removed", async () => {
    for (const short of [Buffer.alloc(0), Buffer.of(0x90)]) {
      const reader = readerWithCard();
      reader.onTransmit = () => short;
      const t = new PcscTransport(reader, ATR);
      await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
        code: "PROTO_ERR_TRANSPORT_CLOSED",
        details: { reason: "card-removed", responseLength: short.length },
      });
      expect(t.state).toBe("removed");
    }
  });

  it("in its stack: refuses a second exchange while one is in flight, never overlapping two transmits", async () => {
    const reader = readerWithCard();
    reader.onTransmit = () => new Promise((r) => setTimeout(() => r(Buffer.of(0x90, 0x00)), 30));
    const t = cardTransport(new PcscTransport(reader, ATR), {
      timeoutMs: 2_000,
      logger: capturedLogger().logger,
    });
    const first = t.exchange(SELECT_TEST_AID);
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_BUSY" });
    expect(hex(await first)).toBe("9000");
    expect(hex(await t.exchange(SELECT_TEST_AID))).toBe("9000");
    expect(reader.maxInFlight).toBe(1);
  });

  it("refuses what is not a short command APDU without touching the reader", async () => {
    const reader = readerWithCard();
    const t = new PcscTransport(reader, ATR);
    await expect(t.exchange(fromHex("00A404"))).rejects.toMatchObject({ code: "PROTO_ERR_APDU_LENGTH" });
    await expect(t.exchange(new Uint8Array(262))).rejects.toMatchObject({ code: "PROTO_ERR_APDU_LENGTH" });
    expect(reader.transmits).toHaveLength(0);
  });

  it("in its stack: a silent card times out, the stack is then poisoned, the transmit counted as hung", async () => {
    const reader = readerWithCard();
    let release: (b: Buffer) => void = () => {};
    reader.onTransmit = () => new Promise<Buffer>((r) => (release = r));
    const connection = new PcscTransport(reader, ATR);
    const t = cardTransport(connection, { timeoutMs: 80, logger: capturedLogger().logger });
    const hungBefore = hungTransmitCount();
    const started = performance.now();
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_TIMEOUT",
      details: { ms: 80 },
    });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(75);
    expect(elapsed).toBeLessThan(500);
    expect(connection.hung).toBe(true);
    expect(hungTransmitCount()).toBe(hungBefore + 1);

    // Later exchanges never reach the reader: the hung transmit still holds it.
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_TIMEOUT",
      details: { poisoned: true },
    });
    expect(reader.transmits).toHaveLength(1);

    // The hung transmit ends (the card left): the stack stays poisoned, nothing is hung any more.
    release(Buffer.of(0x90, 0x00));
    await new Promise((r) => setTimeout(r, 10));
    expect(connection.hung).toBe(false);
    expect(hungTransmitCount()).toBe(hungBefore);
    await expect(t.exchange(SELECT_TEST_AID)).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_TIMEOUT" });
  });

  it("in its stack: counts APDUs and bytes, and traces each exchange as transcript lines", async () => {
    const reader = readerWithCard();
    const { lines, logger } = capturedLogger();
    logger.level = "trace";
    const t = cardTransport(new PcscTransport(reader, ATR), { timeoutMs: 2_000, logger });
    await t.exchange(SELECT_TEST_AID);
    expect(t.counts).toEqual({
      apdus: 1,
      bytesOut: SELECT_TEST_AID.length,
      bytesIn: TEST_FCI.length + 2,
    });
    expect(lines.map((l) => l.msg)).toEqual([
      `=> ${hex(SELECT_TEST_AID)}`,
      expect.stringMatching(/^<= [0-9a-f]+9000 {2}# /),
    ]);
  });

  it("after cardRemoved() or close(), exchanges reject closed: card removed, without a transmit", async () => {
    const reader = readerWithCard();
    const a = new PcscTransport(reader, ATR);
    a.cardRemoved();
    await expect(a.exchange(SELECT_TEST_AID)).rejects.toMatchObject(removed);
    const b = new PcscTransport(reader, ATR);
    await b.close();
    expect(b.state).toBe("closed");
    await expect(b.exchange(SELECT_TEST_AID)).rejects.toMatchObject(removed);
    expect(reader.transmits).toHaveLength(0);
  });

  it("in its stack: refuses a timeout that is not a positive number", () => {
    const connection = new PcscTransport(readerWithCard(), ATR);
    expect(() => cardTransport(connection, { timeoutMs: 0, logger: capturedLogger().logger })).toThrow(
      RangeError,
    );
  });

  describe("ACR122U feedback", () => {
    it("sends the LED/buzzer pseudo-APDU through SCardControl on an ACR122", async () => {
      const reader = readerWithCard("ACS ACR122U PICC Interface 00 00");
      const t = new PcscTransport(reader, ATR, { acr122: true });
      await t.feedback("approved");
      await t.feedback("declined");
      expect(reader.controls.map((c) => [hex(c.data), c.length])).toEqual([
        ["ff0040ae0403010101", 2],
        ["ff00405d0402020201", 2],
      ]);
    });

    it("does nothing on other readers", async () => {
      const reader = readerWithCard();
      await new PcscTransport(reader, ATR).feedback("approved");
      expect(reader.controls).toHaveLength(0);
    });

    it("ignores failures (vpcd's 0x8010001F, no card) and logs them at debug", async () => {
      const reader = readerWithCard("ACS ACR122U");
      reader.onControl = () =>
        Promise.reject(pcscError("SCardControl", "Feature not supported.", 0x8010001f));
      const { lines, logger } = capturedLogger();
      const t = new PcscTransport(reader, ATR, { acr122: true, logger });
      await expect(t.feedback("declined")).resolves.toBeUndefined();
      reader.card = null; // control() now throws synchronously
      await expect(t.feedback("declined")).resolves.toBeUndefined();
      const failures = lines.filter((l) => l.msg === "LED/buzzer feedback failed (ignored)");
      expect(failures).toHaveLength(2);
      expect(failures.every((l) => l.level === 20)).toBe(true);
    });

    it("is skipped while a transmit hangs (it would queue behind the reader's native lock)", async () => {
      const reader = readerWithCard("ACS ACR122U");
      reader.onTransmit = never;
      const t = new PcscTransport(reader, ATR, { acr122: true });
      const stack = cardTransport(t, { timeoutMs: 20, logger: capturedLogger().logger });
      await expect(stack.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
        code: "PROTO_ERR_TRANSPORT_TIMEOUT",
      });
      await t.feedback("declined");
      expect(reader.controls).toHaveLength(0);
    });
  });
});
