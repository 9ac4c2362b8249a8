import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import type { BatchResult, BatchUpload, HotlistWire } from "../protocol/wallet/batch.js";
import { RECORD_TYPE } from "../protocol/wallet/constants.js";
import { verifyHotlist } from "../terminal/adapters/http/acquirer-client.js";
import {
  breakLink,
  DEFAULT_DAY,
  DEFAULT_TIME,
  dropRecord,
  EUR,
  resignManifest,
  swapRecords,
  TerminalSim,
  tamperAmount,
  tamperAmountWithTerminalKey,
  USD,
  withNewBatchId,
  withTerminalCertificates,
} from "../test-support/batch-builder.js";
import { frozenClock } from "../test-support/clock.js";
import type { SettlementReport } from "./domain/settle.js";
import { MAX_FUTURE_SKEW_SECONDS } from "./domain/verify.js";
import { countRows, TEST_NOW, type TestAcquirer, testAcquirer } from "./testing.js";

const pki = loadFixturePki();
const DAY = DEFAULT_DAY;
/** The world of these tests: the acquirer and every record built here are frozen at TEST_NOW. */
const clock = frozenClock(TEST_NOW).date;

let acq: TestAcquirer;
beforeEach(async () => {
  acq = await testAcquirer({ clock });
});
afterEach(async () => {
  await acq.close();
});

async function post(upload: unknown, a: TestAcquirer = acq) {
  const res = await a.app.inject({ method: "POST", url: "/v1/batches", payload: upload as object });
  return {
    status: res.statusCode,
    body: res.json() as BatchResult & { code?: string; message?: string },
    res,
  };
}

async function report(date = DAY): Promise<SettlementReport> {
  const res = await acq.app.inject({ method: "GET", url: `/v1/reports/settlement?date=${date}` });
  expect(res.statusCode).toBe(200);
  return res.json();
}

async function settled(): Promise<{ count: number; amount: number }> {
  const r = await report();
  return r.settlement.reduce((a, s) => ({ count: a.count + s.count, amount: a.amount + s.amount }), {
    count: 0,
    amount: 0,
  });
}

function reasons(result: BatchResult): Record<number, string | undefined> {
  return Object.fromEntries(result.records.map((r) => [r.seq, r.reason ?? r.status]));
}

function batchCount(): Promise<number> {
  return countRows(acq.store, "batches");
}

function recordCount(): Promise<number> {
  return countRows(acq.store, "records");
}

