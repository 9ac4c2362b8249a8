import { hkdfSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf } from "../../test-support/errors.js";
import { concat, fromHex, hex } from "../bytes.js";
import { aesGcmSeal } from "../crypto.js";
import { MAX_SM_PLAINTEXT } from "./constants.js";
import { deriveSessionKeys, SecureChannel, type SessionKeys } from "./secure-channel.js";

const Z = new Uint8Array(32).fill(0x33);
const H = new Uint8Array(32).fill(0x44);
const DEBIT = { cla: 0x84, ins: 0x54, p1: 0, p2: 0 };

function keys(): SessionKeys {
  return deriveSessionKeys(Z, H);
}

/** A terminal and a card holding the same session keys. */
function pair(): { terminal: SecureChannel; card: SecureChannel } {
  return { terminal: new SecureChannel(keys()), card: new SecureChannel(keys()) };
}

describe("SecureChannel › keys and layout", () => {
  it("derives kCmd || kRsp = HKDF-SHA256(Z, salt H, info 'TAPWALLET/1 SM KEYS', 64)", () => {
    const okm = new Uint8Array(hkdfSync("sha256", Z, H, "TAPWALLET/1 SM KEYS", 64));
    const k = keys();
    expect(hex(k.command)).toBe(hex(okm.subarray(0, 32)));
    expect(hex(k.response)).toBe(hex(okm.subarray(32)));
  });

  it("seals commands and responses with the documented nonces and AAD", () => {
    const k = keys();
    const { terminal, card } = pair();
    const plain = fromHex("df2006000000000450");
    const sealed = terminal.sealCommand(DEBIT, plain);
    expect(hex(sealed)).toBe(
      hex(aesGcmSeal(k.command, fromHex("010000000000000000000000"), plain, fromHex("8454000000000000"))),
    );
    expect(hex(card.openCommand(DEBIT, sealed))).toBe(hex(plain));
    const answer = card.sealResponse(0x54, fromHex("aa"), 0x9000);
    expect(hex(answer)).toBe(
      hex(
        aesGcmSeal(k.response, fromHex("020000000000000000000000"), fromHex("aa9000"), fromHex("0000000054")),
      ),
    );
    expect(terminal.openResponse(0x54, answer)).toEqual({ data: fromHex("aa"), sw: 0x9000 });
    // Counter 1 next, in both the nonce and the AAD.
    const second = terminal.sealCommand(DEBIT, plain);
    expect(hex(second)).toBe(
      hex(aesGcmSeal(k.command, fromHex("010000000000000000000001"), plain, fromHex("8454000000000001"))),
    );
    expect(terminal.counter).toBe(1);
  });

  it("carries an inner status word and empty data", () => {
    const { terminal, card } = pair();
    card.openCommand(DEBIT, terminal.sealCommand(DEBIT, new Uint8Array(0)));
    expect(terminal.openResponse(0x54, card.sealResponse(0x54, new Uint8Array(0), 0x9305))).toEqual({
      data: new Uint8Array(0),
      sw: 0x9305,
    });
  });

  it(`refuses more than ${MAX_SM_PLAINTEXT} plaintext bytes (a sealed command must fit a short APDU)`, () => {
    const { terminal } = pair();
    expect(terminal.sealCommand(DEBIT, new Uint8Array(MAX_SM_PLAINTEXT)).length).toBe(255);
    expect(codeOf(() => terminal.sealCommand(DEBIT, new Uint8Array(MAX_SM_PLAINTEXT + 1)))).toBe(
      "PROTO_ERR_APDU_DATA_TOO_LONG",
    );
  });
});

