/**
 * PcscService and PcscTransport on the real stack: nfc-pcsc → pcscd → vpcd → VpcdLink → a stand-in
 * card in this same process. Inserts and removals cost ~0.4 s each (pcscd polls every 400 ms).
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, get, type Server } from "node:http";
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { VpcdLink } from "../../../card-emulator/adapters/vpcd.js";
import { commandApdu } from "../../../protocol/apdu.js";
import { hex } from "../../../protocol/bytes.js";
import { createLogger, silentLogger } from "../../../protocol/logger.js";
import Database from "../../../protocol/sqlite.js";
import { transmit } from "../../../protocol/transmit.js";
import {
  describePcsc,
  percentiles,
  restartPcscd,
  startPcscd,
  VPCD_HOST,
  VPCD_PORT_0,
  VPCD_READER_0,
  VPCD_READER_1,
  waitForEmptyReader,
} from "../../../test-support/pcsc.js";
import {
  INS_ECHO,
  INS_LONG,
  INS_SLOW,
  SELECT_TEST_AID,
  StandInCard,
  TEST_FCI,
} from "../../../test-support/stand-in-card.js";
import { cardTransport } from "../../composition/card-transport.js";
import { type PcscCardEvent, PcscService } from "./service.js";

const APDU_TIMEOUT_MS = 500;
const ECHO_AA = Uint8Array.of(0x00, INS_ECHO, 0x00, 0x00, 0x01, 0xaa);

function nextCard(service: PcscService, reader: string, ms = 5000): Promise<PcscCardEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      service.off("card", onCard);
      reject(new Error(`no card event on "${reader}" within ${ms} ms`));
    }, ms);
    function onCard(e: PcscCardEvent): void {
      if (e.reader !== reader) return;
      clearTimeout(timer);
      service.off("card", onCard);
      resolve(e);
    }
    service.on("card", onCard);
  });
}

function nextCardOff(service: PcscService, reader: string, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      service.off("card.off", onOff);
      reject(new Error(`no card.off on "${reader}" within ${ms} ms`));
    }, ms);
    function onOff(name: string): void {
      if (name !== reader) return;
      clearTimeout(timer);
      service.off("card.off", onOff);
      resolve();
    }
    service.on("card.off", onOff);
  });
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t };
}

describePcsc("PC/SC adapters through pcscd + vpcd", () => {
  const card = new StandInCard();
  const logLines: Record<string, unknown>[] = [];
  let service: PcscService;
  let link: VpcdLink;
  let current: PcscCardEvent;
  let http: Server;
  let db: Database.Database;

  beforeAll(async () => {
    await startPcscd(); // no-op when it runs
    await waitForEmptyReader(VPCD_READER_0);
    const destination = new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split("\n")) if (l) logLines.push(JSON.parse(l));
        done();
      },
    });
    service = await PcscService.open({
      logger: createLogger({ name: "pcsc-test", level: "debug", pretty: false, destination }),
    });
    service.on("error", () => {}); // pcscd restarts below report errors by design
    await service.waitForReader(VPCD_READER_0, 5000);
    link = new VpcdLink(card, { host: VPCD_HOST, port: VPCD_PORT_0, reconnectMs: 100 });
    http = createServer((_req, res) => res.end("pong"));
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    db = new Database(":memory:");
    db.exec("create table t (x integer); insert into t values (1), (2), (3)");
  });

  afterAll(async () => {
    await link?.stop();
    await service?.close();
    await new Promise((r) => http?.close(r));
    db?.close();
    await startPcscd(); // leave pcscd running for the next file, whatever happened here
    await waitForEmptyReader(VPCD_READER_0); // and its reader empty
  });

  it("lists both vpcd readers, without a card", () => {
    expect(service.readers()).toEqual(
      expect.arrayContaining([
        { name: VPCD_READER_0, cardPresent: false },
        { name: VPCD_READER_1, cardPresent: false },
      ]),
    );
  });

  it("emits card (with a transport) when the software card enters the field", async () => {
    const arrived = nextCard(service, VPCD_READER_0);
    const t0 = performance.now();
    link.start();
    current = await arrived;
    console.log(`insert → card event: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(hex(current.atr)).toBe("3b80800101");
    expect(service.readers().find((r) => r.name === VPCD_READER_0)).toEqual({
      name: VPCD_READER_0,
      cardPresent: true,
      atr: "3b80800101",
    });
    expect(service.currentTransport(VPCD_READER_0)).toBe(current.transport);
  });

  it("exchanges SELECT and a long answer through 61xx / GET RESPONSE", async () => {
    expect(hex(await current.transport.exchange(SELECT_TEST_AID))).toBe(`${hex(TEST_FCI)}9000`);
    // Raw: the card only announces the 600 bytes.
    expect(hex(await current.transport.exchange(Uint8Array.of(0x00, INS_LONG, 0x02, 0x58, 0x00)))).toBe(
      "6100",
    );
    // With the protocol helper: GET RESPONSE rounds until 9000.
    const answer = await transmit(
      current.transport,
      commandApdu({ cla: 0, ins: INS_LONG, p1: 0x02, p2: 0x58, ne: 256 }),
    );
    expect(answer.sw).toBe(0x9000);
    expect(answer.data).toHaveLength(600);
    expect(answer.data.every((b, i) => b === (i & 0xff))).toBe(true);
  });

  it("measures the short-APDU round trip through pcscd + vpcd", async () => {
    for (let i = 0; i < 20; i++) await current.transport.exchange(ECHO_AA); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t = performance.now();
      await current.transport.exchange(ECHO_AA);
      samples.push(performance.now() - t);
    }
    const p = percentiles(samples);
    console.log(
      `APDU round trip (nfc-pcsc → pcscd → vpcd → VpcdLink), n=500: p50 ${p.p50!.toFixed(3)} ms, ` +
        `p95 ${p.p95!.toFixed(3)} ms, p99 ${p.p99!.toFixed(3)} ms`,
    );
    // ~0.15 ms p50 with the TCP_NODELAY shim; ~44 ms without it (Nagle + delayed ACK).
    expect(p.p50!).toBeLessThan(10);
  });

  it("finds readers by exact name or unique substring", () => {
    expect(service.findReader(VPCD_READER_1)).toBe(VPCD_READER_1);
    expect(() => service.findReader("Virtual")).toThrow(
      expect.objectContaining({ code: "TERM_ERR_READER_AMBIGUOUS" }),
    );
    expect(() => service.findReader("nope")).toThrow(
      expect.objectContaining({ code: "TERM_ERR_READER_NOT_FOUND" }),
    );
  });

  it("does no LED/buzzer feedback on a reader that is not an ACR122 (and does not fail)", async () => {
    await expect(current.transport.feedback("approved")).resolves.toBeUndefined();
    expect(hex(await current.transport.exchange(ECHO_AA))).toBe("aa9000");
  });

  it("a card that leaves mid-exchange → closed (card removed), card.off, then a new card event", async () => {
    link.faults = { dropBeforeAnswer: (apdu) => apdu[1] === INS_ECHO };
    const off = nextCardOff(service, VPCD_READER_0);
    const back = nextCard(service, VPCD_READER_0, 8000);
    await expect(current.transport.exchange(ECHO_AA)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
    link.faults = {};
    await off;
    await expect(current.transport.exchange(ECHO_AA)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
    current = await back; // VpcdLink reconnects: the customer taps again
    expect(hex(await current.transport.exchange(SELECT_TEST_AID))).toBe(`${hex(TEST_FCI)}9000`);
  });

  it("a card that left between two APDUs (pcscd has not noticed yet) → closed (card removed)", async () => {
    const back = nextCard(service, VPCD_READER_0, 8000);
    await link.remove();
    await expect(current.transport.exchange(ECHO_AA)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
    link.insert();
    current = await back;
    expect(hex(await current.transport.exchange(ECHO_AA))).toBe("aa9000");
  });

  it("a silent card → the stack's timeout in time; meanwhile file I/O, SQLite and HTTP stay prompt", async () => {
    link.faults = { silent: (apdu) => apdu[1] === INS_SLOW };
    const stack = cardTransport(current.transport, { timeoutMs: APDU_TIMEOUT_MS, logger: silentLogger() });
    const { value: error, ms } = await timed(
      stack.exchange(Uint8Array.of(0x00, INS_SLOW, 0x00, 0x00)).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(error).toMatchObject({ code: "PROTO_ERR_TRANSPORT_TIMEOUT" });
    expect(ms).toBeGreaterThanOrEqual(APDU_TIMEOUT_MS - 5);
    expect(ms).toBeLessThan(APDU_TIMEOUT_MS + 300);
    expect(current.transport.hung).toBe(true);
    expect(service.hungTransmits()).toBe(1); // the native transmit still waits for the card

    // The process is still responsive while the transmit hangs.
    const file = await timed(readFile(new URL(import.meta.url), "utf8"));
    const sql = await timed(Promise.resolve(db.prepare("select sum(x) as s from t").get() as { s: number }));
    const pong = await timed(
      new Promise<string>((resolve, reject) => {
        const { port } = http.address() as { port: number };
        get({ host: "127.0.0.1", port, path: "/" }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => {
            body += c.toString();
          });
          res.on("end", () => resolve(body));
        }).on("error", reject);
      }),
    );
    console.log(
      `while a transmit hangs: readFile ${file.ms.toFixed(2)} ms, sqlite ${sql.ms.toFixed(2)} ms, HTTP ${pong.ms.toFixed(2)} ms`,
    );
    expect(file.value.length).toBeGreaterThan(0);
    expect(sql.value.s).toBe(6);
    expect(pong.value).toBe("pong");
    for (const m of [file.ms, sql.ms, pong.ms]) expect(m).toBeLessThan(250);

    // Poisoned until the card is presented again; never a second transmit behind the hung one.
    await expect(stack.exchange(ECHO_AA)).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_TIMEOUT",
      details: { poisoned: true },
    });

    // The card leaves: the hung transmit ends, the pool thread is free, a new presentation works.
    const off = nextCardOff(service, VPCD_READER_0);
    const back = nextCard(service, VPCD_READER_0, 8000);
    link.faults = {};
    await link.remove();
    await off;
    expect(service.hungTransmits()).toBe(0);
    link.insert();
    current = await back;
    expect(hex(await current.transport.exchange(ECHO_AA))).toBe("aa9000");
  });

  it("recovers from a pcscd restart without restarting the process", async () => {
    // Not events.once(): it rejects on the `error` event the dying context reports.
    const recovered = new Promise<void>((resolve) => service.once("recovered", resolve));
    const back = nextCard(service, VPCD_READER_0, 15_000);
    const t0 = performance.now();
    await restartPcscd();
    const restarted = performance.now();
    await recovered;
    current = await back;
    console.log(
      `pcscd restart took ${(restarted - t0).toFixed(0)} ms; card event ${(performance.now() - restarted).toFixed(0)} ms after pcscd was back`,
    );
    expect(performance.now() - restarted).toBeLessThan(5000);
    expect(logLines.some((l) => l.msg === "PC/SC context re-created" && l.level === 30)).toBe(true);
    expect(hex(await current.transport.exchange(SELECT_TEST_AID))).toBe(`${hex(TEST_FCI)}9000`);
    expect(service.readers().map((r) => r.name)).toEqual(
      expect.arrayContaining([VPCD_READER_0, VPCD_READER_1]),
    );
  });
});
