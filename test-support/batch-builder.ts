/**
 * Realistic signed batches without the applet, for acquirer tests and benchmarks: card records
 * signed with the fixture card keys (or synthetic cards issued by the fixture issuer CA), chained
 * and counter-signed with a fixture terminal key exactly as the terminal's record store does, and
 * a signed manifest. Plus the tampering a hostile merchant or a broken terminal would do.
 *
 * node:crypto signing (~50k signatures/s): 100,000 records build in a few seconds.
 */

import type { KeyObject } from "node:crypto";
import { randomBytes, randomUUID } from "node:crypto";
import { hex } from "../protocol/bytes.js";
import { ecdsaSign, generateP256KeyPair, sha256 } from "../protocol/crypto.js";
import { type Certificate, issueCertificate, parseCertificate } from "../protocol/pki.js";
import { type FixturePki, loadFixturePki } from "../protocol/pki-fixtures.js";
import {
  type BatchManifest,
  type BatchRecordWire,
  type BatchUpload,
  type CurrencyTotal,
  manifestMessage,
} from "../protocol/wallet/batch.js";
import { RECORD_TYPE, type RecordType } from "../protocol/wallet/constants.js";
import {
  CHAIN_STATUS,
  decodeRecord,
  encodeRecord,
  GENESIS_HASH,
  signCardRecord,
  terminalRecordMessage,
  type WalletRecord,
} from "../protocol/wallet/records.js";
import { frozenClock, type WorldClock } from "./clock.js";

/** 2026-11-23T10:00:00Z (seconds): the time of the default, frozen, simulated terminal. */
export const DEFAULT_TIME = Date.UTC(2026, 10, 23, 10, 0, 0) / 1000;
/** The business day of DEFAULT_TIME (what a settlement report of those records asks for). */
export const DEFAULT_DAY = new Date(DEFAULT_TIME * 1000).toISOString().slice(0, 10);
export const EUR = 978;
export const USD = 840;

export interface Card {
  readonly name: string;
  readonly walletId: string;
  readonly certificate: Certificate;
  readonly key: KeyObject;
}

export interface DebitSpec {
  /** A fixture card name ("cards/alice") or a Card; default cards/alice. */
  readonly card?: string | Card;
  readonly amount?: number;
  readonly currency?: number;
  /** Card counter; default the card's next. Reusing one with other content makes a clone. */
  readonly counter?: number;
  readonly time?: number;
  readonly balanceAfter?: number;
  readonly type?: RecordType;
  /** Overrides inside the card record (a record stolen from another terminal, a wrong seq). */
  readonly recordTerminalId?: string;
  readonly recordTerminalSeq?: number;
  readonly recordWalletId?: string;
}

export interface TerminalSimOptions {
  /** Fixture terminal: "terminals/term-0001" (default), "terminals/revoked", "terminals/expired"… */
  readonly terminal?: string;
  readonly previousHash?: Uint8Array;
  readonly nextSeq?: number;
  readonly pki?: FixturePki;
  /** Wallet counters and balances shared with another terminal (the same wallets tapping at both). */
  readonly wallets?: Map<string, CardState>;
  /**
   * The terminal's clock: records and batches are dated by it. Default: frozen at DEFAULT_TIME. An
   * acquirer on the real clock (a spawned `acquirer-stub serve`) needs a TerminalSim on `realClock`.
   */
  readonly clock?: WorldClock;
}

export interface CardState {
  counter: number;
  balance: number;
}

const START_BALANCE = 500_000_000_000;

/** Cards the fixture PKI has (by name), with their keys. */
export function fixtureCard(name: string, pki: FixturePki = loadFixturePki()): Card {
  const certificate = pki.cert(name);
  const walletId = certificate.attributes.walletId;
  if (!walletId) throw new RangeError(`${name} is not a card`);
  return { name, walletId, certificate, key: pki.key(name) };
}

