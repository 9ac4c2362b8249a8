import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf, NO_ERROR } from "../../test-support/errors.js";
import { chainCommand, encodeCommand } from "../apdu.js";
import { concat, fromHex, hex, u16be, u32be, utf8 } from "../bytes.js";
import { loadFixturePki } from "../pki-fixtures.js";
import { tlv } from "../tlv.js";
import { AID, INS, TAG } from "./constants.js";
import {
  caId,
  cardAuthMessage,
  encodeBalance,
  encodeBlockPayload,
  encodeCardAuth,
  encodeDebit,
  encodeFci,
  encodeInitiateAuth,
  encodeIssuerCommand,
  encodeLoadPayload,
  encodeParametersPayload,
  encodeReversalPayload,
  encodeSignedRecord,
  externalAuthCommand,
  type Fci,
  getCertificateCommand,
  getChallengeCommand,
  initiateAuthCommand,
  issuerCommandMessage,
  logBySeqData,
  parseBalance,
  parseBlockPayload,
  parseCardAuth,
  parseDebit,
  parseExternalAuth,
  parseFci,
  parseInitiateAuth,
  parseIssuerCommand,
  parseLoadPayload,
  parseLogBySeq,
  parseParametersPayload,
  parseReversalPayload,
  parseSignedRecord,
  parseSignedRecords,
  selectCommand,
  terminalAuthMessage,
  transcriptHash,
} from "./messages.js";
import { encodeRecord, type WalletRecord } from "./records.js";

const pki = loadFixturePki();
const KEY = fromHex(`04${"11".repeat(32)}${"22".repeat(32)}`);
const NONCE = fromHex("00112233445566778899aabbccddeeff");
const SIG = new Uint8Array(64).fill(0x5a);

/**
 * A parser on hostile variants of a valid encoding: every truncation, every single-bit flip and a
 * trailing byte either parse or throw a ProtocolError — never any other exception.
 */
function survivesMutations(
  valid: Uint8Array,
  parse: (b: Uint8Array) => unknown,
  options: { prefixesMayParse?: boolean } = {},
): void {
  for (let n = 0; n < valid.length; n++) {
    const c = codeOf(() => parse(valid.subarray(0, n)));
    if (!options.prefixesMayParse) expect(c, `truncated to ${n}`).not.toBe(NO_ERROR);
  }
  for (let i = 0; i < valid.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const m = valid.slice();
      m[i]! ^= bit;
      codeOf(() => parse(m));
    }
  }
  expect(codeOf(() => parse(concat(valid, Uint8Array.of(0x00))))).not.toBe(NO_ERROR);
}

const record: WalletRecord = {
  type: 1,
  walletId: "W-ALICE-0001",
  cardCounter: 7,
  amount: 450,
  currency: 978,
  balanceAfter: 4_550,
  terminalId: "T-0001",
  terminalSeq: 3,
  time: 1_767_225_600,
  binding: new Uint8Array(32).fill(0xab),
};

describe("wallet messages › command headers", () => {
  it("encodes SELECT, GET CHALLENGE, GET DATA, INITIATE and EXTERNAL AUTHENTICATE on exact bytes", () => {
    expect(hex(encodeCommand(selectCommand()))).toBe("00a4040008f054415057414c0100");
    expect(hex(encodeCommand(getChallengeCommand()))).toBe("0084000010");
    expect(hex(encodeCommand(getCertificateCommand()))).toBe("80cadf1000");
    expect(hex(encodeCommand(initiateAuthCommand(fromHex("df1401ff"))))).toBe("8088000004df1401ff00");
    expect(hex(encodeCommand(externalAuthCommand(SIG)))).toBe(`8082000043df1340${hex(SIG)}`);
  });

  it("chains a long INITIATE AUTHENTICATE: CLA 90 on every part but the last, which keeps Le", () => {
    const parts = chainCommand(initiateAuthCommand(new Uint8Array(600).fill(1))).map(encodeCommand);
    expect(parts.map((p) => hex(p.subarray(0, 5)))).toEqual(["90880000ff", "90880000ff", "808800005a"]);
    expect(parts.map((p) => p.length)).toEqual([260, 260, 5 + 90 + 1]);
    expect(parts[2]![parts[2]!.length - 1]).toBe(0);
  });
});

