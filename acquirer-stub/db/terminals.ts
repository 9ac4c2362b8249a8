/**
 * Terminals in the acquirer's database: each one's chain head after its last settled batch
 * (`terminals`), which the next batch must continue, and the terminal ids an operator revoked
 * (`revoked_terminals`). Revocation is read from the database on every request, so a terminal
 * revoked by the CLI (or on another instance) is refused at once.
 *
 * The head moves by compare-and-set: from the head the decision read, or, for a new terminal, by
 * an insert the primary key allows once. Two instances settling two batches of one terminal at
 * once cannot both move it: the loser gets StoreConflict (or a unique violation) and retries.
 */
import { asBuffer } from "../../protocol/bytes.js";
import { StoreConflict } from "./engine.js";
import type { Db } from "./schema.js";

export interface TerminalHead {
  readonly chainHead: Uint8Array;
  readonly lastBatchId: string;
}

export class Terminals {
  constructor(readonly db: Db) {}

  /** The chain head after the terminal's last settled batch; undefined for a new terminal. */
  async head(terminalId: string): Promise<TerminalHead | undefined> {
    const row = await this.db
      .selectFrom("terminals")
      .select(["chain_head", "last_batch_id"])
      .where("terminal_id", "=", terminalId)
      .executeTakeFirst();
    return row ? { chainHead: row.chain_head, lastBatchId: row.last_batch_id } : undefined;
  }

  /**
   * Move the terminal's head from `from` (undefined: the terminal has none yet) past a settled
   * batch. Throws StoreConflict when another writer moved it first.
   */
  async moveHead(
    terminalId: string,
    merchantId: string,
    from: Uint8Array | undefined,
    to: Uint8Array,
    batchId: string,
    now: number,
  ): Promise<void> {
    if (from === undefined) {
      // A second writer's insert fails on the primary key (23505 / SQLITE_CONSTRAINT): retried.
      await this.db
        .insertInto("terminals")
        .values({
          terminal_id: terminalId,
          merchant_id: merchantId,
          chain_head: asBuffer(to),
          last_batch_id: batchId,
          updated_at: now,
        })
        .execute();
      return;
    }
    const result = await this.db
      .updateTable("terminals")
      .set({ merchant_id: merchantId, chain_head: asBuffer(to), last_batch_id: batchId, updated_at: now })
      .where("terminal_id", "=", terminalId)
      .where("chain_head", "=", asBuffer(from))
      .executeTakeFirst();
    if (result.numUpdatedRows !== 1n)
      throw new StoreConflict(`the chain head of terminal ${terminalId} moved under this batch`);
  }

  async isRevoked(terminalId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("revoked_terminals")
      .select("terminal_id")
      .where("terminal_id", "=", terminalId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Returns false when the terminal already was revoked. */
  async revoke(terminalId: string, now: number, reason?: string): Promise<boolean> {
    const result = await this.db
      .insertInto("revoked_terminals")
      .values({ terminal_id: terminalId, revoked_at: now, reason: reason ?? null })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
}