/**
 * `count` fresh cards issued by the fixture issuer CA (wallet ids W-SYN-000001…), for benchmarks
 * and tests that need many distinct wallets. ~1.5 ms each.
 */
export async function syntheticCards(count: number, pki: FixturePki = loadFixturePki()): Promise<Card[]> {
  const issuer = { certificate: pki.der("issuer-ca"), privateKey: pki.key("issuer-ca") };
  const out: Card[] = [];
  for (let i = 1; i <= count; i++) {
    const keys = generateP256KeyPair();
    const walletId = `W-SYN-${String(i).padStart(6, "0")}`;
    const der = await issueCertificate({
      role: "card",
      subjectCommonName: walletId,
      publicKey: keys.publicKey,
      issuer,
      serialNumber: (0x5000000 + i).toString(16),
      notBefore: new Date("2025-06-01T00:00:00Z"),
      notAfter: new Date("2035-06-01T00:00:00Z"),
      attributes: { walletId },
    });
    out.push({ name: walletId, walletId, certificate: parseCertificate(der), key: keys.privateKey });
  }
  return out;
}

/** The terminal side of a chain: what the terminal's record store does when it finalises records. */
export class TerminalSim {
  readonly pki: FixturePki;
  readonly terminalName: string;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly key: KeyObject;
  readonly certificateChain: readonly Certificate[];
  readonly clock: WorldClock;
  /** Chain hash after the last record made (also the next batch's previous hash). */
  chainHead: Uint8Array;
  nextSeq: number;
  readonly #cards = new Map<string, Card>();
  /** Per wallet id: the card's counter and balance (share it to make wallets tap at several terminals). */
  readonly wallets: Map<string, CardState>;
  #pending: BatchRecordWire[] = [];
  #batchStart: Uint8Array;

  constructor(options: TerminalSimOptions = {}) {
    this.pki = options.pki ?? loadFixturePki();
    this.terminalName = options.terminal ?? "terminals/term-0001";
    const cert = this.pki.cert(this.terminalName);
    this.terminalId = cert.attributes.terminalId!;
    this.merchantId = cert.attributes.merchantId!;
    this.key = this.pki.key(this.terminalName);
    this.certificateChain = [cert, ...this.pki.intermediates(this.terminalName)];
    this.chainHead = options.previousHash ?? GENESIS_HASH;
    this.#batchStart = this.chainHead;
    this.nextSeq = options.nextSeq ?? 1;
    this.wallets = options.wallets ?? new Map();
    this.clock = options.clock ?? frozenClock(DEFAULT_TIME * 1000);
  }

  card(ref: string | Card = "cards/alice"): Card {
    if (typeof ref !== "string") {
      this.#cards.set(ref.name, ref);
      return ref;
    }
    let card = this.#cards.get(ref);
    if (!card) {
      card = fixtureCard(ref, this.pki);
      this.#cards.set(ref, card);
    }
    return card;
  }

