import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { fromHex, hex } from "../../protocol/bytes.js";
import { SELECT_TEST_AID, StandInCard, TEST_FCI } from "../../test-support/stand-in-card.js";
import {
  DEFAULT_HCE_ATR,
  encodeVpcdFrame,
  parseVpcdAddress,
  type VirtualCard,
  VpcdFrameReader,
  VpcdLink,
} from "./vpcd.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One card connection as the fake vpcd sees it. */
class VpcdSide {
  readonly chunks: Buffer[] = [];
  private readonly frames: Uint8Array[] = [];
  private readonly reader = new VpcdFrameReader();
  private waiter: (() => void) | undefined;
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.frames.push(...this.reader.push(chunk));
      this.waiter?.();
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  /** Write raw bytes (to split frames however a test likes). */
  raw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(payload: Uint8Array): void {
    this.socket.write(encodeVpcdFrame(payload));
  }

  async next(ms = 1000): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.frames.shift();
  }

  async exchange(apdu: Uint8Array): Promise<Uint8Array | undefined> {
    this.send(apdu);
    return this.next();
  }
}

class FakeVpcd {
  readonly sides: VpcdSide[] = [];
  private server: Server | undefined;
  private waiters: (() => void)[] = [];
  port = 0;

  async listen(port = 0): Promise<void> {
    const server = createServer((socket) => {
      this.sides.push(new VpcdSide(socket));
      for (const w of this.waiters.splice(0)) w();
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async connection(index: number, ms = 2000): Promise<VpcdSide> {
    const deadline = Date.now() + ms;
    while (this.sides.length <= index) {
      if (Date.now() > deadline) throw new Error(`no connection #${index} from the card`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.sides[index]!;
  }

  async close(): Promise<void> {
    for (const s of this.sides) s.socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((r) => server.close(r));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(card: VirtualCard = new StandInCard(), opts: { atr?: Uint8Array } = {}) {
  const vpcd = new FakeVpcd();
  await vpcd.listen();
  const link = new VpcdLink(card, { host: "127.0.0.1", port: vpcd.port, reconnectMs: 50, ...opts });
  cleanups.push(
    () => link.stop(),
    () => vpcd.close(),
  );
  return { vpcd, link, card };
}

describe("parseVpcdAddress", () => {
  it.each([
    ["127.0.0.1:35963", "127.0.0.1", 35963],
    ["localhost:1", "localhost", 1],
    ["[::1]:35964", "::1", 35964],
    [" vpcd.example:65535 ", "vpcd.example", 65535],
  ])("parses %s", (text, host, port) => {
    expect(parseVpcdAddress(text)).toEqual({ host, port });
  });

  it.each([
    "",
    "127.0.0.1",
    ":35963",
    "127.0.0.1:",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "a:b",
    "::1:35963",
    "h:1:2",
  ])("refuses %j with CARD_ERR_USAGE", (text) => {
    expect(() => parseVpcdAddress(text)).toThrow(expect.objectContaining({ code: "CARD_ERR_USAGE" }));
  });
});

describe("vpcd framing", () => {
  it("writes length (2, big-endian) then payload", () => {
    expect(hex(encodeVpcdFrame(fromHex("3B 80 80 01 01")))).toBe("00053b80800101");
    expect(hex(encodeVpcdFrame(new Uint8Array(0x1234)).subarray(0, 2))).toBe("1234");
  });

  it("reassembles a frame delivered one byte at a time", () => {
    const reader = new VpcdFrameReader();
    const wire = encodeVpcdFrame(SELECT_TEST_AID);
    const got: Uint8Array[] = [];
    for (const b of wire) got.push(...reader.push(Buffer.of(b)));
    expect(got.map(hex)).toEqual([hex(SELECT_TEST_AID)]);
  });

  it("splits several frames in one chunk, keeping a trailing partial one", () => {
    const reader = new VpcdFrameReader();
    const wire = Buffer.concat([
      encodeVpcdFrame(Uint8Array.of(4)),
      encodeVpcdFrame(fromHex("00A40400")),
      Buffer.of(0, 3, 1),
    ]);
    expect(reader.push(wire).map(hex)).toEqual(["04", "00a40400"]);
    expect(reader.push(Buffer.of(2, 3)).map(hex)).toEqual(["010203"]);
  });

  it.each([0, 4097, 0xffff])("refuses a frame of length %d with CARD_ERR_VPCD", (length) => {
    const reader = new VpcdFrameReader();
    const header = Buffer.alloc(2);
    header.writeUInt16BE(length);
    expect(() => reader.push(header)).toThrow(expect.objectContaining({ code: "CARD_ERR_VPCD" }));
  });

  it("accepts the longest frame, 4096 bytes", () => {
    const reader = new VpcdFrameReader();
    expect(reader.push(encodeVpcdFrame(new Uint8Array(4096)))[0]).toHaveLength(4096);
  });
});

describe("VpcdLink against a fake vpcd", () => {
  it("answers get-ATR with the ACR122U/HCE ATR by default, or the configured one", async () => {
    const { vpcd, link } = await setup();
    link.start();
    const side = await vpcd.connection(0);
    expect(hex((await side.exchange(Uint8Array.of(0x04)))!)).toBe(hex(DEFAULT_HCE_ATR));

    const other = await setup(new StandInCard(), { atr: fromHex("3B 95 13 81 01 80 73 FF 01 00 0B") });
    other.link.start();
    const side2 = await other.vpcd.connection(0);
    expect(hex((await side2.exchange(Uint8Array.of(0x04)))!)).toBe("3b951381018073ff01000b");
  });

  it("sends nothing back for power off, power on and reset, and tells the card", async () => {
    const card = new StandInCard();
    const { vpcd, link } = await setup(card);
    link.start();
    const side = await vpcd.connection(0);
    side.send(Uint8Array.of(0x00));
    side.send(Uint8Array.of(0x01));
    side.send(Uint8Array.of(0x02));
    expect(await side.next(200)).toBeUndefined();
    expect(card.powerOffs).toBe(1);
    expect(card.resets).toBe(1);
    // Still alive and in order afterwards.
    expect(hex((await side.exchange(Uint8Array.of(0x04)))!)).toBe(hex(DEFAULT_HCE_ATR));
  });

  it("answers a command APDU split across TCP chunks, in one write, and reports it", async () => {
    const { vpcd, link } = await setup();
    const seen: { command: string; response: string }[] = [];
    link.on("apdu", (e) => seen.push({ command: hex(e.command), response: hex(e.response) }));
    const connected = once(link, "connected");
    link.start();
    await connected;
    expect(link.connected).toBe(true);
    const side = await vpcd.connection(0);
    const wire = encodeVpcdFrame(SELECT_TEST_AID);
    for (const part of [wire.subarray(0, 1), wire.subarray(1, 3), wire.subarray(3, 9), wire.subarray(9)]) {
      side.raw(part);
      await sleep(5);
    }
    const response = await side.next();
    expect(hex(response!)).toBe(`${hex(TEST_FCI)}9000`);
    // One write per frame: with TCP_NODELAY on loopback the frame arrives as one chunk.
    expect(side.chunks.map((c) => c.length)).toEqual([2 + TEST_FCI.length + 2]);
    expect(seen).toEqual([{ command: hex(SELECT_TEST_AID), response: `${hex(TEST_FCI)}9000` }]);
  });

  it("processes several frames of one chunk one at a time, in order", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const card: VirtualCard = {
      async process(apdu) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(apdu[2] === 1 ? 30 : 1); // the first is slow: a reordering would show
        inFlight--;
        return Uint8Array.of(apdu[2]!, 0x90, 0x00);
      },
    };
    const { vpcd, link } = await setup(card);
    link.start();
    const side = await vpcd.connection(0);
    side.raw(
      Buffer.concat([
        encodeVpcdFrame(fromHex("00EE0100")),
        encodeVpcdFrame(Uint8Array.of(0x04)),
        encodeVpcdFrame(fromHex("00EE0200")),
        encodeVpcdFrame(fromHex("00EE0300")),
      ]),
    );
    const answers = [await side.next(), await side.next(), await side.next(), await side.next()];
    expect(answers.map((a) => hex(a!))).toEqual(["019000", hex(DEFAULT_HCE_ATR), "029000", "039000"]);
    expect(maxInFlight).toBe(1);
  });

  it("answers 6F00 when the card throws, and stays up", async () => {
    const card: VirtualCard = {
      process(apdu) {
        if (apdu[1] === 0x99) throw new Error("applet bug");
        return Uint8Array.of(0x90, 0x00);
      },
    };
    const { vpcd, link } = await setup(card);
    const errors: string[] = [];
    link.on("error", (e) => errors.push(e.code));
    link.start();
    const side = await vpcd.connection(0);
    expect(hex((await side.exchange(fromHex("00990000")))!)).toBe("6f00");
    expect(hex((await side.exchange(fromHex("00A40400")))!)).toBe("9000");
    expect(errors).toEqual(["CARD_ERR_VPCD"]);
  });

  it("drops the connection on a frame of length 0 and reconnects", async () => {
    const { vpcd, link } = await setup();
    const errors: string[] = [];
    link.on("error", (e) => errors.push(e.code));
    link.start();
    const first = await vpcd.connection(0);
    first.raw(Buffer.of(0, 0));
    await first.closed;
    const second = await vpcd.connection(1);
    expect(hex((await second.exchange(Uint8Array.of(0x04)))!)).toBe(hex(DEFAULT_HCE_ATR));
    expect(errors).toEqual(["CARD_ERR_VPCD"]);
  });

  it("drops the connection on a frame longer than 4096 bytes", async () => {
    const { vpcd, link } = await setup();
    link.start();
    const first = await vpcd.connection(0);
    first.raw(Buffer.of(0x10, 0x01));
    await first.closed;
    await vpcd.connection(1);
  });

  it("remove() takes the card out of the field until insert()", async () => {
    const { vpcd, link } = await setup();
    const events: string[] = [];
    link.on("connected", () => events.push("connected"));
    link.on("disconnected", () => events.push("disconnected"));
    const connected = once(link, "connected");
    link.start();
    await connected;
    const first = await vpcd.connection(0);
    await link.remove();
    await first.closed;
    expect(link.connected).toBe(false);
    await sleep(200); // four reconnect periods: no reconnect
    expect(vpcd.sides).toHaveLength(1);
    link.insert();
    const second = await vpcd.connection(1);
    expect(hex((await second.exchange(SELECT_TEST_AID))!)).toBe(`${hex(TEST_FCI)}9000`);
    expect(events).toEqual(["connected", "disconnected", "connected"]);
  });

  it("keeps retrying while vpcd is not there, and reconnects when it goes away", async () => {
    const probe = new FakeVpcd();
    await probe.listen();
    const port = probe.port;
    await probe.close(); // a free port nobody listens on (for now)
    const link = new VpcdLink(new StandInCard(), { host: "127.0.0.1", port, reconnectMs: 30 });
    cleanups.push(() => link.stop());
    link.start();
    await sleep(150);
    expect(link.connected).toBe(false);

    const vpcd = new FakeVpcd();
    cleanups.push(() => vpcd.close());
    await vpcd.listen(port);
    const first = await vpcd.connection(0);
    first.socket.destroy(); // vpcd drops the card (pcscd restart)
    const second = await vpcd.connection(1);
    expect(hex((await second.exchange(Uint8Array.of(0x04)))!)).toBe(hex(DEFAULT_HCE_ATR));
  });

  it("stop() is for good", async () => {
    const { vpcd, link } = await setup();
    link.start();
    await vpcd.connection(0);
    await link.stop();
    link.insert();
    await sleep(150);
    expect(vpcd.sides).toHaveLength(1);
    expect(() => link.start()).toThrow(expect.objectContaining({ code: "CARD_ERR_USAGE" }));
  });

  describe("faults", () => {
    it("dropBeforeAnswer: the card leaves mid-exchange (after processing) and comes back", async () => {
      const card = new StandInCard();
      const { vpcd, link } = await setup(card);
      link.faults = { dropBeforeAnswer: (apdu) => apdu[1] === 0xee };
      link.start();
      const first = await vpcd.connection(0);
      first.send(fromHex("00EE000001AA"));
      await first.closed;
      expect(await first.next(50)).toBeUndefined();
      expect(card.commands.map(hex)).toEqual(["00ee000001aa"]); // it executed, then left
      const second = await vpcd.connection(1);
      link.faults = {};
      expect(hex((await second.exchange(fromHex("00EE000001AA")))!)).toBe("aa9000");
    });

    it("silent: never answers that APDU (nor anything after it on the connection)", async () => {
      const { vpcd, link } = await setup();
      link.faults = { silent: (apdu) => apdu[1] === 0x5e };
      link.start();
      const side = await vpcd.connection(0);
      side.send(fromHex("005E0000"));
      side.send(Uint8Array.of(0x04));
      expect(await side.next(300)).toBeUndefined();
      // Re-presenting the card clears it.
      link.faults = {};
      await link.remove();
      link.insert();
      const again = await vpcd.connection(1);
      expect(hex((await again.exchange(fromHex("005E0000")))!)).toBe("9000");
    });

    it("delayMs: answers late", async () => {
      const { vpcd, link } = await setup();
      link.faults = { delayMs: 120 };
      link.start();
      const side = await vpcd.connection(0);
      const t = performance.now();
      expect(hex((await side.exchange(SELECT_TEST_AID))!)).toBe(`${hex(TEST_FCI)}9000`);
      expect(performance.now() - t).toBeGreaterThanOrEqual(100);
    });
  });
});
