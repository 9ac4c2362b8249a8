import { describe, expect, it } from "vitest";
import { responseApdu } from "./apdu.js";
import { ProtocolError } from "./errors.js";
import { describeSw, expectSw, formatSw, StatusWordError, SW } from "./sw.js";

describe("SW table", () => {
  it("holds the ISO 7816-4 words under their usual names", () => {
    expect(SW.OK).toBe(0x9000);
    expect(SW.CONDITIONS_NOT_SATISFIED).toBe(0x6985);
    expect(SW.LAST_COMMAND_EXPECTED).toBe(0x6883);
    expect(SW.COMMAND_CHAINING_NOT_SUPPORTED).toBe(0x6884);
    expect(SW.WRONG_DATA).toBe(0x6a80);
    expect(SW.INS_NOT_SUPPORTED).toBe(0x6d00);
  });

  it("gives every word exactly one name", () => {
    const values = Object.values(SW);
    expect(new Set(values).size).toBe(values.length);
  });

  it("describes every word of the table with a meaning of its own", () => {
    for (const [name, sw] of Object.entries(SW)) {
      const text = describeSw(sw);
      expect(text.startsWith(formatSw(sw)), name).toBe(true);
      expect(text, name).not.toMatch(/unknown/);
    }
  });
});

describe("describeSw", () => {
  it.each([
    [0x9000, "9000 success"],
    [0x6985, "6985 conditions of use not satisfied"],
    [0x6a82, "6A82 file or application not found"],
    [0x6110, "6110 16 more bytes available"],
    [0x6100, "6100 256 more bytes available"],
    [0x6c08, "6C08 wrong Le, exact length 8"],
    [0x6c00, "6C00 wrong Le, exact length 256"],
    [0x63c2, "63C2 verification failed, 2 tries left"],
    [0x63c1, "63C1 verification failed, 1 try left"],
    [0x63c0, "63C0 verification failed, 0 tries left"],
    [0x9123, "unknown status word 9123"],
    [0x0000, "unknown status word 0000"],
  ])("describes %s as %j", (sw, text) => {
    expect(describeSw(sw)).toBe(text);
  });
});

describe("StatusWordError and expectSw", () => {
  it("returns the response when the word is accepted (9000 by default)", () => {
    const ok = responseApdu(Uint8Array.of(1), 0x9000);
    expect(expectSw(ok, "SELECT")).toBe(ok);
    const warning = responseApdu(new Uint8Array(0), 0x6283);
    expect(expectSw(warning, "SELECT", [SW.OK, SW.SELECTED_FILE_DEACTIVATED])).toBe(warning);
  });

  it("throws a StatusWordError carrying the word, the context and a readable message", () => {
    try {
      expectSw(responseApdu(new Uint8Array(0), 0x6985), "DEBIT");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(StatusWordError);
      expect(e).toBeInstanceOf(ProtocolError);
      const err = e as StatusWordError;
      expect(err.code).toBe("PROTO_ERR_STATUS_WORD");
      expect(err.sw).toBe(0x6985);
      expect(err.sw1).toBe(0x69);
      expect(err.sw2).toBe(0x85);
      expect(err.context).toBe("DEBIT");
      expect(err.message).toBe("DEBIT: 6985 conditions of use not satisfied");
      expect(err.toJSON()).toMatchObject({
        code: "PROTO_ERR_STATUS_WORD",
        details: { sw: "6985", context: "DEBIT" },
      });
      expect(err.name).toBe("StatusWordError");
    }
  });

  it("refuses 9000 when the caller accepts only something else", () => {
    expect(() => expectSw(responseApdu(new Uint8Array(0), 0x9000), "VERIFY", [0x63c3])).toThrow(
      StatusWordError,
    );
  });
});

describe("an application's own status words", () => {
  const meanings = new Map([
    [0x9301, "insufficient funds"],
    [0x9302, "wallet blocked"],
  ]);

  it("are named when their table is given, and unknown without it", () => {
    expect(describeSw(0x9301)).toBe("unknown status word 9301");
    expect(describeSw(0x9301, meanings)).toBe("9301 insufficient funds");
    expect(new StatusWordError(0x9302, "DEBIT", { meanings }).message).toBe("DEBIT: 9302 wallet blocked");
  });

  it("win over the ISO meaning of the same word", () => {
    expect(describeSw(0x6985, new Map([[0x6985, "card says no"]]))).toBe("6985 card says no");
  });
});
