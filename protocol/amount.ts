/**
 * Money: integers in minor units (cents, yen, fils) with an ISO 4217 currency. Never floats: text is
 * parsed digit by digit as strings, and every number here is a safe integer.
 *
 * Accepted amount text (`parseAmount`), strict on purpose because it comes from cash registers,
 * CLIs and HTTP bodies where a silently misread amount is money lost:
 * - ASCII digits, an optional point and 1..exponent fraction digits: "4.50", "4.5", "4", "0", "0.05";
 *   for a currency with exponent 0 (JPY) no point at all: "500".
 * - the integer part is "0" or starts with 1-9 (no "04.50"), and is never empty (no ".5").
 * - nothing else: no sign ("-1", "+1"), no exponent ("1e3"), no "NaN"/"Infinity", no spaces
 *   (" 4.50"), no comma ("4,50"), no hex ("0x10"), no trailing point ("1."), no more fraction digits
 *   than the currency has ("4.505" and also "4.500" for EUR).
 * - at most MAX_AMOUNT_MINOR minor units (what EMV's n12 / 6-byte BCD holds).
 * Zero parses; whether zero is a valid payment is the caller's rule.
 */
import { ProtocolError } from "./errors.js";

export interface Currency {
  /** ISO 4217 alpha code, upper case: "EUR". */
  readonly code: string;
  /** ISO 4217 numeric code: 978. */
  readonly numeric: number;
  /** Minor unit digits: 2 for EUR, 0 for JPY, 3 for KWD. */
  readonly exponent: number;
}

function currency(code: string, numeric: number, exponent: number): Currency {
  return Object.freeze({ code, numeric, exponent });
}

/** The currencies tapwallet knows, by alpha code (ISO 4217 exponents; TWD is 2 in the standard). */
export const CURRENCIES: Readonly<Record<string, Currency>> = Object.freeze({
  AUD: currency("AUD", 36, 2),
  BHD: currency("BHD", 48, 3),
  CAD: currency("CAD", 124, 2),
  CHF: currency("CHF", 756, 2),
  CNY: currency("CNY", 156, 2),
  CZK: currency("CZK", 203, 2),
  DKK: currency("DKK", 208, 2),
  EUR: currency("EUR", 978, 2),
  GBP: currency("GBP", 826, 2),
  HKD: currency("HKD", 344, 2),
  INR: currency("INR", 356, 2),
  JPY: currency("JPY", 392, 0),
  KRW: currency("KRW", 410, 0),
  KWD: currency("KWD", 414, 3),
  NOK: currency("NOK", 578, 2),
  PLN: currency("PLN", 985, 2),
  SEK: currency("SEK", 752, 2),
  SGD: currency("SGD", 702, 2),
  TWD: currency("TWD", 901, 2),
  USD: currency("USD", 840, 2),
});

const BY_NUMERIC = new Map<number, Currency>(Object.values(CURRENCIES).map((c) => [c.numeric, c]));

/** Largest amount in minor units: what a 6-byte packed BCD field (EMV n12) holds; < 2^53. */
export const MAX_AMOUNT_MINOR = 999_999_999_999;

/** Currency by alpha code, case-insensitive ("eur" → EUR); PROTO_ERR_CURRENCY when unknown. */
export function currencyByCode(code: string): Currency {
  const found =
    typeof code === "string" && /^[A-Za-z]{3}$/.test(code) ? CURRENCIES[code.toUpperCase()] : undefined;
  if (!found) {
    throw new ProtocolError("PROTO_ERR_CURRENCY", `unknown currency ${JSON.stringify(String(code))}`, {
      details: { currency: String(code).slice(0, 16) },
    });
  }
  return found;
}

/** Currency by ISO 4217 numeric code (978 → EUR); PROTO_ERR_CURRENCY when unknown. */
export function currencyByNumeric(numeric: number): Currency {
  const found = BY_NUMERIC.get(numeric);
  if (!found) {
    throw new ProtocolError("PROTO_ERR_CURRENCY", `unknown ISO 4217 numeric currency ${String(numeric)}`, {
      details: { numeric },
    });
  }
  return found;
}

function resolveCurrency(c: string | Currency): Currency {
  if (typeof c === "string") return currencyByCode(c);
  // A caller-made Currency object is accepted when its shape is sound.
  if (
    typeof c !== "object" ||
    c === null ||
    typeof c.code !== "string" ||
    !Number.isInteger(c.exponent) ||
    c.exponent < 0 ||
    c.exponent > 4
  ) {
    throw new ProtocolError("PROTO_ERR_CURRENCY", "not a currency (code, numeric, exponent 0..4)");
  }
  return c;
}

