import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ecdsaVerify } from "../../protocol/crypto.js";
import { ProtocolError } from "../../protocol/errors.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { Transport } from "../../protocol/transport.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import {
  CHAIN_STATUS,
  chainHash,
  decodeRecord,
  GENESIS_HASH,
  terminalRecordMessage,
  verifyCardRecord,
} from "../../protocol/wallet/records.js";
import { type FixtureCard, fixtureCard } from "../../test-support/card-fixture.js";
import { STORE_KINDS, type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { runPayment } from "./run-payment.js";

let t: TestTerminal;
afterEach(() => t.cleanup());

const EUR = 978;
const pay = (transport: Transport, amount = 450, currency = EUR) =>
  runPayment(transport, t.deps, { amount, currency });

/** The money invariant: what the card lost is exactly what the terminal holds as complete records. */
function expectBooksBalance(card: FixtureCard, initial: { balance: number; counter: number }): void {
  const complete = t.store.list().filter((r) => r.status === "complete");
  const state = card.store.load();
  expect(state.counter - initial.counter).toBe(complete.length);
  expect(initial.balance - state.balance).toBe(complete.reduce((s, r) => s + r.amount, 0));
}

/** Every final record is counter-signed and chained; every complete one is signed by the card. */
function expectChainVerifies(): void {
  const pki = loadFixturePki();
  let previous: Uint8Array = GENESIS_HASH;
  const rows = t.store.list().filter((r) => r.chainIndex !== undefined);
  for (const r of rows.sort((a, b) => a.chainIndex! - b.chainIndex!)) {
    const entry = {
      previousHash: previous,
      terminalSeq: r.seq,
      status: r.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
      cardRecord: r.cardRecord ?? new Uint8Array(0),
      cardSignature: r.cardSignature ?? new Uint8Array(0),
    };
    expect(
      ecdsaVerify(t.identity.certificate.publicKey, terminalRecordMessage(entry), r.terminalSignature!),
    ).toBe(true);
    previous = chainHash(entry, r.terminalSignature!);
    if (r.status === "complete") {
      expect(verifyCardRecord(pki.cert("cards/alice").publicKey, r.cardRecord!, r.cardSignature!)).toBe(true);
    }
  }
}

// The whole specification runs on both stores, the in-memory one use-case tests take and the
// SQLite file posd runs on: they must agree.
describe.each(STORE_KINDS)("runPayment with the software wallet in-process (%s store)", (kind) => {
  beforeEach(() => {
    t = testTerminal({ store: kind });
  });

  it("approves, stores a record signed by the card and the terminal, and moves the card by one debit", async () => {
    const card = fixtureCard();
    const outcome = await pay(card.transport, 450);
    expect(outcome.status).toBe("approved");
    if (outcome.status !== "approved") return;
    const record = decodeRecord(outcome.record.cardRecord!);
    expect(record).toMatchObject({
      type: RECORD_TYPE.DEBIT,
      walletId: "W-ALICE-0001",
      amount: 450,
      currency: EUR,
      terminalId: "T-0001",
      terminalSeq: outcome.record.seq,
      cardCounter: 1,
      balanceAfter: 4_550,
    });
    expect(card.store.load()).toMatchObject({ balance: 4_550, counter: 1 });
    expectChainVerifies();
  });

  it("stays within 10 APDUs and 2 KB per tap, and sends the acquirer CA only until the card has cached it", async () => {
    const card = fixtureCard();
    const first = await pay(card.transport);
    const second = await pay(card.transport);
    for (const o of [first, second]) {
      expect(o.stats.apdus).toBeLessThanOrEqual(10);
      expect(o.stats.bytesIn + o.stats.bytesOut).toBeLessThanOrEqual(2048);
    }
    expect(second.stats.bytesOut).toBeLessThan(first.stats.bytesOut - 300);
  });

  const declines: [string, Parameters<typeof fixtureCard>[0], number, number, string][] = [
    ["insufficient balance", { balance: 100 }, 450, EUR, "TERM_ERR_INSUFFICIENT_FUNDS"],
    ["an amount over the single-spend limit", {}, 2_001, EUR, "TERM_ERR_OVER_SINGLE_LIMIT"],
    ["another currency", {}, 450, 840, "TERM_ERR_CURRENCY_MISMATCH"],
    ["a blocked wallet", { blocked: true, blockReason: 1 }, 450, EUR, "TERM_ERR_CARD_BLOCKED"],
    [
      "a merchant category the wallet does not allow",
      { policy: { regions: [], categories: ["5812"] } },
      450,
      EUR,
      "TERM_ERR_POLICY",
    ],
    [
      "a region the wallet does not allow",
      { policy: { regions: ["JP"], categories: [] } },
      450,
      EUR,
      "TERM_ERR_POLICY",
    ],
    [
      "a wallet past its validity window",
      { policy: { regions: [], categories: [], validTo: 1_700_000_000 } },
      450,
      EUR,
      "TERM_ERR_POLICY",
    ],
  ];
  for (const [what, overrides, amount, currency, code] of declines) {
    it(`declines ${what} with ${code}, and neither side changes its money`, async () => {
      const card = fixtureCard(overrides);
      const before = card.store.load();
      const outcome = await pay(card.transport, amount, currency);
      expect(outcome).toMatchObject({ status: "declined", code });
      const after = card.store.load();
      expect([after.balance, after.counter]).toEqual([before.balance, before.counter]);
      expect(t.store.list().filter((r) => r.status === "complete")).toEqual([]);
    });
  }

  const certificateFaults: [string, "unknown-issuer" | "expired" | "revoked", string][] = [
    ["from an issuer the terminal does not accept", "unknown-issuer", "TERM_ERR_UNKNOWN_ISSUER"],
    ["that has expired", "expired", "TERM_ERR_CARD_EXPIRED"],
    ["that its issuer revoked", "revoked", "TERM_ERR_CARD_REVOKED"],
  ];
  for (const [what, fault, code] of certificateFaults) {
    it(`declines a wallet presenting a certificate ${what} before writing anything`, async () => {
      const card = fixtureCard({}, { faults: { certificate: fault } });
      expect(await pay(card.transport)).toMatchObject({ status: "declined", code });
      expect(t.store.list()).toEqual([]);
    });
  }

  it("never stores a debit answer replayed from an earlier session; the next tap proves nothing was charged", async () => {
    const card = fixtureCard();
    const initial = card.store.load();
    expect((await pay(card.transport, 100)).status).toBe("approved");
    card.applet.faults = { replayDebitAnswer: true };
    const replayed = await pay(card.transport, 200);
    expect(replayed).toMatchObject({ status: "torn", code: "TERM_ERR_RECORD_MISMATCH" });
    expect(t.store.list().filter((r) => r.status === "complete")).toHaveLength(1);
    card.applet.faults = {};
    const next = await pay(card.transport, 300);
    expect(next.status).toBe("approved");
    // The replaying card did not commit: its log has no entry for seq 2, so the intent is voided.
    expect(next.recovered).toEqual([{ seq: 2, amount: 200, outcome: "voided" }]);
    expectBooksBalance(card, initial);
    expectChainVerifies();
  });

  it("does not store a record whose signature was corrupted, and recovers the good one from the card's log", async () => {
    const card = fixtureCard({}, { faults: { corruptSignature: "record" } });
    const initial = card.store.load();
    expect(await pay(card.transport, 100)).toMatchObject({ status: "torn", code: "TERM_ERR_BAD_SIGNATURE" });
    card.applet.faults = {};
    const next = await pay(card.transport, 100);
    expect(next.status).toBe("approved");
    expect(next.recovered.map((r) => r.outcome)).toEqual(["complete"]);
    expectBooksBalance(card, initial);
  });

  it("recovers a tap torn right after the card committed: charged once, never twice", async () => {
    const card = fixtureCard({}, { faults: { tearAfterDebitCommit: true } });
    const initial = card.store.load();
    const torn = await pay(card.transport, 450);
    expect(torn).toMatchObject({ status: "torn", code: "TERM_ERR_CARD_REMOVED", seq: 1 });
    expect(t.store.pendingIntents()).toHaveLength(1);
    card.applet.faults = {};
    card.transport.insert();
    const next = await pay(card.transport, 100);
    expect(next).toMatchObject({
      status: "approved",
      recovered: [{ seq: 1, amount: 450, outcome: "complete" }],
    });
    expect(t.store.pendingIntents()).toEqual([]);
    expect(t.store.get(1)).toMatchObject({ status: "complete", resolution: "recovered" });
    expectBooksBalance(card, initial);
    expectChainVerifies();
  });

  it("resolves a tear at every step of the exchange, whether the card got the command or not", async () => {
    // Count the APDUs of one tap, then tear before and after each of them in turn.
    const probe = fixtureCard();
    const apdus = (await pay(probe.transport)).stats.apdus;
    t.cleanup();
    for (let k = 1; k <= apdus; k++) {
      for (const when of ["before", "after"] as const) {
        t = testTerminal({ store: kind });
        const card = fixtureCard();
        const initial = card.store.load();
        let n = 0;
        const tearing: Transport = {
          async exchange(command) {
            n++;
            if (n === k && when === "before") throw new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "torn");
            const response = await card.transport.exchange(command);
            if (n === k) throw new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "torn");
            return response;
          },
        };
        const first = await pay(tearing, 450);
        expect(first.status, `tear ${when} APDU ${k}`).not.toBe("approved");
        card.applet.powerOff();
        const second = await pay(card.transport, 100);
        expect(second.status, `tap after a tear ${when} APDU ${k}`).toBe("approved");
        expect(t.store.pendingIntents(), `tear ${when} APDU ${k}`).toEqual([]);
        expectBooksBalance(card, initial);
        expectChainVerifies();
        t.cleanup();
      }
    }
    t = testTerminal({ store: kind });
  });
});
