import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf, NO_ERROR } from "../../test-support/errors.js";
import { concat, fromHex, hex, utf8 } from "../bytes.js";
import { loadFixturePki } from "../pki-fixtures.js";
import {
  cardRecordMessage,
  chainHash,
  decodeRecord,
  encodeRecord,
  GENESIS_HASH,
  MAX_RECORD_LENGTH,
  signCardRecord,
  terminalRecordMessage,
  verifyCardRecord,
  type WalletRecord,
} from "./records.js";

const pki = loadFixturePki();

const record: WalletRecord = {
  type: 1,
  walletId: "W-1",
  cardCounter: 0x01020304,
  amount: 450,
  currency: 978,
  balanceAfter: 4_550,
  terminalId: "T-1",
  terminalSeq: 9,
  time: 0x6955b900,
  binding: new Uint8Array(32).fill(0xab),
};

// version | type | len id | id | counter | amount BCD | currency | balance BCD | len tid | tid | seq | time | binding
const RECORD_HEX = [
  "01",
  "01",
  "03",
  hex(utf8("W-1")),
  "01020304",
  "000000000450",
  "03d2",
  "000000004550",
  "03",
  hex(utf8("T-1")),
  "00000009",
  "6955b900",
  "ab".repeat(32),
].join("");

describe("wallet records › layout", () => {
  it("encodes the documented layout byte for byte and decodes it back", () => {
    const bytes = encodeRecord(record);
    expect(hex(bytes)).toBe(RECORD_HEX);
    expect(decodeRecord(bytes)).toEqual(record);
  });

  it("encodes an online command's record with an empty terminal id", () => {
    const online = { ...record, type: 2 as const, terminalId: "", terminalSeq: 0 };
    const bytes = encodeRecord(online);
    expect(decodeRecord(bytes)).toEqual(online);
    expect(bytes.length).toBe(RECORD_HEX.length / 2 - 3);
  });

  it(`is at most ${MAX_RECORD_LENGTH} bytes (16-character ids)`, () => {
    const longest = encodeRecord({ ...record, walletId: "W".repeat(16), terminalId: "T".repeat(16) });
    expect(longest.length).toBe(MAX_RECORD_LENGTH);
  });

  it("refuses to encode what it could not decode", () => {
    const bad: [string, Partial<WalletRecord>][] = [
      ["type 7", { type: 7 as never }],
      ["a wallet id with a space", { walletId: "W 1" }],
      ["a 17-character terminal id", { terminalId: "T".repeat(17) }],
      ["a counter beyond 32 bits", { cardCounter: 2 ** 32 }],
      ["a negative seq", { terminalSeq: -1 }],
      ["currency 1000", { currency: 1000 }],
      ["a 31-byte binding", { binding: new Uint8Array(31) }],
    ];
    for (const [what, change] of bad)
      expect(
        codeOf(() => encodeRecord({ ...record, ...change })),
        what,
      ).toBe("PROTO_ERR_RECORD_FORMAT");
    expect(codeOf(() => encodeRecord({ ...record, amount: 1.5 }))).toBe("PROTO_ERR_AMOUNT_RANGE");
  });

  const hostile: [string, string][] = [
    ["version 2", `02${RECORD_HEX.slice(2)}`],
    ["type 0", `0100${RECORD_HEX.slice(4)}`],
    ["type 7", `0107${RECORD_HEX.slice(4)}`],
    ["an empty wallet id", `010100${RECORD_HEX.slice(12)}`],
    ["a wallet id length of 17", `010111${RECORD_HEX.slice(6)}`],
    ["a wallet id that is not in the id alphabet", RECORD_HEX.replace(hex(utf8("W-1")), hex(utf8("W 1")))],
    ["an amount that is not BCD", RECORD_HEX.replace("000000000450", "00000000045a")],
    ["a trailing byte", `${RECORD_HEX}00`],
    ["a missing binding byte", RECORD_HEX.slice(0, -2)],
  ];
  for (const [what, h] of hostile)
    it(`refuses ${what}`, () =>
      expect(codeOf(() => decodeRecord(fromHex(h)))).toBe("PROTO_ERR_RECORD_FORMAT"));

  it("refuses every truncation, and never throws anything but PROTO_ERR_RECORD_FORMAT on flipped bits", () => {
    const bytes = fromHex(RECORD_HEX);
    for (let n = 0; n < bytes.length; n++)
      expect(codeOf(() => decodeRecord(bytes.subarray(0, n)))).toBe("PROTO_ERR_RECORD_FORMAT");
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const m = bytes.slice();
        m[i]! ^= 1 << bit;
        expect([NO_ERROR, "PROTO_ERR_RECORD_FORMAT"]).toContain(codeOf(() => decodeRecord(m)));
      }
    }
  });
});

describe("wallet records › signatures and the terminal chain", () => {
  const key = pki.key("cards/alice");
  const publicKey = pki.cert("cards/alice").publicKey;
  const bytes = encodeRecord(record);

  it("signs label || record; the signature verifies with the card's key and nothing else", () => {
    expect(hex(cardRecordMessage(bytes))).toBe(hex(concat(utf8("TAPWALLET/1 CARD RECORD"), bytes)));
    const sig = signCardRecord(key, bytes);
    expect(sig.length).toBe(64);
    expect(verifyCardRecord(publicKey, bytes, sig)).toBe(true);
    const altered = bytes.slice();
    altered[20]! ^= 1;
    expect(verifyCardRecord(publicKey, altered, sig)).toBe(false);
    expect(verifyCardRecord(pki.cert("cards/bob").publicKey, bytes, sig)).toBe(false);
    expect(verifyCardRecord(publicKey, bytes, sig.subarray(1))).toBe(false);
  });

  it("lays out the terminal record message and chains hashes from 32 zero bytes", () => {
    const entry = {
      previousHash: GENESIS_HASH,
      terminalSeq: 9,
      status: 1 as const,
      cardRecord: bytes,
      cardSignature: new Uint8Array(64).fill(1),
    };
    const message = terminalRecordMessage(entry);
    expect(hex(message)).toBe(
      hex(
        concat(
          utf8("TAPWALLET/1 TERMINAL RECORD"),
          new Uint8Array(32),
          fromHex("00000009"),
          fromHex("01"),
          Uint8Array.of(bytes.length),
          bytes,
          new Uint8Array(64).fill(1),
        ),
      ),
    );
    const terminalSig = new Uint8Array(64).fill(2);
    expect(hex(chainHash(entry, terminalSig))).toBe(
      createHash("sha256").update(message).update(terminalSig).digest("hex"),
    );
    expect(codeOf(() => terminalRecordMessage({ ...entry, previousHash: new Uint8Array(31) }))).toBe(
      "PROTO_ERR_RECORD_FORMAT",
    );
    expect(codeOf(() => terminalRecordMessage({ ...entry, cardRecord: new Uint8Array(95) }))).toBe(
      "PROTO_ERR_RECORD_FORMAT",
    );
  });
});