describe("wallet messages › FCI", () => {
  const fci: Fci = {
    version: 1,
    walletId: "W-ALICE-0001",
    capabilities: 0x3f,
    currency: 978,
    state: 0,
    cachedCaIds: [caId(pki.der("acquirer-ca"))],
  };

  it("round-trips, with the AID and every field", () => {
    const bytes = encodeFci(fci);
    expect(hex(bytes.subarray(0, 12))).toBe(`6f388408${hex(AID)}`);
    expect(parseFci(bytes)).toEqual({ ...fci, cachedCaIds: fci.cachedCaIds.map((c) => c.slice()) });
    expect(parseFci(encodeFci({ ...fci, cachedCaIds: [] })).cachedCaIds).toEqual([]);
  });

  it("derives a CA id from the first 8 bytes of SHA-256 over the DER", () => {
    const der = pki.der("acquirer-ca");
    expect(hex(caId(der))).toBe(createHash("sha256").update(der).digest("hex").slice(0, 16));
  });

  const hostile: [string, Uint8Array][] = [
    ["another template", tlv(0x70, new Uint8Array(0))],
    ["another AID", encodeFci(fci).map((b, i) => (i === 11 ? 0x02 : b))],
    ["version 2", encodeFci({ ...fci, version: 2 })],
    ["a wallet id with a space", encodeFci({ ...fci, walletId: "W ALICE" })],
    ["a currency above 999", encodeFci({ ...fci, currency: 1000 })],
    ["cached ids that are not 8 bytes each", encodeFci({ ...fci, cachedCaIds: [new Uint8Array(7)] })],
    ["five cached ids", encodeFci({ ...fci, cachedCaIds: Array(5).fill(new Uint8Array(8)) })],
    ["two FCIs", concat(encodeFci(fci), encodeFci(fci))],
  ];
  for (const [what, bytes] of hostile)
    it(`refuses ${what}`, () => expect(codeOf(() => parseFci(bytes))).toMatch(/^PROTO_ERR_TLV/));

  it("survives truncations and flipped bits", () => survivesMutations(encodeFci(fci), parseFci));
});

describe("wallet messages › INITIATE AUTHENTICATE", () => {
  const leaf = pki.der("terminals/term-0001");
  const ca = pki.der("acquirer-ca");
  const init = { certificates: [leaf, ca], ephemeralKey: KEY, nonce: NONCE, time: 1_767_225_600 };

  it("round-trips 1 to 3 certificates, in order", () => {
    for (const certificates of [[leaf], [leaf, ca], [leaf, ca, ca]]) {
      const parsed = parseInitiateAuth(encodeInitiateAuth({ ...init, certificates }));
      expect(parsed.certificates.map(hex)).toEqual(certificates.map(hex));
      expect(parsed).toMatchObject({ time: 1_767_225_600 });
      expect(hex(parsed.ephemeralKey)).toBe(hex(KEY));
    }
  });

  const hostile: [string, Uint8Array][] = [
    ["no certificate", encodeInitiateAuth({ ...init, certificates: [] })],
    ["four certificates", encodeInitiateAuth({ ...init, certificates: [leaf, ca, ca, ca] })],
    ["a certificate over 2048 bytes", encodeInitiateAuth({ ...init, certificates: [new Uint8Array(2049)] })],
    [
      "a compressed key",
      encodeInitiateAuth({ ...init, ephemeralKey: concat(Uint8Array.of(3), KEY.subarray(1)) }),
    ],
    ["a 64-byte key", encodeInitiateAuth({ ...init, ephemeralKey: KEY.subarray(1) })],
    ["a 15-byte nonce", encodeInitiateAuth({ ...init, nonce: NONCE.subarray(1) })],
    ["no time", encodeInitiateAuth(init).subarray(0, -7)],
    ["an extra tag", concat(encodeInitiateAuth(init), tlv(TAG.AMOUNT, new Uint8Array(6)))],
    [
      "the time before the key",
      concat(
        tlv(TAG.CERTIFICATE, leaf),
        tlv(TAG.TIME, new Uint8Array(4)),
        tlv(TAG.EPHEMERAL_KEY, KEY),
        tlv(TAG.NONCE, NONCE),
      ),
    ],
    [
      "two nonces",
      concat(
        encodeInitiateAuth(init).subarray(0, -7),
        tlv(TAG.NONCE, NONCE),
        tlv(TAG.TIME, new Uint8Array(4)),
      ),
    ],
    ["a nested TLV", concat(tlv(0xff20, tlv(TAG.CERTIFICATE, leaf)), tlv(TAG.EPHEMERAL_KEY, KEY))],
  ];
  for (const [what, bytes] of hostile)
    it(`refuses ${what}`, () => expect(codeOf(() => parseInitiateAuth(bytes))).toMatch(/^PROTO_ERR_TLV/));

  it("survives truncations and flipped bits", () =>
    survivesMutations(encodeInitiateAuth({ ...init, certificates: [leaf] }), parseInitiateAuth));
});

