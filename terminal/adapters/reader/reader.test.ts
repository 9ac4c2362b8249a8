/**
 * The reader adapters of posd on fake nfc-pcsc objects (no pcscd): which card presentation a payment
 * gets (PcscCardSource) and what `posd readers` lists (listReaders). The real stack is covered by
 * terminal/*.pcsc.test.ts.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../protocol/logger.js";
import { type FakeNfcModule, fakeNfcModule } from "../../../test-support/fake-nfc.js";
import type { CardPresentation } from "../../application/payment-manager.js";
import { PcscService } from "../pcsc/service.js";
import { listReaders } from "./list-readers.js";
import { PcscCardSource } from "./pcsc-card-source.js";

const READER = "ACS ACR122U PICC Interface 00 00";
const OTHER = "Virtual PCD 00 01";

/** A unix socket standing in for pcscd's (the service only checks that it accepts connections). */
let server: Server | undefined;
let dir: string;
let socketPath: string;
const services: PcscService[] = [];

async function pcscdUp(): Promise<void> {
  server = createServer((s) => s.destroy());
  server.listen(socketPath);
  await once(server, "listening");
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-reader-"));
  socketPath = join(dir, "pcscd.comm");
});

afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
  try {
    unlinkSync(socketPath);
  } catch {}
  rmSync(dir, { recursive: true, force: true });
});

async function open(module: FakeNfcModule): Promise<PcscService> {
  const service = await PcscService.open({
    load: async () => module,
    socketPath,
    logger: silentLogger(),
    watchIntervalMs: 30,
    retryMs: 20,
    representMs: 60,
  });
  services.push(service);
  await service.waitForReader(READER, 2_000);
  return service;
}

function pending<T>(p: Promise<T>): Promise<T | "pending"> {
  return Promise.race([p, new Promise<"pending">((r) => setTimeout(() => r("pending"), 50))]);
}

describe("PcscCardSource", () => {
  it("gives a payment the card already in the field, and never the same presentation twice", async () => {
    await pcscdUp();
    const module = fakeNfcModule((c) => c.addReader(READER));
    const service = await open(module);
    const reader = module.contexts[0]!.readers[0]!;
    reader.insert();
    const source = new PcscCardSource(service, "ACR122", silentLogger());
    expect(source.reader).toBe(READER);
    expect(source.cardPresent).toBe(true);
    const first = await source.waitForCard(new AbortController().signal);
    expect(first.transport).toBe(service.currentTransport(READER));

    // The phone stays on the reader: the next sale waits until it leaves and comes back.
    const next = source.waitForCard(new AbortController().signal);
    expect(await pending(next)).toBe("pending");
    reader.takeCard();
    reader.insert();
    const second = (await next) as CardPresentation;
    expect(second.transport).not.toBe(first.transport);
    expect(second.transport).toBe(service.currentTransport(READER));
  });

  it("with newTapPerPayment false, a card that stays in the field pays again", async () => {
    await pcscdUp();
    const module = fakeNfcModule((c) => c.addReader(READER));
    const service = await open(module);
    module.contexts[0]!.readers[0]!.insert();
    const source = new PcscCardSource(service, READER, silentLogger(), { newTapPerPayment: false });
    const first = await source.waitForCard(new AbortController().signal);
    const again = await source.waitForCard(new AbortController().signal);
    expect(again.transport).toBe(first.transport);
  });

  it("ignores cards on other readers", async () => {
    await pcscdUp();
    const module = fakeNfcModule((c) => {
      c.addReader(READER);
      c.addReader(OTHER);
    });
    const service = await open(module);
    const source = new PcscCardSource(service, READER, silentLogger());
    const waiting = source.waitForCard(new AbortController().signal);
    module.contexts[0]!.readers[1]!.insert();
    expect(await pending(waiting)).toBe("pending");
    module.contexts[0]!.readers[0]!.insert();
    expect(((await waiting) as CardPresentation).transport).toBe(service.currentTransport(READER));
  });

  it("finds the reader again after a pcscd restart (a new context lists it anew) while a payment waits", async () => {
    await pcscdUp();
    const module = fakeNfcModule((c) => c.addReader(READER));
    const service = await open(module);
    const source = new PcscCardSource(service, "acr122", silentLogger());
    const waiting = source.waitForCard(new AbortController().signal);
    module.contexts[0]!.pcscdDied();
    await once(service, "recovered");
    await service.waitForReader(READER, 2_000);
    expect(module.contexts).toHaveLength(2);
    module.contexts[1]!.readers[0]!.insert();
    expect(((await waiting) as CardPresentation).transport).toBe(service.currentTransport(READER));
  });

  it("an abort rejects with AbortError and leaves no listener behind", async () => {
    await pcscdUp();
    const module = fakeNfcModule((c) => c.addReader(READER));
    const service = await open(module);
    const source = new PcscCardSource(service, READER, silentLogger());
    const before = service.listenerCount("card");
    const abort = new AbortController();
    const waiting = source.waitForCard(abort.signal);
    expect(service.listenerCount("card")).toBe(before + 1);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    expect(service.listenerCount("card")).toBe(before);
  });

  it("gives the ACR122U green or red feedback after the payment, through SCardControl", async () => {
    await pcscdUp();
    const module = fakeNfcModule((c) => c.addReader(READER));
    const service = await open(module);
    const reader = module.contexts[0]!.readers[0]!;
    reader.insert();
    const source = new PcscCardSource(service, READER, silentLogger());
    const p = await source.waitForCard(new AbortController().signal);
    await p.finish({ status: "declined" });
    expect(reader.controls.map((c) => c.data.subarray(0, 4).toString("hex"))).toEqual(["ff00405d"]);
  });
});

describe("listReaders (posd readers)", () => {
  it("says pcscd is not running when nothing accepts connections on its socket", async () => {
    await expect(listReaders({ logger: silentLogger(), socketPath })).rejects.toMatchObject({
      code: "TERM_ERR_PCSC_UNAVAILABLE",
      message: expect.stringContaining("pcscd is not running"),
    });
  });

  it("lists every reader, sorted, with the card and its ATR where there is one", async () => {
    await pcscdUp();
    const module = fakeNfcModule((c) => {
      c.addReader(OTHER);
      c.addReader(READER).insert();
    });
    const readers = await listReaders({ logger: silentLogger(), socketPath, load: async () => module });
    expect(readers).toEqual([
      { name: READER, cardPresent: true, atr: "3b80800101" },
      { name: OTHER, cardPresent: false },
    ]);
    expect(module.contexts[0]!.closed).toBe(true);
  });
});
