/**
 * `posd load` under SIGKILL: loads from the bound account killed at moments spread over the whole
 * load (before the platform is asked, while it signs, while the card commits, before the record is
 * handed over, after), each followed by the card presented again (`posd sync-card`). After every
 * kill the card, the platform's offline account and the bank account agree exactly: what the card
 * holds is what the platform booked, the bank lost exactly that, and nothing stays held.
 * Real parts: `acquirer-stub serve` over loopback HTTP on its SQLite file, the posd CLI from dist/
 * with its virtual card state file, the real clock.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../test-support/card-fixture.js";
import { backOfficeCli, type Instance, spawnInstance } from "../test-support/fleet.js";
import { cardState, POSD } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const KILLS = Number(process.env.TAPWALLET_LOAD_KILL_RUNS ?? 30);

const world = systemWorld({
  name: "load-kill",
  posd: true,
  cards: { alice: { walletId: "W-KILL-LOAD1", balance: "50.00", args: ["--balance-limit", "5000.00"] } },
});
const db = join(world.dir, "acquirer.sqlite");
const card = world.cardPath("alice");
let acquirer: Instance;

const backOffice = backOfficeCli(db);

/**
 * `posd load` of 1.00 from the bound account, SIGKILLed `delayMs` after its `afterApdu`-th APDU line
 * (a command out or an answer in, from its trace log), or left to finish when `afterApdu` is
 * undefined. The APDU lines are the steps: authentication, READ BALANCE, GET CHALLENGE, the LOAD
 * going out and its record coming back; the platform's requests fall between them.
 */
function killedLoad(
  afterApdu: number | undefined,
  delayMs = 0,
): Promise<{ code: number | null; signal: string | null; apdus: number }> {
  const child = spawn(
    process.execPath,
    [
      POSD,
      "--data-dir",
      world.data,
      "load",
      "--virtual",
      "--card",
      card,
      "--acquirer",
      acquirer.url,
      "--amount",
      "1.00",
      "--account",
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, TAPWALLET_LOG_LEVEL: "trace" } },
  );
  let apdus = 0;
  let buffer = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!/"msg":"(=>|<=) /.test(line)) continue;
      apdus++;
      if (apdus === afterApdu) setTimeout(() => child.kill("SIGKILL"), delayMs);
    }
  });
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, apdus })));
}

beforeAll(async () => {
  await backOffice(
    "bank",
    "open",
    "TW-KILL",
    "--holder",
    "Alice",
    "--currency",
    "EUR",
    "--balance",
    "500.00",
  );
  await backOffice(
    "wallet",
    "issue",
    "W-KILL-LOAD1",
    "--currency",
    "EUR",
    "--opening",
    "50.00",
    "--bound-account",
    "TW-KILL",
  );
  acquirer = await spawnInstance(db);
}, 60_000);
afterAll(async () => {
  await acquirer?.stop();
});

describe("posd load under SIGKILL", () => {
  it(`keeps the card, the offline account and the bank in agreement across ${KILLS} kills at every step of a load`, async () => {
    // The APDU lines of a whole load here: the kills are placed by them.
    const whole = await killedLoad(undefined);
    expect(whole.code).toBe(0);
    expect(whole.apdus).toBeGreaterThan(8);
    const random = seededRandom(Number(process.env.TAPWALLET_KILL_SEED ?? 20261203));
    let killed = 0;
    const outcomes = new Map<string, number>();
    for (let k = 0; k < KILLS; k++) {
      // One kill in five during authentication; the others after READ BALANCE, GET CHALLENGE or
      // LOAD (the last six lines), up to 20 ms on, so that they also land inside the platform's
      // requests (presented, the LOAD signed, the record booked) that run between those APDUs.
      const early = k % 5 === 0;
      const after = early ? 1 + Math.floor(random.next() * (whole.apdus - 6)) : whole.apdus - 5 + (k % 6);
      const at = early ? random.next() * 2 : random.next() * 20;
      const r = await killedLoad(after, at);
      if (r.signal === "SIGKILL") killed++;
      // The card is presented again: whatever the kill left in doubt is settled now.
      const sync = await world.posd([
        "sync-card",
        "--virtual",
        "--card",
        card,
        "--acquirer",
        acquirer.url,
        "--json",
      ]);
      expect(sync.code, sync.stderr).toBe(0);
      for (const s of (JSON.parse(sync.stdout) as { settled: { outcome: string }[] }).settled)
        outcomes.set(s.outcome, (outcomes.get(s.outcome) ?? 0) + 1);
      const wallet = (await backOffice("wallet", "show", "W-KILL-LOAD1")) as {
        accounts: { offline: number };
        loads: { state: string }[];
      };
      const bank = (await backOffice("bank", "show", "TW-KILL")) as { balance: number; held: number };
      const onCard = cardState(card).balance;
      expect(
        wallet.loads.filter((l) => l.state === "pending"),
        `kill ${k} at ${at.toFixed(0)} ms`,
      ).toEqual([]);
      expect(wallet.accounts.offline, `kill ${k} at ${at.toFixed(0)} ms`).toBe(onCard);
      expect(bank.held, `kill ${k}`).toBe(0);
      expect(bank.balance + onCard, `kill ${k}: the money is in the bank or on the card`).toBe(55_000);
    }
    const status = JSON.parse((await world.posd(["status", "--json"])).stdout) as { loadsInDoubt: unknown[] };
    expect(status.loadsInDoubt).toEqual([]);
    console.log(
      `posd load kill loop: ${KILLS} runs, ${killed} killed mid-load (a load is ${whole.apdus} APDU lines); ` +
        `settled at the next presentation: ${[...outcomes].map(([o, n]) => `${n} ${o}`).join(", ") || "none"}; ` +
        `card ${cardState(card).balance}`,
    );
    // A kill that lands after the load finished kills nothing: most must land inside one.
    expect(killed).toBeGreaterThanOrEqual(KILLS / 3);
    // Which end of a tear a kill leaves (a load signed that the card never had: voided; a LOAD the
    // card committed whose record the terminal never kept: reversed) is down to sub-millisecond
    // timing, so it is reported, not required: the invariants above hold after every kill, and
    // run-load.test.ts tears the card at each end on purpose.
  }, 600_000);
});
