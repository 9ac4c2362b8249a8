import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CommandApdu, commandApdu, encodeCommand } from "../../protocol/apdu.js";
import { concat, fromHex, hex, utf8 } from "../../protocol/bytes.js";
import { generateP256KeyPair, rawPublicKey, sha256 } from "../../protocol/crypto.js";
import { issueCertificate } from "../../protocol/pki.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { SW } from "../../protocol/sw.js";
import { transmit } from "../../protocol/transmit.js";
import { AID, CLA, INS, RECORD_TYPE, WALLET_SW } from "../../protocol/wallet/constants.js";
import {
  caId,
  encodeDebit,
  encodeInitiateAuth,
  getCertificateCommand,
  getChallengeCommand,
  initiateAuthCommand,
  issuerCommandMessage,
  parseFci,
  parseSignedRecord,
  selectCommand,
} from "../../protocol/wallet/messages.js";
import { verifyCardRecord } from "../../protocol/wallet/records.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { FIXTURE_UNIX_TIME, TerminalScript } from "../../test-support/terminal-script.js";
import { InProcessTransport } from "../inprocess.js";
import {
  fixtureIssuerKey,
  issuerBlock,
  issuerLoad,
  issuerLoadReversal,
  issuerUnblock,
  issuerUpdateParameters,
} from "../issuer.js";
import { fixtureCardState } from "../personalize.js";
import { WalletApplet } from "./applet.js";
import { categoryAllowed, regionAllowed, withinValidity } from "./handlers/debit.js";
import { FileCardStateStore, MAX_LOG_ENTRIES, MemoryCardStateStore } from "./state.js";

const EUR = 978;
const pki = loadFixturePki();
const ALICE = "W-ALICE-0001";

function swOf(response: Uint8Array): number {
  return (response[response.length - 2]! << 8) | response[response.length - 1]!;
}

/** The applet, or the FaultyApplet the fixtures put in front of it. */
type Card = Pick<WalletApplet, "process" | "state">;

function raw(applet: Card, text: string): Uint8Array {
  return applet.process(fromHex(text));
}

/** The state fields that carry value: they must not move on a refusal. */
function money(applet: Card) {
  const s = applet.state;
  return { balance: s.balance, counter: s.counter, log: s.log.length, blocked: s.blocked };
}

async function session(overrides = {}, options = {}) {
  const card = fixtureCard(overrides, options);
  const t = new TerminalScript(card.transport);
  await t.authenticate();
  return { ...card, t };
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-card-"));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe("WalletApplet › SELECT", () => {
  it("answers the FCI with exactly these bytes for the fixture wallet", () => {
    const { applet } = fixtureCard();
    const answer = applet.process(encodeCommand(selectCommand()));
    expect(hex(answer)).toBe(
      [
        "6f37",
        "8408f054415057414c01",
        "a52b",
        "df010101",
        `df020c${hex(utf8(ALICE))}`,
        "df0302003f",
        "df040203d2",
        "df050100",
        "df0600",
        "df220400000000", // the card counter (optional; recorded by the terminal with its intent)
        "9000",
      ].join(""),
    );
  });

  it("announces a blocked wallet in DF05", () => {
    const { applet } = fixtureCard({ blocked: true, blockReason: 1 });
    const answer = applet.process(encodeCommand(selectCommand()));
    expect(parseFci(answer.subarray(0, -2)).state).toBe(1);
  });

  it("refuses another AID with 6A82 and other P1/P2 with 6A86", () => {
    const { applet } = fixtureCard();
    expect(hex(raw(applet, "00a4040008f054415057414c0200"))).toBe("6a82");
    expect(hex(raw(applet, "00a4040007f054415057414c00"))).toBe("6a82");
    expect(hex(raw(applet, `00a4040c08${hex(AID)}`))).toBe("6a86");
    expect(hex(raw(applet, `00a4000008${hex(AID)}`))).toBe("6a86");
  });

  it("answers 6985 to every other command before the wallet is selected", () => {
    const { applet } = fixtureCard();
    expect(hex(raw(applet, "0084000010"))).toBe("6985");
    expect(hex(raw(applet, "80cadf1000"))).toBe("6985");
    expect(hex(raw(applet, "8088000001df00"))).toBe("6985");
  });
});