/** Longest text worth looking at: 12 digits, a point, a few decimals. Bounds the work on hostile input. */
const MAX_AMOUNT_TEXT = 32;

const GRAMMARS = new Map<number, RegExp>();

/** Integer part "0" or 1-9 then digits; for exponent > 0 an optional point and 1..exponent digits. */
function grammarFor(exponent: number): RegExp {
  let grammar = GRAMMARS.get(exponent);
  if (!grammar) {
    grammar =
      exponent === 0 ? /^(0|[1-9][0-9]*)$/ : new RegExp(`^(0|[1-9][0-9]*)(?:\\.([0-9]{1,${exponent}}))?$`);
    GRAMMARS.set(exponent, grammar);
  }
  return grammar;
}

function amountError(text: string, c: Currency, why: string): ProtocolError {
  return new ProtocolError("PROTO_ERR_AMOUNT", `invalid ${c.code} amount ${JSON.stringify(text)}: ${why}`, {
    details: { text, currency: c.code },
  });
}

/** Explain why text is not an amount, for the error message; called only on the error path. */
function diagnose(text: string, c: Currency): string {
  if (text === "") return "empty";
  if (text.trim() !== text) return "leading or trailing spaces";
  if (text.startsWith("-")) return "negative amounts are not accepted";
  if (text.startsWith("+")) return "no sign allowed";
  if (/^[0-9]+,[0-9]*$/.test(text)) return "use a point as the decimal separator";
  if (c.exponent === 0 && /^[0-9]+\.[0-9]*$/.test(text)) return `${c.code} has no minor unit`;
  if (/^[0-9]+\.[0-9]+$/.test(text) && text.split(".")[1]!.length > c.exponent) {
    return `more than ${c.exponent} decimals for ${c.code}`;
  }
  if (text.endsWith(".")) return "digits needed after the point";
  if (text.startsWith(".")) return "digits needed before the point";
  if (/^0[0-9]/.test(text)) return "leading zeros are not accepted";
  return `expected digits${c.exponent > 0 ? ` with up to ${c.exponent} decimals after a point` : ""}`;
}

/**
 * Parse decimal text into minor units: "4.50" EUR → 450, "4.5" → 450, "4" → 400, "500" JPY → 500,
 * "1.234" KWD → 1234. Malformed text → PROTO_ERR_AMOUNT; more than MAX_AMOUNT_MINOR →
 * PROTO_ERR_AMOUNT_RANGE. See the module comment for the exact grammar.
 */
export function parseAmount(text: string, currency: string | Currency): number {
  const c = resolveCurrency(currency);
  if (typeof text !== "string") {
    throw new ProtocolError("PROTO_ERR_AMOUNT", `amount must be text, got ${typeof text}`, {
      details: { type: typeof text, currency: c.code },
    });
  }
  if (text.length > MAX_AMOUNT_TEXT) {
    const digitsOnly = /^[1-9][0-9]*$/.test(text);
    throw new ProtocolError(
      digitsOnly ? "PROTO_ERR_AMOUNT_RANGE" : "PROTO_ERR_AMOUNT",
      `${c.code} amount text of ${text.length} characters is longer than any amount`,
      { details: { currency: c.code, length: text.length } },
    );
  }
  const match = grammarFor(c.exponent).exec(text);
  if (!match) throw amountError(text, c, diagnose(text, c));
  const digits = (match[1]! + (match[2] ?? "").padEnd(c.exponent, "0")).replace(/^0+(?=[0-9])/, "");
  // At most 12 significant digits: the integer below is exact and ≤ MAX_AMOUNT_MINOR.
  if (digits.length > 12) {
    throw new ProtocolError(
      "PROTO_ERR_AMOUNT_RANGE",
      `${c.code} amount ${text} is above the maximum ${formatAmount(MAX_AMOUNT_MINOR, c)}`,
      { details: { text, currency: c.code } },
    );
  }
  return Number.parseInt(digits, 10);
}

