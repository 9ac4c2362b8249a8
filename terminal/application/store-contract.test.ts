/**
 * The contract of the terminal's store ports (terminal/application/ports.ts), run against both
 * implementations: the SQLite adapters posd runs on and the in-memory store use-case tests take.
 * What one of them does and the other does not is a bug in one of them.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { equalBytes, hex } from "../../protocol/bytes.js";
import { ecdsaSign, ecdsaVerify, generateP256KeyPair, sha256 } from "../../protocol/crypto.js";
import type { BatchResult } from "../../protocol/wallet/batch.js";
import { chainHash, GENESIS_HASH, terminalRecordMessage } from "../../protocol/wallet/records.js";
import { STORE_KINDS, type StoreKind, testStores } from "../../test-support/terminal-fixture.js";
import { chainEntry } from "../domain/chain.js";
import type { StoredTransaction } from "../domain/records.js";
import type { TerminalStores } from "./ports.js";

const key = generateP256KeyPair();
const sign = (m: Uint8Array) => ecdsaSign(key.privateKey, m);
const T0 = 1_780_000_000_000;

const intent = (walletId = "W-ALICE-0001", amount = 450, currency = 978) => ({
  walletId,
  amount,
  currency,
  terminalTime: 1_780_000_000,
  transcriptHash: new Uint8Array(32).fill(7),
});

const debit = (counter: number) => ({
  cardCounter: counter,
  balanceAfter: 5000 - counter * 450,
  cardRecord: new Uint8Array([1, 1, counter]),
  cardSignature: new Uint8Array(64).fill(counter),
  cardCertificate: new Uint8Array([0x30, 0x03, 0x02, 0x01, counter % 2]),
  resolution: "online",
});

/** Every final record links to the one finalised before it and is signed by the terminal. */
function expectChain(rows: readonly StoredTransaction[]): void {
  let previous: Uint8Array = GENESIS_HASH;
  const chained = rows.filter((r) => r.chainIndex !== undefined);
  for (const row of [...chained].sort((a, b) => a.chainIndex! - b.chainIndex!)) {
    expect(equalBytes(row.previousHash!, previous)).toBe(true);
    const entry = chainEntry(previous, {
      seq: row.seq,
      status: row.status as "complete" | "voided",
      ...(row.cardRecord ? { cardRecord: row.cardRecord, cardSignature: row.cardSignature! } : {}),
    });
    expect(ecdsaVerify(key.publicKey, terminalRecordMessage(entry), row.terminalSignature!)).toBe(true);
    previous = chainHash(entry, row.terminalSignature!);
    expect(equalBytes(row.chainHash!, previous)).toBe(true);
  }
}

const settled = (batchId: string, records: BatchResult["records"]): BatchResult => ({
  batchId,
  status: "settled",
  accepted: records.filter((r) => r.status === "accepted").length,
  rejected: records.filter((r) => r.status === "rejected").length,
  records,
});

