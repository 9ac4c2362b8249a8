/**
 * Test support for the real PC/SC stack (pcscd + vsmartcard vpcd). Used by `*.pcsc.test.ts`, which
 * vitest runs one file at a time after the unit tests: there is one pcscd per machine, its socket
 * path is fixed, and its two vpcd readers are shared.
 *
 *   "Virtual PCD 00 00" ← card side at 127.0.0.1:35963
 *   "Virtual PCD 00 01" ← card side at 127.0.0.1:35964
 *
 * A test that stops or restarts pcscd must leave it running when it ends.
 */
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";

export const PCSCD_SOCKET = "/run/pcscd/pcscd.comm";
export const VPCD_HOST = "127.0.0.1";
export const VPCD_PORT_0 = 35963;
export const VPCD_PORT_1 = 35964;
export const VPCD_READER_0 = "Virtual PCD 00 00";
export const VPCD_READER_1 = "Virtual PCD 00 01";

const run = promisify(execFile);

function socketPresent(): boolean {
  try {
    return statSync(PCSCD_SOCKET).isSocket();
  } catch {
    return false;
  }
}

/** nfc-pcsc (and its native @pokusew/pcsclite) can be loaded: synchronous, for describe time. */
function nfcPcscLoadable(): string | undefined {
  try {
    createRequire(import.meta.url)("nfc-pcsc");
    return undefined;
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}

function pcscdAccepting(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path: PCSCD_SOCKET });
    const timer = setTimeout(() => done(false), 1000);
    function done(ok: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    }
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** pcscd's socket is there and accepts connections, and nfc-pcsc is loadable. */
export async function pcscAvailable(): Promise<boolean> {
  return socketPresent() && nfcPcscLoadable() === undefined && (await pcscdAccepting());
}

/**
 * Call at the top of a *.pcsc.test.ts instead of `describe`. When pcscd or nfc-pcsc is missing:
 * locally, prints a LOUD warning and skips; with CI=true, fails the file (a missing pcscd in CI is a
 * failure, never a silent skip).
 */
export function describePcsc(name: string, fn: () => void): void {
  const missing: string[] = [];
  if (!socketPresent()) missing.push(`pcscd is not running (no ${PCSCD_SOCKET})`);
  const loadError = nfcPcscLoadable();
  if (loadError) missing.push(`nfc-pcsc cannot be loaded: ${loadError}`);
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  const how =
    "start it with: sudo bash scripts/pcsc-setup.sh start " +
    "(packages: apt-get install pcscd vsmartcard-vpcd libpcsclite-dev opensc; npm install nfc-pcsc)";
  if (process.env.CI === "true" || process.env.CI === "1") {
    describe(name, () => {
      it("needs pcscd + vpcd and nfc-pcsc (required in CI)", () => {
        throw new Error(`${missing.join("; ")}. ${how}`);
      });
    });
    return;
  }
  const bar = "!".repeat(100);
  console.warn(
    `\n${bar}\n!!! SKIPPING "${name}": ${missing.join("; ")}\n!!! ${how}\n!!! In CI (CI=true) this is a failure.\n${bar}\n`,
  );
  describe.skip(name, fn);
}

async function setup(action: "start" | "stop" | "restart"): Promise<void> {
  await run("bash", [join(packageRoot(), "scripts", "pcsc-setup.sh"), action], { timeout: 30_000 });
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start pcscd (+ vpcd, TCP_NODELAY shim) through scripts/pcsc-setup.sh; resolves when it accepts clients. */
export async function startPcscd(): Promise<void> {
  await setup("start");
  await waitFor(pcscdAccepting, "pcscd to accept connections");
}

/** Stop and start pcscd again (a new socket inode; every PC/SC context of the old one is dead). */
export async function restartPcscd(): Promise<void> {
  await setup("restart");
  await waitFor(pcscdAccepting, "pcscd to accept connections");
}

/** Stop pcscd. Call startPcscd() before the test file ends: the next file needs it. */
export async function killPcscd(): Promise<void> {
  await setup("stop");
  await waitFor(() => !socketPresent() || pcscdAccepting().then((ok) => !ok), "pcscd to stop");
}

/** Run an independent PC/SC client (opensc-tool) asynchronously. Never use execFileSync here: the
 * software card lives in this process's event loop, and pcscd waits for it while opensc-tool runs. */
export async function openscTool(args: string[]): Promise<string> {
  const { stdout } = await run("opensc-tool", args, { timeout: 15_000 });
  return stdout;
}

/** Whether opensc-tool -l shows a card in `reader`. */
export async function cardShown(reader: string): Promise<boolean> {
  const out = await openscTool(["-l"]);
  const row = out.split("\n").find((l) => l.trimEnd().endsWith(reader));
  if (!row) throw new Error(`opensc-tool -l does not list "${reader}":\n${out}`);
  return /^\s*\d+\s+Yes\b/.test(row);
}

/**
 * Wait until pcscd reports no card in `reader`. pcscd notices a removal only at its next presence
 * poll (400 ms): a card that a previous test file removed a moment ago still shows, and a new card
 * connecting to vpcd before that poll is not seen as an insertion (its first APDUs fail with
 * 0x80100016). Call it before inserting a card and after removing the last one.
 */
export async function waitForEmptyReader(reader: string, ms = 5000): Promise<void> {
  await waitFor(async () => !(await cardShown(reader)), `no card in "${reader}"`, ms);
}

/** Percentiles of a sample (nearest rank), for latency reports. */
export function percentiles(samples: number[], ps: number[] = [50, 95, 99]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of ps) {
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    out[`p${p}`] = sorted[rank] ?? Number.NaN;
  }
  return out;
}
