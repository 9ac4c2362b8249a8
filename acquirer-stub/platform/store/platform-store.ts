/**
 * The wallet platform's part of the back-office database: its own tables (migration
 * 002_wallet_platform) on the acquirer's engine, SQLite or PostgreSQL, through the same Kysely
 * layer and the same transactions and retries (db/engine.ts).
 *
 * | part | file | tables |
 * | --- | --- | --- |
 * | wallets and card presentations | wallets.ts | wallets, platform_presentations |
 * | the simulated bank | bank.ts | bank_accounts, bank_holds |
 * | double-entry bookings | ledger.ts | platform_bookings, platform_entries |
 * | loads and reversals | loads.ts | platform_loads, platform_reversals, platform_challenges, platform_serial |
 * | issuer commands queued for cards | commands.ts | platform_commands, platform_command_signings |
 * | the acquirer's hotlist (a loss report) | ../../db/hotlist.ts | blocked_wallets, wallet_events, hotlist |
 * | the reconciliation's facts | reconciliation.ts | (reads all of the above, and the acquirer's records) |
 * | the operator audit log (report-lost, release, set-params) | ../../db/audit.ts | operator_audit |
 *
 * The settled consumption a batch forwards is booked by consumption.ts, from the acquirer's batch
 * transaction (db/store.ts).
 *
 * Every operation runs in one write transaction (`write`): a conflict with another writer reruns
 * it from the start, so it decides again on what the winner stored; a refusal thrown inside rolls
 * everything back (a refused request stores nothing).
 */
import type { Logger } from "../../../protocol/logger.js";
import { OperatorAudit } from "../../db/audit.js";
import { type Engine, inTransaction } from "../../db/engine.js";
import { Hotlist } from "../../db/hotlist.js";
import type { EngineKind } from "../../db/migrations.js";
import type { Db } from "../../db/schema.js";
import type { AcquirerStore } from "../../db/store.js";
import { Bank } from "./bank.js";
import { Commands } from "./commands.js";
import { Ledger } from "./ledger.js";
import { Loads } from "./loads.js";
import { ReconciliationQueries } from "./reconciliation.js";
import { Wallets } from "./wallets.js";

/** The platform's parts on one executor (the pool, or one transaction). */
export class PlatformTx {
  readonly wallets: Wallets;
  readonly bank: Bank;
  readonly ledger: Ledger;
  readonly loads: Loads;
  readonly reconciliation: ReconciliationQueries;
  readonly commands: Commands;
  readonly hotlist: Hotlist;
  readonly audit: OperatorAudit;
  constructor(db: Db, kind: EngineKind) {
    this.wallets = new Wallets(db, kind);
    this.bank = new Bank(db);
    this.ledger = new Ledger(db, this.bank);
    this.loads = new Loads(db);
    this.reconciliation = new ReconciliationQueries(db);
    this.commands = new Commands(db);
    this.hotlist = new Hotlist(db);
    this.audit = new OperatorAudit(db);
  }
}

export class PlatformStore {
  readonly engine: Engine;
  readonly #logger: Logger | undefined;

  constructor(engine: Engine, logger?: Logger) {
    this.engine = engine;
    this.#logger = logger;
  }

  /** The platform's tables in the acquirer's database. */
  static of(store: AcquirerStore, logger?: Logger): PlatformStore {
    return new PlatformStore(store.engine, logger);
  }

  /** One write transaction, rerun from the start on a conflict. */
  write<T>(label: string, fn: (tx: PlatformTx) => Promise<T>): Promise<T> {
    return inTransaction(
      this.engine,
      "write",
      label,
      (db) => fn(new PlatformTx(db, this.engine.kind)),
      this.#logger,
    );
  }

  /** A read-only view from one snapshot. */
  read<T>(label: string, fn: (tx: PlatformTx) => Promise<T>): Promise<T> {
    return inTransaction(
      this.engine,
      "snapshot",
      label,
      (db) => fn(new PlatformTx(db, this.engine.kind)),
      this.#logger,
    );
  }
}
