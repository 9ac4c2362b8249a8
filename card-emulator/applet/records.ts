/**
 * Making the card's signed records: every change of value or status (debit, load, reversal,
 * parameters, block, unblock) bumps the counter, is signed over "TAPWALLET/1 CARD RECORD" || record,
 * and lands in the log in the same commit.
 */
import { hex } from "../../protocol/bytes.js";
import type { Certificate } from "../../protocol/pki.js";
import { SW } from "../../protocol/sw.js";
import type { RecordType } from "../../protocol/wallet/constants.js";
import { encodeSignedRecord } from "../../protocol/wallet/messages.js";
import { cardRecordMessage, encodeRecord } from "../../protocol/wallet/records.js";
import { type AppletContext, SwError } from "./context.js";
import { type CardLogEntry, type CardState, MAX_COUNTER, MAX_TIME } from "./state.js";

export interface RecordFields {
  readonly type: RecordType;
  readonly amount: number;
  readonly balanceAfter: number;
  readonly terminalId: string;
  readonly terminalSeq: number;
  readonly time: number;
  readonly binding: Uint8Array;
  readonly loadId?: Uint8Array;
}

export interface MadeRecord {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly entry: CardLogEntry;
}

/**
 * Raise the card's time high-water mark from what the terminal cannot inflate: its certificate's
 * notBefore, which the acquirer CA signed. The terminal's claimed time is not used — one terminal
 * with a long certificate and a clock months ahead would otherwise push the mark past the expiry
 * of every honest terminal's 30-day certificate (930B for all of them). Called on every commit
 * made in an authenticated session.
 */
export function raiseHighWater(next: CardState, terminal: Certificate): void {
  const issued = Math.floor(terminal.notBefore.getTime() / 1000);
  next.highWaterTime = Math.max(next.highWaterTime, Math.min(issued, MAX_TIME));
}

/** The next counter value; a card whose 32-bit counter is spent refuses every further change (6985). */
export function nextCounter(state: Readonly<CardState>): number {
  if (state.counter >= MAX_COUNTER) throw new SwError(SW.CONDITIONS_NOT_SATISFIED, "card counter exhausted");
  return state.counter + 1;
}

/** Encode and sign a record with counter `counter`; the log entry keeps the true signature. */
export function makeRecord(ctx: AppletContext, counter: number, f: RecordFields): MadeRecord {
  const bytes = encodeRecord({
    type: f.type,
    walletId: ctx.identity.walletId,
    cardCounter: counter,
    amount: f.amount,
    currency: ctx.state.currency,
    balanceAfter: f.balanceAfter,
    terminalId: f.terminalId,
    terminalSeq: f.terminalSeq,
    time: f.time,
    binding: f.binding,
  });
  const signature = ctx.identity.crypto.sign(cardRecordMessage(bytes));
  const entry: CardLogEntry = {
    type: f.type,
    counter,
    amount: f.amount,
    terminalId: f.terminalId,
    terminalSeq: f.terminalSeq,
    ...(f.loadId ? { loadId: hex(f.loadId) } : {}),
    record: hex(bytes),
    signature: hex(signature),
  };
  return { bytes, signature, entry };
}

/** The answer data of a fresh record: DF30 record, DF13 signature (64, last). */
export function recordAnswer(made: MadeRecord): Uint8Array {
  return encodeSignedRecord(made.bytes, made.signature);
}

/** A log entry as its signed record answer (GET TRANSACTION LOG, the replay fault). */
export function entryAnswer(entry: CardLogEntry): Uint8Array {
  return encodeSignedRecord(
    new Uint8Array(Buffer.from(entry.record, "hex")),
    new Uint8Array(Buffer.from(entry.signature, "hex")),
  );
}
