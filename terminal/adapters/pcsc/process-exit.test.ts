/**
 * Ending a process whose transmit hung on a mute card (process-exit.ts), in child processes of the built code:
 * a fake reader whose transmit holds a threadpool thread the way a real SCardTransmit to a mute card
 * does (an fs.open of a FIFO without a writer), behind the real PcscTransport in the terminal's transport stack (its APDU timeout).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../protocol/paths.js";

const dist = (p: string) => pathToFileURL(join(packageRoot(), "dist", "terminal", "adapters", p)).href;
const compositionDist = (p: string) =>
  pathToFileURL(join(packageRoot(), "dist", "terminal", "composition", p)).href;

/**
 * argv: mode (wrapped | direct | plain), fifo, exit code. Prints the transport's error code, then ends
 * with exitProcess(code) — or process.exit(code) in "plain" mode, which is what hangs.
 */
const PROGRAM = `
import fs from "node:fs";
import { EventEmitter } from "node:events";
import { ensureThreadpool } from "${dist("pcsc/threadpool.js")}";
import { PcscTransport } from "${dist("pcsc/transport.js")}";
import { cardTransport } from "${compositionDist("card-transport.js")}";
import { exitProcess, exitWouldHang } from "${dist("pcsc/process-exit.js")}";
const [mode, fifo, code] = process.argv.slice(2);
if (mode === "wrapped" && !ensureThreadpool(8)) {
  // the child does the work
} else {
  const reader = Object.assign(new EventEmitter(), {
    name: "Mute Reader",
    autoProcessing: false,
    card: { atr: Buffer.of(0x3b, 0x80) },
    reader: { state: 0x20, SCARD_STATE_PRESENT: 0x20 },
    // Like SCardTransmit to a mute card: a pool thread blocked until the card leaves.
    transmit: () => new Promise((resolve) => fs.open(fifo, "r", () => resolve(Buffer.of(0x90, 0x00)))),
    control: async () => Buffer.of(0x90, 0x00),
    close() {},
  });
  const connection = new PcscTransport(reader, Uint8Array.of(0x3b, 0x80));
  const transport = cardTransport(connection, { timeoutMs: 100, logger: { isLevelEnabled: () => false } });
  try {
    await transport.exchange(Uint8Array.of(0x00, 0xa4, 0x04, 0x00));
  } catch (e) {
    console.log(e.code, exitWouldHang());
  }
  process.on("SIGTERM", () => {}); // a daemon's own listener: exitProcess must not be caught by it
  if (mode === "plain") process.exit(Number(code));
  exitProcess(Number(code));
}
`;

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-exit-"));
  writeFileSync(join(dir, "program.mjs"), PROGRAM);
  await promisify(execFile)("mkfifo", [join(dir, "fifo")]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function program(mode: string, code: number, env: Record<string, string> = {}, killAfterMs = 10_000) {
  return new Promise<{ code: number | null; signal: string | null; stdout: string; ms: number }>(
    (resolve) => {
      const started = performance.now();
      const childEnv = { ...process.env, ...env };
      if (!("UV_THREADPOOL_SIZE" in env)) delete childEnv.UV_THREADPOOL_SIZE;
      const child = spawn(
        process.execPath,
        [join(dir, "program.mjs"), mode, join(dir, "fifo"), String(code)],
        {
          env: childEnv,
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      child.on("close", (exitCode, signal) => {
        clearTimeout(timer);
        resolve({ code: exitCode, signal, stdout: stdout.trim(), ms: performance.now() - started });
      });
    },
  );
}

describe("exitProcess after a transmit hung on a mute card", () => {
  it("process.exit() never returns while the transmit holds its thread (the hazard)", async () => {
    const r = await program("plain", 1, { UV_THREADPOOL_SIZE: "8" }, 1_500);
    expect(r.stdout).toBe("PROTO_ERR_TRANSPORT_TIMEOUT true");
    expect(r.signal).toBe("SIGKILL"); // still running when the test gave up on it
  });

  it("under the ensureThreadpool() wrapper the process ends at once, with the intended exit code", async () => {
    const r = await program("wrapped", 4);
    expect(r.stdout).toBe("PROTO_ERR_TRANSPORT_TIMEOUT true");
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 4, signal: null });
    expect(r.ms).toBeLessThan(3_000);
  });

  it("without the wrapper (UV_THREADPOOL_SIZE set, as under systemd) it ends by SIGTERM", async () => {
    const r = await program("direct", 0, { UV_THREADPOOL_SIZE: "8" });
    expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: "SIGTERM" });
    expect(r.ms).toBeLessThan(3_000);
  });
});