describe("wallet messages › the card's answer and the transcript", () => {
  const cardDer = pki.der("cards/alice");
  const part = encodeCardAuth({ certificate: cardDer, ephemeralKey: KEY, nonce: NONCE });
  const answer = concat(part, tlv(TAG.SIGNATURE, SIG));

  it("round-trips and gives back the signed part", () => {
    const parsed = parseCardAuth(answer);
    expect(hex(parsed.signedPart)).toBe(hex(part));
    expect(hex(parsed.signature)).toBe(hex(SIG));
    expect(hex(parsed.certificate)).toBe(hex(cardDer));
  });

  it("refuses a signature that is not last, a short signature, a fifth TLV", () => {
    expect(codeOf(() => parseCardAuth(concat(tlv(TAG.SIGNATURE, SIG), part)))).toBe("PROTO_ERR_TLV_VALUE");
    expect(codeOf(() => parseCardAuth(concat(part, tlv(TAG.SIGNATURE, SIG.subarray(1)))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseCardAuth(concat(answer, tlv(TAG.TIME, new Uint8Array(4)))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
  });

  it("survives truncations and flipped bits", () => survivesMutations(answer, parseCardAuth));

  it("hashes the transcript exactly as documented (label, 2-byte lengths)", () => {
    const fci = fromHex("6f00");
    const init = fromHex("df1401ff");
    const expected = createHash("sha256")
      .update("TAPWALLET/1 TRANSCRIPT")
      .update(Buffer.from([0, 2]))
      .update(fci)
      .update(Buffer.from([0, 4]))
      .update(init)
      .update(Buffer.from(u16be(part.length)))
      .update(part)
      .digest("hex");
    const h = transcriptHash(fci, init, part);
    expect(hex(h)).toBe(expected);
    expect(hex(cardAuthMessage(h))).toBe(hex(concat(utf8("TAPWALLET/1 CARD AUTH"), h)));
    expect(hex(terminalAuthMessage(h))).toBe(hex(concat(utf8("TAPWALLET/1 TERMINAL AUTH"), h)));
  });

  it("EXTERNAL AUTHENTICATE data: exactly one 64-byte DF13", () => {
    expect(hex(parseExternalAuth(tlv(TAG.SIGNATURE, SIG)))).toBe(hex(SIG));
    expect(codeOf(() => parseExternalAuth(tlv(TAG.SIGNATURE, SIG.subarray(1))))).toBe("PROTO_ERR_TLV_VALUE");
    expect(codeOf(() => parseExternalAuth(concat(tlv(TAG.SIGNATURE, SIG), fromHex("df0100"))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseExternalAuth(new Uint8Array(0)))).toBe("PROTO_ERR_TLV_MISSING");
    survivesMutations(tlv(TAG.SIGNATURE, SIG), parseExternalAuth);
  });
});

describe("wallet messages › DEBIT", () => {
  it("encodes exact bytes and round-trips", () => {
    const d = { amount: 450, currency: 978, terminalSeq: 1 };
    const bytes = encodeDebit(d);
    expect(hex(bytes)).toBe("df2006000000000450df040203d2df210400000001");
    expect(parseDebit(bytes)).toEqual(d);
    expect(
      parseDebit(encodeDebit({ amount: 999_999_999_999, currency: 0, terminalSeq: 0xffffffff })),
    ).toEqual({
      amount: 999_999_999_999,
      currency: 0,
      terminalSeq: 0xffffffff,
    });
  });

  const valid = fromHex("df2006000000000450df040203d2df210400000001");
  const hostile: [string, string, string][] = [
    ["an amount that is not BCD", "df200600000000045adf040203d2df210400000001", "PROTO_ERR_BCD"],
    ["a 5-byte amount", "df2005000000045 0df040203d2df210400000001".replace(" ", ""), "PROTO_ERR_TLV_VALUE"],
    ["a currency above 999", "df2006000000000450df04020fa0df210400000001", "PROTO_ERR_TLV_VALUE"],
    ["no terminal seq", "df2006000000000450df040203d2", "PROTO_ERR_TLV_MISSING"],
    ["two amounts", "df2006000000000450df2006000000000450df040203d2df210400000001", "PROTO_ERR_TLV_VALUE"],
    ["fields out of order", "df040203d2df2006000000000450df210400000001", "PROTO_ERR_TLV_VALUE"],
    ["an extra tag", "df2006000000000450df040203d2df210400000001df0100", "PROTO_ERR_TLV_VALUE"],
    ["a 3-byte seq", "df2006000000000450df040203d2df2103000001", "PROTO_ERR_TLV_VALUE"],
  ];
  for (const [what, h, code] of hostile)
    it(`refuses ${what}`, () => expect(codeOf(() => parseDebit(fromHex(h)))).toBe(code));
  it("survives truncations and flipped bits", () => survivesMutations(valid, parseDebit));
});

describe("wallet messages › signed records and the log", () => {
  const bytes = encodeRecord(record);
  const signed = encodeSignedRecord(bytes, SIG);

  it("round-trips a signed record and lists of 0 to 4", () => {
    const parsed = parseSignedRecord(signed);
    expect(hex(parsed.bytes)).toBe(hex(bytes));
    expect(parsed.record).toMatchObject({ ...record, binding: record.binding });
    for (let n = 0; n <= 4; n++) expect(parseSignedRecords(concat(...Array(n).fill(signed)))).toHaveLength(n);
  });

  it("refuses three TLVs, swapped order, a short signature, five pairs, an odd count", () => {
    expect(codeOf(() => parseSignedRecord(concat(signed, tlv(TAG.TIME, new Uint8Array(4)))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseSignedRecord(concat(tlv(TAG.SIGNATURE, SIG), tlv(TAG.RECORD, bytes))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseSignedRecord(encodeSignedRecord(bytes, SIG.subarray(1))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseSignedRecords(concat(...Array(5).fill(signed))))).toBe("PROTO_ERR_TLV_VALUE");
    expect(codeOf(() => parseSignedRecords(concat(signed, tlv(TAG.RECORD, bytes))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseSignedRecord(encodeSignedRecord(new Uint8Array(95), SIG)))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
  });

  it("survives truncations and flipped bits", () => {
    survivesMutations(signed, parseSignedRecord);
    // A list cut between two entries is a shorter list: only "no other exception" holds there.
    survivesMutations(concat(signed, signed), parseSignedRecords, { prefixesMayParse: true });
  });

  it("GET TRANSACTION LOG by seq: one 4-byte DF21", () => {
    expect(hex(logBySeqData(0x01020304))).toBe("df210401020304");
    expect(parseLogBySeq(logBySeqData(77))).toBe(77);
    expect(codeOf(() => parseLogBySeq(fromHex("df2103010203")))).toBe("PROTO_ERR_TLV_VALUE");
    expect(codeOf(() => parseLogBySeq(fromHex("df210401020304df0100")))).toBe("PROTO_ERR_TLV_VALUE");
    survivesMutations(logBySeqData(77), parseLogBySeq);
  });
});

describe("wallet messages › READ BALANCE", () => {
  const info = {
    balance: 4_550,
    currency: 978,
    counter: 9,
    state: 0,
    singleLimit: 2_000,
    balanceLimit: 20_000,
    autoLoadThreshold: 500,
    autoLoadAmount: 1_000,
  };
  it("round-trips", () => expect(parseBalance(encodeBalance(info))).toEqual(info));
  it("refuses an extra tag and a missing one", () => {
    expect(codeOf(() => parseBalance(concat(encodeBalance(info), fromHex("df0100"))))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseBalance(encodeBalance(info).subarray(0, -9)))).toBe("PROTO_ERR_TLV_MISSING");
  });
  it("survives truncations and flipped bits", () => survivesMutations(encodeBalance(info), parseBalance));
});

describe("wallet messages › issuer commands", () => {
  const loadId = fromHex("0102030405060708");

  it("signs exactly label || INS || len(wallet id) || wallet id || challenge || payload", () => {
    const challenge = new Uint8Array(16).fill(9);
    const payload = fromHex("df14040000002a");
    expect(hex(issuerCommandMessage(INS.LOAD, "W-1", challenge, payload))).toBe(
      hex(
        concat(utf8("TAPWALLET/1 ISSUER COMMAND"), Uint8Array.of(0x52, 3), utf8("W-1"), challenge, payload),
      ),
    );
  });

  it("round-trips the command and every payload", () => {
    const payload = encodeLoadPayload({ amount: 2_000, currency: 978, loadId, time: 42 });
    const parsed = parseIssuerCommand(encodeIssuerCommand(payload, SIG));
    expect(hex(parsed.payload)).toBe(hex(payload));
    expect(parseLoadPayload(payload)).toEqual({ amount: 2_000, currency: 978, loadId, time: 42 });
    expect(parseReversalPayload(encodeReversalPayload({ loadId, time: 43 }))).toEqual({ loadId, time: 43 });
    expect(
      parseParametersPayload(encodeParametersPayload({ singleLimit: 5, autoLoadAmount: 7, time: 44 })),
    ).toEqual({
      singleLimit: 5,
      autoLoadAmount: 7,
      time: 44,
    });
    expect(parseBlockPayload(encodeBlockPayload({ reason: 4, time: 45 }))).toEqual({ reason: 4, time: 45 });
  });

  it("refuses a payload over 128 bytes, an appended TLV, swapped fields, unknown reasons, empty parameter updates", () => {
    expect(codeOf(() => parseIssuerCommand(encodeIssuerCommand(new Uint8Array(129), SIG)))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(
      codeOf(() => parseIssuerCommand(concat(encodeIssuerCommand(fromHex("00"), SIG), fromHex("df0100")))),
    ).toBe("PROTO_ERR_TLV_VALUE");
    expect(
      codeOf(() =>
        parseIssuerCommand(concat(tlv(TAG.SIGNATURE, SIG), tlv(TAG.ISSUER_PAYLOAD, fromHex("00")))),
      ),
    ).toBe("PROTO_ERR_TLV_VALUE");
    expect(codeOf(() => parseBlockPayload(encodeBlockPayload({ reason: 5, time: 1 })))).toBe(
      "PROTO_ERR_TLV_VALUE",
    );
    expect(codeOf(() => parseParametersPayload(fromHex("df140400000001")))).toBe("PROTO_ERR_TLV_VALUE");
    const timeFirst = concat(tlv(TAG.TIME, u32be(1)), tlv(TAG.SINGLE_LIMIT, new Uint8Array(6)));
    expect(codeOf(() => parseParametersPayload(timeFirst))).toBe("PROTO_ERR_TLV_VALUE");
    expect(codeOf(() => parseLoadPayload(encodeReversalPayload({ loadId, time: 1 })))).toBe(
      "PROTO_ERR_TLV_MISSING",
    );
    expect(
      codeOf(() =>
        parseReversalPayload(
          concat(encodeReversalPayload({ loadId, time: 1 }), tlv(TAG.REASON, fromHex("01"))),
        ),
      ),
    ).toBe("PROTO_ERR_TLV_VALUE");
  });

  it("survives truncations and flipped bits", () => {
    survivesMutations(
      encodeIssuerCommand(encodeBlockPayload({ reason: 1, time: 2 }), SIG),
      parseIssuerCommand,
    );
    survivesMutations(encodeLoadPayload({ amount: 1, currency: 978, loadId, time: 2 }), parseLoadPayload);
    survivesMutations(encodeReversalPayload({ loadId, time: 2 }), parseReversalPayload);
    survivesMutations(encodeParametersPayload({ balanceLimit: 9, time: 2 }), parseParametersPayload);
    survivesMutations(encodeBlockPayload({ reason: 1, time: 2 }), parseBlockPayload);
  });
});
