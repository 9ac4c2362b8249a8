/**
 * Test wiring for the acquirer (used by tests and benchmarks, never by the service): the app on a
 * fresh database file with the committed test PKI and the clock of the test's world.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../protocol/logger.js";
import { type AcquirerDeps, buildApp } from "./app.js";
import { defaultPkiDir, type LoadedPki, loadPki } from "./config.js";
import { AcquirerStore } from "./db/store.js";

/**
 * 2026-11-24T08:00:00Z: the instant of frozen acquirer worlds (records built by TerminalSim are
 * dated the day before). Only for worlds whose every part is frozen here: a terminal made by
 * initTerminal or a spawned CLI runs on the real clock, and its acquirer must too.
 */
export const TEST_NOW = new Date("2026-11-24T08:00:00Z");

let pki: LoadedPki | undefined;

/** The committed test PKI as the acquirer loads it (memoised: parsing and key decryption once). */
export function testPki(): LoadedPki {
  pki ??= loadPki(defaultPkiDir(), {});
  return pki;
}

export interface TestAcquirer {
  readonly app: FastifyInstance;
  readonly store: AcquirerStore;
  readonly dbPath: string;
  /** Close the app (and the database) and delete the files. */
  close(): Promise<void>;
}

export type TestAcquirerOptions = Partial<
  Omit<AcquirerDeps, "store" | "trust" | "hotlistSigner" | "clock">
> & {
  /**
   * The clock of the test's world, required so that no test gets a frozen acquirer beside a
   * terminal on the real clock: `frozenClock(TEST_NOW).date` or `realClock.date`.
   */
  clock: () => Date;
  logger?: Logger;
};

export function testAcquirer(options: TestAcquirerOptions): TestAcquirer {
  const dir = mkdtempSync(join(tmpdir(), "acquirer-test-"));
  const dbPath = join(dir, "acquirer.sqlite");
  const store = AcquirerStore.open(dbPath);
  const p = testPki();
  const app = buildApp({
    ...options,
    store,
    trust: p.trust,
    hotlistSigner: p.hotlistSigner,
  });
  app.addHook("onClose", async () => store.close());
  return {
    app,
    store,
    dbPath,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
