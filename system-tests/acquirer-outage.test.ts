/**
 * The acquirer's PostgreSQL goes away and comes back: while it is down, /healthz answers 503 and
 * a batch gets 503 ACQ_ERR_STORE_UNAVAILABLE with nothing stored; when it is back, the same
 * service (no restart) answers 200 again and the terminal's retry settles the batch once.
 *
 * Its own throwaway cluster (scripts/postgres-setup.sh on another port and directory), because
 * the test stops it: the shared server of the other tests keeps running.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildApp } from "../acquirer-stub/app.js";
import { AcquirerStore } from "../acquirer-stub/db/store.js";
import { acceptedTotals, testPki } from "../acquirer-stub/testing.js";
import { packageRoot } from "../protocol/paths.js";
import { TerminalSim } from "../test-support/batch-builder.js";
import { realClock } from "../test-support/clock.js";
import { describePostgres } from "../test-support/postgres.js";

const run = promisify(execFile);
const PORT = String(55_400 + (process.pid % 90));

describePostgres("acquirer over PostgreSQL: the database goes away and comes back", () => {
  let state: string;
  let store: AcquirerStore;
  let app: FastifyInstance;
  /** One terminal across both tests: its second batch continues the chain of its first. */
  const sim = new TerminalSim({ clock: realClock });
  const env = () => ({ ...process.env, TAPWALLET_PG_STATE: state, TAPWALLET_PG_PORT: PORT });
  const cluster = (action: "start" | "stop" | "clean") =>
    run("bash", [join(packageRoot(), "scripts", "postgres-setup.sh"), action], {
      env: env(),
      timeout: 60_000,
    });

  beforeAll(async () => {
    state = mkdtempSync(join(tmpdir(), "acquirer-outage-"));
    await cluster("start");
    store = await AcquirerStore.open(`postgres://postgres@127.0.0.1:${PORT}/postgres`);
    const pki = testPki();
    app = await buildApp({
      store,
      trust: pki.trust,
      hotlistSigner: pki.hotlistSigner,
      clock: realClock.date,
      operator: { off: true },
    });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await store?.close().catch(() => {});
    await cluster("clean").catch(() => {});
    rmSync(state, { recursive: true, force: true });
  }, 60_000);

  const health = async () => {
    const res = await app.inject({ method: "GET", url: "/healthz" });
    return { status: res.statusCode, body: res.json() as { code?: string; status?: string } };
  };

  it("answers 503 while the database is down, stores nothing, and recovers by itself", async () => {
    expect(await health()).toEqual({ status: 200, body: { status: "ok", engine: "postgres" } });
    sim.debit({ amount: 450 });
    sim.debit({ amount: 120 });
    const upload = sim.closeBatch();

    await cluster("stop");
    const down = await health();
    expect(down).toEqual({
      status: 503,
      body: { code: "ACQ_ERR_STORE_UNAVAILABLE", message: "database unavailable" },
    });
    const refused = await app.inject({ method: "POST", url: "/v1/batches", payload: upload });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ code: "ACQ_ERR_STORE_UNAVAILABLE" });
    expect(refused.headers["retry-after"]).toBe("1");

    await cluster("start");
    let back = await health();
    for (let i = 0; i < 50 && back.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      back = await health();
    }
    expect(back.status).toBe(200);
    const settled = await app.inject({ method: "POST", url: "/v1/batches", payload: upload });
    expect(settled.statusCode).toBe(200);
    expect(settled.json()).toMatchObject({ status: "settled", accepted: 2, rejected: 0 });
    expect(await acceptedTotals(store)).toEqual({ count: 2, amount: 570 });
  }, 120_000);

  it("a connection cut under it (pg_terminate_backend) costs at most one 503, never a crash or a partial batch", async () => {
    const before = await acceptedTotals(store);
    // Warm the pool: several idle connections, then cut every one of them from another session.
    await Promise.all([health(), health(), health()]);
    const { Client } = (await import("pg")).default;
    const admin = new Client({ connectionString: `postgres://postgres@127.0.0.1:${PORT}/postgres` });
    await admin.connect();
    const cut = await admin.query(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = 'postgres' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    );
    await admin.end();
    expect(cut.rows[0].n).toBeGreaterThan(0);

    sim.debit({ amount: 300 });
    const upload = sim.closeBatch();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: "POST", url: "/v1/batches", payload: upload });
      statuses.push(res.statusCode);
      if (res.statusCode === 503)
        expect(res.json()).toMatchObject({ code: expect.stringMatching(/^ACQ_ERR_STORE/) });
      else break;
    }
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.filter((s) => s === 503).length).toBeLessThanOrEqual(3);
    expect((await health()).status).toBe(200);
    const after = await acceptedTotals(store);
    expect(after).toEqual({ count: before.count + 1, amount: before.amount + 300 });
  }, 60_000);
});
