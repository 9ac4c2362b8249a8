/**
 * Terminals in the acquirer's database: each one's chain head after its last settled batch
 * (`terminals`), which the next batch must continue, and the terminal ids an operator revoked
 * (`revoked_terminals`). Revocation is read from the database on every request, so a terminal
 * revoked by the CLI while `serve` runs is refused at once.
 */
import { asBuffer } from "../../protocol/bytes.js";
import type Database from "../../protocol/sqlite.js";

export interface TerminalHead {
  readonly chainHead: Uint8Array;
  readonly lastBatchId: string;
}

function statements(db: Database.Database) {
  return {
    head: db.prepare("SELECT chain_head, last_batch_id FROM terminals WHERE terminal_id = ?"),
    setHead: db.prepare(
      `INSERT INTO terminals (terminal_id, merchant_id, chain_head, last_batch_id, updated_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (terminal_id) DO UPDATE SET merchant_id = excluded.merchant_id,
         chain_head = excluded.chain_head, last_batch_id = excluded.last_batch_id,
         updated_at = excluded.updated_at`,
    ),
    isRevoked: db.prepare("SELECT 1 FROM revoked_terminals WHERE terminal_id = ?"),
    revoke: db.prepare(
      "INSERT INTO revoked_terminals (terminal_id, revoked_at, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
  };
}

export class Terminals {
  readonly #s: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#s = statements(db);
  }

  /** The chain head after the terminal's last settled batch; undefined for a new terminal. */
  head(terminalId: string): TerminalHead | undefined {
    const row = this.#s.head.get(terminalId) as { chain_head: Buffer; last_batch_id: string } | undefined;
    return row ? { chainHead: row.chain_head, lastBatchId: row.last_batch_id } : undefined;
  }

  /** Move the terminal's head past a settled batch (creating the terminal on its first one). */
  setHead(terminalId: string, merchantId: string, chainHead: Uint8Array, batchId: string, now: number): void {
    this.#s.setHead.run(terminalId, merchantId, asBuffer(chainHead), batchId, now);
  }

  isRevoked(terminalId: string): boolean {
    return this.#s.isRevoked.get(terminalId) !== undefined;
  }

  /** Returns false when the terminal already was revoked. */
  revoke(terminalId: string, now: number, reason?: string): boolean {
    return this.#s.revoke.run(terminalId, now, reason ?? null).changes > 0;
  }
}