describe("WalletApplet › APDU layer", () => {
  it("answers 6700 to bytes that are not a short APDU", () => {
    const { applet } = fixtureCard();
    for (const bad of ["", "00", "00a404", "00a4040005f054", "00a4040000aa", "00a40400020102030405"])
      expect(hex(applet.process(fromHex(bad))), bad).toBe("6700");
  });

  it("answers 6E00 to an unknown class and to a class the command does not take", () => {
    const { applet } = fixtureCard();
    for (const cla of ["01", "04", "0c", "40", "a0", "ff", "88"])
      expect(hex(raw(applet, `${cla}a4040008${hex(AID)}00`)), cla).toBe("6e00");
    expect(hex(raw(applet, `80a4040008${hex(AID)}00`))).toBe("6e00");
  });

  it("answers 6D00 to an unknown instruction", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    for (const ins of ["00", "b0", "20", "ee", "c2"])
      expect(hex(raw(applet, `80${ins}000000`)), ins).toBe("6d00");
  });

  it("serves a long answer in 255-byte pieces with 61xx and GET RESPONSE", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    const der = pki.der("cards/alice");
    const first = raw(applet, "80cadf1000");
    expect(first.length).toBe(257);
    expect(hex(first.subarray(-2))).toBe(
      `61${Math.min(der.length - 255, 255)
        .toString(16)
        .padStart(2, "0")}`,
    );
    const second = raw(applet, "00c0000000");
    const rest = der.length - 255;
    expect(second.length).toBe(Math.min(rest, 255) + 2);
    expect(hex(concat(first.subarray(0, -2), second.subarray(0, -2)))).toBe(
      hex(der).slice(0, 2 * (255 + Math.min(rest, 255))),
    );
  });

  it("gives the certificate through transmit, and 6A88 for other data objects", async () => {
    const { applet, transport } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    const r = await transmit(transport, getCertificateCommand());
    expect(r.sw).toBe(SW.OK);
    expect(hex(r.data)).toBe(hex(pki.der("cards/alice")));
    expect(hex(raw(applet, "80ca9f3600"))).toBe("6a88");
  });

  it("answers 6985 to GET RESPONSE with nothing pending, and forgets pending data on another command", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    expect(hex(raw(applet, "00c0000000"))).toBe("6985");
    expect(swOf(raw(applet, "80cadf1000")) >> 8).toBe(0x61);
    raw(applet, "0084000010");
    expect(hex(raw(applet, "00c0000000"))).toBe("6985");
  });

  it("refuses chaining where a command does not take it (6884) and an interleaved command (6883)", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    expect(hex(raw(applet, "1084000001aa"))).toBe("6884");
    expect(hex(raw(applet, "9088000003df1000"))).toBe("9000");
    expect(hex(raw(applet, "0084000010"))).toBe("6883");
    // The chain is gone: its continuation is a fresh (malformed) INITIATE AUTHENTICATE.
    expect(hex(raw(applet, "8088000003df1000"))).toBe("6a80");
  });

  it("answers 6700 when a chain grows beyond what the card buffers", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    const part = `90880000ff${"00".repeat(255)}`;
    let last = "";
    for (let i = 0; i < 40 && last !== "6700"; i++) last = hex(raw(applet, part));
    expect(last).toBe("6700");
  });

  it("GET CHALLENGE answers 16 fresh bytes; wrong P1/P2 → 6A86, another Le → 6700", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    const a = raw(applet, "0084000010");
    const b = raw(applet, "0084000010");
    expect(a.length).toBe(18);
    expect(hex(a.subarray(-2))).toBe("9000");
    expect(hex(a)).not.toBe(hex(b));
    expect(hex(raw(applet, "0084010010"))).toBe("6a86");
    expect(hex(raw(applet, "0084000008"))).toBe("6700");
  });
});

