import { describe, expect, it } from "vitest";
import { formatRanges, formatTotal, gaps, isCalendarDate } from "./settle.js";
import { businessDay } from "./verify.js";

describe("gaps", () => {
  const cases: [number[], string][] = [
    [[], ""],
    [[1], ""],
    [[1, 2, 3], ""],
    [[1, 3], "2"],
    [[1, 2, 5, 9, 10], "3-4, 6-8"],
    [[0x7f, 0x80, 0x100], "129-255"],
  ];
  for (const [seen, text] of cases)
    it(`lists ${JSON.stringify(seen)} as outstanding "${text}"`, () => {
      expect(formatRanges(gaps(seen))).toBe(text);
    });
});

describe("formatTotal", () => {
  it("formats totals with the currency's minor unit, beyond what one amount can hold, never via floats", () => {
    expect(formatTotal(0, 978)).toBe("0.00");
    expect(formatTotal(1, 978)).toBe("0.01");
    expect(formatTotal(123_456, 392)).toBe("123456");
    expect(formatTotal(1_234, 414)).toBe("1.234");
    expect(formatTotal(999_999_999_999, 978)).toBe("9999999999.99");
    expect(formatTotal(1_000_000_000_000_001, 978)).toBe("10000000000000.01");
    expect(formatTotal(Number.MAX_SAFE_INTEGER, 978)).toBe("90071992547409.91");
    expect(formatTotal(500, 1)).toBe("500 (minor units)");
  });
});

describe("business days", () => {
  it("takes the UTC date of the terminal time, across midnight and leap days", () => {
    expect(businessDay(Date.UTC(2026, 10, 23, 23, 59, 59) / 1000)).toBe("2026-11-23");
    expect(businessDay(Date.UTC(2026, 10, 24, 0, 0, 0) / 1000)).toBe("2026-11-24");
    expect(businessDay(Date.UTC(2028, 1, 29, 12) / 1000)).toBe("2028-02-29");
    expect(businessDay(0)).toBe("1970-01-01");
  });

  it("accepts only calendar dates", () => {
    expect(isCalendarDate("2026-11-23")).toBe(true);
    expect(isCalendarDate("2028-02-29")).toBe(true);
    for (const bad of ["2026-02-29", "2026-13-01", "2026-11-31", "26-11-23", "2026-11-23T00:00:00Z", ""])
      expect(isCalendarDate(bad), bad).toBe(false);
  });
});
