import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import Database from "../../protocol/sqlite.js";
import { TerminalSim } from "../../test-support/batch-builder.js";
import { frozenClock } from "../../test-support/clock.js";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../testing.js";
import { MIGRATIONS } from "./migrations.js";
import { AcquirerStore } from "./store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "acquirer-store-"));
  dirs.push(dir);
  return join(dir, "acquirer.sqlite");
}

describe("AcquirerStore.open", () => {
  it("is durable on every open: WAL, synchronous=FULL again after a reopen, schema at the latest version", () => {
    const path = tempPath();
    AcquirerStore.open(path).close();
    // A plain connection starts at better-sqlite3's default; the store must set FULL itself.
    const plain = new Database(path);
    plain.pragma("synchronous = NORMAL");
    plain.close();
    const store = AcquirerStore.open(path);
    try {
      expect(store.db.pragma("synchronous", { simple: true })).toBe(2);
      expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(store.db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    } finally {
      store.close();
    }
  });

  it("refuses a database written by a newer program", () => {
    const path = tempPath();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => AcquirerStore.open(path)).toThrow(expect.objectContaining({ code: "ACQ_ERR_STORE" }));
  });
});

describe("a batch is stored whole or not at all", () => {
  let acq: TestAcquirer;
  afterEach(async () => {
    await acq.close();
  });

  it("leaves nothing behind when the database fails in the middle of a batch, and the retry settles", async () => {
    acq = testAcquirer({ clock: frozenClock(TEST_NOW).date });
    acq.store.db.exec(
      "CREATE TRIGGER fail_third BEFORE INSERT ON records WHEN NEW.position = 2 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
    );
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", counter: 1 });
    sim.debit({ card: "cards/alice", counter: 1, amount: 1 }); // a clone: would block the wallet
    sim.debits(3);
    const upload = sim.closeBatch();
    const failed = await acq.app.inject({ method: "POST", url: "/v1/batches", payload: upload });
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toMatchObject({ code: "ACQ_ERR_STORE" });
    const count = (table: string) =>
      (acq.store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    for (const table of ["batches", "records", "terminals", "clones", "blocked_wallets", "batch_days"])
      expect(count(table), table).toBe(0);
    const version = acq.store.hotlistVersion();

    acq.store.db.exec("DROP TRIGGER fail_third");
    const retried = await acq.app.inject({ method: "POST", url: "/v1/batches", payload: upload });
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ accepted: 4, rejected: 1 });
    expect(count("records")).toBe(5);
    expect(acq.store.hotlistVersion()).toBe(version + 1);
  });
});
