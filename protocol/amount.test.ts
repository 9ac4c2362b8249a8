import { describe, expect, it } from "vitest";
import {
  CURRENCIES,
  type Currency,
  currencyByCode,
  currencyByNumeric,
  decodeAmountBcd,
  decodeBcd,
  encodeAmountBcd,
  encodeBcd,
  formatAmount,
  formatMoney,
  MAX_AMOUNT_MINOR,
  parseAmount,
} from "./amount.js";
import { fromHex, hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";

function errorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw new Error(`expected a ProtocolError, got ${String(e)}`);
  }
  throw new Error("expected a ProtocolError, nothing was thrown");
}

describe("currencies", () => {
  it.each([
    ["EUR", 978, 2],
    ["USD", 840, 2],
    ["GBP", 826, 2],
    ["CNY", 156, 2],
    ["TWD", 901, 2],
    ["JPY", 392, 0],
    ["KWD", 414, 3],
    ["CHF", 756, 2],
  ])("knows %s as numeric %i with %i decimals, by code and by number", (code, numeric, exponent) => {
    expect(CURRENCIES[code]).toEqual({ code, numeric, exponent });
    expect(currencyByCode(code)).toBe(CURRENCIES[code]);
    expect(currencyByCode(code.toLowerCase())).toBe(CURRENCIES[code]);
    expect(currencyByNumeric(numeric)).toBe(CURRENCIES[code]);
  });

  it("keys every currency by its own code, with unique numeric codes", () => {
    const all = Object.entries(CURRENCIES);
    for (const [key, c] of all) expect(c.code).toBe(key);
    expect(new Set(all.map(([, c]) => c.numeric)).size).toBe(all.length);
  });

  it.each(["XXX", "EURO", "", "E1R", " EUR"])("refuses unknown code %j with PROTO_ERR_CURRENCY", (code) => {
    expect(errorOf(() => currencyByCode(code)).code).toBe("PROTO_ERR_CURRENCY");
  });

  it.each([0, 999, -978, 978.5])("refuses unknown numeric %s with PROTO_ERR_CURRENCY", (n) => {
    expect(errorOf(() => currencyByNumeric(n)).code).toBe("PROTO_ERR_CURRENCY");
  });

  it("cannot be changed at run time", () => {
    expect(Object.isFrozen(CURRENCIES)).toBe(true);
    expect(Object.isFrozen(CURRENCIES.EUR)).toBe(true);
  });
});

describe("parseAmount", () => {
  it.each([
    ["4.50", "EUR", 450],
    ["4.5", "EUR", 450],
    ["4", "EUR", 400],
    ["0", "EUR", 0],
    ["0.00", "EUR", 0],
    ["0.01", "EUR", 1],
    ["0.05", "USD", 5],
    ["10.99", "GBP", 1099],
    ["123456.78", "CHF", 12345678],
    ["500", "JPY", 500],
    ["0", "JPY", 0],
    ["1.234", "KWD", 1234],
    ["1.2", "KWD", 1200],
    ["0.001", "KWD", 1],
    ["9999999999.99", "EUR", MAX_AMOUNT_MINOR],
    ["999999999999", "JPY", MAX_AMOUNT_MINOR],
    ["999999999.999", "KWD", MAX_AMOUNT_MINOR],
  ])("reads %j %s as %i minor units", (text, currency, minor) => {
    expect(parseAmount(text, currency)).toBe(minor);
  });

  it("takes a Currency object as well as a code", () => {
    expect(parseAmount("4.50", CURRENCIES.EUR!)).toBe(450);
    const custom: Currency = { code: "XTS", numeric: 963, exponent: 4 };
    expect(parseAmount("1.0001", custom)).toBe(10001);
  });

  it.each([
    ["4.505", "EUR", /more than 2 decimals/],
    ["4.500", "EUR", /more than 2 decimals/],
    ["1.2345", "KWD", /more than 3 decimals/],
    ["500.0", "JPY", /no minor unit/],
    ["-1", "EUR", /negative/],
    ["+1", "EUR", /sign/],
    ["1e3", "EUR", /expected digits/],
    ["NaN", "EUR", /expected digits/],
    ["Infinity", "EUR", /expected digits/],
    ["", "EUR", /empty/],
    [" 4.50", "EUR", /spaces/],
    ["4.50 ", "EUR", /spaces/],
    ["4,50", "EUR", /point as the decimal separator/],
    ["0x10", "EUR", /expected digits/],
    ["1.", "EUR", /after the point/],
    [".5", "EUR", /before the point/],
    ["04.50", "EUR", /leading zeros/],
    ["00", "JPY", /leading zeros/],
    ["1.2.3", "EUR", /expected digits/],
    ["1_000", "EUR", /expected digits/],
    ["１２", "EUR", /expected digits/],
    ["4.5\n", "EUR", /spaces/],
  ])("refuses %j in %s with PROTO_ERR_AMOUNT and says why", (text, currency, why) => {
    const e = errorOf(() => parseAmount(text, currency));
    expect(e.code).toBe("PROTO_ERR_AMOUNT");
    expect(e.message).toMatch(why);
    expect(e.message).toContain(currency);
  });

  it.each([null, undefined, 4.5, 450, {}, ["4.50"]])("refuses non-text %j with PROTO_ERR_AMOUNT", (value) => {
    expect(errorOf(() => parseAmount(value as unknown as string, "EUR")).code).toBe("PROTO_ERR_AMOUNT");
  });

  it.each([
    ["10000000000.00", "EUR"],
    ["10000000000", "EUR"],
    ["1000000000000", "JPY"],
    ["1000000000", "KWD"],
    ["9".repeat(40), "EUR"],
  ])("refuses %j %s, above MAX_AMOUNT_MINOR, with PROTO_ERR_AMOUNT_RANGE", (text, currency) => {
    const e = errorOf(() => parseAmount(text, currency));
    expect(e.code).toBe("PROTO_ERR_AMOUNT_RANGE");
  });

  it("refuses long garbage quickly with PROTO_ERR_AMOUNT", () => {
    expect(errorOf(() => parseAmount("1.".repeat(500_000), "EUR")).code).toBe("PROTO_ERR_AMOUNT");
  });

  it("refuses an unknown currency with PROTO_ERR_CURRENCY", () => {
    expect(errorOf(() => parseAmount("1", "XYZ")).code).toBe("PROTO_ERR_CURRENCY");
    expect(errorOf(() => parseAmount("1", { code: "X", numeric: 1, exponent: 9 })).code).toBe(
      "PROTO_ERR_CURRENCY",
    );
  });
});

