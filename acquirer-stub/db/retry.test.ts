import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type TestDatabase, testDatabase } from "../testing.js";
import { inTransaction, MAX_ATTEMPTS, StoreConflict } from "./engine.js";
import { AcquirerStore } from "./store.js";

/** A logger that keeps what it was told (the retries must be logged, once each). */
function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      lines.push({ level, fields, msg });
    };
  const logger = {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    child: () => logger,
  };
  return { lines, logger: logger as unknown as Parameters<typeof inTransaction>[4] };
}

/** A write the transaction makes before it loses: it must be rolled back with it. */
const bumpVersion = (tx: Parameters<Parameters<typeof inTransaction>[3]>[0]) =>
  tx
    .updateTable("hotlist")
    .set((eb) => ({ version: eb("version", "+", 1) }))
    .execute();

describe("a write transaction that loses a race", () => {
  let db: TestDatabase;
  let store: AcquirerStore;
  beforeEach(async () => {
    db = await testDatabase();
    store = await AcquirerStore.open(db.target);
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  it("runs again from the start and commits once it wins, each retry logged", async () => {
    const { lines, logger } = recordingLogger();
    let attempts = 0;
    const version = await store.hotlistVersion();
    const result = await inTransaction(
      store.engine,
      "write",
      "test",
      async (tx) => {
        attempts++;
        await bumpVersion(tx);
        if (attempts < 3) throw new StoreConflict("someone else moved it");
        return attempts;
      },
      logger,
    ).catch((e: unknown) => e);
    expect(result).toBe(3);
    // The two losing attempts rolled back: the version moved once.
    expect(await store.hotlistVersion()).toBe(version + 1);
    expect(lines.filter((l) => l.msg === "transaction conflict: retrying from the start")).toHaveLength(2);
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts with ACQ_ERR_STORE_CONFLICT and stores nothing`, async () => {
    const { lines, logger } = recordingLogger();
    let attempts = 0;
    const version = await store.hotlistVersion();
    const failure = await inTransaction(
      store.engine,
      "write",
      "always loses",
      async (tx) => {
        attempts++;
        await bumpVersion(tx);
        throw new StoreConflict("someone else moved it");
      },
      logger,
    ).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: "ACQ_ERR_STORE_CONFLICT", details: { attempts: MAX_ATTEMPTS } });
    expect(attempts).toBe(MAX_ATTEMPTS);
    expect(await store.hotlistVersion()).toBe(version);
    expect(lines.filter((l) => l.level === "warn")).toHaveLength(MAX_ATTEMPTS - 1);
    expect(lines.filter((l) => l.level === "error")).toEqual([
      expect.objectContaining({ msg: "transaction conflicts exhausted its retries" }),
    ]);
  });

  it("does not retry an error that is not a conflict", async () => {
    let attempts = 0;
    const failure = await inTransaction(store.engine, "write", "bug", async () => {
      attempts++;
      throw new Error("a bug");
    }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ message: "a bug" });
    expect(attempts).toBe(1);
  });
});
