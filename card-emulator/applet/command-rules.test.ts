/**
 * What docs/protocol.md ("Rules for every command", the commands' sections) says the card answers
 * where an independent wallet found the document and the card disagreeing (issue 11, item 7): the
 * card and the document now say the same, and each case is pinned here on the exact bytes.
 */
import { describe, expect, it } from "vitest";
import { fromHex, hex } from "../../protocol/bytes.js";
import { generateP256KeyPair, rawPublicKey } from "../../protocol/crypto.js";
import { issueCertificate } from "../../protocol/pki.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { SW } from "../../protocol/sw.js";
import { transmit } from "../../protocol/transmit.js";
import { AID, INS, WALLET_SW } from "../../protocol/wallet/constants.js";
import { encodeInitiateAuth, initiateAuthCommand } from "../../protocol/wallet/messages.js";
import { runPayment } from "../../terminal/application/run-payment.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { testTerminal } from "../../test-support/terminal-fixture.js";
import { FIXTURE_UNIX_TIME, TerminalScript } from "../../test-support/terminal-script.js";
import { MAX_COUNTER } from "./state.js";

const EUR = 978;
const pki = loadFixturePki();
const SELECT = `00a4040008${hex(AID)}00`;

type Card = ReturnType<typeof fixtureCard>["applet"];
const raw = (applet: Card, text: string) => hex(applet.process(fromHex(text)));

function selected() {
  const card = fixtureCard();
  expect(raw(card.applet, SELECT).endsWith("9000")).toBe(true);
  return card;
}

async function session(overrides = {}) {
  const card = fixtureCard(overrides);
  const t = new TerminalScript(card.transport);
  await t.authenticate();
  return { ...card, t };
}

describe("card › GET RESPONSE and command chaining, in the documented order", () => {
  it("answers 6883 to GET RESPONSE while a chain is open, and drops the chain", () => {
    const { applet } = selected();
    expect(raw(applet, "9088000003df1000")).toBe("9000");
    expect(raw(applet, "00c00000ff")).toBe("6883");
    // The chain is gone: its continuation is a fresh (malformed) INITIATE AUTHENTICATE.
    expect(raw(applet, "8088000003df1000")).toBe("6a80");
  });

  it("answers 6D00 to the chain bit on an unknown INS, 6884 on a known command that does not chain", () => {
    const { applet } = selected();
    expect(raw(applet, "90ee000001aa")).toBe("6d00");
    expect(raw(applet, "90ca000001aa")).toBe("6884");
    expect(raw(applet, "1084000001aa")).toBe("6884");
  });

  it("refuses a first chained INITIATE part with P1 or P2 not 00 at once (6A86), and opens no chain", () => {
    const { applet } = selected();
    expect(raw(applet, "9088010003df1000")).toBe("6a86");
    expect(raw(applet, "9088000103df1000")).toBe("6a86");
    // No chain is open: a last part alone is a whole (malformed) command, not a continuation.
    expect(raw(applet, "8088000003df1000")).toBe("6a80");
  });

  it("refuses a first chained part before SELECT at once (6985)", () => {
    const { applet } = fixtureCard();
    expect(raw(applet, "9088000003df1000")).toBe("6985");
  });

  it("answers 6700 to GET RESPONSE without Le or with data, and the rest of the answer is gone", () => {
    for (const bad of ["00c00000", "00c0000001aa", "00c0000001aaff"]) {
      const { applet } = selected();
      expect(raw(applet, "80cadf1000").slice(-4, -2)).toBe("61");
      expect(raw(applet, bad), bad).toBe("6700");
      expect(raw(applet, "00c00000ff")).toBe("6985");
    }
  });

  it("serves GET RESPONSE with Le 00 as up to 255 bytes", () => {
    const { applet } = selected();
    raw(applet, "80cadf1000");
    const rest = pki.der("cards/alice").length - 255;
    expect(raw(applet, "00c0000000").length).toBe(2 * (Math.min(rest, 255) + 2));
  });
});

describe("card › required data that is absent is 6A80", () => {
  it("answers 6A80 to INITIATE AUTHENTICATE and EXTERNAL AUTHENTICATE without data", async () => {
    const { applet } = selected();
    expect(raw(applet, "8088000000")).toBe("6a80");
    expect(raw(applet, "80880000")).toBe("6a80");
    const { applet: a2, transport } = fixtureCard();
    const t = new TerminalScript(transport);
    await t.select();
    await t.initiate();
    expect(raw(a2, "80820000")).toBe("6a80");
  });

  it("answers inner 6A80 to a DEBIT without plaintext data, and the session stays", async () => {
    const { t } = await session();
    const a = await t.secure(INS.DEBIT, 0, 0, new Uint8Array(0));
    expect({ sw: a.sw, outer: a.outer }).toEqual({ sw: SW.WRONG_DATA, outer: false });
    expect((await t.readBalance()).balance).toBe(5_000);
  });
});

