/**
 * Three `acquirer-stub serve` instances over one PostgreSQL, and everything a fleet does to them at
 * once: 20 terminals uploading together, the same batch sent to two instances at the same moment,
 * a clone's two records arriving at two instances at the same moment, and an instance SIGKILLed in
 * the middle of a big batch that its terminal then sends to another. Afterwards the database holds
 * every batch once, the clone once, and the terminals' records exactly.
 *
 * One clock: the real one (the instances are spawned CLIs).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { AcquirerStore } from "../acquirer-stub/db/store.js";
import { acceptedTotals, countRows, type TestDatabase, testDatabase } from "../acquirer-stub/testing.js";
import type { BatchResult, BatchUpload } from "../protocol/wallet/batch.js";
import { syntheticCards, TerminalSim } from "../test-support/batch-builder.js";
import { realClock } from "../test-support/clock.js";
import { type Instance, spawnInstance, syntheticTerminals } from "../test-support/fleet.js";
import { describePostgres } from "../test-support/postgres.js";

const TERMINALS = 20;
const BATCHES_PER_TERMINAL = 3;
const RECORDS_PER_BATCH = 200;

async function post(
  instance: Instance,
  upload: BatchUpload,
): Promise<{ status: number; body: BatchResult & { code?: string } }> {
  const res = await fetch(`${instance.url}/v1/batches`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(upload),
  });
  return { status: res.status, body: (await res.json()) as BatchResult & { code?: string } };
}

/**
 * Send until a verdict comes back: 409 in flight and 503 are retried, as the terminal's client
 * does, and a refused or cut connection goes to the next instance, as a load balancer would.
 */
async function settle(
  fleet: readonly Instance[],
  first: number,
  upload: BatchUpload,
): Promise<{ status: number; body: BatchResult }> {
  let at = first;
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = await post(fleet[at % fleet.length]!, upload).catch(() => undefined);
    if (r === undefined) {
      at++;
      continue;
    }
    if (r.status === 200 || r.status === 422) return r;
    if (r.status !== 409 && r.status !== 503)
      throw new Error(`unexpected ${r.status}: ${JSON.stringify(r.body)}`);
    if (r.status === 409 && r.body.code !== "ACQ_ERR_IN_FLIGHT") return r;
    await new Promise((res) => setTimeout(res, 50 + attempt * 20));
  }
  throw new Error("no verdict after 50 attempts");
}