describe("WalletApplet › mutual authentication", () => {
  it("authenticates a fixture terminal, and the keys agree (the first secure command opens)", async () => {
    const { t } = await session();
    const b = await t.readBalance();
    expect(b).toMatchObject({ balance: 5_000, currency: EUR, counter: 0, state: 0 });
  });

  it("caches the acquirer CA after the first authentication and announces it in DF06", async () => {
    const { applet, transport, t } = await session();
    expect(applet.state.cachedCas.length).toBe(1);
    const fci = await t.select();
    expect(fci.cachedCaIds.map(hex)).toEqual([hex(caId(pki.der("acquirer-ca")))]);
    // The terminal now omits the CA certificate and is still accepted.
    const t2 = new TerminalScript(transport);
    await t2.authenticate();
    expect(t2.initiateData!.length).toBeLessThan(t.initiateData!.length + 1);
    expect((await t2.readBalance()).balance).toBe(5_000);
  });

  it("refuses an expired terminal certificate with 930A", async () => {
    const { transport, applet } = fixtureCard();
    const t = new TerminalScript(transport, { terminal: "terminals/expired" });
    await t.select();
    expect((await t.initiate()).sw).toBe(WALLET_SW.TERMINAL_REFUSED);
    expect(applet.authenticated).toBe(false);
  });

  it("refuses a card certificate offered as a terminal's, and a terminal time before its validity (930A)", async () => {
    const { transport } = fixtureCard();
    const wrongRole = new TerminalScript(transport, { terminal: "cards/bob" });
    await wrongRole.select();
    expect((await wrongRole.initiate()).sw).toBe(WALLET_SW.TERMINAL_REFUSED);
    const early = new TerminalScript(transport, { time: Date.UTC(2025, 0, 1) / 1000 });
    await early.select();
    expect((await early.initiate()).sw).toBe(WALLET_SW.TERMINAL_REFUSED);
  });

  it("refuses a terminal certified by a CA that does not chain to its root (930A)", async () => {
    const { transport } = fixtureCard();
    const keys = generateP256KeyPair();
    const rogueTerminal = await issueCertificate({
      role: "terminal",
      subjectCommonName: "T-ROGUE",
      publicKey: keys.publicKey,
      issuer: { certificate: pki.der("rogue-issuer-ca"), privateKey: pki.key("rogue-issuer-ca") },
      serialNumber: "f00d",
      notBefore: new Date("2025-06-01T00:00:00Z"),
      notAfter: new Date("2035-06-01T00:00:00Z"),
      attributes: { terminalId: "T-ROGUE", merchantId: "M-ROGUE", merchantCategory: "5411", region: "TW" },
    });
    const t = new TerminalScript(transport);
    await t.select();
    const init = encodeInitiateAuth({
      certificates: [rogueTerminal, pki.der("rogue-issuer-ca")],
      ephemeralKey: rawPublicKey(generateP256KeyPair().publicKey),
      nonce: new Uint8Array(16),
      time: FIXTURE_UNIX_TIME,
    });
    const r = await transmit(transport, initiateAuthCommand(init));
    expect(r.sw).toBe(WALLET_SW.TERMINAL_REFUSED);
  });

  it("refuses a terminal certificate that expired before the card's time high-water mark (930B)", async () => {
    const { transport } = fixtureCard({ highWaterTime: FIXTURE_UNIX_TIME });
    // terminals/expired is valid until 2025-06-01; this terminal claims it is March 2025.
    const t = new TerminalScript(transport, {
      terminal: "terminals/expired",
      time: Date.UTC(2025, 2, 1) / 1000,
    });
    await t.select();
    expect((await t.initiate()).sw).toBe(WALLET_SW.TERMINAL_CLOCK);
  });

  it("raises the high-water mark to the terminal certificate's notBefore (not its claimed time) when a debit commits", async () => {
    const { applet, t } = await session();
    expect(applet.state.highWaterTime).toBe(0);
    await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 });
    expect(applet.state.highWaterTime).toBe(pki.cert("terminals/term-0001").notBefore.getTime() / 1000);
    expect(applet.state.highWaterTime).toBeLessThan(FIXTURE_UNIX_TIME);
  });

  it("answers 6A80 to malformed INITIATE data and to an ephemeral key that is not on the curve", async () => {
    const { applet, transport } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    expect(hex(raw(applet, "8088000004df01010100"))).toBe("6a80");
    const t = new TerminalScript(transport);
    await t.select();
    const bad = concat(
      fromHex("df1082"),
      Uint8Array.of(pki.der("terminals/term-0001").length >> 8, pki.der("terminals/term-0001").length & 0xff),
      pki.der("terminals/term-0001"),
      fromHex(`df104104${"01".repeat(64)}df1210${"00".repeat(16)}df14046955b100`),
    );
    const r = await transmit(transport, commandApdu({ cla: 0x80, ins: 0x88, data: bad, ne: 256 }));
    expect(r.sw).toBe(SW.WRONG_DATA);
  });

  it("answers 6982 to a terminal signature that does not verify, and allows no second try", async () => {
    const { transport, applet } = fixtureCard();
    const t = new TerminalScript(transport);
    await t.select();
    expect((await t.initiate()).sw).toBe(SW.OK);
    expect((await t.externalAuthenticate(new Uint8Array(64).fill(7))).sw).toBe(
      SW.SECURITY_STATUS_NOT_SATISFIED,
    );
    expect((await t.externalAuthenticate()).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(applet.authenticated).toBe(false);
  });

  it("answers 6982 to a valid signature by another terminal's key", async () => {
    const { transport } = fixtureCard();
    const t = new TerminalScript(transport);
    await t.select();
    await t.initiate();
    const { ecdsaSign } = await import("../../protocol/crypto.js");
    const { terminalAuthMessage } = await import("../../protocol/wallet/messages.js");
    const other = ecdsaSign(pki.key("terminals/term-0002"), terminalAuthMessage(t.transcript!));
    expect((await t.externalAuthenticate(other)).sw).toBe(SW.SECURITY_STATUS_NOT_SATISFIED);
  });

  it("answers 6985 to EXTERNAL AUTHENTICATE without INITIATE AUTHENTICATE", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    expect(hex(raw(applet, `80820000 43 df1340${"00".repeat(64)}`))).toBe("6985");
  });

  it("drops the session on SELECT, power-off and reset", async () => {
    for (const end of ["select", "powerOff", "reset"] as const) {
      const { applet, t } = await session();
      if (end === "select") raw(applet, `00a4040008${hex(AID)}00`);
      else applet[end]();
      if (end !== "select") raw(applet, `00a4040008${hex(AID)}00`);
      const a = await t.secure(INS.READ_BALANCE, 0, 0, new Uint8Array(0));
      expect(a, end).toMatchObject({ sw: SW.SECURITY_STATUS_NOT_SATISFIED, outer: true });
    }
  });
});

describe("WalletApplet › secure messaging", () => {
  it("answers 6982 to a secure command without a session", () => {
    const { applet } = fixtureCard();
    raw(applet, `00a4040008${hex(AID)}00`);
    expect(hex(raw(applet, `84540000 10 ${"00".repeat(16)} 00`))).toBe("6982");
  });

  it("answers 6982 to DEBIT, READ BALANCE and GET TRANSACTION LOG sent in the clear, even in a session", async () => {
    const { applet } = await session();
    expect(
      hex(raw(applet, `8054000015${hex(encodeDebit({ amount: 1, currency: EUR, terminalSeq: 1 }))}00`)),
    ).toBe("6982");
    expect(hex(raw(applet, "805c000000"))).toBe("6982");
    expect(hex(raw(applet, "805a020100"))).toBe("6982");
    expect(applet.authenticated).toBe(true);
  });

  it("kills the session on a flipped byte: plain 6988, then 6982, and no value moves", async () => {
    const debit = encodeDebit({ amount: 100, currency: EUR, terminalSeq: 1 });
    for (const position of [0, 5, 20, 36]) {
      const { applet, t } = await session();
      const before = money(applet);
      const cmd = t.seal(INS.DEBIT, 0, 0, debit);
      const data = cmd.data.slice();
      data[position]! ^= 0x40;
      const r = await transmit(t.transport, commandApdu({ ...cmd, data }));
      expect(hex(r.data) + r.sw.toString(16)).toBe("6988");
      expect(applet.authenticated).toBe(false);
      const retry = await transmit(t.transport, cmd);
      expect(retry.sw).toBe(SW.SECURITY_STATUS_NOT_SATISFIED);
      expect(money(applet)).toEqual(before);
    }
  });

  it("refuses a modified header (the header is authenticated): 6988", async () => {
    const { applet, t } = await session();
    const cmd = t.seal(INS.GET_TRANSACTION_LOG, 0x02, 0x01, new Uint8Array(0));
    const r = await transmit(t.transport, commandApdu({ ...cmd, p2: 0x02 }));
    expect(r.sw).toBe(SW.SM_DATA_INCORRECT);
    expect(applet.authenticated).toBe(false);
  });

  it("refuses a replayed APDU (6988) and debits once", async () => {
    const { applet, t } = await session();
    const cmd = t.seal(INS.DEBIT, 0, 0, encodeDebit({ amount: 100, currency: EUR, terminalSeq: 1 }));
    const first = await transmit(t.transport, cmd);
    expect(t.open(INS.DEBIT, first).sw).toBe(SW.OK);
    const replay = await transmit(t.transport, cmd);
    expect(replay.sw).toBe(SW.SM_DATA_INCORRECT);
    expect(applet.state.balance).toBe(4_900);
    expect(applet.state.counter).toBe(1);
  });

  it("refuses reordered APDUs (6988)", async () => {
    const { applet, t } = await session();
    // A copy of the terminal's channel, moved one message ahead: what it seals is the second command.
    const ahead = t.cloneChannel();
    ahead.sealResponse(0, new Uint8Array(0), SW.OK);
    const header = { cla: CLA.SECURE, ins: INS.READ_BALANCE, p1: 0, p2: 0 };
    const second = commandApdu({ ...header, data: ahead.sealCommand(header, new Uint8Array(0)), ne: 256 });
    const r = await transmit(t.transport, second);
    expect(r.sw).toBe(SW.SM_DATA_INCORRECT);
    expect(applet.authenticated).toBe(false);
  });
});