describe.each(STORE_KINDS)("the terminal's stores (%s)", (kind: StoreKind) => {
  let now: number;
  let s: TerminalStores;
  let close: () => void;
  beforeEach(() => {
    now = T0;
    const opened = testStores(kind, { now: () => now });
    s = opened.stores;
    close = opened.close;
  });
  afterEach(() => close());

  describe("intents and records", () => {
    it("hands out consecutive seqs, dated by the store's clock, and keeps the intent pending", () => {
      const a = s.records.createIntent({ ...intent(), reference: "ECR-1" });
      now += 1000;
      const b = s.records.createIntent(intent("W-BOB-0002"));
      expect([a.seq, b.seq]).toEqual([1, 2]);
      expect([a.createdAt, b.createdAt]).toEqual([T0, T0 + 1000]);
      expect(s.records.pendingIntents("W-ALICE-0001")).toEqual([
        { ...intent(), reference: "ECR-1", seq: 1, createdAt: T0 },
      ]);
      expect(s.records.pendingIntents().map((p) => p.seq)).toEqual([1, 2]);
      expect(s.records.pendingIntents("W-CAROL")).toEqual([]);
      expect(s.records.get(1)).toMatchObject({
        status: "pending",
        reference: "ECR-1",
        chainIndex: undefined,
      });
      expect(s.records.get(99)).toBeUndefined();
    });

    it("refuses an amount that is not positive and spends no seq on it", () => {
      expect(() => s.records.createIntent(intent("W-ALICE-0001", 0))).toThrow();
      expect(s.records.list()).toEqual([]);
      expect(s.records.createIntent(intent()).seq).toBe(1);
    });

    it("chains and counter-signs every final record, complete or voided, in the order they were finalised", () => {
      const a = s.records.createIntent(intent());
      const b = s.records.createIntent(intent("W-BOB-0002"));
      const c = s.records.createIntent(intent());
      now += 5;
      const done = s.records.complete(c.seq, debit(1), sign);
      s.records.void(a.seq, "declined by card", sign);
      s.records.complete(b.seq, debit(1), sign);
      expect(done).toMatchObject({
        status: "complete",
        resolution: "online",
        resolvedAt: T0 + 5,
        cardCounter: 1,
        balanceAfter: 4550,
        chainIndex: 1,
        cardCertificate: hex(sha256(debit(1).cardCertificate)),
      });
      const rows = s.records.list();
      expect(rows.map((r) => [r.seq, r.status, r.chainIndex])).toEqual([
        [3, "complete", 1],
        [2, "complete", 3],
        [1, "voided", 2],
      ]);
      expect(rows[2]).toMatchObject({
        resolution: "declined by card",
        cardRecord: undefined,
        cardCounter: undefined,
      });
      expectChain(rows);
      expect(s.records.chainHead()).toEqual({ hash: rows[1]!.chainHash, index: 3 });
    });

    it("refuses a second record with the same wallet and card counter and leaves everything as it was", () => {
      const a = s.records.createIntent(intent());
      const b = s.records.createIntent(intent());
      const other = s.records.createIntent(intent("W-BOB-0002"));
      s.records.complete(a.seq, debit(5), sign);
      const head = s.records.chainHead();
      expect(() => s.records.complete(b.seq, debit(5), sign)).toThrow(
        expect.objectContaining({ code: "TERM_ERR_DUPLICATE_RECORD" }),
      );
      expect(s.records.get(b.seq)).toMatchObject({ status: "pending", cardCounter: undefined });
      expect(s.records.chainHead()).toEqual(head);
      // The same counter of another wallet is another record.
      expect(s.records.complete(other.seq, debit(5), sign).chainIndex).toBe(2);
    });

    it("finalises an intent only once, and only an intent it holds", () => {
      const a = s.records.createIntent(intent());
      s.records.complete(a.seq, debit(1), sign);
      for (const late of [
        () => s.records.void(a.seq, "late", sign),
        () => s.records.void(42, "unknown", sign),
      ])
        expect(late).toThrow(expect.objectContaining({ code: "TERM_ERR_STORE" }));
      expect(s.records.get(a.seq)!.status).toBe("complete");
      expect(s.records.chainHead().index).toBe(1);
    });

    it("keeps the highest card counter per wallet", () => {
      expect(s.records.lastCardCounter("W-ALICE-0001")).toBeUndefined();
      for (const counter of [7, 3])
        s.records.complete(s.records.createIntent(intent()).seq, debit(counter), sign);
      expect(s.records.lastCardCounter("W-ALICE-0001")).toBe(7);
      expect(s.records.lastCardCounter("W-BOB-0002")).toBeUndefined();
    });

    it("lists newest first, above a seq, up to a limit", () => {
      for (let i = 0; i < 5; i++) s.records.createIntent(intent());
      expect(s.records.list().map((r) => r.seq)).toEqual([5, 4, 3, 2, 1]);
      expect(s.records.list({ sinceSeq: 2, limit: 2 }).map((r) => r.seq)).toEqual([5, 4]);
    });

    it("returns copies: changing what it returned changes nothing stored", () => {
      const a = s.records.createIntent(intent());
      s.records.complete(a.seq, debit(1), sign);
      s.records.get(a.seq)!.cardRecord![0] = 0xff;
      expect(s.records.get(a.seq)!.cardRecord).toEqual(debit(1).cardRecord);
    });
  });

  describe("risk view", () => {
    it("reports what is at risk offline: complete records not yet answered, and the oldest one's date", () => {
      const a = s.records.createIntent(intent("W-ALICE-0001", 450));
      now += 5000;
      const b = s.records.createIntent(intent("W-BOB-0002", 1000));
      const c = s.records.createIntent(intent("W-BOB-0002", 70, 840));
      s.records.createIntent(intent("W-BOB-0002", 99)); // pending: not counted
      s.records.complete(a.seq, debit(1), sign);
      s.records.complete(b.seq, debit(1), sign);
      s.records.complete(c.seq, debit(2), sign);
      expect(s.risk.offlineExposure()).toEqual({
        count: 3,
        byCurrency: [
          { currency: 840, count: 1, amount: 70 },
          { currency: 978, count: 2, amount: 1450 },
        ],
        oldestAt: T0,
      });
    });

    it("has nothing at risk before the first record", () => {
      expect(s.risk.offlineExposure()).toEqual({ count: 0, byCurrency: [] });
    });
  });

  describe("batches", () => {
    const close = (maxRecords: number) =>
      s.batches.close({ terminalId: "T-0001", merchantId: "M-0001", maxRecords, sign });

    /** Three final records (complete, voided, complete) and a pending intent. */
    function day(): void {
      const [a, b, c] = [
        s.records.createIntent(intent()),
        s.records.createIntent(intent()),
        s.records.createIntent(intent()),
      ];
      s.records.createIntent(intent("W-BOB-0002"));
      s.records.complete(a!.seq, debit(1), sign);
      s.records.void(b!.seq, "declined by card", sign);
      s.records.complete(c!.seq, debit(2), sign);
    }

    it("closes the final records in chain order into batches that continue each other's chain", () => {
      day();
      const ids = close(2);
      expect(ids).toHaveLength(2);
      const [first, second] = s.batches.pending();
      expect([first!.batchId, second!.batchId]).toEqual(ids);
      const rows = s.records.list();
      const bySeq = (seq: number) => rows.find((r) => r.seq === seq)!;
      expect(first!.manifest).toMatchObject({
        batchId: ids[0],
        terminalId: "T-0001",
        merchantId: "M-0001",
        createdAt: Math.floor(T0 / 1000),
        count: 2,
        totals: [{ currency: 978, count: 1, amount: 450 }],
        firstSeq: 1,
        lastSeq: 2,
        previousHash: hex(GENESIS_HASH),
        chainHead: hex(bySeq(2).chainHash!),
      });
      expect(second!.manifest).toMatchObject({
        count: 1,
        firstSeq: 3,
        previousHash: first!.manifest.chainHead,
      });
      expect(first!.attempts).toBe(0);
      expect([s.batches.recordCount(ids[0]!), s.batches.recordCount(ids[1]!)]).toEqual([2, 1]);
      expect(s.batches.entries(ids[0]!).map((e) => [e.seq, e.status, e.chainIndex])).toEqual([
        [1, "complete", 1],
        [2, "voided", 2],
      ]);
      expect(s.batches.entries(ids[0]!)[1]).toMatchObject({
        cardRecord: undefined,
        cardCertificate: undefined,
      });
      const fingerprint = s.batches.entries(ids[0]!)[0]!.cardCertificate!;
      expect(s.batches.certificate(fingerprint)).toEqual(debit(1).cardCertificate);
      expect(s.batches.certificate("00")).toBeUndefined();
      expect(bySeq(4)).toMatchObject({ status: "pending", batchId: undefined });
      expect(close(2)).toEqual([]);
    });

    it("counts attempts, and stores the acquirer's verdicts and the upload time", () => {
      day();
      const [id] = close(10);
      s.batches.countAttempt(id!);
      s.batches.countAttempt(id!);
      expect(s.batches.pending()[0]!.attempts).toBe(2);
      expect(s.batches.lastUploadAt()).toBeUndefined();
      now += 60_000;
      s.batches.applyResult(
        settled(id!, [
          { seq: 1, status: "accepted" },
          { seq: 2, status: "voided" },
          { seq: 3, status: "rejected", reason: "ACQ_ERR_BAD_SIGNATURE" },
        ]),
      );
      expect(s.batches.pending()).toEqual([]);
      expect(s.batches.lastUploadAt()).toBe(T0 + 60_000);
      expect(s.records.list().map((r) => [r.seq, r.uploadStatus, r.uploadReason])).toEqual([
        [4, undefined, undefined],
        [3, "rejected", "ACQ_ERR_BAD_SIGNATURE"],
        [2, "voided", undefined],
        [1, "accepted", undefined],
      ]);
      expect(s.risk.offlineExposure().count).toBe(0);
    });

    it("marks every unanswered record of a rejected batch rejected, with the batch's reason", () => {
      day();
      const [id] = close(10);
      s.batches.applyResult({
        batchId: id!,
        status: "rejected",
        reason: "ACQ_ERR_CHAIN",
        accepted: 0,
        rejected: 3,
        records: [{ seq: 2, status: "voided" }],
      });
      expect(
        s.records.list({ limit: 3, sinceSeq: 0 }).map((r) => [r.seq, r.uploadStatus, r.uploadReason]),
      ).toEqual([
        [4, undefined, undefined],
        [3, "rejected", "ACQ_ERR_CHAIN"],
        [2, "voided", undefined],
      ]);
      expect(s.batches.pending()).toEqual([]);
    });

    it("tallies what is not yet in a batch by status and currency, pending intents included", () => {
      day();
      s.records.createIntent(intent("W-BOB-0002", 70, 840));
      expect(s.batches.unbatched()).toEqual([
        { status: "complete", currency: 978, count: 2, amount: 900 },
        { status: "pending", currency: 840, count: 1, amount: 70 },
        { status: "pending", currency: 978, count: 1, amount: 450 },
        { status: "voided", currency: 978, count: 1, amount: 450 },
      ]);
      close(10);
      expect(s.batches.unbatched()).toEqual([
        { status: "pending", currency: 840, count: 1, amount: 70 },
        { status: "pending", currency: 978, count: 1, amount: 450 },
      ]);
    });
  });

  describe("hotlist", () => {
    const A = "a".repeat(64);
    const B = "b".repeat(64);

    it("replaces the whole list and answers by wallet id or certificate serial (format 1: at every issuer)", () => {
      expect(s.hotlist.version()).toBeUndefined();
      expect(s.hotlist.isHotlisted("W-ALICE-0001", "01", A)).toBe(false);
      s.hotlist.replace({
        version: 3,
        issuedAt: 1,
        blockedWallets: ["W-ALICE-0001", "W-ALICE-0001"],
        revokedSerials: ["0a"],
      });
      expect(s.hotlist.version()).toBe(3);
      expect(s.hotlist.size()).toEqual({ wallets: 1, serials: 1 });
      expect(s.hotlist.isHotlisted("W-ALICE-0001", "01", A)).toBe(true);
      expect(s.hotlist.isHotlisted("W-ALICE-0001", "01", B)).toBe(true);
      expect(s.hotlist.isHotlisted("W-BOB-0002", "0a", B)).toBe(true);
      s.hotlist.replace({ version: 4, issuedAt: 2, blockedWallets: ["W-BOB-0002"], revokedSerials: [] });
      expect(s.hotlist.isHotlisted("W-ALICE-0001", "0a", A)).toBe(false);
      expect(s.hotlist.size()).toEqual({ wallets: 1, serials: 0 });
    });

    it("matches a format-2 list on (issuer, serial) and on a wallet id at its issuer or at every issuer", () => {
      s.hotlist.replace({
        format: 2,
        version: 5,
        issuedAt: 3,
        nextUpdate: 4,
        blockedWallets: ["W-LOST-0001"],
        issuers: [
          { issuer: A, revokedSerials: ["c005"], blockedWallets: ["W-ALICE-0001"] },
          { issuer: B, revokedSerials: [], blockedWallets: ["W-BOB-0002"] },
        ],
      });
      expect(s.hotlist.info()).toMatchObject({ version: 5, issuedAt: 3, nextUpdate: 4 });
      expect(s.hotlist.size()).toEqual({ wallets: 3, serials: 1 });
      // The serial: revoked by A only.
      expect(s.hotlist.isHotlisted("W-X-1", "c005", A)).toBe(true);
      expect(s.hotlist.isHotlisted("W-X-1", "c005", B)).toBe(false);
      // A wallet id blocked at one issuer: the same id at the other issuer is another wallet.
      expect(s.hotlist.isHotlisted("W-ALICE-0001", "01", A)).toBe(true);
      expect(s.hotlist.isHotlisted("W-ALICE-0001", "01", B)).toBe(false);
      expect(s.hotlist.isHotlisted("W-BOB-0002", "02", A)).toBe(false);
      expect(s.hotlist.isHotlisted("W-BOB-0002", "02", B)).toBe(true);
      // Blocked at every issuer.
      expect(s.hotlist.isHotlisted("W-LOST-0001", "03", A)).toBe(true);
      expect(s.hotlist.isHotlisted("W-LOST-0001", "03", B)).toBe(true);
    });
  });

  describe("attention list", () => {
    it("holds the wallets last fetched, dated by the store's clock; a wallet done here leaves it", () => {
      expect(s.attention.info()).toBeUndefined();
      expect(s.attention.has("W-ALICE-0001")).toBe(false);
      s.attention.replace(["W-ALICE-0001", "W-BOB-0002", "W-ALICE-0001"], 1_700_000_000);
      expect(s.attention.info()).toEqual({ wallets: 2, asOf: 1_700_000_000, fetchedAt: s.clock.now() });
      expect(s.attention.has("W-ALICE-0001")).toBe(true);
      s.attention.done("W-ALICE-0001");
      expect(s.attention.has("W-ALICE-0001")).toBe(false);
      expect(s.attention.has("W-BOB-0002")).toBe(true);
      s.attention.replace([], 1_700_000_060);
      expect(s.attention.info()).toMatchObject({ wallets: 0, asOf: 1_700_000_060 });
      expect(s.attention.has("W-BOB-0002")).toBe(false);
    });
  });

  describe("cash-register payments", () => {
    const payment = (serviceId: string, amount = 100) => ({
      serviceId,
      requestHash: "h",
      amount,
      currency: 978,
    });

    it("stores a payment waiting for a card, once per service id", () => {
      s.ecrPayments.create({ ...payment("S-1"), reference: "till 3" });
      expect(s.ecrPayments.get("S-1")).toEqual({
        ...payment("S-1"),
        reference: "till 3",
        state: "waiting_for_card",
        seq: undefined,
        outcome: undefined,
        createdAt: T0,
        updatedAt: T0,
      });
      expect(() => s.ecrPayments.create(payment("S-1"))).toThrow();
      expect(s.ecrPayments.get("S-2")).toBeUndefined();
    });

    it("moves through states, keeping the seq and outcome it had unless given new ones", () => {
      const seq = s.records.createIntent(intent()).seq;
      s.ecrPayments.create(payment("S-1"));
      now += 10;
      s.ecrPayments.update("S-1", "in_progress");
      s.ecrPayments.update("S-1", "torn", { seq, outcome: { status: "torn", seq, gone: undefined } });
      now += 10;
      s.ecrPayments.update("S-1", "torn");
      expect(s.ecrPayments.get("S-1")).toMatchObject({
        state: "torn",
        seq,
        outcome: { status: "torn", seq },
        updatedAt: T0 + 20,
      });
      expect(s.ecrPayments.get("S-1")!.outcome).not.toHaveProperty("gone");
    });

    it("ends what a restart interrupted: waiting → aborted, in progress with a seq → torn, without → error", () => {
      for (const id of ["S-1", "S-2", "S-3", "S-4"]) s.ecrPayments.create(payment(id));
      s.ecrPayments.update("S-2", "in_progress");
      s.ecrPayments.update("S-3", "approved", { outcome: { status: "approved" } });
      s.ecrPayments.update("S-4", "in_progress");
      const seq = s.records.createIntent({ ...intent(), serviceId: "S-4" }).seq;
      now += 1;
      const interrupted = { status: "error", code: "TERM_ERR_INTERRUPTED" };
      s.ecrPayments.endInterrupted(interrupted);
      expect(["S-1", "S-2", "S-3", "S-4"].map((id) => s.ecrPayments.get(id)!.state)).toEqual([
        "aborted",
        "error",
        "approved",
        "torn",
      ]);
      expect(s.ecrPayments.get("S-2")).toMatchObject({ seq: undefined, outcome: interrupted });
      expect(s.ecrPayments.get("S-4")).toMatchObject({ seq, outcome: undefined });
      expect(s.ecrPayments.get("S-1")!.updatedAt).toBe(T0 + 1);
    });

    it("links a payment to its intent's seq in the intent's own transaction, and finds it by seq", () => {
      s.ecrPayments.create(payment("S-1"));
      s.ecrPayments.update("S-1", "in_progress");
      const seq = s.records.createIntent({ ...intent(), serviceId: "S-1" }).seq;
      expect(s.ecrPayments.get("S-1")!.seq).toBe(seq);
      expect(s.ecrPayments.bySeq(seq)!.serviceId).toBe("S-1");
      expect(s.ecrPayments.bySeq(seq + 1)).toBeUndefined();
      // A second intent for the same payment (a retry) never moves the link of the first.
      s.records.createIntent({ ...intent(), serviceId: "S-1" });
      expect(s.ecrPayments.get("S-1")!.seq).toBe(seq);
    });

    it("tallies payments created since a moment by state and currency", () => {
      s.ecrPayments.create(payment("S-0", 5));
      now += 100;
      s.ecrPayments.create(payment("S-1", 100));
      s.ecrPayments.create(payment("S-2", 250));
      s.ecrPayments.create({ ...payment("S-3", 7), currency: 840 });
      s.ecrPayments.update("S-2", "declined");
      expect(s.ecrPayments.tallySince(T0 + 100)).toEqual([
        { state: "declined", currency: 978, count: 1, amount: 250 },
        { state: "waiting_for_card", currency: 840, count: 1, amount: 7 },
        { state: "waiting_for_card", currency: 978, count: 1, amount: 100 },
      ]);
    });
  });
  describe("loads", () => {
    const load = (loadId: string, amount = 2_000) => ({
      loadId,
      walletId: "W-ALICE-0001",
      type: "cash" as const,
      amount,
      currency: 978,
      teller: "T01",
    });

    it("keeps a load pending (in doubt) from before the platform is asked until it is resolved once", () => {
      s.loads.begin(load("00000000000000a1"));
      now += 10;
      s.loads.begin(load("00000000000000a2", 500));
      expect(s.loads.inDoubt().map((l) => [l.loadId, l.state, l.createdAt])).toEqual([
        ["00000000000000a1", "pending", T0],
        ["00000000000000a2", "pending", T0 + 10],
      ]);
      now += 5;
      s.loads.resolve("00000000000000a1", "loaded", "booked");
      // A second resolution does not overwrite the first: the platform's first answer stands.
      s.loads.resolve("00000000000000a1", "voided", "late");
      expect(s.loads.get("00000000000000a1")).toEqual({
        ...load("00000000000000a1"),
        state: "loaded",
        createdAt: T0,
        resolvedAt: T0 + 15,
        resolution: "booked",
      });
      expect(s.loads.inDoubt().map((l) => l.loadId)).toEqual(["00000000000000a2"]);
    });

    it("keeps the card's record of a pending load until it is resolved, and refuses a load id twice", () => {
      s.loads.begin(load("00000000000000b1"));
      const proof = { record: new Uint8Array([1, 2, 3]), signature: new Uint8Array(64).fill(9) };
      s.loads.keepProof("00000000000000b1", proof);
      expect(s.loads.inDoubt()[0]!.proof).toEqual(proof);
      expect(() => s.loads.begin(load("00000000000000b1"))).toThrow();
      s.loads.resolve("00000000000000b1", "loaded");
      expect(s.loads.inDoubt()).toEqual([]);
      expect(s.loads.get("00000000000000b1")?.state).toBe("loaded");
    });
  });
});

