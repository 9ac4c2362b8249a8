import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { TerminalSim } from "../../test-support/batch-builder.js";
import { frozenClock } from "../../test-support/clock.js";
import { countRows, TEST_NOW, type TestAcquirer, testAcquirer } from "../testing.js";

/** Make the third record of any batch fail to insert, as a disk failing mid-batch would. */
async function failThirdInsert(acq: TestAcquirer): Promise<void> {
  if (acq.store.kind === "sqlite")
    await sql
      .raw(
        "CREATE TRIGGER fail_third BEFORE INSERT ON records WHEN NEW.position = 2 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
      )
      .execute(acq.store.db);
  else {
    await sql
      .raw(
        "CREATE FUNCTION fail_third() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.position = 2 THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$",
      )
      .execute(acq.store.db);
    await sql
      .raw("CREATE TRIGGER fail_third BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION fail_third()")
      .execute(acq.store.db);
  }
}

async function healDisk(acq: TestAcquirer): Promise<void> {
  await sql
    .raw(acq.store.kind === "sqlite" ? "DROP TRIGGER fail_third" : "DROP TRIGGER fail_third ON records")
    .execute(acq.store.db);
}

describe("a batch is stored whole or not at all", () => {
  let acq: TestAcquirer;
  afterEach(async () => {
    await acq.close();
  });

  it("leaves nothing behind when the database fails in the middle of a batch, and the retry settles", async () => {
    acq = await testAcquirer({ clock: frozenClock(TEST_NOW).date });
    await failThirdInsert(acq);
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", counter: 1 });
    sim.debit({ card: "cards/alice", counter: 1, amount: 1 }); // a clone: would block the wallet
    sim.debits(3);
    const upload = sim.closeBatch();
    const failed = await acq.app.inject({ method: "POST", url: "/v1/batches", payload: upload });
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toMatchObject({ code: "ACQ_ERR_STORE" });
    for (const table of [
      "batches",
      "records",
      "terminals",
      "clones",
      "blocked_wallets",
      "batch_days",
    ] as const)
      expect(await countRows(acq.store, table), table).toBe(0);
    const version = await acq.store.hotlistVersion();

    await healDisk(acq);
    const retried = await acq.app.inject({ method: "POST", url: "/v1/batches", payload: upload });
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ accepted: 4, rejected: 1 });
    expect(await countRows(acq.store, "records")).toBe(5);
    expect(await acq.store.hotlistVersion()).toBe(version + 1);
  });
});
