import { describe, expect, it } from "vitest";
import { codeOf, NO_ERROR } from "../../test-support/errors.js";
import { hex } from "../bytes.js";
import {
  flattenHotlist,
  hotlistMessage,
  type IssuerHotlist,
  type IssuerHotlistWire,
  issuerHotlistMessage,
  parseIssuerHotlistWire,
} from "./hotlist.js";

const A = "a1".repeat(32);
const B = "b2".repeat(32);

const list: IssuerHotlist = {
  format: 2,
  version: 7,
  issuedAt: 0x6a00_0000,
  nextUpdate: 0x6a00_5460,
  blockedWallets: ["W-LOST-1"],
  issuers: [
    { issuer: A, revokedSerials: ["c005"], blockedWallets: [] },
    { issuer: B, revokedSerials: ["c005", "ff"], blockedWallets: ["W-A-1"] },
  ],
};
const wire: IssuerHotlistWire = { ...list, signature: "00".repeat(64), crl: "MA==" };
const ascii = (s: string) => Buffer.from(s, "ascii").toString("hex");

describe("format-2 hotlist canonical bytes (issuerHotlistMessage)", () => {
  it("is label, version, issue time, next update, every-issuer wallets, then per issuer its serials and wallets", () => {
    expect(hex(issuerHotlistMessage(list))).toBe(
      [
        ascii("TAPWALLET/2 HOTLIST"),
        "00000007",
        "6a000000",
        "6a005460",
        `0001 08${ascii("W-LOST-1")}`,
        "0002",
        `${A} 0001 04${ascii("c005")} 0000`,
        `${B} 0002 04${ascii("c005")} 02${ascii("ff")} 0001 05${ascii("W-A-1")}`,
      ]
        .join("")
        .replaceAll(" ", ""),
    );
  });

  it("never equals the format-1 bytes of the same content (another label)", () => {
    const v1 = hotlistMessage(flattenHotlist(list));
    expect(Buffer.from(v1).subarray(0, 19).toString()).toBe("TAPWALLET/1 HOTLIST");
    expect(Buffer.from(issuerHotlistMessage(list)).subarray(0, 19).toString()).toBe("TAPWALLET/2 HOTLIST");
  });

  it("flattens for /v1: every serial and wallet id once, whichever issuer", () => {
    expect(flattenHotlist(list)).toEqual({
      version: 7,
      issuedAt: 0x6a00_0000,
      nextUpdate: 0x6a00_5460,
      revokedSerials: ["c005", "ff"],
      blockedWallets: ["W-A-1", "W-LOST-1"],
    });
  });
});

describe("a GET /v2/hotlist body (parseIssuerHotlistWire)", () => {
  const cases: [string, unknown, string][] = [
    ["the body as signed", wire, NO_ERROR],
    [
      "a format-1 body (flat serials, no format)",
      { ...flattenHotlist(list), signature: wire.signature, crl: "MA==" },
      "PROTO_ERR_HOTLIST_FORMAT",
    ],
    ["format 3", { ...wire, format: 3 }, "PROTO_ERR_HOTLIST_FORMAT"],
    ["an unknown field", { ...wire, revokedSerials: [] }, "PROTO_ERR_HOTLIST_FORMAT"],
    ["no next update", { ...wire, nextUpdate: undefined }, "PROTO_ERR_HOTLIST_FORMAT"],
    ["a next update before the issue time", { ...wire, nextUpdate: 1 }, "PROTO_ERR_HOTLIST_FORMAT"],
    [
      "an issuer of 63 hex",
      { ...wire, issuers: [{ ...list.issuers[0]!, issuer: A.slice(1) }] },
      "PROTO_ERR_HOTLIST_FORMAT",
    ],
    [
      "an issuer in upper case",
      { ...wire, issuers: [{ ...list.issuers[0]!, issuer: A.toUpperCase() }] },
      "PROTO_ERR_HOTLIST_FORMAT",
    ],
    ["issuers out of order", { ...wire, issuers: [...list.issuers].reverse() }, "PROTO_ERR_HOTLIST_FORMAT"],
    [
      "the same issuer twice",
      { ...wire, issuers: [list.issuers[0], list.issuers[0]] },
      "PROTO_ERR_HOTLIST_FORMAT",
    ],
    [
      "an issuer listing nothing",
      { ...wire, issuers: [{ issuer: A, revokedSerials: [], blockedWallets: [] }] },
      "PROTO_ERR_HOTLIST_FORMAT",
    ],
    [
      "a serial not hex",
      { ...wire, issuers: [{ ...list.issuers[0]!, revokedSerials: ["c00g"] }] },
      "PROTO_ERR_HOTLIST_FORMAT",
    ],
    [
      "serials out of order",
      { ...wire, issuers: [{ ...list.issuers[0]!, revokedSerials: ["ff", "c005"] }] },
      "PROTO_ERR_HOTLIST_FORMAT",
    ],
    ["a malformed wallet id", { ...wire, blockedWallets: ["W LOST"] }, "PROTO_ERR_HOTLIST_FORMAT"],
    ["a wallet id twice", { ...wire, blockedWallets: ["W-A-1", "W-A-1"] }, "PROTO_ERR_HOTLIST_FORMAT"],
    ["a short signature", { ...wire, signature: "00" }, "PROTO_ERR_HOTLIST_FORMAT"],
    ["a version past 32 bits", { ...wire, version: 2 ** 32 }, "PROTO_ERR_HOTLIST_FORMAT"],
    ["not an object", [wire], "PROTO_ERR_HOTLIST_FORMAT"],
  ];
  for (const [what, body, code] of cases)
    it(`${code === NO_ERROR ? "takes" : "refuses"} ${what}`, () => {
      expect(codeOf(() => parseIssuerHotlistWire(JSON.parse(JSON.stringify(body))))).toBe(code);
    });

  it("keeps nothing but its own fields", () => {
    expect(parseIssuerHotlistWire(JSON.parse(JSON.stringify(wire)))).toEqual(wire);
  });
});
