/**
 * `posd upload` killed at random moments, 50 times, while payments keep coming: afterwards the
 * acquirer's settled totals equal the terminal's complete records exactly — nothing counted twice,
 * nothing lost — over real loopback HTTP to a real acquirer with its own SQLite file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { serve } from "../acquirer-stub/server.js";
import { silentLogger } from "../protocol/logger.js";
import { fixturesDir } from "../protocol/paths.js";
import Database from "../protocol/sqlite.js";
import { runPayment } from "../terminal/application/run-payment.js";
import { openTerminal, type TerminalContext } from "../terminal/composition/root.js";
import { loadConfig } from "../terminal/config.js";
import { initTerminal } from "../terminal/init.js";
import { fixtureCard, seededRandom } from "../test-support/card-fixture.js";
import { POSD } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const KILLS = Number(process.env.TAPWALLET_UPLOAD_KILLS ?? 50);

const world = systemWorld({ name: "upload-kill" });
const dir = world.dir;
const home = world.data;
let ctx: TerminalContext;

beforeAll(async () => {
  const acquirer = await serve({
    port: 0,
    host: "127.0.0.1",
    db: join(dir, "acquirer.sqlite"),
    pkiDir: fixturesDir("pki"),
    logger: silentLogger(),
    operator: { off: true },
  });
  world.cleanup(() => acquirer.close());
  await initTerminal({
    dataDir: home,
    terminalId: "T-0001",
    merchantId: "M-0001",
    merchantCategory: "5411",
    region: "TW",
    currency: "EUR",
    acquirerUrl: acquirer.url,
  });
  ctx = openTerminal(loadConfig({ dataDir: home }), silentLogger());
  world.cleanup(() => ctx.close());
});

/**
 * One `posd upload`, killed `killAtMs` after it logged "closed batches" (its batches are written
 * and it is about to send them), when given. Timing the kill from that line, not from the spawn,
 * keeps a busy machine's slow start (loading Node, opening the database) out of the window: the
 * kills land in the upload itself. Resolves with how long the upload phase took (`phaseMs`).
 */
function upload(killAtMs?: number): Promise<{ code: number | null; killed: boolean; phaseMs?: number }> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [POSD, "upload"], {
      env: {
        ...process.env,
        TAPWALLET_HOME: home,
        TAPWALLET_BATCH_MAX_RECORDS: "7",
        TAPWALLET_ACQUIRER_RETRIES: "1",
        TAPWALLET_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let killed = false;
    let phaseStart: number | undefined;
    let logged = "";
    child.stderr!.on("data", (d: Buffer) => {
      if (phaseStart !== undefined) return;
      logged += d.toString();
      if (!logged.includes("closed batches")) return;
      phaseStart = performance.now();
      if (killAtMs !== undefined)
        setTimeout(() => {
          if (child.exitCode === null) killed = child.kill("SIGKILL");
        }, killAtMs);
    });
    child.on("exit", (code) =>
      resolve({
        code,
        killed,
        ...(phaseStart === undefined ? {} : { phaseMs: performance.now() - phaseStart }),
      }),
    );
  });
}

describe("posd upload under SIGKILL", () => {
  it(`settles every complete record exactly once across ${KILLS} kills`, async () => {
    const random = seededRandom(Number(process.env.TAPWALLET_UPLOAD_KILL_SEED ?? 424242));
    const deps = { store: ctx.store, identity: ctx.identity, trust: ctx.trust, logger: ctx.logger };
    const wallets = ["cards/alice", "cards/bob"].map((fixture) =>
      fixtureCard(
        {
          balance: 1_000_000,
          limits: { singleLimit: 10_000, balanceLimit: 2_000_000, autoLoadThreshold: 0, autoLoadAmount: 0 },
        },
        { fixture },
      ),
    );
    let n = 0;
    const pay = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const amount = 100 + Math.floor(random.next() * 900);
        const o = await runPayment(wallets[n++ % 2]!.transport, deps, { amount, currency: 978 });
        expect(o.status).toBe("approved");
      }
    };
    await pay(20);
    // How long the upload phase of ten records takes here, from "closed batches" to exit: the
    // median of three, so that one slow run (a busy machine) does not aim most kills past the end.
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await upload();
      expect(r.code).toBe(0);
      times.push(r.phaseMs ?? 0);
      await pay(10);
    }
    let windowMs = Math.max(times.sort((a, b) => a - b)[1]! * 1.2, 5);

    // A kill aimed after the upload already ended does nothing: go on until KILLS have landed. A
    // miss means this machine is faster than the estimate just now, so the window shrinks (a busy
    // machine, where other work slows the uploads down, made a fixed window miss half of them).
    let killed = 0;
    let attempts = 0;
    while (killed < KILLS && attempts < KILLS * 4) {
      attempts++;
      await pay(10);
      const r = await upload(random.next() * windowMs);
      if (r.killed) killed++;
      else windowMs *= 0.85;
    }
    expect(killed).toBe(KILLS);
    expect((await upload()).code).toBe(0);

    // The terminal's file as an auditor reads it: a second, read-only connection.
    const records = new Database(ctx.config.database, { readonly: true });
    const terminal = records
      .prepare("SELECT COUNT(*) AS count, SUM(amount) AS amount FROM transactions WHERE status = 'complete'")
      .get() as { count: number; amount: number };
    const unanswered = records
      .prepare("SELECT COUNT(*) AS n FROM transactions WHERE status = 'complete' AND upload_status IS NULL")
      .get() as { n: number };
    const { AcquirerStore } = await import("../acquirer-stub/db/store.js");
    const { acceptedTotals } = await import("../acquirer-stub/testing.js");
    const store = await AcquirerStore.open(join(dir, "acquirer.sqlite"));
    const settled = await acceptedTotals(store, "T-0001");
    const rejectedRow = await store.db
      .selectFrom("records")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "=", "rejected")
      .executeTakeFirstOrThrow();
    const rejected = { n: Number(rejectedRow.n) };
    await store.close();
    const resent = records.prepare("SELECT COUNT(*) AS n FROM batches WHERE attempts > 1").get() as {
      n: number;
    };
    records.close();
    console.log(
      `upload kill test: ${KILLS} runs, ${killed} killed, ${resent.n} batches re-sent under their id, ${terminal.count} records`,
    );
    // Kills must have interrupted uploads, not only idle processes.
    expect(resent.n).toBeGreaterThan(0);
    expect(unanswered.n).toBe(0);
    expect(rejected.n).toBe(0);
    expect(settled).toEqual(terminal);
  }, 300_000);
});
