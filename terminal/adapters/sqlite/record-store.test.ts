import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { equalBytes } from "../../../protocol/bytes.js";
import { ecdsaSign, ecdsaVerify, generateP256KeyPair } from "../../../protocol/crypto.js";
import Database from "../../../protocol/sqlite.js";
import {
  CHAIN_STATUS,
  chainHash,
  GENESIS_HASH,
  terminalRecordMessage,
} from "../../../protocol/wallet/records.js";
import { MIGRATIONS } from "./migrations.js";
import { RecordStore, type StoredTransaction } from "./record-store.js";

const key = generateP256KeyPair();
const sign = (m: Uint8Array) => ecdsaSign(key.privateKey, m);

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-store-"));
  path = join(dir, "records.sqlite");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const intent = (walletId = "W-ALICE-0001", amount = 450) => ({
  walletId,
  amount,
  currency: 978,
  terminalTime: 1_790_000_000,
  transcriptHash: new Uint8Array(32).fill(7),
});

const debit = (counter: number) => ({
  cardCounter: counter,
  balanceAfter: 5000 - counter * 450,
  cardRecord: new Uint8Array([1, 1, counter]),
  cardSignature: new Uint8Array(64).fill(counter),
  cardCertificate: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
  resolution: "online",
});

function verifyChain(rows: StoredTransaction[]): void {
  let previous: Uint8Array = GENESIS_HASH;
  for (const row of [...rows].sort((a, b) => a.chainIndex! - b.chainIndex!)) {
    expect(equalBytes(row.previousHash!, previous)).toBe(true);
    const entry = {
      previousHash: previous,
      terminalSeq: row.seq,
      status: row.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
      cardRecord: row.cardRecord ?? new Uint8Array(0),
      cardSignature: row.cardSignature ?? new Uint8Array(0),
    };
    expect(ecdsaVerify(key.publicKey, terminalRecordMessage(entry), row.terminalSignature!)).toBe(true);
    previous = chainHash(entry, row.terminalSignature!);
    expect(equalBytes(row.chainHash!, previous)).toBe(true);
  }
}

describe("RecordStore", () => {
  it("is durable on every open: WAL with synchronous=FULL, also after reopening", () => {
    RecordStore.open(path).close();
    const store = RecordStore.open(path);
    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("synchronous", { simple: true })).toBe(2);
    store.close();
  });

  it("keeps the database file private to the terminal's user (0600)", () => {
    RecordStore.open(path).close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("migrates a new file to the latest schema version", () => {
    const store = RecordStore.open(path);
    expect(store.db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    store.close();
  });

  it("refuses a database written by a newer posd instead of damaging it", () => {
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    expect(() => RecordStore.open(path)).toThrow(expect.objectContaining({ code: "TERM_ERR_STORE" }));
  });

  it("hands out terminal seqs that never repeat, even after rows vanish and the file is reopened", () => {
    let store = RecordStore.open(path);
    const a = store.createIntent(intent());
    const b = store.createIntent(intent());
    expect(b.seq).toBe(a.seq + 1);
    store.db.prepare("DELETE FROM transactions WHERE seq = ?").run(b.seq);
    store.close();
    store = RecordStore.open(path);
    const c = store.createIntent(intent());
    expect(c.seq).toBe(b.seq + 1);
    expect(store.lastSeq()).toBe(c.seq);
    store.close();
  });

  it("stores a pending intent until it is completed or voided", () => {
    const store = RecordStore.open(path);
    const i = store.createIntent({ ...intent(), reference: "ECR-1" });
    expect(store.pendingIntents("W-ALICE-0001").map((p) => p.seq)).toEqual([i.seq]);
    expect(store.pendingIntents("W-BOB-0002")).toEqual([]);
    expect(store.get(i.seq)).toMatchObject({ status: "pending", reference: "ECR-1", chainIndex: undefined });
    store.close();
  });

  it("chains and counter-signs every final record, complete or voided, in the order they were finalised", () => {
    const store = RecordStore.open(path);
    const a = store.createIntent(intent());
    const b = store.createIntent(intent("W-BOB-0002"));
    const c = store.createIntent(intent());
    store.complete(c.seq, debit(1), sign);
    store.void(a.seq, "declined by card", sign);
    store.complete(b.seq, debit(1), sign);
    const rows = store.list();
    expect(rows.map((r) => r.chainIndex).sort()).toEqual([1, 2, 3]);
    verifyChain(rows);
    expect(equalBytes(store.chainHead().hash, rows.find((r) => r.chainIndex === 3)!.chainHash!)).toBe(true);
    store.close();
  });

  it("refuses a second record with the same wallet and card counter and leaves the chain untouched", () => {
    const store = RecordStore.open(path);
    const a = store.createIntent(intent());
    const b = store.createIntent(intent());
    store.complete(a.seq, debit(5), sign);
    const head = store.chainHead();
    expect(() => store.complete(b.seq, debit(5), sign)).toThrow(
      expect.objectContaining({ code: "TERM_ERR_DUPLICATE_RECORD" }),
    );
    expect(store.get(b.seq)!.status).toBe("pending");
    expect(store.chainHead()).toEqual(head);
    store.close();
  });

  it("finalises an intent only once", () => {
    const store = RecordStore.open(path);
    const a = store.createIntent(intent());
    store.complete(a.seq, debit(1), sign);
    expect(() => store.void(a.seq, "late", sign)).toThrow(
      expect.objectContaining({ code: "TERM_ERR_STORE" }),
    );
    expect(store.get(a.seq)!.status).toBe("complete");
    expect(store.chainHead().index).toBe(1);
    store.close();
  });

  it("reports what is at risk offline: complete records not yet accepted, and the oldest one's age", () => {
    let now = 1_000_000;
    const store = RecordStore.open(path, { now: () => now });
    const a = store.createIntent(intent("W-ALICE-0001", 450));
    now += 5000;
    const b = store.createIntent(intent("W-BOB-0002", 1000));
    store.createIntent(intent("W-BOB-0002", 99)); // pending: not counted
    store.complete(a.seq, debit(1), sign);
    store.complete(b.seq, debit(1), sign);
    expect(store.offlineExposure()).toEqual({
      count: 2,
      byCurrency: [{ currency: 978, count: 2, amount: 1450 }],
      oldestAt: 1_000_000,
    });
    store.close();
  });

  it("keeps the highest card counter per wallet", () => {
    const store = RecordStore.open(path);
    expect(store.lastCardCounter("W-ALICE-0001")).toBeUndefined();
    const a = store.createIntent(intent());
    store.complete(a.seq, debit(7), sign);
    expect(store.lastCardCounter("W-ALICE-0001")).toBe(7);
    store.close();
  });
});