describe("WalletApplet › DEBIT", () => {
  it("debits, commits balance, counter and log before answering, and answers a record the terminal verifies", async () => {
    const { applet, store, t } = await session();
    const commitsBefore = store.commits;
    const r = await t.debit({ amount: 450, currency: EUR, terminalSeq: 7 });
    expect(r.sw).toBe(SW.OK);
    expect(store.commits).toBe(commitsBefore + 1);
    expect(applet.state).toMatchObject({ balance: 4_550, counter: 1 });
    const record = r.record!.record;
    expect(record).toMatchObject({
      type: RECORD_TYPE.DEBIT,
      walletId: ALICE,
      cardCounter: 1,
      amount: 450,
      currency: EUR,
      balanceAfter: 4_550,
      terminalId: "T-0001",
      terminalSeq: 7,
      time: FIXTURE_UNIX_TIME,
    });
    expect(hex(record.binding)).toBe(hex(t.transcript!));
    const entry = applet.state.log.at(-1)!;
    expect(entry).toMatchObject({ type: 1, counter: 1, amount: 450, terminalId: "T-0001", terminalSeq: 7 });
    expect(entry.record).toBe(hex(r.record!.bytes));
    expect(
      verifyCardRecord(pki.cert("cards/alice").publicKey, fromHex(entry.record), fromHex(entry.signature)),
    ).toBe(true);
  });

  it("debits with noble crypto too", async () => {
    const { applet, t } = await session({}, { crypto: "noble" });
    expect((await t.debit({ amount: 1, currency: EUR, terminalSeq: 1 })).sw).toBe(SW.OK);
    expect(applet.state.balance).toBe(4_999);
  });

  const refusals: [string, object, { amount?: number; currency?: number }, number, string?][] = [
    ["blocked wallet", { blocked: true, blockReason: 1 }, {}, WALLET_SW.BLOCKED],
    ["other currency", {}, { currency: 840 }, WALLET_SW.CURRENCY_MISMATCH],
    ["zero amount", {}, { amount: 0 }, WALLET_SW.AMOUNT_INVALID],
    ["over the single-spend limit", {}, { amount: 2_001 }, WALLET_SW.OVER_SINGLE_LIMIT],
    ["over the balance", { balance: 1_000 }, { amount: 1_001 }, WALLET_SW.INSUFFICIENT_FUNDS],
    [
      "after the validity window",
      { policy: { validTo: FIXTURE_UNIX_TIME - 1, regions: [], categories: [] } },
      {},
      WALLET_SW.POLICY_VALIDITY,
    ],
    [
      "before the validity window",
      { policy: { validFrom: FIXTURE_UNIX_TIME + 1, regions: [], categories: [] } },
      {},
      WALLET_SW.POLICY_VALIDITY,
    ],
    [
      "merchant category not allowed",
      { policy: { regions: [], categories: ["5812"] } },
      {},
      WALLET_SW.POLICY_CATEGORY,
    ],
    ["region not allowed", { policy: { regions: ["JP"], categories: [] } }, {}, WALLET_SW.POLICY_REGION],
  ];
  for (const [what, overrides, debit, sw] of refusals) {
    it(`refuses ${what} with ${sw.toString(16).toUpperCase()} and changes nothing`, async () => {
      const { applet, t } = await session(overrides);
      const before = money(applet);
      const r = await t.debit({ amount: 100, currency: EUR, terminalSeq: 1, ...debit });
      expect(r.sw.toString(16)).toBe(sw.toString(16));
      expect(money(applet)).toEqual(before);
      // The session survives a refusal: the terminal can go on.
      expect((await t.readBalance()).balance).toBe(applet.state.balance);
    });
  }

  it("refuses a terminal seq it already debited for this terminal (930C)", async () => {
    const { applet, t } = await session();
    expect((await t.debit({ amount: 100, currency: EUR, terminalSeq: 3 })).sw).toBe(SW.OK);
    expect((await t.debit({ amount: 100, currency: EUR, terminalSeq: 3 })).sw).toBe(
      WALLET_SW.DUPLICATE_TERMINAL_SEQ,
    );
    expect(applet.state.balance).toBe(4_900);
    // Another terminal may use the same seq.
    const other = new TerminalScript(t.transport, { terminal: "terminals/term-0002" });
    await other.authenticate();
    expect((await other.debit({ amount: 100, currency: EUR, terminalSeq: 3 })).sw).toBe(SW.OK);
  });

  // Each state violates two checks; the one listed first in docs/protocol.md wins.
  const firstWins: [string, object, { amount?: number; currency?: number }, number][] = [
    ["blocked and other currency", { blocked: true }, { currency: 840 }, WALLET_SW.BLOCKED],
    ["other currency and zero amount", {}, { currency: 840, amount: 0 }, WALLET_SW.CURRENCY_MISMATCH],
    ["other currency and over the limit", {}, { currency: 840, amount: 9_000 }, WALLET_SW.CURRENCY_MISMATCH],
    [
      "over the single limit and over the balance",
      { balance: 1_500 },
      { amount: 2_500 },
      WALLET_SW.OVER_SINGLE_LIMIT,
    ],
    [
      "over the balance and outside validity",
      { balance: 50, policy: { validTo: 1, regions: [], categories: [] } },
      { amount: 60 },
      WALLET_SW.INSUFFICIENT_FUNDS,
    ],
    [
      "outside validity and category",
      { policy: { validTo: 1, regions: [], categories: ["5812"] } },
      {},
      WALLET_SW.POLICY_VALIDITY,
    ],
    [
      "category and region",
      { policy: { regions: ["JP"], categories: ["5812"] } },
      {},
      WALLET_SW.POLICY_CATEGORY,
    ],
  ];
  for (const [what, overrides, debit, sw] of firstWins) {
    it(`checks in the documented order: ${what} → ${sw.toString(16).toUpperCase()}`, async () => {
      const { t } = await session(overrides);
      const r = await t.debit({ amount: 100, currency: EUR, terminalSeq: 1, ...debit });
      expect(r.sw.toString(16)).toBe(sw.toString(16));
    });
  }

  it("checks region before a duplicate terminal seq", async () => {
    const { applet, t } = await session();
    expect((await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 })).sw).toBe(SW.OK);
    // Same card, now with a region policy the terminal does not meet, and the same seq again.
    const store = new MemoryCardStateStore({ ...applet.state, policy: { regions: ["JP"], categories: [] } });
    const t2 = new TerminalScript(new InProcessTransport(new WalletApplet(store)));
    await t2.authenticate();
    expect((await t2.debit({ amount: 100, currency: EUR, terminalSeq: 1 })).sw).toBe(WALLET_SW.POLICY_REGION);
  });

  it("answers 6A80 to malformed DEBIT data and 6A86 to other P1/P2, and changes nothing", async () => {
    const { applet, t } = await session();
    const before = money(applet);
    expect((await t.secure(INS.DEBIT, 0, 0, fromHex("df2006000000000100"))).sw).toBe(SW.WRONG_DATA);
    expect((await t.secure(INS.DEBIT, 0, 0, fromHex("df20060000000001aadf040203d2df210400000001"))).sw).toBe(
      SW.WRONG_DATA,
    );
    expect(
      (await t.secure(INS.DEBIT, 1, 0, encodeDebit({ amount: 1, currency: EUR, terminalSeq: 1 }))).sw,
    ).toBe(SW.INCORRECT_P1P2);
    expect(money(applet)).toEqual(before);
  });

  it("answers 6F00 when the store cannot commit, and keeps the old state", async () => {
    const { applet, store, t } = await session();
    store.failNextCommit = new Error("disk full");
    const before = money(applet);
    expect((await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 })).sw).toBe(SW.UNKNOWN);
    expect(money(applet)).toEqual(before);
    expect((await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 })).sw).toBe(SW.OK);
  });
});

