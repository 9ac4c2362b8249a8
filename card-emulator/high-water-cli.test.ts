/**
 * Issue 11, item 5, played with the real CLIs from dist/ (run `npm run build` first): one
 * future-dated tap must not lock a wallet out of every honest terminal.
 *
 * The world runs on the real clock (spawned CLIs). Both terminals are certified by `posd init` at
 * the world's time: the attacker's for 10 years, the honest one's for the usual 30 days. The
 * attacker then runs `posd pay` with its machine clock 60 days ahead — libfaketime on that one
 * child process, started at an absolute instant computed from this world's clock, so it also holds
 * when the whole suite runs under faketime.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realClock } from "../test-support/clock.js";
import { POSD, personalize, posdInit } from "../test-support/posd-process.js";
import { FileCardStateStore } from "./applet/state.js";

const DAY_MS = 86_400_000;
const HAS_FAKETIME = spawnSync("faketime", ["--help"]).status === 0;

let dir: string;
let rogue: string;
let honest: string;
let card: string;

/** `faketime` wants "YYYY-MM-DD HH:MM:SS" (read in TZ, which the child gets as UTC). */
function faketimeStamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

function pay(dataDir: string, amount: string, clockAheadMs = 0) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TAPWALLET_HOME: "",
    TAPWALLET_LOG_LEVEL: "warn",
    TZ: "UTC",
  };
  delete env.UV_THREADPOOL_SIZE;
  const posd = [
    POSD,
    "--data-dir",
    dataDir,
    "pay",
    "--virtual",
    "--card",
    card,
    "--amount",
    amount,
    "--json",
  ];
  const r =
    clockAheadMs === 0
      ? spawnSync(process.execPath, posd, { env, encoding: "utf8" })
      : spawnSync(
          "faketime",
          ["-f", `@${faketimeStamp(realClock.ms() + clockAheadMs)}`, process.execPath, ...posd],
          { env, encoding: "utf8" },
        );
  return { code: r.status, json: r.stdout ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
}

beforeAll(async () => {
  if (!HAS_FAKETIME) return;
  dir = mkdtempSync(join(tmpdir(), "tapwallet-highwater-"));
  rogue = await posdInit(join(dir, "rogue"), ["--terminal-id", "T-FAST", "--validity-days", "3650"]);
  honest = await posdInit(join(dir, "honest"), ["--terminal-id", "T-0002"]);
  card = join(dir, "alice.card.json");
  await personalize(card, "W-ALICE-0001");
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!HAS_FAKETIME)("posd pay › a terminal with a clock 60 days ahead", () => {
  it("pays 0.01, and afterwards an honest terminal with a 30-day certificate still pays", () => {
    const attack = pay(rogue, "0.01", 60 * DAY_MS);
    expect(attack.code, attack.stderr).toBe(0);
    expect(attack.json).toMatchObject({ status: "approved", record: { amount: 1 } });
    // The card's mark is the rogue certificate's notBefore (posd init: an hour before now), not +60 days.
    const mark = new FileCardStateStore(card).load().highWaterTime * 1000;
    expect(mark).toBeLessThanOrEqual(realClock.ms());

    const after = pay(honest, "1.00");
    expect(after.code, after.stderr).toBe(0);
    expect(after.json).toMatchObject({ status: "approved", record: { amount: 100 } });
    expect(new FileCardStateStore(card).load()).toMatchObject({ balance: 5_000 - 1 - 100, counter: 2 });
  });
});
