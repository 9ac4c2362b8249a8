import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { concat } from "../../protocol/bytes.js";
import { tlv } from "../../protocol/tlv.js";
import { TAG } from "../../protocol/wallet/constants.js";
import { HostileCard, type HostileOptions } from "../../test-support/hostile-card.js";
import { type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { runPayment } from "./run-payment.js";

let t: TestTerminal;
beforeEach(() => {
  t = testTerminal({ store: "memory" });
});
afterEach(() => t.cleanup());

const pay = (card: HostileCard, amount = 450) => runPayment(card, t.deps, { amount, currency: 978 });

describe("runPayment against a hostile card", () => {
  it("approves the scripted card when it tells the truth (the baseline the other cases bend)", async () => {
    const outcome = await pay(new HostileCard());
    expect(outcome.status).toBe("approved");
    expect(t.store.list().filter((r) => r.status === "complete")).toHaveLength(1);
  });

  const cases: [string, HostileOptions, string, "declined" | "error" | "torn"][] = [
    [
      "a malformed FCI (truncated TLV)",
      { fci: (f) => f.subarray(0, f.length - 3) },
      "TERM_ERR_NOT_TAPWALLET",
      "declined",
    ],
    [
      "an FCI for another application",
      { fci: (f) => f.map((b, i) => (i === 4 ? b ^ 1 : b)) },
      "TERM_ERR_NOT_TAPWALLET",
      "declined",
    ],
    [
      "a foreign card answering 6A82 to SELECT",
      { sw: { 164: 0x6a82 } },
      "TERM_ERR_NOT_TAPWALLET",
      "declined",
    ],
    [
      "a certificate of 10 kB",
      { certificate: new Uint8Array(10_000).fill(0x30) },
      "TERM_ERR_PROTOCOL",
      "error",
    ],
    [
      "garbage instead of a certificate",
      { certificate: new Uint8Array(300).fill(0x41) },
      "TERM_ERR_PROTOCOL",
      "error",
    ],
    [
      "an authentication signature of the wrong length",
      { authAnswer: (a) => concat(a.subarray(0, a.length - 67), tlv(TAG.SIGNATURE, new Uint8Array(63))) },
      "TERM_ERR_PROTOCOL",
      "error",
    ],
    [
      "an authentication signature that does not verify",
      { authAnswer: (a) => a.map((b, i) => (i === a.length - 1 ? b ^ 0xff : b)) },
      "TERM_ERR_BAD_SIGNATURE",
      "declined",
    ],
    [
      "trailing garbage after the authentication answer",
      { authAnswer: (a) => concat(a, Uint8Array.of(0, 0)) },
      "TERM_ERR_PROTOCOL",
      "error",
    ],
    [
      "a status word out of order (9000 expected, 6985 to EXTERNAL AUTHENTICATE)",
      { sw: { 130: 0x6985 } },
      "TERM_ERR_TERMINAL_REFUSED",
      "declined",
    ],
    [
      "another wallet id in the FCI than in the certificate",
      { walletId: "W-MALLORY" },
      "TERM_ERR_CARD_CERT",
      "declined",
    ],
  ];

  for (const [what, options, code, status] of cases) {
    it(`ends ${status} with ${code}, stores nothing, on ${what}`, async () => {
      const outcome = await pay(new HostileCard(options));
      expect(outcome.status).toBe(status);
      expect(outcome).toMatchObject({ code });
      expect(t.store.list()).toEqual([]);
    });
  }

  const afterDebit: [string, HostileOptions, string][] = [
    [
      "a record for another amount",
      { debitRecord: (r) => ({ ...r, amount: r.amount + 1 }) },
      "TERM_ERR_RECORD_MISMATCH",
    ],
    [
      "a record for another terminal seq",
      { debitRecord: (r) => ({ ...r, terminalSeq: r.terminalSeq + 1 }) },
      "TERM_ERR_RECORD_MISMATCH",
    ],
    [
      "a record bound to another session",
      { debitRecord: (r) => ({ ...r, binding: new Uint8Array(32) }) },
      "TERM_ERR_RECORD_MISMATCH",
    ],
    [
      "a record for another terminal",
      { debitRecord: (r) => ({ ...r, terminalId: "T-0002" }) },
      "TERM_ERR_RECORD_MISMATCH",
    ],
    [
      "a record signature of the wrong length",
      { debitSignature: (s) => s.subarray(0, 63) },
      "TERM_ERR_PROTOCOL",
    ],
    [
      "a record signature that does not verify",
      { debitSignature: (s) => s.map((b, i) => (i === 5 ? b ^ 1 : b)) },
      "TERM_ERR_BAD_SIGNATURE",
    ],
    ["a malformed record TLV", { debitAnswer: (p) => p.subarray(0, p.length - 10) }, "TERM_ERR_PROTOCOL"],
    ["an empty answer with 9000", { debitAnswer: () => new Uint8Array(0) }, "TERM_ERR_PROTOCOL"],
  ];

  for (const [what, options, code] of afterDebit) {
    it(`keeps the payment pending (never stores, never voids) on ${what}`, async () => {
      const outcome = await pay(new HostileCard(options));
      expect(outcome).toMatchObject({ status: "torn", code });
      const rows = t.store.list();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: "pending", cardRecord: undefined });
    });
  }

  it("voids the intent when the card refuses the DEBIT (it did not commit)", async () => {
    const outcome = await pay(new HostileCard({ sw: { 84: 0x9305 } }));
    expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_INSUFFICIENT_FUNDS" });
    expect(t.store.list()[0]).toMatchObject({ status: "voided" });
  });

  it("declines a hotlisted wallet before any intent is written", async () => {
    const h = testTerminal({ store: "memory", hotlist: { wallets: ["W-ALICE-0001"] } });
    try {
      const outcome = await runPayment(new HostileCard(), h.deps, { amount: 100, currency: 978 });
      expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
      expect(h.store.list()).toEqual([]);
    } finally {
      h.cleanup();
    }
  });

  it("declines a card whose certificate is from an issuer it does not accept", async () => {
    const outcome = await pay(new HostileCard({ fixture: "cards/rogue" }));
    expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_UNKNOWN_ISSUER" });
  });

  it("declines expired and revoked card certificates", async () => {
    expect(await pay(new HostileCard({ fixture: "cards/expired" }))).toMatchObject({
      code: "TERM_ERR_CARD_EXPIRED",
    });
    expect(await pay(new HostileCard({ fixture: "cards/revoked" }))).toMatchObject({
      code: "TERM_ERR_CARD_REVOKED",
    });
    expect(t.store.list()).toEqual([]);
  });
});
