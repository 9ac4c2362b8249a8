/**
 * The real stack: pcscd + vpcd, `card-emulator serve` as a separate process (the built CLI), and the
 * independent PC/SC client opensc-tool. Then a whole tap through nfc-pcsc (the terminal's PcscService
 * and PcscTransport) and the APDU round trip through pcscd + vpcd.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { encodeCommand } from "../protocol/apdu.js";
import { hex } from "../protocol/bytes.js";
import { packageRoot } from "../protocol/paths.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { caId, selectCommand } from "../protocol/wallet/messages.js";
import { type PcscCardEvent, PcscService } from "../terminal/adapters/pcsc/service.js";
import {
  cardShown,
  describePcsc,
  openscTool,
  percentiles,
  restartPcscd,
  startPcscd,
  VPCD_HOST,
  VPCD_PORT_1,
  VPCD_READER_1,
  waitForEmptyReader,
} from "../test-support/pcsc.js";
import { TerminalScript } from "../test-support/terminal-script.js";
import { FileCardStateStore } from "./applet/state.js";
import { fixtureCardState } from "./personalize.js";

const CLI = join(packageRoot(), "dist", "card-emulator", "cli.js");
const READER = VPCD_READER_1;
const SELECT_HEX = "00A4040008F054415057414C0100";

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The bytes of opensc-tool's "Received" hex dump (the ASCII column dropped). */
function receivedBytes(out: string): string {
  const lines = out.split("\n");
  const at = lines.findIndex((l) => l.startsWith("Received"));
  return lines
    .slice(at + 1)
    .map((l) => l.slice(0, 48))
    .join(" ")
    .replace(/[^0-9A-Fa-f]/g, "")
    .toLowerCase();
}

function nextCard(service: PcscService, ms = 8_000): Promise<PcscCardEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no card event on ${READER}`)), ms);
    const onCard = (e: PcscCardEvent) => {
      if (e.reader !== READER) return;
      clearTimeout(timer);
      service.off("card", onCard);
      resolve(e);
    };
    service.on("card", onCard);
  });
}

describePcsc("card-emulator serve on real pcscd + vpcd", () => {
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-serve-pcsc-"));
  const statePath = join(dir, "alice.card.json");
  let child: ChildProcess;
  let controlPort = 0;
  let fciHex = "";

  beforeAll(async () => {
    await startPcscd();
    await waitForEmptyReader(READER);
    FileCardStateStore.create(statePath, fixtureCardState());
    child = spawn(
      process.execPath,
      [CLI, "serve", "--state", statePath, "--vpcd", `${VPCD_HOST}:${VPCD_PORT_1}`, "--control", "0"],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" } },
    );
    child.stderr!.on("data", (d: Buffer) => process.stderr.write(`[serve] ${d}`));
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    const m = /control 127\.0\.0\.1:(\d+)/.exec(line.toString());
    if (!m) throw new Error(`unexpected serve output: ${line}`);
    controlPort = Number(m[1]);
    // What the card must answer: its FCI as the applet builds it (checked independently below),
    // ending with DF22, the card's counter (0 before its first debit).
    fciHex =
      "6f378408f054415057414c01a52bdf010101df020c572d414c4943452d30303031df0302003fdf040203d2df050100df0600df220400000000";
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
    rmSync(dir, { recursive: true, force: true });
    await waitForEmptyReader(READER).catch(() => undefined);
  });

  async function control(line: string): Promise<string> {
    const { connect } = await import("node:net");
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port: controlPort }, () => s.write(`${line}\n`));
      s.setEncoding("utf8");
      let text = "";
      s.on("data", (d: string) => {
        text += d;
        if (text.includes("\n")) {
          s.destroy();
          resolve(text.trim());
        }
      });
      s.on("error", reject);
    });
  }

  it("opensc-tool -l lists the virtual reader with a card in it", async () => {
    await until(() => cardShown(READER), `a card in ${READER}`);
    expect(await openscTool(["-l"])).toMatch(new RegExp(`\\d+\\s+Yes\\s+.*${READER}`));
  });

  it("opensc-tool -s SELECT of the tapwallet AID answers 9000 with the FCI", async () => {
    const out = await openscTool(["-r", READER, "-s", SELECT_HEX]);
    expect(out).toContain("SW1=0x90, SW2=0x00");
    expect(receivedBytes(out)).toBe(fciHex);
  });

  it("the control port and SIGUSR1/SIGUSR2 take the card out of the field and put it back", async () => {
    expect(await control("remove")).toBe("ok removed");
    await until(async () => !(await cardShown(READER)), "the card to leave");
    expect(await control("insert")).toBe("ok inserted");
    await until(() => cardShown(READER), "the card to come back");
    child.kill("SIGUSR1");
    await until(async () => !(await cardShown(READER)), "the card to leave (SIGUSR1)");
    child.kill("SIGUSR2");
    await until(() => cardShown(READER), "the card to come back (SIGUSR2)");
    expect(receivedBytes(await openscTool(["-r", READER, "-s", SELECT_HEX]))).toBe(fciHex);
  });

  it("a whole tap through nfc-pcsc (PcscService/PcscTransport), and the APDU round trip", async () => {
    const service = await PcscService.open({});
    try {
      await service.waitForReader(READER);
      // Re-present the card so that the service sees a fresh card event.
      expect(await control("remove")).toBe("ok removed");
      await waitForEmptyReader(READER);
      await new Promise((r) => setTimeout(r, 500));
      const card = nextCard(service);
      expect(await control("insert")).toBe("ok inserted");
      const { transport } = await card;
      const t = new TerminalScript(transport);
      await t.authenticate();
      const r = await t.debit({ amount: 125, currency: 978, terminalSeq: 1 });
      expect(r.sw).toBe(0x9000);
      expect(new FileCardStateStore(statePath).load()).toMatchObject({ balance: 4_875, counter: 1 });

      const select = encodeCommand(selectCommand());
      const samples: number[] = [];
      for (let i = 0; i < 300; i++) {
        const start = performance.now();
        const answer = await transport.exchange(select);
        samples.push(performance.now() - start);
        expect(hex(answer.subarray(-2))).toBe("9000");
      }
      const p = percentiles(samples.slice(20));
      console.info(
        `SELECT round trip nfc-pcsc → pcscd → vpcd → serve: p50 ${p.p50!.toFixed(3)} ms, p95 ${p.p95!.toFixed(3)} ms, p99 ${p.p99!.toFixed(3)} ms`,
      );
      expect(p.p50).toBeLessThan(50);
    } finally {
      await service.close();
    }
  });

  it("reconnects when vpcd goes away (pcscd restarted) and answers again", async () => {
    await restartPcscd();
    await until(() => cardShown(READER), "the card to reconnect to the new vpcd", 10_000);
    // Since the tap, the card caches the acquirer CA and says so in DF06, and its counter is 1.
    const cached = fciHex
      .replace(/^6f37/, "6f3f")
      .replace("a52b", "a533")
      .replace(
        /df0600df220400000000$/,
        `df0608${hex(caId(loadFixturePki().der("acquirer-ca")))}df220400000001`,
      );
    expect(receivedBytes(await openscTool(["-r", READER, "-s", SELECT_HEX]))).toBe(cached);
  });
});
