/**
 * The terminal's SQLite file with every port it implements: one connection (WAL,
 * synchronous=FULL), one clock, and a store per table group. posd's composition root
 * (terminal/composition/root.ts) opens it once per process and closes it on exit.
 */
import type Database from "../../../protocol/sqlite.js";
import type { Clock, TerminalStores } from "../../application/ports.js";
import { SqliteAttention } from "./attention-store.js";
import { BatchStore } from "./batch-store.js";
import { openTerminalDatabase } from "./database.js";
import { EcrPaymentStore } from "./ecr-payment-store.js";
import { SqliteHotlist } from "./hotlist-store.js";
import { SqliteLoadIntents } from "./load-store.js";
import { MetaTable } from "./meta.js";
import { RecordStore } from "./record-store.js";
import { SqliteRefunds } from "./refund-store.js";
import { SqliteWalletWatch } from "./seen-wallets-store.js";
import { SqliteStoredValues } from "./stored-value-store.js";

/** The machine's clock: what posd dates its records by. */
export const systemClock: Clock = { now: () => Date.now() };

export class SqliteTerminalStore implements TerminalStores {
  readonly path: string;
  readonly records: RecordStore;
  readonly risk: RecordStore;
  readonly ecrPayments: EcrPaymentStore;
  readonly ecrStoredValues: SqliteStoredValues;
  readonly batches: BatchStore;
  readonly hotlist: SqliteHotlist;
  readonly attention: SqliteAttention;
  readonly walletWatch: SqliteWalletWatch;
  readonly loads: SqliteLoadIntents;
  readonly refunds: SqliteRefunds;
  readonly clock: Clock;
  readonly #db: Database.Database;

  private constructor(path: string, db: Database.Database, clock: Clock) {
    this.path = path;
    this.#db = db;
    this.clock = clock;
    const connection = { db, meta: new MetaTable(db), clock };
    this.records = new RecordStore(connection);
    this.risk = this.records;
    this.ecrPayments = new EcrPaymentStore(connection);
    this.ecrStoredValues = new SqliteStoredValues(connection);
    this.batches = new BatchStore(connection);
    this.hotlist = new SqliteHotlist(connection);
    this.attention = new SqliteAttention(connection);
    this.walletWatch = new SqliteWalletWatch(connection);
    this.loads = new SqliteLoadIntents(connection);
    this.refunds = new SqliteRefunds(connection, this.records);
  }

  /** Open (creating and migrating if needed); everything stored is dated by `clock`. */
  static open(path: string, options: { clock?: Clock } = {}): SqliteTerminalStore {
    return new SqliteTerminalStore(path, openTerminalDatabase(path), options.clock ?? systemClock);
  }

  /** What this connection runs with (synchronous is per connection: 2 is FULL). */
  durability(): { journalMode: string; synchronous: number } {
    return {
      journalMode: String(this.#db.pragma("journal_mode", { simple: true })),
      synchronous: Number(this.#db.pragma("synchronous", { simple: true })),
    };
  }

  integrityCheck(): string {
    return String(this.#db.pragma("integrity_check", { simple: true }));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
