/**
 * Issuer commands queued for a wallet's card (`platform_commands`) and each signing of one over a
 * card challenge (`platform_command_signings`, whose answers are replayed to a retry). No
 * transaction here: PlatformStore opens them.
 *
 * The database keeps at most one pending command of a kind per wallet (a partial unique index):
 * a newer one supersedes the older in the same transaction, and two instances queueing at once
 * cannot both leave one pending.
 */
import type { Selectable } from "kysely";
import { asBuffer } from "../../../protocol/bytes.js";
import type { IssuerCommandKind } from "../../../protocol/platform/api.js";
import type { Db, PlatformCommandSigningsTable, PlatformCommandsTable } from "../../db/schema.js";

export type CommandStateName = "pending" | "delivered" | "superseded";

export interface IssuerCommandRow {
  readonly commandId: string;
  readonly walletId: string;
  readonly kind: IssuerCommandKind;
  /** The parameters to set, or `{ reason }` (protocol/wallet/messages.ts BLOCK_REASON). */
  readonly payload: Record<string, number>;
  readonly state: CommandStateName;
  readonly queuedAt: number;
  readonly deliveredAt: number | null;
  readonly deliveredBy: string | null;
  readonly terminalId: string | null;
  readonly cardCounter: number | null;
}

export interface CommandSigning {
  readonly requestId: string;
  readonly requestHash: string;
  readonly commandId: string;
  readonly terminalId: string;
  readonly challenge: string;
  readonly issuedAt: number;
  readonly command: string;
  readonly binding: Uint8Array;
  /** The JSON answer of its completion, once the card's record was taken. */
  readonly answer: string | null;
}

function toCommand(r: Selectable<PlatformCommandsTable>): IssuerCommandRow {
  return {
    commandId: r.command_id,
    walletId: r.wallet_id,
    kind: r.kind,
    payload: JSON.parse(r.payload) as Record<string, number>,
    state: r.state,
    queuedAt: Number(r.queued_at),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
    deliveredBy: r.delivered_by,
    terminalId: r.terminal_id,
    cardCounter: r.card_counter === null ? null : Number(r.card_counter),
  };
}

function toSigning(r: Selectable<PlatformCommandSigningsTable>): CommandSigning {
  return {
    requestId: r.request_id,
    requestHash: r.request_hash,
    commandId: r.command_id,
    terminalId: r.terminal_id,
    challenge: r.challenge,
    issuedAt: Number(r.issued_at),
    command: r.command,
    binding: new Uint8Array(r.binding),
    answer: r.answer,
  };
}

export class Commands {
  constructor(readonly db: Db) {}

  async get(commandId: string): Promise<IssuerCommandRow | undefined> {
    const row = await this.db
      .selectFrom("platform_commands")
      .selectAll()
      .where("command_id", "=", commandId)
      .executeTakeFirst();
    return row ? toCommand(row) : undefined;
  }

  /** The wallet's commands, oldest first; only those in `state` when given. */
  async ofWallet(walletId: string, state?: CommandStateName): Promise<IssuerCommandRow[]> {
    let q = this.db.selectFrom("platform_commands").selectAll().where("wallet_id", "=", walletId);
    if (state) q = q.where("state", "=", state);
    const rows = await q.orderBy("queued_at").orderBy("command_id").execute();
    return rows.map(toCommand);
  }

  async pendingOfKind(walletId: string, kind: IssuerCommandKind): Promise<IssuerCommandRow | undefined> {
    const row = await this.db
      .selectFrom("platform_commands")
      .selectAll()
      .where("wallet_id", "=", walletId)
      .where("kind", "=", kind)
      .where("state", "=", "pending")
      .executeTakeFirst();
    return row ? toCommand(row) : undefined;
  }

  async insert(c: {
    commandId: string;
    walletId: string;
    kind: IssuerCommandKind;
    payload: Record<string, number>;
    queuedAt: number;
  }): Promise<void> {
    await this.db
      .insertInto("platform_commands")
      .values({
        command_id: c.commandId,
        wallet_id: c.walletId,
        kind: c.kind,
        payload: JSON.stringify(c.payload),
        state: "pending",
        queued_at: c.queuedAt,
        delivered_at: null,
        delivered_by: null,
        terminal_id: null,
        card_counter: null,
        proof_record: null,
        proof_signature: null,
      })
      .execute();
  }

  /** A pending command replaced by a newer one (or made moot): it is signed no more. */
  async supersede(commandId: string): Promise<void> {
    await this.db
      .updateTable("platform_commands")
      .set({ state: "superseded" })
      .where("command_id", "=", commandId)
      .where("state", "=", "pending")
      .execute();
  }

  /** The card's record taken as the receipt of one signing: the command is delivered. */
  async markDelivered(
    commandId: string,
    d: {
      requestId: string;
      terminalId: string;
      cardCounter: number;
      record: Uint8Array;
      signature: Uint8Array;
      at: number;
    },
  ): Promise<void> {
    await this.db
      .updateTable("platform_commands")
      .set({
        state: "delivered",
        delivered_at: d.at,
        delivered_by: d.requestId,
        terminal_id: d.terminalId,
        card_counter: d.cardCounter,
        proof_record: asBuffer(d.record),
        proof_signature: asBuffer(d.signature),
      })
      .where("command_id", "=", commandId)
      .execute();
  }

  async signing(requestId: string): Promise<CommandSigning | undefined> {
    const row = await this.db
      .selectFrom("platform_command_signings")
      .selectAll()
      .where("request_id", "=", requestId)
      .executeTakeFirst();
    return row ? toSigning(row) : undefined;
  }

  async signingCount(commandId: string): Promise<number> {
    const row = await this.db
      .selectFrom("platform_command_signings")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("command_id", "=", commandId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insertSigning(s: Omit<CommandSigning, "answer">): Promise<void> {
    await this.db
      .insertInto("platform_command_signings")
      .values({
        request_id: s.requestId,
        request_hash: s.requestHash,
        command_id: s.commandId,
        terminal_id: s.terminalId,
        challenge: s.challenge,
        issued_at: s.issuedAt,
        command: s.command,
        binding: asBuffer(s.binding),
        answer: null,
      })
      .execute();
  }

  async setSigningAnswer(requestId: string, answer: string): Promise<void> {
    await this.db
      .updateTable("platform_command_signings")
      .set({ answer })
      .where("request_id", "=", requestId)
      .execute();
  }
}