describe("WalletApplet › policy rules", () => {
  it("matches a region and its subdivisions; an empty list allows all", () => {
    expect(regionAllowed([], undefined)).toBe(true);
    expect(regionAllowed(["TW"], "TW")).toBe(true);
    expect(regionAllowed(["TW"], "TW-TPE")).toBe(true);
    expect(regionAllowed(["TW-TPE"], "TW")).toBe(false);
    expect(regionAllowed(["TW"], "TWN")).toBe(false);
    expect(regionAllowed(["TW"], undefined)).toBe(false);
    expect(categoryAllowed(["5411"], "5411")).toBe(true);
    expect(categoryAllowed(["5411"], undefined)).toBe(false);
    expect(withinValidity({ validFrom: 10, validTo: 20, regions: [], categories: [] }, 10)).toBe(true);
    expect(withinValidity({ validFrom: 10, validTo: 20, regions: [], categories: [] }, 20)).toBe(true);
    expect(withinValidity({ validFrom: 10, validTo: 20, regions: [], categories: [] }, 21)).toBe(false);
  });
});

describe("WalletApplet › GET TRANSACTION LOG and READ BALANCE", () => {
  it("finds this terminal's debit by seq, and 6A83 for a seq it never committed", async () => {
    const { t } = await session();
    const d = await t.debit({ amount: 250, currency: EUR, terminalSeq: 42 });
    const found = await t.logBySeq(42);
    expect(found.sw).toBe(SW.OK);
    expect(hex(found.record!.bytes)).toBe(hex(d.record!.bytes));
    expect(hex(found.record!.signature)).toBe(hex(d.record!.signature));
    expect((await t.logBySeq(43)).sw).toBe(SW.RECORD_NOT_FOUND);
  });

  it("shows a terminal only its own entries", async () => {
    const { transport, t } = await session();
    await t.debit({ amount: 250, currency: EUR, terminalSeq: 42 });
    const other = new TerminalScript(transport, { terminal: "terminals/term-0002" });
    await other.authenticate();
    expect((await other.logBySeq(42)).sw).toBe(SW.RECORD_NOT_FOUND);
    expect((await other.logLastN(4)).records).toEqual([]);
  });

  it("answers the last n entries newest first (through 61xx when long)", async () => {
    const { t } = await session();
    for (let seq = 1; seq <= 5; seq++) await t.debit({ amount: seq, currency: EUR, terminalSeq: seq });
    const last = await t.logLastN(4);
    expect(last.sw).toBe(SW.OK);
    expect(last.records.map((r) => r.record.terminalSeq)).toEqual([5, 4, 3, 2]);
    expect((await t.logLastN(1)).records.map((r) => r.record.terminalSeq)).toEqual([5]);
    for (const p2 of [0, 5])
      expect((await t.secure(INS.GET_TRANSACTION_LOG, 2, p2, new Uint8Array(0))).sw).toBe(SW.INCORRECT_P1P2);
    expect((await t.secure(INS.GET_TRANSACTION_LOG, 3, 0, new Uint8Array(0))).sw).toBe(SW.INCORRECT_P1P2);
    expect((await t.secure(INS.GET_TRANSACTION_LOG, 2, 1, fromHex("00"))).sw).toBe(SW.WRONG_LENGTH);
  });

  it("reads balance, counter, state and limits", async () => {
    const { t } = await session({
      limits: { singleLimit: 1_000, balanceLimit: 9_000, autoLoadThreshold: 500, autoLoadAmount: 2_000 },
    });
    await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 });
    expect(await t.readBalance()).toEqual({
      balance: 4_900,
      currency: EUR,
      counter: 1,
      state: 0,
      singleLimit: 1_000,
      balanceLimit: 9_000,
      autoLoadThreshold: 500,
      autoLoadAmount: 2_000,
    });
  });
});