describe("POST /v1/batches: a good batch", () => {
  it("settles every record and reports totals per merchant and currency", async () => {
    const sim = new TerminalSim();
    sim.debits(6, (i) => ({ card: i % 2 ? "cards/alice" : "cards/bob", amount: 100 * (i + 1) }));
    sim.debit({ card: "cards/alice", amount: 999, currency: USD });
    const { status, body } = await post(sim.closeBatch());
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "settled", accepted: 7, rejected: 0 });
    expect(body.records.every((r) => r.status === "accepted")).toBe(true);

    const r = await report();
    expect(r.settlement).toEqual([
      {
        merchantId: "M-0001",
        currency: USD,
        currencyCode: "USD",
        count: 1,
        amount: 999,
        amountText: "9.99",
        ...noRefunds(999, "9.99"),
      },
      {
        merchantId: "M-0001",
        currency: EUR,
        currencyCode: "EUR",
        count: 6,
        amount: 2100,
        amountText: "21.00",
        ...noRefunds(2100, "21.00"),
      },
    ]);
    expect(r.reconciliation).toHaveLength(1);
    expect(r.reconciliation[0]!.differences).toEqual([]);
  });

  it("answers a retry with the stored answer, byte for byte, and counts nothing twice", async () => {
    const sim = new TerminalSim();
    sim.debits(3);
    const upload = sim.closeBatch();
    const first = await post(upload);
    const again = await post(JSON.parse(JSON.stringify(upload)));
    expect(again.status).toBe(200);
    expect(again.res.body).toBe(first.res.body);
    expect(again.res.headers["idempotent-replayed"]).toBe("true");
    expect(await settled()).toEqual({ count: 3, amount: 1350 });
    const stored = await acq.app.inject({ method: "GET", url: `/v1/batches/${upload.manifest.batchId}` });
    expect(stored.body).toBe(first.res.body);
  });

  it("treats a retry with the same content in another JSON key order as the same batch", async () => {
    const sim = new TerminalSim();
    sim.debits(2);
    const upload = sim.closeBatch();
    await post(upload);
    const reordered = {
      records: upload.records.map((r) => Object.fromEntries(Object.entries(r).reverse())),
      certificates: upload.certificates,
      terminalCertificates: upload.terminalCertificates,
      manifestSignature: upload.manifestSignature,
      manifest: Object.fromEntries(Object.entries(upload.manifest).reverse()),
    };
    const again = await post(reordered);
    expect(again.status).toBe(200);
    expect(again.res.headers["idempotent-replayed"]).toBe("true");
  });

  it("replays the verdict to a retry that presents the terminal's certificate chain differently", async () => {
    const sim = new TerminalSim();
    sim.debits(2);
    const upload = sim.closeBatch();
    await post(upload);
    const again = await post({ ...upload, terminalCertificates: upload.terminalCertificates.slice(0, 1) });
    expect(again.status).toBe(200);
    expect(again.res.headers["idempotent-replayed"]).toBe("true");
  });

  it("refuses the same batch id with other content from the same terminal (409) and stores nothing", async () => {
    const sim = new TerminalSim();
    sim.debits(2);
    const upload = sim.closeBatch();
    await post(upload);
    const again = new TerminalSim();
    again.debits(1);
    const conflicting = again.closeBatch({ batchId: upload.manifest.batchId });
    const { status, body } = await post(conflicting);
    expect(status).toBe(409);
    expect(body.code).toBe("ACQ_ERR_IDEMPOTENCY_CONFLICT");
    expect(await recordCount()).toBe(2);
  });

  it("keeps batch ids per terminal: another terminal's batch under the same id settles on its own", async () => {
    const sim = new TerminalSim();
    sim.debits(2);
    const upload = sim.closeBatch();
    await post(upload);
    const other = new TerminalSim({ terminal: "terminals/term-0002" });
    other.debit({ card: "cards/bob" });
    const same = other.closeBatch({ batchId: upload.manifest.batchId });
    const { status, body } = await post(same);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "settled", accepted: 1 });
    expect(await recordCount()).toBe(3);
    // T-0001's own retry still gets its own stored verdict.
    const retry = await post(upload);
    expect(retry).toMatchObject({ status: 200, body: { accepted: 2 } });
    expect(retry.res.headers["idempotent-replayed"]).toBe("true");
    const ambiguous = await acq.app.inject({ method: "GET", url: `/v1/batches/${upload.manifest.batchId}` });
    expect(ambiguous.statusCode).toBe(400);
    const mine = await acq.app.inject({
      method: "GET",
      url: `/v1/batches/${upload.manifest.batchId}?terminalId=T-0001`,
    });
    expect(mine.json()).toMatchObject({ accepted: 2 });
  });

  it("answers 409 ACQ_ERR_IN_FLIGHT to a second request for a batch still being verified", async () => {
    const sim = new TerminalSim();
    sim.debits(1200);
    const upload = sim.closeBatch();
    const [a, b] = await Promise.all([post(upload), post(upload)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect((a.status === 409 ? a : b).body.code).toBe("ACQ_ERR_IN_FLIGHT");
    expect((a.status === 409 ? a : b).res.headers["retry-after"]).toBe("1");
    expect(await settled()).toEqual({ count: 1200, amount: 1200 * 450 });
  });

  it("marks voided intents voided and settles nothing for them", async () => {
    const sim = new TerminalSim();
    sim.debit();
    sim.voided();
    sim.debit();
    const { status, body } = await post(sim.closeBatch());
    expect(status).toBe(200);
    expect(body.records.map((r) => r.status)).toEqual(["accepted", "voided", "accepted"]);
    expect(await settled()).toEqual({ count: 2, amount: 900 });
  });

  it("continues a terminal's chain across batches", async () => {
    const sim = new TerminalSim();
    sim.debits(2);
    const b1 = sim.closeBatch();
    sim.debits(3);
    const b2 = sim.closeBatch();
    expect((await post(b1)).status).toBe(200);
    expect((await post(b2)).status).toBe(200);
    expect(await settled()).toEqual({ count: 5, amount: 2250 });
  });
});

