/**
 * VpcdLink on the real stack: pcscd + vpcd, checked with an independent PC/SC client (opensc-tool).
 */
import { once } from "node:events";
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../../protocol/logger.js";
import {
  cardShown,
  describePcsc,
  openscTool,
  startPcscd,
  VPCD_HOST,
  VPCD_PORT_0,
  VPCD_READER_0,
  VPCD_READER_1,
  waitForEmptyReader,
} from "../../test-support/pcsc.js";
import { SELECT_TEST_AID_HEX, StandInCard } from "../../test-support/stand-in-card.js";
import { VpcdLink } from "./vpcd.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pcscd notices an insert or a removal at its next presence poll (every 400 ms). */
async function until(check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(100);
  }
}

describePcsc("VpcdLink through pcscd + vpcd", () => {
  const card = new StandInCard();
  let link: VpcdLink;
  let atrPolls = 0;

  beforeAll(async () => {
    await startPcscd(); // no-op when it runs; a test file before us may have restarted it
    await waitForEmptyReader(VPCD_READER_0);
    // Count get-ATR polls from the link's trace log.
    const logs = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line.includes("vpcd: get ATR")) atrPolls++;
        done();
      },
    });
    const logger = createLogger({ name: "vpcd-test", level: "trace", pretty: false, destination: logs });
    link = new VpcdLink(card, { host: VPCD_HOST, port: VPCD_PORT_0, logger });
    link.on("apdu", () => {});
    const connected = once(link, "connected");
    link.start();
    await connected;
    await until(() => cardShown(VPCD_READER_0));
  });

  afterAll(async () => {
    await link?.stop();
    await waitForEmptyReader(VPCD_READER_0); // the next file starts with an empty reader
  });

  it("opensc-tool lists the card in Virtual PCD 00 00 and none in 00 01", async () => {
    expect(await cardShown(VPCD_READER_0)).toBe(true);
    expect(await cardShown(VPCD_READER_1)).toBe(false);
  });

  it("opensc-tool's SELECT of the test AID gets the FCI and 9000", async () => {
    const out = await openscTool(["-r", VPCD_READER_0, "-s", SELECT_TEST_AID_HEX]);
    expect(out).toContain("SW1=0x90, SW2=0x00");
    expect(out).toMatch(/6F 0A 84 08 F0 54 41 50 57 41 4C 01/);
    expect(card.commands.some((c) => c[1] === 0xa4)).toBe(true);
  });

  it("answers a SELECT of another AID with 6A82", async () => {
    const out = await openscTool(["-r", VPCD_READER_0, "-s", "00A4040005A00000000100"]);
    expect(out).toContain("SW1=0x6A, SW2=0x82");
  });

  it("answers pcscd's get-ATR polls (about every 400 ms): the card stays present", async () => {
    const before = atrPolls;
    await sleep(1300);
    expect(atrPolls - before).toBeGreaterThanOrEqual(2);
    expect(link.connected).toBe(true);
    const out = await openscTool(["-r", VPCD_READER_0, "-a"]);
    expect(out.replace(/[\s:]+/g, "").toLowerCase()).toContain("3b80800101");
  });

  it("remove() takes the card out of the field; insert() puts it back", async () => {
    const t0 = performance.now();
    await link.remove();
    await until(async () => !(await cardShown(VPCD_READER_0)));
    const removalMs = performance.now() - t0;

    const t1 = performance.now();
    const connected = once(link, "connected");
    link.insert();
    await connected;
    await until(() => cardShown(VPCD_READER_0));
    const insertMs = performance.now() - t1;
    // pcscd's presence poll is 400 ms; allow scheduling slack.
    expect(removalMs).toBeLessThan(2000);
    expect(insertMs).toBeLessThan(2000);
    const out = await openscTool(["-r", VPCD_READER_0, "-s", SELECT_TEST_AID_HEX]);
    expect(out).toContain("SW1=0x90, SW2=0x00");
  });

  it("pcscd powers the card off after a session (the applet can drop its session)", async () => {
    const before = card.powerOffs;
    await openscTool(["-r", VPCD_READER_0, "-s", SELECT_TEST_AID_HEX]);
    // pcscd powers an unused card off after a grace period (measured ~0.5-0.8 s).
    const deadline = Date.now() + 5000;
    while (card.powerOffs === before && Date.now() < deadline) await sleep(50);
    expect(card.powerOffs).toBeGreaterThan(before);
  });
});