  #stateOf(card: Card): CardState {
    let s = this.wallets.get(card.walletId);
    if (!s) {
      s = { counter: 0, balance: START_BALANCE };
      this.wallets.set(card.walletId, s);
    }
    return s;
  }

  /** A card-signed debit, chained and counter-signed; returns its wire entry (queued for the batch). */
  debit(spec: DebitSpec = {}): BatchRecordWire {
    const card = this.card(spec.card);
    const state = this.#stateOf(card);
    const amount = spec.amount ?? 450;
    const seq = this.nextSeq++;
    const counter = spec.counter ?? state.counter + 1;
    if (spec.counter === undefined) state.counter = counter;
    else state.counter = Math.max(state.counter, counter);
    state.balance -= amount;
    const record: WalletRecord = {
      type: spec.type ?? RECORD_TYPE.DEBIT,
      walletId: spec.recordWalletId ?? card.walletId,
      cardCounter: counter,
      amount,
      currency: spec.currency ?? EUR,
      balanceAfter: spec.balanceAfter ?? state.balance,
      terminalId: spec.recordTerminalId ?? this.terminalId,
      terminalSeq: spec.recordTerminalSeq ?? seq,
      time: spec.time ?? this.clock.seconds(),
      binding: new Uint8Array(randomBytes(32)),
    };
    const cardRecord = encodeRecord(record);
    const cardSignature = signCardRecord(card.key, cardRecord);
    return this.#append(seq, CHAIN_STATUS.COMPLETE, cardRecord, cardSignature, card.certificate.fingerprint);
  }

  /**
   * Chain an existing entry's card record again under its own seq (a terminal that finalised the
   * same card answer twice, or a record copied from another terminal's database).
   */
  rechain(entry: BatchRecordWire): BatchRecordWire {
    const card = [...this.#cards.values()].find((c) => c.certificate.fingerprint === entry.cardCertificate);
    if (card) this.#cards.set(card.name, card);
    return this.#append(
      entry.seq,
      entry.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
      Buffer.from(entry.cardRecord, "hex"),
      Buffer.from(entry.cardSignature, "hex"),
      entry.cardCertificate,
    );
  }

  /** A voided intent (the card proved it never committed): chained with no card record. */
  voided(): BatchRecordWire {
    return this.#append(this.nextSeq++, CHAIN_STATUS.VOIDED, new Uint8Array(0), new Uint8Array(0), "");
  }

  #append(
    seq: number,
    status: (typeof CHAIN_STATUS)[keyof typeof CHAIN_STATUS],
    cardRecord: Uint8Array,
    cardSignature: Uint8Array,
    fingerprint: string,
  ): BatchRecordWire {
    const entry = { previousHash: this.chainHead, terminalSeq: seq, status, cardRecord, cardSignature };
    const message = terminalRecordMessage(entry);
    const terminalSignature = ecdsaSign(this.key, message);
    const wire: BatchRecordWire = {
      seq,
      status: status === CHAIN_STATUS.COMPLETE ? "complete" : "voided",
      cardRecord: hex(cardRecord),
      cardSignature: hex(cardSignature),
      cardCertificate: fingerprint,
      previousHash: hex(this.chainHead),
      terminalSignature: hex(terminalSignature),
    };
    this.chainHead = sha256(message, terminalSignature);
    this.#pending.push(wire);
    return wire;
  }

  /** `n` debits; `spec(i)` picks each one's card, amount… */
  debits(n: number, spec: (i: number) => DebitSpec = () => ({})): void {
    for (let i = 0; i < n; i++) this.debit(spec(i));
  }

  /** Close the queued entries into a signed batch (what `posd upload` sends). */
  closeBatch(options: { batchId?: string; createdAt?: number } = {}): BatchUpload {
    const records = this.#pending;
    this.#pending = [];
    const previousHash = this.#batchStart;
    this.#batchStart = this.chainHead;
    return assemble(this, records, previousHash, options);
  }

  /** Forget queued entries without batching them (records the terminal "lost"). */
  discardPending(): BatchRecordWire[] {
    const out = this.#pending;
    this.#pending = [];
    this.#batchStart = this.chainHead;
    return out;
  }

  cardsUsed(): Card[] {
    return [...this.#cards.values()];
  }
}

function certificatesFor(sim: TerminalSim, records: readonly BatchRecordWire[]): Record<string, string> {
  const byFingerprint = new Map(sim.cardsUsed().map((c) => [c.certificate.fingerprint, c.certificate]));
  const out: Record<string, string> = {};
  for (const r of records) {
    if (r.cardCertificate === "" || out[r.cardCertificate]) continue;
    const cert = byFingerprint.get(r.cardCertificate);
    if (cert) out[r.cardCertificate] = Buffer.from(cert.der).toString("base64");
  }
  return out;
}

