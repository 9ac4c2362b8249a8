/**
 * Wallets in the platform's tables (`wallets`) and the presentations of their cards at online
 * terminals (`platform_presentations`, whose answers are replayed to a retry). No transaction
 * here: PlatformStore opens them.
 *
 * `get(…, { lock: true })` takes the wallet's row lock on PostgreSQL (SELECT … FOR UPDATE): every
 * operation that changes a wallet's money or loads takes it first, so two instances serve one
 * wallet one at a time (its pending loads, its online account and its challenges are then read as
 * the other left them). SQLite needs none: a write transaction there is the only writer.
 */
import type { Selectable } from "kysely";
import { asBuffer } from "../../../protocol/bytes.js";
import type { EngineKind } from "../../db/migrations.js";
import type { Db, WalletsTable } from "../../db/schema.js";
import type { Wallet } from "../model.js";

function toWallet(r: Selectable<WalletsTable>): Wallet {
  return {
    walletId: r.wallet_id,
    currency: r.currency,
    status: r.status,
    boundAccount: r.bound_account,
    balanceLimit: r.balance_limit,
    singleLimit: r.single_limit,
    autoLoadThreshold: r.auto_load_threshold,
    autoLoadAmount: r.auto_load_amount,
    autoLoadOn: Number(r.auto_load_on) === 1,
    cardCertificate: r.card_certificate ? new Uint8Array(r.card_certificate) : null,
    lastCounter: r.last_counter,
    createdAt: r.created_at,
  };
}

export interface StoredPresentation {
  readonly requestHash: string;
  readonly answer: string;
}

export class Wallets {
  constructor(
    readonly db: Db,
    readonly kind: EngineKind,
  ) {}

  async get(walletId: string, options: { lock?: boolean } = {}): Promise<Wallet | undefined> {
    let q = this.db.selectFrom("wallets").selectAll().where("wallet_id", "=", walletId);
    if (options.lock && this.kind === "postgres") q = q.forUpdate();
    const row = await q.executeTakeFirst();
    return row ? toWallet(row) : undefined;
  }

  async insert(w: Wallet): Promise<void> {
    await this.db
      .insertInto("wallets")
      .values({
        wallet_id: w.walletId,
        currency: w.currency,
        status: w.status,
        bound_account: w.boundAccount,
        balance_limit: w.balanceLimit,
        single_limit: w.singleLimit,
        auto_load_threshold: w.autoLoadThreshold,
        auto_load_amount: w.autoLoadAmount,
        auto_load_on: w.autoLoadOn ? 1 : 0,
        card_certificate: w.cardCertificate ? asBuffer(w.cardCertificate) : null,
        last_counter: w.lastCounter,
        created_at: w.createdAt,
      })
      .execute();
  }

  /** Register the card certificate at the wallet's first presentation (kept once set). */
  async registerCard(walletId: string, der: Uint8Array): Promise<void> {
    await this.db
      .updateTable("wallets")
      .set({ card_certificate: asBuffer(der) })
      .where("wallet_id", "=", walletId)
      .where("card_certificate", "is", null)
      .execute();
  }

  async setStatus(walletId: string, status: Wallet["status"]): Promise<void> {
    await this.db.updateTable("wallets").set({ status }).where("wallet_id", "=", walletId).execute();
  }

  /** The parameters the card confirmed (its PARAMETERS record): the platform's copy follows it. */
  async setParameters(
    walletId: string,
    p: {
      singleLimit?: number;
      balanceLimit?: number;
      autoLoadThreshold?: number;
      autoLoadAmount?: number;
    },
  ): Promise<void> {
    await this.db
      .updateTable("wallets")
      .set({
        ...(p.singleLimit === undefined ? {} : { single_limit: p.singleLimit }),
        ...(p.balanceLimit === undefined ? {} : { balance_limit: p.balanceLimit }),
        ...(p.autoLoadThreshold === undefined ? {} : { auto_load_threshold: p.autoLoadThreshold }),
        ...(p.autoLoadAmount === undefined
          ? {}
          : { auto_load_amount: p.autoLoadAmount, auto_load_on: p.autoLoadAmount > 0 ? 1 : 0 }),
      })
      .where("wallet_id", "=", walletId)
      .execute();
  }

  async setLastCounter(walletId: string, counter: number): Promise<void> {
    await this.db
      .updateTable("wallets")
      .set({ last_counter: counter })
      .where("wallet_id", "=", walletId)
      .execute();
  }

  async presentation(requestId: string): Promise<StoredPresentation | undefined> {
    const row = await this.db
      .selectFrom("platform_presentations")
      .select(["request_hash", "answer"])
      .where("request_id", "=", requestId)
      .executeTakeFirst();
    return row ? { requestHash: row.request_hash, answer: row.answer } : undefined;
  }

  async insertPresentation(p: {
    requestId: string;
    requestHash: string;
    walletId: string;
    terminalId: string;
    answer: string;
    at: number;
  }): Promise<void> {
    await this.db
      .insertInto("platform_presentations")
      .values({
        request_id: p.requestId,
        request_hash: p.requestHash,
        wallet_id: p.walletId,
        terminal_id: p.terminalId,
        answer: p.answer,
        at: p.at,
      })
      .execute();
  }

  /**
   * Wallets with work for their next online presentation (a pending issuer command or a pending
   * load), the oldest work first; at most `limit`.
   */
  async withWork(limit: number): Promise<string[]> {
    const work = this.db
      .selectFrom("platform_commands")
      .select(["wallet_id", "queued_at as at"])
      .where("state", "=", "pending")
      .unionAll(
        this.db
          .selectFrom("platform_loads")
          .select(["wallet_id", "issued_at as at"])
          .where("state", "=", "pending"),
      );
    const rows = await this.db
      .selectFrom(work.as("work"))
      .select("wallet_id")
      .select((eb) => eb.fn.min("at").as("first"))
      .groupBy("wallet_id")
      .orderBy("first")
      .orderBy("wallet_id")
      .limit(limit)
      .execute();
    return rows.map((r) => r.wallet_id);
  }
}
