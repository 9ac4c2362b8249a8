import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync, unlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hex } from "../../../protocol/bytes.js";
import { createLogger, silentLogger } from "../../../protocol/logger.js";
import { type FakeNfcContext, type FakeNfcModule, fakeNfcModule } from "../../../test-support/fake-nfc.js";
import { SELECT_TEST_AID } from "../../../test-support/stand-in-card.js";
import { cardTransport } from "../../composition/card-transport.js";
import { type PcscCardEvent, PcscService } from "./service.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A unix socket standing in for pcscd's: the service only checks that it exists and accepts. */
class FakePcscd {
  private server: Server | undefined;
  constructor(readonly path: string) {}
  async up(): Promise<void> {
    const server = createServer((s) => s.destroy());
    server.listen(this.path);
    await once(server, "listening");
    this.server = server;
  }
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((r) => server.close(r));
    try {
      unlinkSync(this.path);
    } catch {}
  }
}

let dir: string;
let pcscd: FakePcscd;
const services: PcscService[] = [];
let logLines: Record<string, unknown>[] = [];

function logger() {
  const destination = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split("\n")) if (l) logLines.push(JSON.parse(l));
      done();
    },
  });
  return createLogger({ name: "t", level: "debug", pretty: false, destination });
}

async function open(module: FakeNfcModule): Promise<PcscService> {
  const service = await PcscService.open({
    load: async () => module,
    socketPath: pcscd.path,
    logger: logger(),
    watchIntervalMs: 30,
    retryMs: 20,
    representMs: 60,
  });
  services.push(service);
  return service;
}

function twoVirtualReaders(c: FakeNfcContext): void {
  c.addReader("Virtual PCD 00 00");
  c.addReader("Virtual PCD 00 01");
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(5);
  }
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-pcsc-"));
  pcscd = new FakePcscd(join(dir, "pcscd.comm"));
  logLines = [];
});

afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
  await pcscd.down();
  rmSync(dir, { recursive: true, force: true });
});

