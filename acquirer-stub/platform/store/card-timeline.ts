/**
 * What the platform knows of one wallet's card, counter by counter: the accepted records terminals
 * uploaded (`records`), and the card's own signed records of the platform's loads, reversals and
 * issuer commands (`proof_record` of `platform_loads`, `platform_reversals`, `platform_commands`).
 * Each card counter is one operation with the balance the card signed after it, so two consecutive
 * counters must agree (`continuityBreak`): a debit takes its amount off, a load adds it, a reversal
 * takes the loaded amount back, a parameter change, block or unblock moves nothing.
 */
import { ProtocolError } from "../../../protocol/errors.js";
import { RECORD_TYPE } from "../../../protocol/wallet/constants.js";
import { decodeRecord } from "../../../protocol/wallet/records.js";
import type { Db } from "../../db/schema.js";

export interface CardEvent {
  readonly cardCounter: number;
  readonly type: number;
  /** Minor units, as signed in the record. */
  readonly amount: number;
  readonly balanceAfter: number;
  /** Where it came from: a terminal's record (terminal id and seq), or the platform's books. */
  readonly terminalId: string | null;
  readonly batchId: string | null;
  readonly seq: number | null;
}

/** What the operation at a counter does to the balance before it. */
export function balanceDelta(e: Pick<CardEvent, "type" | "amount">): number {
  switch (e.type) {
    case RECORD_TYPE.DEBIT:
    case RECORD_TYPE.LOAD_REVERSAL:
      return -e.amount;
    case RECORD_TYPE.LOAD:
      return e.amount;
    default:
      return 0;
  }
}

/** The balance `cur` should show after `prev` (the counter just before it); null when it does. */
export function continuityBreak(prev: CardEvent, cur: CardEvent): { expected: number } | null {
  if (cur.cardCounter !== prev.cardCounter + 1) return null;
  const expected = prev.balanceAfter + balanceDelta(cur);
  return expected === cur.balanceAfter ? null : { expected };
}

/** The wallet's known card events, one per counter (a terminal's record first), by counter. */
export async function cardTimeline(db: Db, walletId: string): Promise<Map<number, CardEvent>> {
  const out = new Map<number, CardEvent>();
  const records = await db
    .selectFrom("records")
    .select(["card_counter", "type", "amount", "balance_after", "terminal_id", "batch_id", "seq"])
    .where("wallet_id", "=", walletId)
    .where("status", "=", "accepted")
    .where("card_counter", "is not", null)
    .where("balance_after", "is not", null)
    .execute();
  for (const r of records) {
    const cardCounter = Number(r.card_counter);
    if (out.has(cardCounter)) continue;
    out.set(cardCounter, {
      cardCounter,
      type: Number(r.type),
      amount: Number(r.amount),
      balanceAfter: Number(r.balance_after),
      terminalId: r.terminal_id,
      batchId: r.batch_id,
      seq: Number(r.seq),
    });
  }
  const proofs = [
    ...(await db
      .selectFrom("platform_loads")
      .select("proof_record")
      .where("wallet_id", "=", walletId)
      .where("proof_record", "is not", null)
      .execute()),
    ...(await db
      .selectFrom("platform_reversals as v")
      .innerJoin("platform_loads as l", "l.load_id", "v.load_id")
      .select("v.proof_record")
      .where("l.wallet_id", "=", walletId)
      .where("v.proof_record", "is not", null)
      .execute()),
    ...(await db
      .selectFrom("platform_commands")
      .select("proof_record")
      .where("wallet_id", "=", walletId)
      .where("proof_record", "is not", null)
      .execute()),
  ];
  for (const p of proofs) {
    const record = decodeProof(p.proof_record);
    if (!record || record.walletId !== walletId || out.has(record.cardCounter)) continue;
    out.set(record.cardCounter, {
      cardCounter: record.cardCounter,
      type: record.type,
      amount: record.amount,
      balanceAfter: record.balanceAfter,
      terminalId: null,
      batchId: null,
      seq: null,
    });
  }
  return out;
}

/** A stored proof is the card's verified record; one that no longer decodes is left out, not fatal. */
function decodeProof(bytes: Uint8Array | null): ReturnType<typeof decodeRecord> | undefined {
  if (bytes === null) return undefined;
  try {
    return decodeRecord(new Uint8Array(bytes));
  } catch (e) {
    if (e instanceof ProtocolError) return undefined;
    throw e;
  }
}