describe("POST /v1/batches: the terminal must be authenticated (403, nothing stored)", () => {
  const cases: [string, () => BatchUpload, string][] = [
    [
      "a terminal whose certificate is on the acquirer CA's CRL",
      () => {
        const sim = new TerminalSim({ terminal: "terminals/revoked" });
        sim.debits(2);
        return sim.closeBatch();
      },
      "ACQ_ERR_TERMINAL_REVOKED",
    ],
    [
      "an expired terminal certificate",
      () => {
        const sim = new TerminalSim({ terminal: "terminals/expired" });
        sim.debits(2);
        return sim.closeBatch();
      },
      "ACQ_ERR_TERMINAL_CERT",
    ],
    [
      "a card certificate presented as a terminal's",
      () => {
        const sim = new TerminalSim();
        sim.debits(1);
        return withTerminalCertificates(sim.closeBatch(), [pki.cert("cards/alice"), pki.cert("issuer-ca")]);
      },
      "ACQ_ERR_TERMINAL_CERT",
    ],
    [
      "a manifest signed by another terminal's key",
      () => {
        const sim = new TerminalSim();
        sim.debits(1);
        return resignManifest(sim.closeBatch(), pki.key("terminals/term-0002"));
      },
      "ACQ_ERR_MANIFEST_SIGNATURE",
    ],
    [
      "a manifest whose totals were changed after signing",
      () => {
        const sim = new TerminalSim();
        sim.debits(1);
        const u = sim.closeBatch();
        return { ...u, manifest: { ...u.manifest, totals: [{ currency: EUR, count: 1, amount: 1 }] } };
      },
      "ACQ_ERR_MANIFEST_SIGNATURE",
    ],
    [
      "a manifest naming another merchant than the certificate",
      () => {
        const sim = new TerminalSim();
        sim.debits(1);
        return resignManifest(sim.closeBatch(), sim.key, { merchantId: "M-9999" });
      },
      "ACQ_ERR_TERMINAL_MISMATCH",
    ],
  ];
  for (const [what, make, code] of cases)
    it(`refuses ${what} with ${code}`, async () => {
      const upload = make();
      const { status, body } = await post(upload);
      expect(status).toBe(403);
      expect(body.code).toBe(code);
      expect(await batchCount()).toBe(0);
      const stored = await acq.app.inject({ method: "GET", url: `/v1/batches/${upload.manifest.batchId}` });
      expect(stored.statusCode).toBe(404);
    });

  it("refuses a terminal id revoked by the operator (revoke-terminal), even with a valid certificate", async () => {
    await acq.store.revokeTerminal("T-0001", 1, "stolen");
    const sim = new TerminalSim();
    sim.debits(1);
    const { status, body } = await post(sim.closeBatch());
    expect(status).toBe(403);
    expect(body.code).toBe("ACQ_ERR_TERMINAL_REVOKED");
    expect(await batchCount()).toBe(0);
  });
});

