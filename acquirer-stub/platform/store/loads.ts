/**
 * Loads (`platform_loads`), their reversals (`platform_reversals`), the card challenges the
 * platform signed over (`platform_challenges`) and the platform's serial number
 * (`platform_serial`). No transaction here: PlatformStore opens them.
 *
 * The database keeps the rules: a load id is one load and a request id one reversal (primary
 * keys: of two instances storing the same one, the second fails and its retry replays the first's
 * answer); a challenge signs one command of its wallet (primary key); the serial is one row moved
 * by `value = value + 1`; a load leaves a state only from the state it was read in (`move`).
 */
import type { Selectable } from "kysely";
import { asBuffer, hex } from "../../../protocol/bytes.js";
import { StoreConflict } from "../../db/engine.js";
import type { Db, PlatformLoadsTable, PlatformReversalsTable } from "../../db/schema.js";
import type { BankLoadMessage } from "../bank-message.js";
import type { Load, LoadStateName, Reversal } from "../model.js";

const proofOf = (record: Buffer | null, signature: Buffer | null) =>
  record && signature ? { record: hex(record), signature: hex(signature) } : null;

function toLoad(r: Selectable<PlatformLoadsTable>): Load {
  return {
    loadId: r.load_id,
    requestHash: r.request_hash,
    walletId: r.wallet_id,
    terminalId: r.terminal_id,
    type: r.type,
    amount: r.amount,
    currency: r.currency,
    teller: r.teller,
    branch: r.branch,
    account: r.account,
    challenge: r.challenge,
    serial: r.serial,
    issuedAt: r.issued_at,
    command: r.command,
    binding: new Uint8Array(r.binding),
    state: r.state,
    cardCounter: r.card_counter,
    completedAt: r.completed_at,
    proof: proofOf(r.proof_record, r.proof_signature),
    answer: r.answer,
    bankMessage: r.bank_message === null ? null : (JSON.parse(r.bank_message) as BankLoadMessage),
  };
}

function toReversal(r: Selectable<PlatformReversalsTable>): Reversal {
  return {
    requestId: r.request_id,
    requestHash: r.request_hash,
    loadId: r.load_id,
    terminalId: r.terminal_id,
    challenge: r.challenge,
    teller: r.teller,
    issuedAt: r.issued_at,
    command: r.command,
    binding: new Uint8Array(r.binding),
    outcome: r.outcome,
    cardCounter: r.card_counter,
    proof: proofOf(r.proof_record, r.proof_signature),
    answer: r.answer,
    completedAt: r.completed_at,
  };
}

export interface Completion {
  readonly at: number;
  readonly cardCounter?: number;
  readonly proof?: { readonly record: Uint8Array; readonly signature: Uint8Array };
  readonly answer: string;
}

export class Loads {
  constructor(readonly db: Db) {}

  async get(loadId: string): Promise<Load | undefined> {
    const row = await this.db
      .selectFrom("platform_loads")
      .selectAll()
      .where("load_id", "=", loadId)
      .executeTakeFirst();
    return row ? toLoad(row) : undefined;
  }

  /** A wallet's loads, oldest first; only those in `state` when given. */
  async ofWallet(walletId: string, state?: LoadStateName): Promise<Load[]> {
    let q = this.db.selectFrom("platform_loads").selectAll().where("wallet_id", "=", walletId);
    if (state) q = q.where("state", "=", state);
    return (await q.orderBy("serial").execute()).map(toLoad);
  }