describe("formatAmount", () => {
  it.each([
    [450, "EUR", "4.50"],
    [5, "EUR", "0.05"],
    [0, "EUR", "0.00"],
    [100, "USD", "1.00"],
    [500, "JPY", "500"],
    [0, "JPY", "0"],
    [1234, "KWD", "1.234"],
    [1, "KWD", "0.001"],
    [MAX_AMOUNT_MINOR, "EUR", "9999999999.99"],
  ])("writes %i %s as %j", (minor, currency, text) => {
    expect(formatAmount(minor, currency)).toBe(text);
  });

  it("adds the currency code for display", () => {
    expect(formatMoney(450, "eur")).toBe("4.50 EUR");
    expect(formatMoney(500, CURRENCIES.JPY!)).toBe("500 JPY");
  });

  it.each([-1, 4.5, MAX_AMOUNT_MINOR + 1, Number.NaN, Number.POSITIVE_INFINITY])(
    "refuses %s with PROTO_ERR_AMOUNT_RANGE",
    (minor) => {
      expect(errorOf(() => formatAmount(minor, "EUR")).code).toBe("PROTO_ERR_AMOUNT_RANGE");
    },
  );

  const boundaries = [
    0,
    1,
    9,
    10,
    99,
    100,
    101,
    999,
    1000,
    0x7f,
    0x80,
    0xff,
    0x100,
    123456789,
    MAX_AMOUNT_MINOR,
  ];
  for (const code of Object.keys(CURRENCIES)) {
    it(`round-trips parse(format(x)) = x in ${code} at the boundaries`, () => {
      for (const minor of boundaries) expect(parseAmount(formatAmount(minor, code), code)).toBe(minor);
    });
  }
});

describe("BCD", () => {
  it.each([
    [0, "000000000000"],
    [1, "000000000001"],
    [450, "000000000450"],
    [123456789012, "123456789012"],
    [MAX_AMOUNT_MINOR, "999999999999"],
  ])("encodes amount %i as 6 bytes %s like EMV 9F02", (minor, wire) => {
    expect(hex(encodeAmountBcd(minor))).toBe(wire);
    expect(decodeAmountBcd(fromHex(wire))).toBe(minor);
  });

  it.each([-1, 1.5, MAX_AMOUNT_MINOR + 1])("refuses amount %s with PROTO_ERR_AMOUNT_RANGE", (minor) => {
    expect(errorOf(() => encodeAmountBcd(minor)).code).toBe("PROTO_ERR_AMOUNT_RANGE");
  });

  it.each([
    ["5 bytes", "0000000450"],
    ["7 bytes", "00000000000450"],
    ["a nibble A", "00000000045a"],
    ["a high nibble F", "f00000000450"],
    ["FF padding", "ffffffffffff"],
  ])("refuses an amount field with %s with PROTO_ERR_BCD", (_name, wire) => {
    expect(errorOf(() => decodeAmountBcd(fromHex(wire))).code).toBe("PROTO_ERR_BCD");
  });

  it("encodes other sizes: currency code 978 as n3 in 2 bytes, a date in 3", () => {
    expect(hex(encodeBcd(978, 2))).toBe("0978");
    expect(hex(encodeBcd(250131, 3))).toBe("250131");
    expect(decodeBcd(fromHex("0978"))).toBe(978);
  });

  it("round-trips every 1- and 2-digit byte and values up to 7 bytes", () => {
    for (let v = 0; v < 100; v++) expect(decodeBcd(encodeBcd(v, 1))).toBe(v);
    for (const v of [0, 99_999_999_999_999, 12_345_678_901_234]) expect(decodeBcd(encodeBcd(v, 7))).toBe(v);
  });

  it("refuses every byte with a nibble above 9", () => {
    let refused = 0;
    for (let b = 0; b < 256; b++) {
      const valid = b >> 4 <= 9 && (b & 0x0f) <= 9;
      if (valid) expect(decodeBcd(Uint8Array.of(b))).toBe((b >> 4) * 10 + (b & 0x0f));
      else {
        expect(errorOf(() => decodeBcd(Uint8Array.of(b))).code).toBe("PROTO_ERR_BCD");
        refused++;
      }
    }
    expect(refused).toBe(256 - 100);
  });

  it("refuses values that do not fit and empty or over-long fields", () => {
    expect(errorOf(() => encodeBcd(100, 1)).code).toBe("PROTO_ERR_AMOUNT_RANGE");
    expect(errorOf(() => encodeBcd(-5, 2)).code).toBe("PROTO_ERR_AMOUNT_RANGE");
    expect(errorOf(() => decodeBcd(new Uint8Array(0))).code).toBe("PROTO_ERR_BCD");
    expect(errorOf(() => decodeBcd(new Uint8Array(8))).code).toBe("PROTO_ERR_BCD");
    expect(() => encodeBcd(1, 8)).toThrow(RangeError);
  });
});
