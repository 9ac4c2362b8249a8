/**
 * `posd run --virtual` under SIGKILL in a stream of cash-register payments: 100 kills at random
 * moments, half anywhere, half within ~25 ms of a tap starting (the window of intent, card commit
 * and final record, found from posd's own debug line). After every restart, every serviceId the
 * register was given is final, or torn with its seq — never an error that hides a charge. At the
 * end, once the wallet's log resolved every torn payment, the card's debits, the complete records
 * and the approved API payments are the same payments, each counted once.
 *
 * Also: one `posd run` per data directory (a second is refused while the first lives, and the
 * lock dies with a killed daemon).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../test-support/card-fixture.js";
import { cardState, editConfig, type PosdDaemon } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const KILLS = Number(process.env.TAPWALLET_KILL_RUNS ?? 100);
const FINAL = new Set(["approved", "declined", "aborted", "timed_out", "error"]);

const world = systemWorld({
  name: "posd-kill",
  posd: true,
  cards: { alice: { walletId: "W-KILL-0001", balance: "5000.00", args: ["--balance-limit", "5000.00"] } },
});
const cardFile = world.cardPath("alice");
const args = ["--virtual", "--card", cardFile];
const env = { TAPWALLET_LOG_LEVEL: "debug" };

// Room for every payment of the run offline: the loop never uploads, and the risk limits would
// otherwise decline the later payments before any tap (and the kills would hit idle daemons).
beforeAll(() =>
  editConfig(world.data, (c) => {
    c.limits = { maxOfflineAmount: "100000.00", maxOfflineRecords: 100_000, maxOfflineHours: 24 };
  }),
);

interface Payment {
  serviceId: string;
  state: string;
  seq: number | null;
  amount: number;
  outcome: { code?: string; resolvedPayments?: { serviceId: string }[] } | null;
}

async function payment(d: PosdDaemon, serviceId: string): Promise<Payment | undefined> {
  const a = await d.get(`/v1/payments/${serviceId}`);
  if (a.status === 404) return undefined;
  expect(a.status).toBe(200);
  return a.body as unknown as Payment;
}

/** What the register may see after a restart: final, or torn with the seq that resolves it. */
function expectSettledOrTorn(p: Payment): void {
  if (p.state === "torn") expect(p.seq, `${p.serviceId} torn without a seq`).not.toBeNull();
  else expect(FINAL.has(p.state), `${p.serviceId} is ${p.state} after a restart`).toBe(true);
  // An error without a seq means nothing reached the card; an error never carries a seq.
  if (p.state === "error") expect(p.seq).toBeNull();
}