function checkMinor(minor: number, what: string): void {
  if (!Number.isSafeInteger(minor) || minor < 0 || minor > MAX_AMOUNT_MINOR) {
    throw new ProtocolError(
      "PROTO_ERR_AMOUNT_RANGE",
      `${what} must be an integer number of minor units 0..${MAX_AMOUNT_MINOR}, got ${String(minor)}`,
      { details: { minor: String(minor) } },
    );
  }
}

/**
 * Minor units as plain decimal text, the inverse of parseAmount: 450 EUR → "4.50", 500 JPY → "500",
 * 1234 KWD → "1.234". No grouping, no symbol (see formatMoney for display).
 */
export function formatAmount(minor: number, currency: string | Currency): string {
  const c = resolveCurrency(currency);
  checkMinor(minor, "amount");
  if (c.exponent === 0) return String(minor);
  const digits = String(minor).padStart(c.exponent + 1, "0");
  return `${digits.slice(0, -c.exponent)}.${digits.slice(-c.exponent)}`;
}

/** Amount with its currency code, for receipts, logs and CLI output: "4.50 EUR". */
export function formatMoney(minor: number, currency: string | Currency): string {
  const c = resolveCurrency(currency);
  return `${formatAmount(minor, c)} ${c.code}`;
}

/** Largest byte count of the generic BCD helpers: 7 bytes = 14 digits, still below 2^53. */
export const MAX_BCD_BYTES = 7;

function checkBcdSize(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_BCD_BYTES) {
    throw new RangeError(`BCD size must be 1..${MAX_BCD_BYTES} bytes, got ${bytes}`);
  }
}

/**
 * Unsigned integer as packed BCD, two digits per byte, right-aligned with leading zeros:
 * encodeBcd(978, 2) → 09 78. A value with more digits than fit → PROTO_ERR_AMOUNT_RANGE.
 */
export function encodeBcd(value: number, bytes: number): Uint8Array {
  checkBcdSize(bytes);
  const digits = Number.isSafeInteger(value) && value >= 0 ? String(value) : "";
  if (digits === "" || digits.length > bytes * 2) {
    throw new ProtocolError(
      "PROTO_ERR_AMOUNT_RANGE",
      `${String(value)} does not fit ${bytes} bytes of BCD (${bytes * 2} digits)`,
      { details: { value: String(value), bytes } },
    );
  }
  const padded = digits.padStart(bytes * 2, "0");
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    out[i] = ((padded.charCodeAt(2 * i) - 0x30) << 4) | (padded.charCodeAt(2 * i + 1) - 0x30);
  }
  return out;
}

/** Packed BCD (1..7 bytes) to its integer; a nibble above 9 or a bad size → PROTO_ERR_BCD. */
export function decodeBcd(b: Uint8Array): number {
  if (b.length < 1 || b.length > MAX_BCD_BYTES) {
    throw new ProtocolError(
      "PROTO_ERR_BCD",
      `BCD field of ${b.length} bytes (expected 1..${MAX_BCD_BYTES})`,
      {
        details: { length: b.length },
      },
    );
  }
  let value = 0;
  for (let i = 0; i < b.length; i++) {
    const hi = b[i]! >> 4;
    const lo = b[i]! & 0x0f;
    if (hi > 9 || lo > 9) {
      throw new ProtocolError(
        "PROTO_ERR_BCD",
        `byte ${i} of a BCD field is ${b[i]!.toString(16).padStart(2, "0")}, not two decimal digits`,
        { details: { offset: i, byte: b[i] } },
      );
    }
    value = value * 100 + hi * 10 + lo;
  }
  return value;
}

/** Bytes of an amount field (EMV 9F02, n12). */
export const AMOUNT_BCD_BYTES = 6;

/** Amount in minor units as 6 bytes of packed BCD, like EMV 9F02: 450 → 00 00 00 00 04 50. */
export function encodeAmountBcd(minor: number): Uint8Array {
  checkMinor(minor, "amount");
  return encodeBcd(minor, AMOUNT_BCD_BYTES);
}

/** 6 bytes of packed BCD to minor units; wrong length or a nibble above 9 → PROTO_ERR_BCD. */
export function decodeAmountBcd(bytes: Uint8Array): number {
  if (bytes.length !== AMOUNT_BCD_BYTES) {
    throw new ProtocolError(
      "PROTO_ERR_BCD",
      `amount field has ${bytes.length} bytes, expected ${AMOUNT_BCD_BYTES} of BCD`,
      { details: { length: bytes.length } },
    );
  }
  return decodeBcd(bytes);
}