describe("SecureChannel › an attacker on the air", () => {
  it("a flipped bit anywhere in a command fails and closes the card's channel", () => {
    const plain = fromHex("df2006000000000450df040203d2df210400000001");
    const length = pair().terminal.sealCommand(DEBIT, plain).length;
    for (let i = 0; i < length; i++) {
      const { terminal, card } = pair();
      const sealed = terminal.sealCommand(DEBIT, plain);
      sealed[i]! ^= 0x10;
      expect(codeOf(() => card.openCommand(DEBIT, sealed))).toBe("PROTO_ERR_SM_MAC");
      expect(card.open).toBe(false);
      expect(codeOf(() => card.openCommand(DEBIT, terminal.sealCommand(DEBIT, plain)))).toBe(
        "PROTO_ERR_SM_MAC",
      );
    }
  });

  it("a changed header (the AAD) fails", () => {
    for (const header of [
      { ...DEBIT, cla: 0x80 },
      { ...DEBIT, ins: 0x52 },
      { ...DEBIT, p1: 1 },
      { ...DEBIT, p2: 1 },
    ]) {
      const { terminal, card } = pair();
      expect(codeOf(() => card.openCommand(header, terminal.sealCommand(DEBIT, fromHex("00"))))).toBe(
        "PROTO_ERR_SM_MAC",
      );
    }
  });

  it("a replayed command fails", () => {
    const { terminal, card } = pair();
    const sealed = terminal.sealCommand(DEBIT, fromHex("01"));
    card.openCommand(DEBIT, sealed);
    terminal.openResponse(0x54, card.sealResponse(0x54, new Uint8Array(0), 0x9000));
    expect(codeOf(() => card.openCommand(DEBIT, sealed))).toBe("PROTO_ERR_SM_MAC");
    expect(card.open).toBe(false);
  });

  it("reordered commands fail", () => {
    const { terminal, card } = pair();
    const ahead = new SecureChannel(keys());
    ahead.sealResponse(0, new Uint8Array(0), 0x9000); // one message ahead: counter 1
    const second = ahead.sealCommand(DEBIT, fromHex("02"));
    expect(codeOf(() => card.openCommand(DEBIT, second))).toBe("PROTO_ERR_SM_MAC");
    expect(terminal.counter).toBe(0);
  });

  it("a truncated command or one shorter than its tag fails", () => {
    const { terminal, card } = pair();
    const sealed = terminal.sealCommand(DEBIT, fromHex("0102"));
    expect(codeOf(() => card.openCommand(DEBIT, sealed.subarray(0, sealed.length - 1)))).toBe(
      "PROTO_ERR_SM_MAC",
    );
    const c2 = pair().card;
    expect(codeOf(() => c2.openCommand(DEBIT, new Uint8Array(15)))).toBe("PROTO_ERR_SM_MAC");
  });

  it("a tampered, replayed or misdirected response fails and closes the terminal's channel", () => {
    const make = () => {
      const p = pair();
      p.card.openCommand(DEBIT, p.terminal.sealCommand(DEBIT, fromHex("01")));
      return { ...p, answer: p.card.sealResponse(0x54, fromHex("aabb"), 0x9000) };
    };
    const tampered = make();
    tampered.answer[0]! ^= 1;
    expect(codeOf(() => tampered.terminal.openResponse(0x54, tampered.answer))).toBe("PROTO_ERR_SM_MAC");
    expect(tampered.terminal.open).toBe(false);
    const wrongIns = make();
    expect(codeOf(() => wrongIns.terminal.openResponse(0x5c, wrongIns.answer))).toBe("PROTO_ERR_SM_MAC");
    const replayed = make();
    replayed.terminal.openResponse(0x54, replayed.answer);
    expect(codeOf(() => replayed.terminal.openResponse(0x54, replayed.answer))).toBe("PROTO_ERR_SM_MAC");
    // A response sealed with the command key (reflection) fails too.
    const reflected = make();
    expect(
      codeOf(() =>
        reflected.terminal.openResponse(0x54, reflected.terminal.sealCommand(DEBIT, fromHex("9000"))),
      ),
    ).toBe("PROTO_ERR_SM_MAC");
  });

  it("close() zeroes the keys and every later call fails", () => {
    const k = keys();
    const channel = new SecureChannel(k);
    channel.close();
    expect(hex(concat(k.command, k.response))).toBe("00".repeat(64));
    expect(codeOf(() => channel.sealCommand(DEBIT, new Uint8Array(0)))).toBe("PROTO_ERR_SM_MAC");
    expect(codeOf(() => channel.sealResponse(0x54, new Uint8Array(0), 0x9000))).toBe("PROTO_ERR_SM_MAC");
  });
});