describe("card › INITIATE AUTHENTICATE carries 1 to 3 DF10 certificates", () => {
  it("takes the terminal, its acquirer CA and one more CA, and refuses a fourth with 6A80", async () => {
    const init = (certificates: Uint8Array[]) =>
      initiateAuthCommand(
        encodeInitiateAuth({
          certificates,
          ephemeralKey: rawPublicKey(generateP256KeyPair().publicKey),
          nonce: new Uint8Array(16),
          time: FIXTURE_UNIX_TIME,
        }),
      );
    const three = [pki.der("terminals/term-0001"), pki.der("acquirer-ca"), pki.der("root-ca")];
    const card = selected();
    expect((await transmit(card.transport, init(three))).sw).toBe(SW.OK);
    raw(card.applet, SELECT);
    const four = [...three, pki.der("issuer-ca")];
    expect((await transmit(card.transport, init(four))).sw).toBe(SW.WRONG_DATA);
  });
});

describe("card › the terminal's ids are checked at authentication (930A), not at DEBIT (6F00)", () => {
  async function terminalWith(attributes: { terminalId: string; merchantId: string }) {
    const keys = generateP256KeyPair();
    return await issueCertificate({
      role: "terminal",
      subjectCommonName: "T-ODD",
      publicKey: keys.publicKey,
      issuer: { certificate: pki.der("acquirer-ca"), privateKey: pki.key("acquirer-ca") },
      serialNumber: "0dd1",
      notBefore: new Date("2025-06-01T00:00:00Z"),
      notAfter: new Date("2035-06-01T00:00:00Z"),
      attributes: { ...attributes, merchantCategory: "5411", region: "TW" },
    });
  }

  for (const [what, attributes] of [
    ["a 17-character terminal id", { terminalId: "T-0001-0123456789", merchantId: "M-0001" }],
    ["a terminal id with a space", { terminalId: "T 0001", merchantId: "M-0001" }],
    ["a non-ASCII terminal id", { terminalId: "T-0001é", merchantId: "M-0001" }],
    ["a merchant id with a space", { terminalId: "T-0001", merchantId: "M 0001" }],
    ["a 17-character merchant id", { terminalId: "T-0001", merchantId: "M-0001-0123456789" }],
  ] as const) {
    it(`refuses a terminal certificate with ${what} with 930A, and nothing changes`, async () => {
      const card = selected();
      const before = card.store.load();
      const data = encodeInitiateAuth({
        certificates: [await terminalWith(attributes), pki.der("acquirer-ca")],
        ephemeralKey: rawPublicKey(generateP256KeyPair().publicKey),
        nonce: new Uint8Array(16),
        time: FIXTURE_UNIX_TIME,
      });
      expect((await transmit(card.transport, initiateAuthCommand(data))).sw).toBe(WALLET_SW.TERMINAL_REFUSED);
      expect(card.store.load()).toEqual(before);
    });
  }

  it("takes a 16-character terminal id of every allowed character", async () => {
    const card = selected();
    const data = encodeInitiateAuth({
      certificates: [
        await terminalWith({ terminalId: "Tz9._-ABCDEFGHIJ", merchantId: "M" }),
        pki.der("acquirer-ca"),
      ],
      ephemeralKey: rawPublicKey(generateP256KeyPair().publicKey),
      nonce: new Uint8Array(16),
      time: FIXTURE_UNIX_TIME,
    });
    expect((await transmit(card.transport, initiateAuthCommand(data))).sw).toBe(SW.OK);
  });
});

describe("card › SELECT and EXTERNAL AUTHENTICATE inside a session", () => {
  it("keeps the wallet selected and the session open after a SELECT of an unknown AID (6A82)", async () => {
    const { applet, t } = await session();
    expect(raw(applet, "00a4040008f054415057414c0200")).toBe("6a82");
    expect((await t.readBalance()).balance).toBe(5_000);
  });

  it("ends the session on EXTERNAL AUTHENTICATE in the clear inside it (6985); CLA 84 gets 6E00", async () => {
    const first = await session();
    expect(raw(first.applet, `8482000043df1340${"00".repeat(64)}`)).toBe("6e00");
    expect((await first.t.readBalance()).balance).toBe(5_000);
    const { applet } = first;
    expect(raw(applet, `8082000043df1340${"00".repeat(64)}`)).toBe("6985");
    expect(applet.authenticated).toBe(false);
  });
});

describe("card › a spent card counter is the last DEBIT check (6985)", () => {
  it("answers the other refusals first, then inner 6985, and changes nothing", async () => {
    const { t, store } = await session({ counter: MAX_COUNTER, balance: 100 });
    expect((await t.debit({ amount: 150, currency: EUR, terminalSeq: 1 })).sw).toBe(
      WALLET_SW.INSUFFICIENT_FUNDS,
    );
    expect(await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 })).toEqual({
      sw: SW.CONDITIONS_NOT_SATISFIED,
      outer: false,
    });
    expect(store.load()).toMatchObject({ counter: MAX_COUNTER, balance: 100 });
  });

  it("posd declines it with TERM_ERR_CARD_COUNTER_SPENT, not a protocol error", async () => {
    const card = fixtureCard({ counter: MAX_COUNTER });
    const t = testTerminal({ store: "memory" });
    try {
      const outcome = await runPayment(card.transport, t.deps, { amount: 100, currency: EUR });
      expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_CARD_COUNTER_SPENT" });
      expect(t.store.list().filter((r) => r.status === "complete")).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});