describe("PcscService (fake nfc-pcsc)", () => {
  it("reports readers, turns auto-processing off and never sets an AID; listens for every error", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    const names: string[] = [];
    service.on("reader", (n) => names.push(n));
    await until(() => names.length === 2);
    expect(names).toEqual(["Virtual PCD 00 00", "Virtual PCD 00 01"]);
    const context = module.contexts[0]!;
    expect(context.listenerCount("error")).toBeGreaterThan(0);
    for (const r of context.readers) {
      expect(r.autoProcessing).toBe(false);
      expect((r as unknown as { aid?: unknown }).aid).toBeUndefined();
      expect(r.listenerCount("error")).toBeGreaterThan(0);
    }
    expect(service.readers()).toEqual([
      { name: "Virtual PCD 00 00", cardPresent: false },
      { name: "Virtual PCD 00 01", cardPresent: false },
    ]);
  });

  it("emits card with a transport, and card.off when the card leaves", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    const reader = module.contexts[0]!.readers[0]!;
    const cards: PcscCardEvent[] = [];
    const offs: string[] = [];
    service.on("card", (e) => cards.push(e));
    service.on("card.off", (n) => offs.push(n));

    reader.insert();
    expect(cards).toHaveLength(1);
    expect(cards[0]!.reader).toBe("Virtual PCD 00 00");
    expect(hex(cards[0]!.atr)).toBe("3b80800101");
    expect(service.readers()[0]).toEqual({ name: "Virtual PCD 00 00", cardPresent: true, atr: "3b80800101" });
    expect(service.currentTransport("Virtual PCD 00 00")).toBe(cards[0]!.transport);
    expect(hex(await cards[0]!.transport.exchange(SELECT_TEST_AID))).toBe("9000");

    reader.takeCard();
    expect(offs).toEqual(["Virtual PCD 00 00"]);
    expect(cards[0]!.transport.state).toBe("removed");
    expect(service.currentTransport("Virtual PCD 00 00")).toBeUndefined();
    await expect(cards[0]!.transport.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
  });

  it("still emits card.off when the transport saw the card go first (empty response mid-APDU)", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    const reader = module.contexts[0]!.readers[0]!;
    const card = once(service, "card");
    reader.insert();
    const [event] = (await card) as [PcscCardEvent];
    reader.onTransmit = () => Buffer.alloc(0);
    await expect(event.transport.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
    const offs: string[] = [];
    service.on("card.off", (n) => offs.push(n));
    reader.takeCard();
    reader.takeCard(); // a repeated status change does not repeat card.off
    expect(offs).toEqual(["Virtual PCD 00 00"]);
  });

  it("a card that came back before pcscd saw it leave is a new presentation (card.off, then card)", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    const reader = module.contexts[0]!.readers[0]!;
    const events: string[] = [];
    const cards: PcscCardEvent[] = [];
    service.on("card", (e) => {
      events.push("card");
      cards.push(e);
    });
    service.on("card.off", () => events.push("card.off"));
    reader.insert();
    reader.onTransmit = () => Buffer.alloc(0); // the card left mid-APDU…
    await expect(cards[0]!.transport.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
    reader.onTransmit = () => Buffer.of(0x90, 0x00); // …and is back; nfc-pcsc reports nothing
    await until(() => cards.length === 2);
    expect(events).toEqual(["card", "card.off", "card"]);
    expect(cards[1]!.transport).not.toBe(cards[0]!.transport);
    expect(hex(await cards[1]!.transport.exchange(SELECT_TEST_AID))).toBe("9000");
  });

  it("no new presentation when pcscd does report the removal", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    const reader = module.contexts[0]!.readers[0]!;
    const events: string[] = [];
    service.on("card", () => events.push("card"));
    service.on("card.off", () => events.push("card.off"));
    reader.insert();
    reader.onTransmit = () => Buffer.alloc(0);
    await expect(
      service.currentTransport("Virtual PCD 00 00")!.exchange(SELECT_TEST_AID),
    ).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
    reader.takeCard();
    await sleep(150);
    expect(events).toEqual(["card", "card.off"]);
  });

  it("finds a reader by exact name or unique substring, else says which ones exist", async () => {
    await pcscd.up();
    const service = await open(fakeNfcModule(twoVirtualReaders));
    await until(() => service.readers().length === 2);
    expect(service.findReader("Virtual PCD 00 01")).toBe("Virtual PCD 00 01");
    expect(service.findReader("00 00")).toBe("Virtual PCD 00 00");
    expect(service.findReader("pcd 00 01")).toBe("Virtual PCD 00 01");
    expect(() => service.findReader("Virtual")).toThrow(
      expect.objectContaining({
        code: "TERM_ERR_READER_AMBIGUOUS",
        details: { query: "Virtual", candidates: ["Virtual PCD 00 00", "Virtual PCD 00 01"] },
      }),
    );
    expect(() => service.findReader("nope")).toThrow(
      expect.objectContaining({
        code: "TERM_ERR_READER_NOT_FOUND",
        details: { query: "nope", readers: ["Virtual PCD 00 00", "Virtual PCD 00 01"] },
      }),
    );
  });

  it("waitForReader resolves when the reader appears, and times out with NOT_FOUND", async () => {
    await pcscd.up();
    const module = fakeNfcModule();
    const service = await open(module);
    await until(() => module.contexts.length === 1);
    setTimeout(() => module.contexts[0]!.addReader("ACS ACR122U PICC Interface 00 00"), 50);
    expect(await service.waitForReader("ACR122", 2000)).toBe("ACS ACR122U PICC Interface 00 00");
    await expect(service.waitForReader("nope", 100)).rejects.toMatchObject({
      code: "TERM_ERR_READER_NOT_FOUND",
    });
  });

  it("re-creates the context after pcscd dies and comes back (deferred close, 0x80100002 swallowed)", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    const old = module.contexts[0]!;
    old.readers[0]!.insert();
    const events: string[] = [];
    const errors: string[] = [];
    for (const e of ["reader", "reader.end", "card", "card.off", "recovered"] as const) {
      service.on(e, () => events.push(e));
    }
    service.on("error", (e) => errors.push(`${e.code} ${String(e.details?.pcscCode)}`));

    await pcscd.down();
    old.pcscdDied();
    // Not closed inside nfc-pcsc's event handler (that deadlocks): deferred.
    expect(old.closed).toBe(false);
    await sleep(100); // pcscd is away for a while: no context is created meanwhile
    expect(old.closed).toBe(true);
    expect(old.readers.every((r) => r.closed)).toBe(true);
    expect(module.contexts).toHaveLength(1);

    await pcscd.up();
    await until(() => events.includes("recovered") && service.readers().length === 2);
    expect(module.contexts).toHaveLength(2);
    expect(events.slice(0, 3)).toEqual(["card.off", "reader.end", "reader.end"]);
    expect(events.slice(3).sort()).toEqual(["reader", "reader", "recovered"]);
    expect(errors).toEqual(["TERM_ERR_READER 0x80100013"]); // once, not once per reader; not 0x80100002
    expect(logLines.some((l) => l.msg === "PC/SC context re-created" && l.level === 30)).toBe(true);

    module.contexts[1]!.readers[0]!.insert();
    expect(events.at(-1)).toBe("card");
  });

  it("re-creates the context when pcscd's socket is replaced (new inode) even without an error", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    const recovered = once(service, "recovered");
    await pcscd.down();
    await pcscd.up();
    await recovered;
    expect(module.contexts).toHaveLength(2);
    expect(module.contexts[0]!.closed).toBe(true);
  });

  it("re-creates the context when every reader has ended", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    const recovered = once(service, "recovered");
    for (const r of module.contexts[0]!.readers) r.end();
    await recovered;
    expect(module.contexts).toHaveLength(2);
  });

  it("does not create a context while pcscd is down, and creates one when it starts", async () => {
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await sleep(100);
    expect(module.contexts).toHaveLength(0);
    expect(service.readers()).toEqual([]);
    const reader = once(service, "reader");
    await pcscd.up();
    await reader;
    expect(module.contexts).toHaveLength(1);
    expect(logLines.some((l) => l.msg === "pcscd is not running; waiting for it")).toBe(true);
  });

  it("does not trust a stale socket file that nobody accepts on (pcscd was SIGKILLed)", async () => {
    // A process that listens on the path and dies by SIGKILL leaves the socket file behind.
    const child = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(pcscd.path)}, () => console.log("up"))`,
    ]);
    await once(child.stdout, "data");
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(statSync(pcscd.path).isSocket()).toBe(true);
    const module = fakeNfcModule();
    await open(module);
    await sleep(80);
    expect(module.contexts).toHaveLength(0);
  });

  it("close() closes every reader and the context, and skips a reader whose transmit hangs", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await PcscService.open({
      load: async () => module,
      socketPath: pcscd.path,
    });
    await until(() => service.readers().length === 2);
    const [hungReader, idle] = module.contexts[0]!.readers as [
      (typeof module.contexts)[0]["readers"][0],
      (typeof module.contexts)[0]["readers"][0],
    ];
    hungReader.onTransmit = () => new Promise(() => {});
    const card = once(service, "card");
    hungReader.insert();
    const [event] = (await card) as [PcscCardEvent];
    const stack = cardTransport(event.transport, { timeoutMs: 20, logger: silentLogger() });
    await expect(stack.exchange(SELECT_TEST_AID)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_TIMEOUT",
    });
    expect(service.hungTransmits()).toBe(1);

    await service.close();
    expect(module.contexts[0]!.closed).toBe(true);
    expect(idle.closed).toBe(true);
    expect(hungReader.closed).toBe(false);
  });

  it("an 'error' without a listener is logged, not thrown", async () => {
    await pcscd.up();
    const module = fakeNfcModule(twoVirtualReaders);
    const service = await open(module);
    await until(() => service.readers().length === 2);
    module.contexts[0]!.readers[0]!.emit(
      "error",
      new Error("SCardGetStatusChange error: Unknown.(0x80100014)"),
    );
    expect(logLines.some((l) => l.msg === "PC/SC error")).toBe(true);
  });

  it("open() fails with TERM_ERR_PCSC_UNAVAILABLE when nfc-pcsc cannot be loaded", async () => {
    const { TerminalError } = await import("../../errors.js");
    await expect(
      PcscService.open({
        load: () => Promise.reject(new TerminalError("TERM_ERR_PCSC_UNAVAILABLE", "no nfc-pcsc")),
        socketPath: pcscd.path,
      }),
    ).rejects.toMatchObject({ code: "TERM_ERR_PCSC_UNAVAILABLE" });
  });
});