describe("WalletApplet › counter and log", () => {
  it("keeps the counter strictly increasing across restarts on the same state file", async () => {
    const path = join(tempDir(), "alice.card.json");
    FileCardStateStore.create(path, fixtureCardState());
    const counters: number[] = [];
    let seq = 0;
    for (let restart = 0; restart < 3; restart++) {
      const applet = new WalletApplet(new FileCardStateStore(path));
      const t = new TerminalScript(new InProcessTransport(applet));
      await t.authenticate();
      for (let i = 0; i < 3; i++) {
        const r = await t.debit({ amount: 10, currency: EUR, terminalSeq: ++seq });
        counters.push(r.record!.record.cardCounter);
      }
      const challenge = await transmit(t.transport, getChallengeCommand());
      const load = issuerLoad(
        { walletId: ALICE, challenge: challenge.data, issuerKey: fixtureIssuerKey() },
        {
          amount: 5,
          currency: EUR,
          loadId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, restart),
          time: FIXTURE_UNIX_TIME,
        },
      );
      const loaded = await transmit(t.transport, load);
      counters.push(parseSignedRecord(loaded.data).record.cardCounter);
    }
    expect(counters).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(new FileCardStateStore(path).load()).toMatchObject({ counter: 12, balance: 5_000 - 90 + 15 });
  });

  it(`keeps exactly the last ${MAX_LOG_ENTRIES} entries, and finds debits only among them`, async () => {
    const { applet, t } = await session({ balance: 20_000 });
    for (let seq = 1; seq <= 40; seq++) await t.debit({ amount: 1, currency: EUR, terminalSeq: seq });
    expect(applet.state.log.length).toBe(MAX_LOG_ENTRIES);
    expect(applet.state.log.map((e) => e.counter)).toEqual(Array.from({ length: 32 }, (_, i) => i + 9));
    expect((await t.logBySeq(9)).sw).toBe(SW.OK);
    expect((await t.logBySeq(8)).sw).toBe(SW.RECORD_NOT_FOUND);
    expect(applet.state.counter).toBe(40);
  });
});