describe("POST /v1/batches: hostile records are rejected one by one, the rest settles", () => {
  it("rejects a record whose amount was edited in the terminal database (terminal signature)", async () => {
    const sim = new TerminalSim();
    sim.debits(5, () => ({ amount: 500 }));
    const upload = tamperAmount(sim.closeBatch(), 2, 50_000);
    const { status, body } = await post(upload);
    expect(status).toBe(200);
    expect(reasons(body)).toEqual({
      1: "accepted",
      2: "accepted",
      3: "ACQ_ERR_TERMINAL_SIGNATURE",
      4: "accepted",
      5: "accepted",
    });
    expect(await settled()).toEqual({ count: 4, amount: 2000 });
    const rec = (await report()).reconciliation[0]!;
    expect(rec.differences).toEqual([
      {
        kind: "currency-total",
        currency: EUR,
        manifestCount: 5,
        manifestAmount: 2500,
        acceptedCount: 4,
        acceptedAmount: 2000,
      },
      { kind: "rejected-record", seq: 3, reason: "ACQ_ERR_TERMINAL_SIGNATURE" },
    ]);
  });

  it("rejects an edited record re-signed with the terminal key by its card signature", async () => {
    const sim = new TerminalSim();
    sim.debits(4, () => ({ amount: 500 }));
    const upload = tamperAmountWithTerminalKey(sim.closeBatch(), 1, 50_000, sim.key);
    const { status, body } = await post(upload);
    expect(status).toBe(200);
    expect(reasons(body)).toEqual({
      1: "accepted",
      2: "ACQ_ERR_CARD_SIGNATURE",
      3: "accepted",
      4: "accepted",
    });
    expect(await settled()).toEqual({ count: 3, amount: 1500 });
  });

  it("lets the next batch continue the chain after a rejected record", async () => {
    const sim = new TerminalSim();
    sim.debits(3);
    expect((await post(tamperAmount(sim.closeBatch(), 2, 1))).status).toBe(200);
    sim.debits(2);
    const { status, body } = await post(sim.closeBatch());
    expect(status).toBe(200);
    expect(body.accepted).toBe(2);
  });

  it("rejects records of unknown, revoked and expired cards, and cards whose certificate is missing", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice" });
    sim.debit({ card: "cards/rogue" });
    sim.debit({ card: "cards/revoked" });
    sim.debit({ card: "cards/expired", time: DEFAULT_TIME });
    sim.debit({ card: "cards/no-key-usage" });
    sim.debit({ card: "cards/signed-by-leaf" });
    sim.debit({ card: "cards/bob" });
    const upload = sim.closeBatch();
    const bobFingerprint = pki.cert("cards/bob").fingerprint;
    const { [bobFingerprint]: _dropped, ...certificates } = upload.certificates;
    const { status, body } = await post({ ...upload, certificates });
    expect(status).toBe(200);
    expect(reasons(body)).toEqual({
      1: "accepted",
      2: "ACQ_ERR_UNKNOWN_ISSUER",
      3: "ACQ_ERR_CARD_REVOKED",
      4: "ACQ_ERR_CARD_CERT",
      5: "ACQ_ERR_CARD_CERT",
      6: "ACQ_ERR_UNKNOWN_ISSUER",
      7: "ACQ_ERR_CARD_CERT",
    });
    expect(await settled()).toEqual({ count: 1, amount: 450 });
  });

  it("rejects a certificate filed under another card's fingerprint", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice" });
    const upload = sim.closeBatch();
    const alice = pki.cert("cards/alice").fingerprint;
    const bobDer = Buffer.from(pki.der("cards/bob")).toString("base64");
    const { body } = await post({ ...upload, certificates: { [alice]: bobDer } });
    expect(reasons(body)).toEqual({ 1: "ACQ_ERR_CARD_CERT" });
  });

  it("rejects records that are not debits, name another terminal or seq, or are dated in the future", async () => {
    const sim = new TerminalSim();
    sim.debit();
    sim.debit({ type: RECORD_TYPE.LOAD });
    sim.debit({ recordTerminalId: "T-0002" });
    sim.debit({ recordTerminalSeq: 99 });
    // One minute past the skew the acquirer allows ahead of its own clock.
    sim.debit({ time: Math.floor(TEST_NOW.getTime() / 1000) + MAX_FUTURE_SKEW_SECONDS + 60 });
    sim.debit({ recordWalletId: "W-BOB-0002" });
    const { body } = await post(sim.closeBatch());
    expect(reasons(body)).toEqual({
      1: "accepted",
      2: "ACQ_ERR_RECORD_TYPE",
      3: "ACQ_ERR_RECORD_MISMATCH",
      4: "ACQ_ERR_RECORD_MISMATCH",
      5: "ACQ_ERR_RECORD_TIME",
      6: "ACQ_ERR_RECORD_MISMATCH",
    });
  });

  it("rejects a terminal seq used again (a terminal restored from an old backup)", async () => {
    const sim = new TerminalSim();
    sim.debits(3);
    await post(sim.closeBatch());
    const restored = new TerminalSim({ previousHash: sim.chainHead, nextSeq: 2, wallets: sim.wallets });
    restored.debits(3);
    const { body } = await post(restored.closeBatch());
    expect(reasons(body)).toEqual({ 2: "ACQ_ERR_SEQ_REUSED", 3: "ACQ_ERR_SEQ_REUSED", 4: "accepted" });
    expect(await settled()).toEqual({ count: 4, amount: 1800 });
  });

  it("rejects the same card record chained again as a duplicate, counted once", async () => {
    const sim = new TerminalSim();
    const first = sim.debit();
    await post(sim.closeBatch());
    sim.rechain(first);
    sim.debit();
    const { body } = await post(sim.closeBatch());
    expect(reasons(body)).toEqual({ 1: "ACQ_ERR_DUPLICATE", 2: "accepted" });
    expect(await settled()).toEqual({ count: 2, amount: 900 });
  });
});