describe("the memory and SQLite stores side by side", () => {
  it("answer the same day of intents, records, batches and verdicts with the same values", () => {
    const deterministic = (m: Uint8Array) => sha256(m, new Uint8Array([1]));
    const clock = { now: () => T0 };
    const answers = STORE_KINDS.map((kind) => {
      const opened = testStores(kind, clock);
      const s = opened.stores;
      try {
        const seqs = [1, 2, 3, 4, 5].map(
          (i) => s.records.createIntent(intent(i % 2 ? "W-ALICE-0001" : "W-BOB-0002", i * 100)).seq,
        );
        s.records.complete(seqs[0]!, debit(1), deterministic);
        s.records.void(seqs[1]!, "declined by card", deterministic);
        s.records.complete(seqs[2]!, debit(2), deterministic);
        s.records.complete(seqs[3]!, debit(1), deterministic);
        const ids = s.batches.close({
          terminalId: "T-0001",
          merchantId: "M-0001",
          maxRecords: 3,
          sign: deterministic,
        });
        const batches = s.batches.pending();
        const entries = ids.map((id) => s.batches.entries(id));
        s.batches.applyResult(
          settled(ids[0]!, [
            { seq: 1, status: "accepted" },
            { seq: 2, status: "voided" },
          ]),
        );
        // Batch ids are random: compare the rest.
        const anonymous = (id: string | undefined) => (id === undefined ? undefined : ids.indexOf(id));
        return {
          records: s.records.list().map((r) => ({ ...r, batchId: anonymous(r.batchId) })),
          pending: s.records.pendingIntents(),
          head: s.records.chainHead(),
          manifests: batches.map((b) => ({ ...b.manifest, batchId: anonymous(b.batchId) })),
          entries,
          exposure: s.risk.offlineExposure(),
          unbatched: s.batches.unbatched(),
        };
      } finally {
        opened.close();
      }
    });
    expect(answers[0]).toEqual(answers[1]);
  });
});