describe("WalletApplet › issuer-signed online commands", () => {
  const issuerKey = fixtureIssuerKey();
  const loadId = fromHex("0102030405060708");

  async function challengeOf(transport: InProcessTransport): Promise<Uint8Array> {
    const r = await transmit(transport, getChallengeCommand());
    expect(r.sw).toBe(SW.OK);
    return r.data;
  }

  async function online(
    transport: InProcessTransport,
    build: (challenge: Uint8Array) => CommandApdu,
  ): Promise<{ sw: number; data: Uint8Array }> {
    const challenge = await challengeOf(transport);
    const r = await transmit(transport, build(challenge));
    return { sw: r.sw, data: r.data };
  }

  function selected(overrides = {}) {
    const card = fixtureCard(overrides);
    card.applet.process(encodeCommand(selectCommand()));
    return card;
  }

  it("LOAD credits the wallet, bumps the counter and answers a record bound to the issuer command", async () => {
    const { applet, transport } = selected();
    let message: Uint8Array | undefined;
    const r = await online(transport, (challenge) => {
      const target = { walletId: ALICE, challenge, issuerKey };
      const cmd = issuerLoad(target, { amount: 2_000, currency: EUR, loadId, time: FIXTURE_UNIX_TIME });
      const payload = cmd.data.subarray(3, 3 + cmd.data[2]!);
      message = issuerCommandMessage(INS.LOAD, ALICE, challenge, payload);
      return cmd;
    });
    expect(r.sw).toBe(SW.OK);
    const signed = parseSignedRecord(r.data);
    expect(signed.record).toMatchObject({
      type: RECORD_TYPE.LOAD,
      cardCounter: 1,
      amount: 2_000,
      balanceAfter: 7_000,
      terminalId: "",
      terminalSeq: 0,
      time: FIXTURE_UNIX_TIME,
    });
    expect(hex(signed.record.binding)).toBe(hex(sha256(message!)));
    expect(verifyCardRecord(pki.cert("cards/alice").publicKey, signed.bytes, signed.signature)).toBe(true);
    expect(applet.state).toMatchObject({ balance: 7_000, counter: 1 });
    expect(applet.state.loadLog?.[0]).toMatchObject({ loadId: "0102030405060708", amount: 2_000 });
  });

  it("LOAD through a terminal's secure channel names that terminal in the record", async () => {
    const { applet, t } = await session();
    const challenge = await challengeOf(t.transport as InProcessTransport);
    const cmd = issuerLoad(
      { walletId: ALICE, challenge, issuerKey },
      { amount: 100, currency: EUR, loadId, time: 5 },
    );
    const a = await t.secure(INS.LOAD, 0, 0, cmd.data);
    expect(a.sw).toBe(SW.OK);
    expect(parseSignedRecord(a.data).record).toMatchObject({ terminalId: "T-0001", terminalSeq: 0, time: 5 });
    expect(applet.state.balance).toBe(5_100);
  });

  it("refuses a replayed command: the challenge is single use (6985), nothing changes", async () => {
    const { applet, transport } = selected();
    const challenge = await challengeOf(transport);
    const cmd = issuerLoad(
      { walletId: ALICE, challenge, issuerKey },
      { amount: 100, currency: EUR, loadId, time: 1 },
    );
    expect((await transmit(transport, cmd)).sw).toBe(SW.OK);
    const before = money(applet);
    expect((await transmit(transport, cmd)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    // Even after a new GET CHALLENGE, the old command is bound to the old challenge.
    await challengeOf(transport);
    expect((await transmit(transport, cmd)).sw).toBe(WALLET_SW.ISSUER_SIGNATURE);
    expect(money(applet)).toEqual(before);
  });

  it("refuses a command without a challenge (6985) and forgets the challenge at SELECT", async () => {
    const { applet, transport } = selected();
    const cmd = issuerLoad(
      { walletId: ALICE, challenge: new Uint8Array(16), issuerKey },
      { amount: 100, currency: EUR, loadId, time: 1 },
    );
    expect((await transmit(transport, cmd)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    const challenge = await challengeOf(transport);
    applet.process(encodeCommand(selectCommand()));
    const fresh = issuerLoad(
      { walletId: ALICE, challenge, issuerKey },
      { amount: 100, currency: EUR, loadId, time: 1 },
    );
    expect((await transmit(transport, fresh)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(applet.state.balance).toBe(5_000);
  });

  it("refuses a signature by another key (930D) and burns the challenge", async () => {
    const { applet, transport } = selected();
    for (const key of [pki.key("acquirer-ca"), pki.key("root-ca"), pki.key("rogue-issuer-ca")]) {
      const challenge = await challengeOf(transport);
      const forged = issuerLoad(
        { walletId: ALICE, challenge, issuerKey: key },
        { amount: 100, currency: EUR, loadId, time: 1 },
      );
      expect((await transmit(transport, forged)).sw).toBe(WALLET_SW.ISSUER_SIGNATURE);
      const genuine = issuerLoad(
        { walletId: ALICE, challenge, issuerKey },
        { amount: 100, currency: EUR, loadId, time: 1 },
      );
      expect((await transmit(transport, genuine)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    }
    // Signed for another wallet: 930D too.
    const challenge = await challengeOf(transport);
    const bob = issuerLoad(
      { walletId: "W-BOB-0002", challenge, issuerKey },
      { amount: 100, currency: EUR, loadId, time: 1 },
    );
    expect((await transmit(transport, bob)).sw).toBe(WALLET_SW.ISSUER_SIGNATURE);
    expect(money(applet)).toEqual({ balance: 5_000, counter: 0, log: 0, blocked: false });
  });

  it("LOAD refuses a blocked wallet (9301), another currency (9302), zero (9303), over the balance limit (9309), a reused load id (6985)", async () => {
    const cases: [object, object, number][] = [
      [{ blocked: true }, {}, WALLET_SW.BLOCKED],
      [{}, { currency: 840 }, WALLET_SW.CURRENCY_MISMATCH],
      [{}, { amount: 0 }, WALLET_SW.AMOUNT_INVALID],
      [{}, { amount: 15_001 }, WALLET_SW.OVER_BALANCE_LIMIT],
    ];
    for (const [overrides, load, sw] of cases) {
      const { applet, transport } = selected(overrides);
      const before = money(applet);
      const r = await online(transport, (challenge) =>
        issuerLoad(
          { walletId: ALICE, challenge, issuerKey },
          { amount: 100, currency: EUR, loadId, time: 1, ...load },
        ),
      );
      expect(r.sw.toString(16)).toBe(sw.toString(16));
      expect(money(applet)).toEqual(before);
    }
    const { transport } = selected();
    const load = (challenge: Uint8Array) =>
      issuerLoad({ walletId: ALICE, challenge, issuerKey }, { amount: 100, currency: EUR, loadId, time: 1 });
    expect((await online(transport, load)).sw).toBe(SW.OK);
    expect((await online(transport, load)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
  });

  it("load → reversal → reversal again (930F); an unknown load is 930E", async () => {
    const { applet, transport } = selected();
    const target = (challenge: Uint8Array) => ({ walletId: ALICE, challenge, issuerKey });
    expect(
      (await online(transport, (c) => issuerLoad(target(c), { amount: 700, currency: EUR, loadId, time: 1 })))
        .sw,
    ).toBe(SW.OK);
    expect(applet.state.balance).toBe(5_700);
    const reversal = await online(transport, (c) => issuerLoadReversal(target(c), { loadId, time: 2 }));
    expect(reversal.sw).toBe(SW.OK);
    expect(parseSignedRecord(reversal.data).record).toMatchObject({
      type: RECORD_TYPE.LOAD_REVERSAL,
      amount: 700,
      balanceAfter: 5_000,
      cardCounter: 2,
    });
    expect(applet.state.balance).toBe(5_000);
    const again = await online(transport, (c) => issuerLoadReversal(target(c), { loadId, time: 3 }));
    expect(again.sw).toBe(WALLET_SW.ALREADY_REVERSED);
    const unknown = await online(transport, (c) =>
      issuerLoadReversal(target(c), { loadId: fromHex("ffffffffffffffff"), time: 3 }),
    );
    expect(unknown.sw).toBe(WALLET_SW.LOAD_NOT_FOUND);
    expect(money(applet)).toMatchObject({ balance: 5_000, counter: 2 });
  });

  it("finds a load to reverse even after more than 32 debits pushed it out of the log", async () => {
    const { applet, transport, t } = await session({ balance: 10_000 });
    const target = (challenge: Uint8Array) => ({ walletId: ALICE, challenge, issuerKey });
    expect(
      (await online(transport, (c) => issuerLoad(target(c), { amount: 500, currency: EUR, loadId, time: 1 })))
        .sw,
    ).toBe(SW.OK);
    await t.authenticate();
    for (let seq = 1; seq <= 33; seq++) await t.debit({ amount: 1, currency: EUR, terminalSeq: seq });
    expect(applet.state.log.some((e) => e.type === RECORD_TYPE.LOAD)).toBe(false);
    expect((await online(transport, (c) => issuerLoadReversal(target(c), { loadId, time: 2 }))).sw).toBe(
      SW.OK,
    );
    expect(applet.state.balance).toBe(10_000 + 500 - 33 - 500);
  });

  it("refuses a reversal the balance cannot cover (9305)", async () => {
    const { applet, transport, t } = await session({
      balance: 0,
      limits: { singleLimit: 5_000, balanceLimit: 20_000, autoLoadThreshold: 0, autoLoadAmount: 0 },
    });
    const target = (challenge: Uint8Array) => ({ walletId: ALICE, challenge, issuerKey });
    await online(transport, (c) => issuerLoad(target(c), { amount: 1_000, currency: EUR, loadId, time: 1 }));
    await t.authenticate();
    await t.debit({ amount: 600, currency: EUR, terminalSeq: 1 });
    const r = await online(transport, (c) => issuerLoadReversal(target(c), { loadId, time: 2 }));
    expect(r.sw).toBe(WALLET_SW.INSUFFICIENT_FUNDS);
    expect(applet.state.balance).toBe(400);
  });

  it("UPDATE PARAMETERS changes only the limits it names, and DEBIT obeys the new single limit", async () => {
    const { applet, transport } = selected();
    const r = await online(transport, (challenge) =>
      issuerUpdateParameters(
        { walletId: ALICE, challenge, issuerKey },
        { singleLimit: 50, autoLoadAmount: 1_000, time: 9 },
      ),
    );
    expect(r.sw).toBe(SW.OK);
    expect(parseSignedRecord(r.data).record).toMatchObject({
      type: RECORD_TYPE.PARAMETERS,
      amount: 0,
      balanceAfter: 5_000,
    });
    expect(applet.state.limits).toEqual({
      singleLimit: 50,
      balanceLimit: 20_000,
      autoLoadThreshold: 0,
      autoLoadAmount: 1_000,
    });
    const t = new TerminalScript(transport);
    await t.authenticate();
    expect((await t.debit({ amount: 51, currency: EUR, terminalSeq: 1 })).sw).toBe(
      WALLET_SW.OVER_SINGLE_LIMIT,
    );
  });

  it("BLOCK stops debits and loads and shows in the FCI; UNBLOCK lifts it; each is a signed record", async () => {
    const { applet, transport } = selected();
    const target = (challenge: Uint8Array) => ({ walletId: ALICE, challenge, issuerKey });
    const blocked = await online(transport, (c) => issuerBlock(target(c), { reason: 1, time: 10 }));
    expect(blocked.sw).toBe(SW.OK);
    expect(parseSignedRecord(blocked.data).record.type).toBe(RECORD_TYPE.BLOCK);
    expect(applet.state).toMatchObject({ blocked: true, blockReason: 1, counter: 1 });
    const t = new TerminalScript(transport);
    await t.authenticate();
    expect(t.fci!.state).toBe(1);
    expect((await t.debit({ amount: 1, currency: EUR, terminalSeq: 1 })).sw).toBe(WALLET_SW.BLOCKED);
    const load = await online(transport, (c) =>
      issuerLoad(target(c), { amount: 1, currency: EUR, loadId, time: 1 }),
    );
    expect(load.sw).toBe(WALLET_SW.BLOCKED);
    const unblocked = await online(transport, (c) => issuerUnblock(target(c), { reason: 0, time: 11 }));
    expect(unblocked.sw).toBe(SW.OK);
    expect(parseSignedRecord(unblocked.data).record).toMatchObject({
      type: RECORD_TYPE.UNBLOCK,
      cardCounter: 2,
    });
    expect(applet.state.blocked).toBe(false);
    expect(applet.state.blockReason).toBeUndefined();
  });

  it("answers 6A80 to a malformed issuer command and 6A86 to other P1/P2", async () => {
    const { transport } = selected();
    await challengeOf(transport);
    expect(
      (
        await transmit(
          transport,
          commandApdu({ cla: CLA.PROPRIETARY, ins: INS.LOAD, data: fromHex("df4000") }),
        )
      ).sw,
    ).toBe(SW.WRONG_DATA);
    const challenge = await challengeOf(transport);
    const cmd = issuerLoad(
      { walletId: ALICE, challenge, issuerKey },
      { amount: 1, currency: EUR, loadId, time: 1 },
    );
    expect((await transmit(transport, commandApdu({ ...cmd, p1: 1 }))).sw).toBe(SW.INCORRECT_P1P2);
  });
});
