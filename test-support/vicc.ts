/**
 * vsmartcard's `vicc` (Debian package vsmartcard-vpicc) as a foreign card: a plain ISO 7816 card
 * (ATR 3B 95 13 81 01 80 73 FF 01 00 0B; SELECT of an unknown AID → 6A82) in a vpcd reader.
 *
 * Debian 12's vicc does not run as installed: its module sits outside Python's path and it imports
 * `Crypto`, which no package provides. It runs with python3-pycryptodome (which installs
 * `Cryptodome`), a `Crypto` → `Cryptodome` symlink on PYTHONPATH, and
 * /usr/lib/python3/site-packages/virtualsmartcard on PYTHONPATH.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const VICC_ATR = "3b951381018073ff01000b";

const VICC = "/usr/bin/vicc";
const CRYPTODOME = "/usr/lib/python3/dist-packages/Cryptodome";
const VIRTUALSMARTCARD = "/usr/lib/python3/site-packages/virtualsmartcard";

export interface Vicc {
  readonly child: ChildProcess;
  /** SIGTERM (vicc ends on it), wait for the exit, remove the temporary PYTHONPATH directory. */
  stop(): Promise<void>;
}

/** Start `vicc -t iso7816` connecting to vpcd at 127.0.0.1:`port`. Throws saying what is missing. */
export function startVicc(port: number): Vicc {
  const missing = [
    [VICC, "apt-get install vsmartcard-vpicc"],
    [CRYPTODOME, "apt-get install python3-pycryptodome"],
    [VIRTUALSMARTCARD, "apt-get install vsmartcard-vpicc"],
  ].filter(([path]) => !existsSync(path!));
  if (missing.length > 0) {
    throw new Error(`vicc cannot run: ${missing.map(([p, fix]) => `${p} missing (${fix})`).join("; ")}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-vicc-"));
  symlinkSync(CRYPTODOME, join(dir, "Crypto"));
  // /usr/bin/vicc runs /usr/bin/python3 whatever python3 is first on PATH.
  const child = spawn(VICC, ["-t", "iso7816", "-H", "127.0.0.1", "-P", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, PYTHONPATH: [dir, VIRTUALSMARTCARD].join(":") },
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d;
  });
  child.on("exit", (code) => {
    if (code !== null && code !== 0) process.stderr.write(`[vicc] exited ${code}: ${stderr}\n`);
  });
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