  /** What the wallet's pending supplementary loads will take from its online account. */
  async pendingFromOnline(walletId: string): Promise<number> {
    const row = await this.db
      .selectFrom("platform_loads")
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("amount"), eb.lit(0)).as("total"))
      .where("wallet_id", "=", walletId)
      .where("type", "=", "supplementary")
      .where("state", "=", "pending")
      .executeTakeFirstOrThrow();
    return Number(row.total);
  }

  /** The next platform serial number, from the one row every instance moves atomically. */
  async nextSerial(): Promise<number> {
    const row = await this.db
      .updateTable("platform_serial")
      .set((eb) => ({ value: eb("value", "+", 1) }))
      .where("id", "=", 1)
      .returning("value")
      .executeTakeFirstOrThrow();
    return Number(row.value);
  }

  async challengeUsed(walletId: string, challenge: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("platform_challenges")
      .select("ref")
      .where("wallet_id", "=", walletId)
      .where("challenge", "=", challenge)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Spend a challenge; a second writer with the same one fails on the key (and its retry refuses). */
  async useChallenge(
    walletId: string,
    challenge: string,
    usedFor: "load" | "reversal" | "command",
    ref: string,
    at: number,
  ): Promise<void> {
    await this.db
      .insertInto("platform_challenges")
      .values({ wallet_id: walletId, challenge, used_for: usedFor, ref, at })
      .execute();
  }

  async insert(l: Load): Promise<void> {
    await this.db
      .insertInto("platform_loads")
      .values({
        load_id: l.loadId,
        request_hash: l.requestHash,
        wallet_id: l.walletId,
        terminal_id: l.terminalId,
        type: l.type,
        amount: l.amount,
        currency: l.currency,
        teller: l.teller,
        branch: l.branch,
        account: l.account,
        challenge: l.challenge,
        serial: l.serial,
        issued_at: l.issuedAt,
        command: l.command,
        binding: asBuffer(l.binding),
        state: l.state,
        card_counter: l.cardCounter,
        completed_at: l.completedAt,
        proof_record: null,
        proof_signature: null,
        answer: null,
        bank_message: l.bankMessage === null ? null : JSON.stringify(l.bankMessage),
      })
      .execute();
  }

  /**
   * Move a load from the state it was read in to `to`, setting what is given (a load that leaves
   * pending gets its completion time). Throws StoreConflict when another writer moved it first:
   * the transaction reruns and sees that.
   */
  async move(loadId: string, from: LoadStateName, to: LoadStateName, c: Partial<Completion>): Promise<void> {
    const r = await this.db
      .updateTable("platform_loads")
      .set({
        state: to,
        ...(c.at !== undefined ? { completed_at: c.at } : {}),
        ...(c.answer !== undefined ? { answer: c.answer } : {}),
        ...(c.cardCounter !== undefined ? { card_counter: c.cardCounter } : {}),
        ...(c.proof
          ? { proof_record: asBuffer(c.proof.record), proof_signature: asBuffer(c.proof.signature) }
          : {}),
      })
      .where("load_id", "=", loadId)
      .where("state", "=", from)
      .executeTakeFirst();
    if (r.numUpdatedRows !== 1n)
      throw new StoreConflict(`load ${loadId} left state ${from} under this request`);
  }

  async reversal(requestId: string): Promise<Reversal | undefined> {
    const row = await this.db
      .selectFrom("platform_reversals")
      .selectAll()
      .where("request_id", "=", requestId)
      .executeTakeFirst();
    return row ? toReversal(row) : undefined;
  }

  async insertReversal(r: Reversal): Promise<void> {
    await this.db
      .insertInto("platform_reversals")
      .values({
        request_id: r.requestId,
        request_hash: r.requestHash,
        load_id: r.loadId,
        terminal_id: r.terminalId,
        challenge: r.challenge,
        teller: r.teller,
        issued_at: r.issuedAt,
        command: r.command,
        binding: asBuffer(r.binding),
        outcome: null,
        card_counter: null,
        proof_record: null,
        proof_signature: null,
        answer: null,
        completed_at: null,
      })
      .execute();
  }

  /** Record what the card answered to a reversal, once (StoreConflict if another writer did). */
  async completeReversal(requestId: string, outcome: "reversed" | "not-found", c: Completion): Promise<void> {
    const r = await this.db
      .updateTable("platform_reversals")
      .set({
        outcome,
        completed_at: c.at,
        answer: c.answer,
        card_counter: c.cardCounter ?? null,
        proof_record: c.proof ? asBuffer(c.proof.record) : null,
        proof_signature: c.proof ? asBuffer(c.proof.signature) : null,
      })
      .where("request_id", "=", requestId)
      .where("outcome", "is", null)
      .executeTakeFirst();
    if (r.numUpdatedRows !== 1n)
      throw new StoreConflict(`reversal ${requestId} was completed under this request`);
  }
}
