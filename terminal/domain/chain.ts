/**
 * The terminal's hash chain, as a pure rule. Every final record (complete or voided) is linked to
 * the one finalised before it: the terminal signs the record message over (previous hash, seq,
 * status, card record, card signature), and the chain hash covers that message and the signature.
 * The acquirer recomputes the chain, so an edited, deleted or reordered record is detected.
 *
 * A store calls `linkRecord` inside the transaction that finalises the record, with the head it
 * read in that same transaction, and stores the link and the new head together.
 */
import {
  CHAIN_STATUS,
  type ChainEntry,
  chainHash,
  GENESIS_HASH,
  terminalRecordMessage,
} from "../../protocol/wallet/records.js";
import type { RecordSigner } from "./records.js";

/** The last chain hash and its index (32 zero bytes and 0 before the first final record). */
export interface ChainHead {
  readonly hash: Uint8Array;
  readonly index: number;
}

export const GENESIS_HEAD: ChainHead = { hash: GENESIS_HASH, index: 0 };

/** What of a final record the chain covers. */
export interface FinalRecord {
  readonly seq: number;
  readonly status: "complete" | "voided";
  /** Absent for a voided intent (the chain then covers empty bytes). */
  readonly cardRecord?: Uint8Array;
  readonly cardSignature?: Uint8Array;
}

/** What a store keeps with a final record, and the new head. */
export interface ChainLink {
  readonly chainIndex: number;
  readonly previousHash: Uint8Array;
  readonly terminalSignature: Uint8Array;
  readonly chainHash: Uint8Array;
}

export function chainEntry(previousHash: Uint8Array, record: FinalRecord): ChainEntry {
  return {
    previousHash,
    terminalSeq: record.seq,
    status: record.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
    cardRecord: record.cardRecord ?? new Uint8Array(0),
    cardSignature: record.cardSignature ?? new Uint8Array(0),
  };
}

/** Counter-sign `record` and link it after `head`. */
export function linkRecord(head: ChainHead, record: FinalRecord, sign: RecordSigner): ChainLink {
  const entry = chainEntry(head.hash, record);
  const terminalSignature = sign(terminalRecordMessage(entry));
  return {
    chainIndex: head.index + 1,
    previousHash: head.hash,
    terminalSignature,
    chainHash: chainHash(entry, terminalSignature),
  };
}

/** The head after `link`. */
export function headOf(link: ChainLink): ChainHead {
  return { hash: link.chainHash, index: link.chainIndex };
}