describe("posd run under SIGKILL", () => {
  it(`charges every cash-register payment exactly once across ${KILLS} kills in a stream of payments`, async () => {
    const random = seededRandom(Number(process.env.TAPWALLET_KILL_SEED ?? 20261202));
    const ids: string[] = [];
    let landed = 0;
    let inTap = 0;
    let tornSeen = 0;
    let next = 0;
    const missedAim: string[] = [];
    const startups: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const started = performance.now();
      const d = await world.startDaemon(args, { env, startMs: 60_000 });
      startups.push(performance.now() - started);
      for (const id of ids) {
        const p = await payment(d, id);
        if (p) {
          expectSettledOrTorn(p);
          if (p.state === "torn") tornSeen++;
        }
      }
      const aimAtTap = k % 2 === 1;
      const from = d.logs.length;
      const kill = () => {
        if (d.child.exitCode === null && d.child.signalCode === null && d.child.kill("SIGKILL")) landed++;
      };
      if (aimAtTap) {
        d.nextLog(from, (l) => l.msg === "tap started", 30_000).then(
          () => {
            inTap++;
            setTimeout(kill, random.next() * 25);
          },
          () => {
            // No tap in 30 s: say why (the register's answers are in the log), and end the round.
            missedAim.push(
              `kill ${k}: no tap started in 30 s; last lines:\n${d.stderr.slice(-8).join("\n")}`,
            );
            kill();
          },
        );
      } else setTimeout(kill, random.next() * 400);
      // The register: one payment after the other until posd is gone. Every wait is bounded, so a
      // daemon that neither dies nor answers fails here, with its state and log, not at the timeout.
      for (;;) {
        const serviceId = `K-${String(next++).padStart(4, "0")}`;
        ids.push(serviceId);
        try {
          await d.post("/v1/payments", { serviceId, amount: 100 + (next % 7), currency: "EUR" });
          await d.get(`/v1/payments/${serviceId}?wait=5`);
        } catch (e) {
          // The connection died with posd; a request that timed out while posd lives is a stall.
          if ((e as Error).name === "TimeoutError")
            throw new Error(
              `kill ${k}: posd stopped answering ${serviceId} (${d.alive ? "alive" : "dead"}); last lines:\n${d.stderr.slice(-20).join("\n")}`,
            );
          break;
        }
      }
      await d.exitedWithin(15_000);
    }
    expect(missedAim, missedAim.join("\n\n")).toEqual([]);
    expect(landed).toBe(KILLS);
    const sorted = [...startups].sort((a, b) => a - b);
    console.log(
      `posd run start to listening: median ${sorted[sorted.length >> 1]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms; slowest: ${startups
        .map((ms, i) => [i, Math.round(ms)])
        .filter(([, ms]) => ms! > 5000)
        .join(" ")}`,
    );

    // The cashier's procedure for each torn payment: recover it on the wallet's next tap, which
    // reads the card's log and charges nothing.
    const d = await world.startDaemon(args);
    let recoveredByCashier = 0;
    for (const id of ids) {
      if ((await payment(d, id))?.state !== "torn") continue;
      const r = await d.post(`/v1/payments/${id}/recover`);
      expect(r.status).toBe(200);
      expect(["approved", "declined"]).toContain(r.body.state);
      recoveredByCashier++;
    }
    const all = [];
    for (const id of ids) {
      const p = await payment(d, id);
      if (p) all.push(p);
    }
    for (const p of all) expect(FINAL.has(p.state), `${p.serviceId} still ${p.state}`).toBe(true);
    const approved = all.filter((p) => p.state === "approved");
    const byState = new Map<string, number>();
    for (const p of all) byState.set(p.state, (byState.get(p.state) ?? 0) + 1);
    const states = [...byState].map(([state, n]) => `${state} ${n}`);
    // The wallet has the money and the limits have room: a payment that did not end approved was cut
    // off, and nothing of it was charged — torn and then proven never committed by the card's log
    // (declined), or interrupted before anything reached the card (error without a seq).
    for (const p of all.filter((x) => x.state === "declined"))
      expect((p.outcome as { resolution?: string } | null)?.resolution, JSON.stringify(p)).toMatch(
        /^voided: not in the card's log/,
      );
    for (const p of all.filter((x) => x.state === "error"))
      expect(p.outcome?.code, JSON.stringify(p)).toBe("TERM_ERR_INTERRUPTED");
    const status = (await world.posd(["records", "--json", "--limit", "100000"])).stdout;
    const records = (JSON.parse(status) as { status: string; seq: number; amount: number }[]).filter(
      (r) => r.status === "complete",
    );
    const card = cardState(cardFile);
    const charged = 500_000 - card.balance;
    const sum = (xs: { amount: number }[]) => xs.reduce((s, x) => s + x.amount, 0);
    console.log(
      `posd kill loop: ${KILLS} kills (${inTap} aimed into a tap), ${ids.length} serviceIds, ` +
        `${all.length} payments created, ${approved.length} approved, ${tornSeen} torn seen after a restart, ` +
        `${recoveredByCashier} recovered by the cashier (${states.join(", ")}), ` +
        `card: ${card.counter} debits, ${charged} charged; records: ${records.length}, ${sum(records)}`,
    );
    // Each counted once: one approved payment per complete record (by seq), one per card debit.
    expect(new Set(approved.map((p) => p.seq)).size).toBe(approved.length);
    expect(approved.map((p) => p.seq).sort((a, b) => a! - b!)).toEqual(
      records.map((r) => r.seq).sort((a, b) => a - b),
    );
    expect(card.counter).toBe(records.length);
    expect(charged).toBe(sum(records));
    expect(sum(approved)).toBe(charged);
    if (KILLS >= 100) expect(tornSeen).toBeGreaterThan(0);
    await d.stop();
  }, 900_000);
});

describe("one posd run per data directory", () => {
  it("refuses a second posd run on the same data directory, and takes it over once the first was killed", async () => {
    const first = await world.startDaemon(args);
    const second = await world.posd(["run", ...args], { env: { TAPWALLET_ECR_PORT: "0" } });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("TERM_ERR_DATA_DIR_LOCKED");
    expect(second.stderr).toContain(`pid ${first.child.pid}`);
    await first.stop("SIGKILL");
    const third = await world.startDaemon(args);
    expect((await third.get("/v1/status")).status).toBe(200);
    await third.stop();
  }, 60_000);
});