/** Manifest totals of complete debits, sorted by currency. */
export function totalsOf(records: readonly BatchRecordWire[]): CurrencyTotal[] {
  const totals = new Map<number, { count: number; amount: number }>();
  for (const r of records) {
    if (r.status !== "complete") continue;
    const rec = decodeRecord(Buffer.from(r.cardRecord, "hex"));
    if (rec.type !== RECORD_TYPE.DEBIT) continue;
    const t = totals.get(rec.currency) ?? { count: 0, amount: 0 };
    t.count++;
    t.amount += rec.amount;
    totals.set(rec.currency, t);
  }
  return [...totals.entries()].sort(([a], [b]) => a - b).map(([currency, t]) => ({ currency, ...t }));
}

/** Chain hash after a wire entry, as uploaded. */
export function entryChainHash(r: BatchRecordWire): Uint8Array {
  const message = terminalRecordMessage({
    previousHash: Buffer.from(r.previousHash, "hex"),
    terminalSeq: r.seq,
    status: r.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
    cardRecord: Buffer.from(r.cardRecord, "hex"),
    cardSignature: Buffer.from(r.cardSignature, "hex"),
  });
  return sha256(message, Buffer.from(r.terminalSignature, "hex"));
}

function assemble(
  sim: TerminalSim,
  records: BatchRecordWire[],
  previousHash: Uint8Array,
  options: { batchId?: string; createdAt?: number },
): BatchUpload {
  const manifest: BatchManifest = {
    batchId: options.batchId ?? randomUUID(),
    terminalId: sim.terminalId,
    merchantId: sim.merchantId,
    createdAt: options.createdAt ?? sim.clock.seconds(),
    count: records.length,
    totals: totalsOf(records),
    firstSeq: records[0]?.seq ?? 0,
    lastSeq: records.at(-1)?.seq ?? 0,
    previousHash: hex(previousHash),
    chainHead: records.length > 0 ? hex(entryChainHash(records.at(-1)!)) : hex(previousHash),
  };
  return {
    manifest,
    manifestSignature: hex(ecdsaSign(sim.key, manifestMessage(manifest))),
    terminalCertificates: sim.certificateChain.map((c) => Buffer.from(c.der).toString("base64")),
    certificates: certificatesFor(sim, records),
    records,
  };
}

// ---------------------------------------------------------------------------------------------
// Tampering: each returns a new upload and leaves the input alone.

/** Re-sign the manifest with `key` after changing it (a terminal rebuilding it from its database). */
export function resignManifest(
  upload: BatchUpload,
  key: KeyObject,
  changes: Partial<BatchManifest> = {},
): BatchUpload {
  const manifest = { ...upload.manifest, ...changes };
  return { ...upload, manifest, manifestSignature: hex(ecdsaSign(key, manifestMessage(manifest))) };
}

/** The manifest recomputed from the records as they now are, and re-signed. */
export function rebuildManifest(
  upload: BatchUpload,
  key: KeyObject,
  changes: Partial<BatchManifest> = {},
): BatchUpload {
  const r = upload.records;
  return resignManifest(upload, key, {
    count: r.length,
    totals: totalsOf(r),
    firstSeq: r[0]?.seq ?? 0,
    lastSeq: r.at(-1)?.seq ?? 0,
    chainHead: r.length > 0 ? hex(entryChainHash(r.at(-1)!)) : upload.manifest.previousHash,
    ...changes,
  });
}

/** The same records under a new batch id, manifest re-signed (a replay by a broken or hostile terminal). */
export function withNewBatchId(
  upload: BatchUpload,
  key: KeyObject,
  batchId: string = randomUUID(),
): BatchUpload {
  return resignManifest(upload, key, { batchId });
}

function replaceRecord(upload: BatchUpload, index: number, entry: BatchRecordWire): BatchUpload {
  const records = upload.records.slice();
  records[index] = entry;
  return { ...upload, records };
}