describe("POST /v1/batches: a broken chain rejects the whole batch (422, stored)", () => {
  const cases: [string, (u: BatchUpload, sim: TerminalSim) => BatchUpload][] = [
    ["a record deleted from the middle", (u, sim) => dropRecord(u, 2, sim.key)],
    [
      "the last record deleted (the signed manifest still names its chain head)",
      (u) => ({
        ...u,
        records: u.records.slice(0, -1),
      }),
    ],
    ["two records swapped", (u, sim) => swapRecords(u, 1, 3, sim.key)],
    ["a record re-linked to a foreign hash and re-signed", (u, sim) => breakLink(u, 2, sim.key)],
  ];
  for (const [what, tamper] of cases)
    it(`rejects ${what} with ACQ_ERR_CHAIN_BREAK and settles nothing`, async () => {
      const sim = new TerminalSim();
      sim.debits(5);
      const upload = tamper(sim.closeBatch(), sim);
      const { status, body } = await post(upload);
      expect(status).toBe(422);
      expect(body).toMatchObject({ status: "rejected", reason: "ACQ_ERR_CHAIN_BREAK", accepted: 0 });
      expect(body.records.every((r) => r.status === "rejected")).toBe(true);
      expect(await settled()).toEqual({ count: 0, amount: 0 });
      expect(await recordCount()).toBe(0);
      const again = await post(upload);
      expect(again.status).toBe(422);
      expect(again.res.headers["idempotent-replayed"]).toBe("true");
    });

  it("catches the last record deleted with a re-signed manifest at the terminal's next batch", async () => {
    const sim = new TerminalSim();
    sim.debits(4, () => ({ card: "cards/alice" }));
    const cut = dropRecord(sim.closeBatch(), 3, sim.key);
    expect((await post(cut)).status).toBe(200);
    sim.debits(2, () => ({ card: "cards/alice" }));
    const next = await post(sim.closeBatch());
    expect(next.status).toBe(409);
    expect(next.body.code).toBe("ACQ_ERR_CHAIN_BREAK");
    expect(await settled()).toEqual({ count: 3, amount: 1350 });
  });

  it("answers 409 to a batch that skips an earlier one, then settles it once the earlier one is in", async () => {
    const sim = new TerminalSim();
    sim.debits(2);
    const b1 = sim.closeBatch();
    sim.debits(2);
    const b2 = sim.closeBatch();
    const early = await post(b2);
    expect(early.status).toBe(409);
    expect(early.body.code).toBe("ACQ_ERR_CHAIN_BREAK");
    expect(await batchCount()).toBe(0);
    expect((await post(b1)).status).toBe(200);
    expect((await post(b2)).status).toBe(200);
    expect(await settled()).toEqual({ count: 4, amount: 1800 });
  });

  it("rejects a settled batch replayed under a new id: every record a duplicate, nothing counted twice", async () => {
    const sim = new TerminalSim();
    sim.debits(3);
    const upload = sim.closeBatch();
    await post(upload);
    const { status, body } = await post(withNewBatchId(upload, sim.key));
    expect(status).toBe(422);
    expect(body.reason).toBe("ACQ_ERR_REPLAYED_BATCH");
    expect(body.records.map((r) => r.reason)).toEqual(Array(3).fill("ACQ_ERR_DUPLICATE"));
    expect(await settled()).toEqual({ count: 3, amount: 1350 });
  });
});

