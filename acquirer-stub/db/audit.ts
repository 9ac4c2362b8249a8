/**
 * The operator audit log (`operator_audit`, migration 005_operator_audit): who did what to which
 * wallet or terminal, when, why, and what came of it. Every operator action — block, unblock,
 * report-lost, release, set-params, revoke-terminal, over HTTP or from the CLI — writes its row
 * in the action's own transaction, so a committed action always has its row and a refused or
 * rolled-back one has none. Rows are only inserted, never changed.
 */
import type { Db, OperatorAuditTable } from "./schema.js";

export type OperatorAction = OperatorAuditTable["action"];

/** Who acts: the HTTP credential and the remote address, or the CLI's operator name. */
export interface OperatorActor {
  readonly via: "http" | "cli";
  /** HTTP: "operator-token" or "open-operator-routes"; CLI: --operator, else the OS user name. */
  readonly who: string;
  /** HTTP: the remote address; null for the CLI. */
  readonly address: string | null;
}

/** What an action writes: its subject (a wallet id, or a terminal id), why, and its outcome. */
export interface AuditRecord {
  readonly action: OperatorAction;
  readonly subject: string;
  readonly reason: string | null;
  readonly outcome: Readonly<Record<string, unknown>>;
  /** Unix seconds. */
  readonly at: number;
}

export interface AuditEntry extends OperatorActor, AuditRecord {
  readonly id: number;
}

export interface AuditQuery {
  /** Unix seconds: entries at or after it. */
  readonly since?: number;
  readonly limit?: number;
}

export class OperatorAudit {
  constructor(readonly db: Db) {}

  /** Write one action's row; call it inside the action's transaction. */
  async record(actor: OperatorActor, r: AuditRecord): Promise<void> {
    await this.db
      .insertInto("operator_audit")
      .values({
        at: r.at,
        via: actor.via,
        who: actor.who,
        address: actor.address,
        action: r.action,
        subject: r.subject,
        reason: r.reason,
        outcome: JSON.stringify(r.outcome),
      })
      .execute();
  }

  /** Newest first (by time, then by insertion). */
  async list(query: AuditQuery = {}): Promise<AuditEntry[]> {
    let q = this.db.selectFrom("operator_audit").selectAll().orderBy("at", "desc").orderBy("id", "desc");
    if (query.since !== undefined) q = q.where("at", ">=", query.since);
    if (query.limit !== undefined) q = q.limit(query.limit);
    const rows = await q.execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      via: r.via,
      who: r.who,
      address: r.address,
      action: r.action,
      subject: r.subject,
      reason: r.reason,
      outcome: JSON.parse(r.outcome) as Record<string, unknown>,
    }));
  }
}