describePostgres("acquirer fleet: 3 instances over one PostgreSQL", () => {
  let database: TestDatabase;
  const instances: Instance[] = [];

  beforeAll(async () => {
    database = await testDatabase("postgres");
    instances.push(await spawnInstance(database.target, { TAPWALLET_LOG_LEVEL: "info" }));
    instances.push(
      ...(await Promise.all(
        [1, 2].map(() => spawnInstance(database.target, { TAPWALLET_LOG_LEVEL: "info" })),
      )),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.kill()));
    await database?.drop();
  }, 60_000);

  it("settles every batch once, catches the clone once, and its totals equal the terminals' records", async () => {
    const started = performance.now();
    const { pki, names } = await syntheticTerminals(TERMINALS + 1);
    // Two wallets per terminal, one for the clone, 20 for the big batch: no two terminals share a
    // wallet's counters, except the clone on purpose.
    const cards = await syntheticCards(TERMINALS * 2 + 1 + 20);
    const sims = names.map(
      (name) => new TerminalSim({ terminal: name, pki, clock: realClock, wallets: new Map() }),
    );
    const built: BatchUpload[][] = sims.slice(0, TERMINALS).map((sim, t) => {
      const mine = [cards[2 * t]!, cards[2 * t + 1]!];
      return Array.from({ length: BATCHES_PER_TERMINAL }, () => {
        sim.debits(RECORDS_PER_BATCH, (i) => ({ card: mine[i % 2]!, amount: 100 + i }));
        return sim.closeBatch();
      });
    });
    // The clone: one wallet, one counter, two contents, at two terminals (0 and 1), in their last batches.
    const cloned = cards[TERMINALS * 2]!;
    sims[0]!.debit({ card: cloned, counter: 1, amount: 700 });
    sims[1]!.debit({ card: cloned, counter: 1, amount: 900 });
    const cloneA = sims[0]!.closeBatch();
    const cloneB = sims[1]!.closeBatch();
    // The big batch whose instance is killed under it (terminal 20, its own chain).
    const big = sims[TERMINALS]!;
    big.debits(6_000, (i) => ({ card: cards[TERMINALS * 2 + 1 + (i % 20)]!, amount: 1 }));
    const bigUpload = big.closeBatch();

    // 20 terminals at once, round-robin over the 3 instances; terminal 2's first batch goes to two instances at once.
    // Both answers are the one verdict: the loser of the race replays the winner's (after a retried
    // conflict, or a 409 ACQ_ERR_IN_FLIGHT retried by settle()).
    const twice = await Promise.all([
      settle(instances, 0, built[2]![0]!),
      settle(instances, 1, built[2]![0]!),
    ]);
    expect(twice.map((r) => r.status)).toEqual([200, 200]);
    expect(twice[1]!.body).toEqual(twice[0]!.body);
    expect(twice[0]!.body).toMatchObject({ status: "settled", accepted: RECORDS_PER_BATCH, rejected: 0 });
    const uploads = built.map(async (batches, t) => {
      for (const [b, u] of batches.entries()) {
        const r = await settle(instances, t + b, u);
        expect(r.status, `terminal ${t} batch ${b}`).toBe(200);
        expect(r.body.rejected).toBe(0);
      }
    });
    // Meanwhile the big batch goes to instance 2, which is killed while it verifies.
    const doomed = post(instances[2]!, bigUpload).catch((e: Error) => ({
      status: 0,
      body: { code: e.message },
    }));
    await new Promise((r) => setTimeout(r, 400));
    await instances[2]!.kill();
    const killed = await doomed;
    // Killed in the middle: nothing of the big batch was stored.
    const probe = await AcquirerStore.open(database.target);
    const storedAtKill = await probe.batch(bigUpload.manifest.terminalId, bigUpload.manifest.batchId);
    await probe.close();
    expect(storedAtKill, "the big batch was stored before its instance was killed").toBeUndefined();
    await Promise.all(uploads);
    // The clone's two records at two instances at the same moment.
    const [a, b] = await Promise.all([settle(instances, 0, cloneA), settle(instances, 1, cloneB)]);
    // Its terminal re-sends the big batch to a surviving instance.
    const resent = await settle(instances, 1, bigUpload);
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ status: "settled", accepted: 6_000 });

    const reasons = [a.body.records[0]?.reason, b.body.records[0]?.reason].sort();
    expect(reasons).toEqual(["ACQ_ERR_CLONE", undefined]);

    // The survivors survived: no instance crashed under the load (settle() would hide it).
    for (const i of instances.slice(0, 2)) expect(() => process.kill(i.pid, 0)).not.toThrow();

    const store = await AcquirerStore.open(database.target);
    try {
      const batches = TERMINALS * BATCHES_PER_TERMINAL + 3;
      expect(await countRows(store, "batches")).toBe(batches);
      expect(await countRows(store, "clones")).toBe(1);
      expect(await store.walletBlock(cloned.walletId)).toMatchObject({ reason: "clone" });
      const hotlist = await store.hotlistState();
      expect(hotlist.blockedWallets).toEqual([cloned.walletId]);
      // Version 1 at the first start, 2 for the clone: moved once, though two instances saw it.
      expect(hotlist.version).toBe(2);
      const built1 = built.flat();
      const expected = {
        count: built1.length * RECORDS_PER_BATCH + 1 + 6_000,
        amount:
          TERMINALS * BATCHES_PER_TERMINAL * ((RECORDS_PER_BATCH * (200 + RECORDS_PER_BATCH - 1)) / 2) +
          (a.body.records[0]?.reason === undefined ? 700 : 900) +
          6_000,
      };
      expect(await acceptedTotals(store)).toEqual(expected);
      const conflicts = instances.reduce((n, i) => n + i.conflicts(), 0);
      console.log(
        `fleet: 3 instances, ${TERMINALS + 1} terminals, ${batches} batches, ${expected.count} records settled ` +
          `in ${((performance.now() - started) / 1000).toFixed(1)} s; same batch twice at once: ${twice.map((r) => r.status).join(" + ")}; ` +
          `killed instance answered ${killed.status || "nothing"}; transaction conflicts retried: ${conflicts}`,
      );
    } finally {
      await store.close();
    }
  }, 180_000);
});