describe("clone detection", () => {
  it("rejects a second record with the same wallet and counter, blocks the wallet and hotlists it", async () => {
    const t1 = new TerminalSim();
    t1.debits(3, () => ({ card: "cards/alice" }));
    await post(t1.closeBatch());
    const before = (await acq.app.inject({ method: "GET", url: "/v1/hotlist" })).json() as HotlistWire;
    expect(before.blockedWallets).toEqual([]);

    const t2 = new TerminalSim({ terminal: "terminals/term-0002" });
    t2.debit({ card: "cards/alice", counter: 2, amount: 777 });
    t2.debit({ card: "cards/bob" });
    const { status, body } = await post(t2.closeBatch());
    expect(status).toBe(200);
    expect(reasons(body)).toEqual({ 1: "ACQ_ERR_CLONE", 2: "accepted" });

    const res = await acq.app.inject({ method: "GET", url: "/v1/hotlist" });
    const after = res.json() as HotlistWire;
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.blockedWallets).toEqual(["W-ALICE-0001"]);
    expect(verifyHotlist(after, pki.cert("acquirer-ca")).blockedWallets).toEqual(["W-ALICE-0001"]);

    const r = await report();
    expect(r.clones).toEqual([]);
    const today = await report(TEST_NOW.toISOString().slice(0, 10));
    expect(today.clones).toMatchObject([{ walletId: "W-ALICE-0001", cardCounter: 2 }]);
    const ledger = (await acq.app.inject({ method: "GET", url: "/v1/wallets/W-ALICE-0001/ledger" })).json();
    expect(ledger.blocked).toMatchObject({ reason: "clone", source: "clone-detection" });
    expect(ledger.records.map((x: { cardCounter: number }) => x.cardCounter)).toEqual([1, 2, 3]);
    expect(ledger.clones).toHaveLength(1);
  });

  it("detects a clone inside one batch", async () => {
    const t1 = new TerminalSim();
    t1.debit({ card: "cards/bob", counter: 7 });
    t1.debit({ card: "cards/bob", counter: 7, amount: 1 });
    const { body } = await post(t1.closeBatch());
    expect(reasons(body)).toEqual({ 1: "accepted", 2: "ACQ_ERR_CLONE" });
    expect(await acq.store.walletBlock("W-BOB-0002")).toMatchObject({ reason: "clone" });
  });

  it("reports gaps in a wallet's counters as outstanding, not as errors", async () => {
    const sim = new TerminalSim();
    for (const counter of [1, 2, 5, 9]) sim.debit({ card: "cards/alice", counter });
    const { body } = await post(sim.closeBatch());
    expect(body.accepted).toBe(4);
    const r = await report();
    expect(r.outstandingCounters).toEqual([
      {
        walletId: "W-ALICE-0001",
        gaps: [
          { from: 3, to: 4 },
          { from: 6, to: 8 },
        ],
      },
    ]);
    const ledger = (await acq.app.inject({ method: "GET", url: "/v1/wallets/W-ALICE-0001/ledger" })).json();
    expect(ledger.gaps).toEqual(r.outstandingCounters[0]!.gaps);
  });
});