/** Change a record's amount in place (an edited terminal database): no signature is redone. */
export function tamperAmount(upload: BatchUpload, index: number, amount: number): BatchUpload {
  const entry = upload.records[index]!;
  const record = decodeRecord(Buffer.from(entry.cardRecord, "hex"));
  return replaceRecord(upload, index, { ...entry, cardRecord: hex(encodeRecord({ ...record, amount })) });
}

/**
 * Change a record's amount and re-sign everything the terminal key can sign (the record, every
 * later link and the manifest): only the card signature can still tell.
 */
export function tamperAmountWithTerminalKey(
  upload: BatchUpload,
  index: number,
  amount: number,
  key: KeyObject,
): BatchUpload {
  return resignChainFrom(tamperAmount(upload, index, amount), index, key);
}

/** Re-link and re-sign entries from `index` on with `key`, then rebuild the manifest. */
export function resignChainFrom(upload: BatchUpload, index: number, key: KeyObject): BatchUpload {
  const records = upload.records.slice();
  let previous =
    index === 0 ? Buffer.from(upload.manifest.previousHash, "hex") : entryChainHash(records[index - 1]!);
  for (let i = index; i < records.length; i++) {
    const r = records[i]!;
    const message = terminalRecordMessage({
      previousHash: previous,
      terminalSeq: r.seq,
      status: r.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
      cardRecord: Buffer.from(r.cardRecord, "hex"),
      cardSignature: Buffer.from(r.cardSignature, "hex"),
    });
    const signature = ecdsaSign(key, message);
    records[i] = { ...r, previousHash: hex(previous), terminalSignature: hex(signature) };
    previous = sha256(message, signature);
  }
  return rebuildManifest({ ...upload, records }, key);
}

/** Delete a record from the batch; the terminal software rebuilds and re-signs the manifest. */
export function dropRecord(upload: BatchUpload, index: number, key: KeyObject): BatchUpload {
  return rebuildManifest({ ...upload, records: upload.records.filter((_, i) => i !== index) }, key);
}

/** Swap two records; the manifest is rebuilt and re-signed. */
export function swapRecords(upload: BatchUpload, i: number, j: number, key: KeyObject): BatchUpload {
  const records = upload.records.slice();
  [records[i], records[j]] = [records[j]!, records[i]!];
  return rebuildManifest({ ...upload, records }, key);
}

/** Point a record's previous hash elsewhere and re-sign it with the terminal key (a broken chain). */
export function breakLink(upload: BatchUpload, index: number, key: KeyObject): BatchUpload {
  const r = upload.records[index]!;
  const previousHash = new Uint8Array(randomBytes(32));
  const message = terminalRecordMessage({
    previousHash,
    terminalSeq: r.seq,
    status: r.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
    cardRecord: Buffer.from(r.cardRecord, "hex"),
    cardSignature: Buffer.from(r.cardSignature, "hex"),
  });
  return replaceRecord(upload, index, {
    ...r,
    previousHash: hex(previousHash),
    terminalSignature: hex(ecdsaSign(key, message)),
  });
}

/** Replace the terminal certificate chain (a revoked or expired terminal's, an unknown one). */
export function withTerminalCertificates(upload: BatchUpload, chain: readonly Certificate[]): BatchUpload {
  return { ...upload, terminalCertificates: chain.map((c) => Buffer.from(c.der).toString("base64")) };
}

/** Sum of accepted-looking debits per currency in uploads (what settlement should show). */
export function expectedTotals(
  uploads: readonly BatchUpload[],
): Map<number, { count: number; amount: number }> {
  const out = new Map<number, { count: number; amount: number }>();
  for (const u of uploads)
    for (const t of totalsOf(u.records)) {
      const cur = out.get(t.currency) ?? { count: 0, amount: 0 };
      cur.count += t.count;
      cur.amount += t.amount;
      out.set(t.currency, cur);
    }
  return out;
}
