/**
 * Test wiring for the acquirer (used by tests and benchmarks, never by the service): the app on a
 * fresh database (SQLite, or PostgreSQL when TAPWALLET_TEST_POSTGRES is set) with the committed
 * test PKI and the clock of the test's world.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import type { Logger } from "../protocol/logger.js";
import { type AcquirerDeps, buildApp } from "./app.js";
import { defaultPkiDir, type LoadedPki, loadPki } from "./config.js";
import type { AcquirerDb } from "./db/schema.js";
import { AcquirerStore, type EngineKind } from "./db/store.js";
import type { OperatorAccess } from "./routes/operator-auth.js";

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
  /** What `--db` would be given to reach this acquirer's database (a file path or a URL). */
  readonly dbPath: string;
  /** Close the app (and the database) and delete it. */
  close(): Promise<void>;
}

export type TestAcquirerOptions = Partial<
  Omit<AcquirerDeps, "store" | "trust" | "hotlistSigner" | "clock">
> & {
  /** What the acquirer trusts instead of the committed test PKI's (a second issuer CA, say). */
  trust?: AcquirerDeps["trust"];
  /**
   * The clock of the test's world, required so that no test gets a frozen acquirer beside a
   * terminal on the real clock: `frozenClock(TEST_NOW).date` or `realClock.date`.
   */
  clock: () => Date;
  logger?: Logger;
  /**
   * Shorthand for `operator: { token }`. With neither, the test acquirer's operator routes are
   * open: chosen here, for in-process tests only (`serve` never opens them without being told).
   */
  operatorToken?: string;
};

/**
 * A PostgreSQL server the tests may use: the URL of a database they may create databases from,
 * e.g. postgres://postgres@127.0.0.1:55432/postgres (`scripts/postgres-setup.sh start` prints it).
 * Tests that need PostgreSQL (the fleet, the outage) run when it is set, skip loudly when it is
 * not, and fail under CI=true without it.
 */
export const TEST_POSTGRES_ENV = "TAPWALLET_TEST_POSTGRES";

/**
 * The engine testAcquirer() and testDatabase() use: `postgres` runs the acquirer's suite on the
 * server TAPWALLET_TEST_POSTGRES names; anything else (the default) on SQLite files. CI runs the
 * suite once each way.
 */
export const TEST_ENGINE_ENV = "TAPWALLET_TEST_ENGINE";

export function testEngine(): EngineKind {
  return process.env[TEST_ENGINE_ENV] === "postgres" ? "postgres" : "sqlite";
}

/** The PostgreSQL server of the tests, or undefined (see TEST_POSTGRES_ENV). */
export function testPostgresUrl(): string | undefined {
  return process.env[TEST_POSTGRES_ENV] || undefined;
}

export interface TestDatabase {
  /** `--db` for it: a file path, or a postgres:// URL of a database of its own. */
  readonly target: string;
  readonly kind: EngineKind;
  drop(): Promise<void>;
}

let created = 0;

/** A new, empty database (a temporary file, or a new PostgreSQL database on the tests' server). */
export async function testDatabase(kind: EngineKind = testEngine()): Promise<TestDatabase> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "acquirer-test-"));
    return {
      target: join(dir, "acquirer.sqlite"),
      kind: "sqlite",
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const admin = testPostgresUrl();
  if (!admin)
    throw new Error(
      `${TEST_ENGINE_ENV}=postgres needs ${TEST_POSTGRES_ENV}: run scripts/postgres-setup.sh start and export ` +
        `${TEST_POSTGRES_ENV}="$(scripts/postgres-setup.sh url)"`,
    );
  const name = `tw_${process.pid}_${++created}_${randomBytes(3).toString("hex")}`;
  await adminQuery(admin, `CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    target: url.href,
    kind: "postgres",
    drop: () => adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function testAcquirer(options: TestAcquirerOptions): Promise<TestAcquirer> {
  const { operatorToken, trust, ...deps } = options;
  const operator: OperatorAccess =
    operatorToken !== undefined ? { token: operatorToken } : (options.operator ?? { open: true });
  const database = await testDatabase();
  const store = await AcquirerStore.open(database.target, options.logger ? { logger: options.logger } : {});
  const p = testPki();
  const app = await buildApp({
    ...(p.issuerKey ? { issuerKey: p.issuerKey } : {}),
    ...deps,
    operator,
    store,
    trust: trust ?? p.trust,
    hotlistSigner: p.hotlistSigner,
  });
  app.addHook("onClose", async () => store.close());
  return {
    app,
    store,
    dbPath: database.target,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

/** Rows in one of the acquirer's tables (tests count what was stored, on either engine). */
export async function countRows(store: AcquirerStore, table: keyof AcquirerDb): Promise<number> {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Count and sum of the accepted records (one terminal's, when given), on either engine. */
export async function acceptedTotals(
  store: AcquirerStore,
  terminalId?: string,
): Promise<{ count: number; amount: number }> {
  let q = store.db
    .selectFrom("records")
    .select((eb) => [eb.fn.countAll<number>().as("count"), eb.fn.sum<number>("amount").as("amount")])
    .where("status", "=", "accepted");
  if (terminalId !== undefined) q = q.where("terminal_id", "=", terminalId);
  const row = await q.executeTakeFirstOrThrow();
  return { count: Number(row.count), amount: Number(row.amount ?? 0) };
}