describe("malformed HTTP: 4xx with a reason, nothing stored", () => {
  function goodUpload(): BatchUpload {
    const sim = new TerminalSim();
    sim.debits(2);
    return sim.closeBatch();
  }
  const cases: [string, () => { payload: string; headers?: Record<string, string> }, number, string][] = [
    ["invalid JSON", () => ({ payload: '{"manifest": {' }), 400, "ACQ_ERR_BAD_REQUEST"],
    ["an empty body", () => ({ payload: "" }), 400, "ACQ_ERR_BAD_REQUEST"],
    [
      "a seq given as a string",
      () => {
        const u = goodUpload();
        return { payload: JSON.stringify({ ...u, records: [{ ...u.records[0], seq: "1" }] }) };
      },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "an amount given as a float",
      () => {
        const u = goodUpload();
        const manifest = { ...u.manifest, totals: [{ currency: EUR, count: 2, amount: 9.5 }] };
        return { payload: JSON.stringify({ ...u, manifest }) };
      },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "a missing field",
      () => {
        const { manifestSignature: _, ...rest } = goodUpload();
        return { payload: JSON.stringify(rest) };
      },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "an unknown top-level field",
      () => ({ payload: JSON.stringify({ ...goodUpload(), extra: 1 }) }),
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "an unknown field in a record",
      () => {
        const u = goodUpload();
        return { payload: JSON.stringify({ ...u, records: [{ ...u.records[0], amount: 1 }, u.records[1]] }) };
      },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "upper-case hex in a signature",
      () => {
        const u = goodUpload();
        return { payload: JSON.stringify({ ...u, manifestSignature: u.manifestSignature.toUpperCase() }) };
      },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "a __proto__ key",
      () => ({ payload: `{"__proto__": {"polluted": 1}, ${JSON.stringify(goodUpload()).slice(1)}` }),
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "a batch with no records",
      () => ({ payload: JSON.stringify({ ...goodUpload(), records: [] }) }),
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "a 50 MB body",
      () => ({ payload: `{"pad":"${"x".repeat(50 * 1024 * 1024)}"}` }),
      413,
      "ACQ_ERR_BODY_TOO_LARGE",
    ],
    [
      "a body that is not JSON",
      () => ({ payload: "manifest=1", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      415,
      "ACQ_ERR_UNSUPPORTED_MEDIA_TYPE",
    ],
  ];
  for (const [what, make, status, code] of cases)
    it(`answers ${what} with ${status} ${code}`, async () => {
      const { payload, headers } = make();
      const res = await acq.app.inject({
        method: "POST",
        url: "/v1/batches",
        payload,
        headers: headers ?? { "content-type": "application/json" },
      });
      expect(res.statusCode).toBe(status);
      const body = res.json() as { code: string; message: string };
      expect(body.code).toBe(code);
      expect(body.message.length).toBeGreaterThan(0);
      expect(await batchCount()).toBe(0);
      expect(await recordCount()).toBe(0);
    });

  it("answers an unknown route with 404 ACQ_ERR_NOT_FOUND", async () => {
    const res = await acq.app.inject({ method: "GET", url: "/v1/nothing" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: "ACQ_ERR_NOT_FOUND" });
  });

  it("refuses a report for a date that does not exist", async () => {
    const res = await acq.app.inject({ method: "GET", url: "/v1/reports/settlement?date=2026-02-30" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: "ACQ_ERR_BAD_REQUEST" });
  });
});

describe("GET /v1/hotlist and wallet blocking", () => {
  it("serves a signed hotlist with the issuer's revoked card serials, and 304 when unchanged", async () => {
    const res = await acq.app.inject({ method: "GET", url: "/v1/hotlist" });
    expect(res.statusCode).toBe(200);
    const wire = res.json() as HotlistWire;
    expect(verifyHotlist(wire, pki.cert("acquirer-ca"))).toMatchObject({ revokedSerials: ["c005"] });
    const same = await acq.app.inject({ method: "GET", url: `/v1/hotlist?since=${wire.version}` });
    expect(same.statusCode).toBe(304);
    const etag = await acq.app.inject({
      method: "GET",
      url: "/v1/hotlist",
      headers: { "if-none-match": res.headers.etag as string },
    });
    expect(etag.statusCode).toBe(304);
    const older = await acq.app.inject({ method: "GET", url: `/v1/hotlist?since=${wire.version - 1}` });
    expect(older.statusCode).toBe(200);
  });

  it("moves the version on block and unblock, and not when nothing changes", async () => {
    const v0 = await acq.store.hotlistVersion();
    const block = await acq.app.inject({
      method: "POST",
      url: "/v1/wallets/W-BOB-0002/block",
      payload: { reason: "lost" },
    });
    expect(block.statusCode).toBe(200);
    expect(block.json()).toMatchObject({ changed: true, hotlistVersion: v0 + 1 });
    const wire = (
      await acq.app.inject({ method: "GET", url: `/v1/hotlist?since=${v0}` })
    ).json() as HotlistWire;
    expect(verifyHotlist(wire, pki.cert("acquirer-ca")).blockedWallets).toEqual(["W-BOB-0002"]);
    const again = await acq.app.inject({
      method: "POST",
      url: "/v1/wallets/W-BOB-0002/block",
      payload: { reason: "stolen" },
    });
    expect(again.json()).toMatchObject({ changed: false, hotlistVersion: v0 + 1 });
    const unblock = await acq.app.inject({ method: "POST", url: "/v1/wallets/W-BOB-0002/unblock" });
    expect(unblock.json()).toMatchObject({ changed: true, hotlistVersion: v0 + 2 });
    const latest = (await acq.app.inject({ method: "GET", url: "/v1/hotlist" })).json() as HotlistWire;
    expect(latest.blockedWallets).toEqual([]);
    const noop = await acq.app.inject({ method: "POST", url: "/v1/wallets/W-BOB-0002/unblock", payload: {} });
    expect(noop.json()).toMatchObject({ changed: false, hotlistVersion: v0 + 2 });
    const junk = await acq.app.inject({
      method: "POST",
      url: "/v1/wallets/W-BOB-0002/unblock",
      payload: { x: 1 },
    });
    expect(junk.statusCode).toBe(400);
  });

  it("refuses an unknown block reason and a malformed wallet id", async () => {
    const reason = await acq.app.inject({
      method: "POST",
      url: "/v1/wallets/W-BOB-0002/block",
      payload: { reason: "bored" },
    });
    expect(reason.statusCode).toBe(400);
    const id = await acq.app.inject({
      method: "POST",
      url: "/v1/wallets/not%20an%20id/block",
      payload: { reason: "lost" },
    });
    expect(id.statusCode).toBe(400);
    expect((await acq.store.hotlistState()).blockedWallets).toEqual([]);
  });

  it("publishes a CRL that openssl verifies with the acquirer CA", async () => {
    await acq.app.inject({
      method: "POST",
      url: "/v1/wallets/W-BOB-0002/block",
      payload: { reason: "lost" },
    });
    const wire = (await acq.app.inject({ method: "GET", url: "/v1/hotlist" })).json() as HotlistWire;
    const dir = mkdtempSync(join(tmpdir(), "hotlist-crl-"));
    try {
      writeFileSync(join(dir, "hotlist.crl"), Buffer.from(wire.crl, "base64"));
      const out = execFileSync(
        "openssl",
        [
          "crl",
          "-inform",
          "DER",
          "-in",
          join(dir, "hotlist.crl"),
          "-CAfile",
          join(pki.dir, "acquirer-ca.crt.pem"),
          "-noout",
          "-verify",
          "-text",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      expect(out).toMatch(/Serial Number: C005/i);
      expect(out).toMatch(/X509v3 CRL Number:\s+\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("operator routes and health", () => {
  it("answers /healthz", async () => {
    const res = await acq.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok", engine: acq.store.kind });
  });

  it("requires the operator token when one is configured", async () => {
    const guarded = await testAcquirer({ clock, operatorToken: "s3cret-operator-token-app" });
    try {
      const none = await guarded.app.inject({ method: "GET", url: "/v1/reports/settlement?date=2026-11-23" });
      expect(none.statusCode).toBe(401);
      expect(none.json()).toMatchObject({ code: "ACQ_ERR_UNAUTHORIZED" });
      const ok = await guarded.app.inject({
        method: "GET",
        url: "/v1/reports/settlement?date=2026-11-23",
        headers: { authorization: "Bearer s3cret-operator-token-app" },
      });
      expect(ok.statusCode).toBe(200);
      // Terminals never need it.
      const hotlist = await guarded.app.inject({ method: "GET", url: "/v1/hotlist" });
      expect(hotlist.statusCode).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

/** A settlement line's refund part when none settled that day: the net is the amount. */
function noRefunds(net: number, netText: string) {
  return { refundCount: 0, refunds: 0, refundsText: "0.00", net, netText };
}
