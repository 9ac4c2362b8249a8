/**
 * DER reading for certificates and CRLs, on top of the BER-TLV codec of ../tlv.ts (which is DER-strict
 * on lengths): OIDs, small integers, serials, times, Names, and the extensions whose values node:crypto
 * does not expose (basicConstraints with pathLenConstraint, keyUsage bits, extendedKeyUsage OIDs, key
 * identifiers, our UTF8String attributes).
 *
 * The readers throw DerError (malformed structure) or ExtensionError (a known extension that does not
 * decode); certificate.ts and crl.ts turn them into their own PROTO_ERR_* codes.
 */
import { fromUtf8, hex } from "../bytes.js";
import { decodeOne, type Tlv } from "../tlv.js";

export const OID_BASIC_CONSTRAINTS = "2.5.29.19";
export const OID_KEY_USAGE = "2.5.29.15";
export const OID_SUBJECT_KEY_ID = "2.5.29.14";
export const OID_AUTHORITY_KEY_ID = "2.5.29.35";
export const OID_EXT_KEY_USAGE = "2.5.29.37";
export const OID_CRL_NUMBER = "2.5.29.20";
export const OID_CRL_REASON = "2.5.29.21";
export const OID_INVALIDITY_DATE = "2.5.29.24";
export const OID_COMMON_NAME = "2.5.4.3";
export const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
export const OID_PRIME256V1 = "1.2.840.10045.3.1.7";
export const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_UTF8_STRING = 0x0c;
const TAG_PRINTABLE_STRING = 0x13;
const TAG_T61_STRING = 0x14;
const TAG_IA5_STRING = 0x16;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;

export type KeyUsageName =
  | "digitalSignature"
  | "nonRepudiation"
  | "keyEncipherment"
  | "dataEncipherment"
  | "keyAgreement"
  | "keyCertSign"
  | "cRLSign";

// keyUsage BIT STRING: bit 0 is the most significant bit of the first content byte (RFC 5280 4.2.1.3).
const KEY_USAGE_BITS: readonly KeyUsageName[] = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
];

/** Thrown inside the DER readers; converted to the caller's code (certificate or CRL). */
export class DerError extends Error {}

/** A known extension whose value does not decode: PROTO_ERR_CERT_EXTENSION rather than a parse error. */
export class ExtensionError extends Error {}

export function decodeDer(bytes: Uint8Array): Tlv {
  try {
    // Certificates nest ~7 levels (Name: cert > tbs > name > set > seq > value); 12 leaves margin.
    return decodeOne(bytes, { maxDepth: 12 });
  } catch (cause) {
    throw new DerError(cause instanceof Error ? cause.message : "malformed DER", { cause });
  }
}

export function expect(node: Tlv | undefined, tag: number, what: string): Tlv {
  if (!node || node.tag !== tag)
    throw new DerError(
      `${what}: expected tag ${tag.toString(16)}, found ${node ? node.tag.toString(16) : "nothing"}`,
    );
  return node;
}

export function kids(node: Tlv, what: string): readonly Tlv[] {
  if (!node.children) throw new DerError(`${what}: expected a constructed value`);
  return node.children;
}

/** The full encodings (tag | length | value) of a constructed node's children, as views. */
export function encodings(parent: Tlv): Uint8Array[] {
  const base = parent.value.byteOffset;
  const out: Uint8Array[] = [];
  let start = 0;
  for (const child of parent.children ?? []) {
    const end = child.value.byteOffset - base + child.value.length;
    out.push(parent.value.subarray(start, end));
    start = end;
  }
  return out;
}

export function oidString(node: Tlv): string {
  expect(node, TAG_OID, "OID");
  const v = node.value;
  if (v.length === 0 || v.length > 64) throw new DerError("OID length out of range");
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < v.length; i++) {
    const byte = v[i]!;
    if (value === 0 && byte === 0x80) throw new DerError("OID arc is not minimally encoded");
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OID arc too large");
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0)
        arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    } else if (i === v.length - 1) throw new DerError("OID ends inside an arc");
  }
  return arcs.join(".");
}

/** A small non-negative INTEGER (versions, pathLen, CRL numbers). */
export function smallInteger(node: Tlv, what: string): number {
  expect(node, TAG_INTEGER, what);
  const v = node.value;
  if (v.length === 0 || v.length > 7) throw new DerError(`${what}: integer length out of range`);
  if (v[0]! & 0x80) throw new DerError(`${what}: negative integer`);
  if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) throw new DerError(`${what}: integer not minimal`);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** Serial numbers compare as normalised hex: lower case, no leading zeros ("0" for zero). */
export function normalizeSerial(serial: string): string {
  if (!/^[0-9a-fA-F]+$/.test(serial)) throw new RangeError(`serial number is not hexadecimal: ${serial}`);
  return serial.toLowerCase().replace(/^0+(?=.)/, "");
}

/** A positive serial number as normalised lower-case hex (no leading zeros). */
export function serialHex(node: Tlv, what: string): string {
  expect(node, TAG_INTEGER, what);
  const v = node.value;
  // RFC 5280: at most 20 octets (21 with the sign byte); positive.
  if (v.length === 0 || v.length > 21) throw new DerError(`${what}: serial length out of range`);
  if (v[0]! & 0x80) throw new DerError(`${what}: negative serial`);
  return normalizeSerial(hex(v));
}

function two(s: string, i: number): number {
  const c1 = s.charCodeAt(i) - 48;
  const c2 = s.charCodeAt(i + 1) - 48;
  if (c1 < 0 || c1 > 9 || c2 < 0 || c2 > 9) throw new DerError("time has a non-digit");
  return c1 * 10 + c2;
}

/** UTCTime YYMMDDHHMMSSZ (YY ≥ 50 → 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ, as DER requires. */
export function derTime(node: Tlv | undefined, what: string): Date {
  if (!node) throw new DerError(`${what}: missing`);
  if (node.value.length !== 13 && node.value.length !== 15) throw new DerError(`${what}: bad time length`);
  const text = String.fromCharCode(...node.value);
  let year: number;
  let rest: string;
  if (node.tag === TAG_UTC_TIME && text.length === 13) {
    const yy = two(text, 0);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = text.slice(2);
  } else if (node.tag === TAG_GENERALIZED_TIME && text.length === 15) {
    year = two(text, 0) * 100 + two(text, 2);
    rest = text.slice(4);
  } else throw new DerError(`${what}: not a DER UTCTime or GeneralizedTime`);
  if (rest[10] !== "Z") throw new DerError(`${what}: time is not in UTC (Z)`);
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((i) => two(rest, i)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    month < 1 ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    throw new DerError(`${what}: not a calendar time`);
  return date;
}

function directoryString(node: Tlv): string | undefined {
  switch (node.tag) {
    case TAG_UTF8_STRING:
      return fromUtf8(node.value);
    case TAG_PRINTABLE_STRING:
    case TAG_IA5_STRING:
    case TAG_T61_STRING:
      return Buffer.from(node.value).toString("latin1");
    default:
      return undefined;
  }
}

/** The first CN of a Name (SEQUENCE OF SET OF SEQUENCE { OID, value }), "" when absent. */
export function commonNameOf(name: Tlv): string {
  for (const rdn of kids(name, "Name")) {
    expect(rdn, TAG_SET, "RDN");
    for (const atv of kids(rdn, "RDN")) {
      const [type, value] = kids(expect(atv, TAG_SEQUENCE, "attribute"), "attribute");
      if (!type || !value) throw new DerError("attribute without type or value");
      if (oidString(type) === OID_COMMON_NAME) {
        const text = directoryString(value);
        if (text === undefined) throw new DerError("CN is not a readable string");
        return text;
      }
    }
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Extensions

export interface RawExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

/** Extensions ::= SEQUENCE OF SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
export function readExtensions(seq: Tlv, what: string): RawExtension[] {
  const out: RawExtension[] = [];
  const seen = new Set<string>();
  for (const ext of kids(expect(seq, TAG_SEQUENCE, what), what)) {
    const parts = kids(expect(ext, TAG_SEQUENCE, "extension"), "extension");
    const oid = oidString(parts[0]!);
    let critical = false;
    let i = 1;
    if (parts[i]?.tag === TAG_BOOLEAN) {
      const b = parts[i]!.value;
      if (b.length !== 1 || (b[0] !== 0 && b[0] !== 0xff))
        throw new DerError("extension critical flag malformed");
      critical = b[0] === 0xff;
      i++;
    }
    const value = expect(parts[i], TAG_OCTET_STRING, `extension ${oid} value`).value;
    if (parts.length !== i + 1) throw new DerError(`extension ${oid} has extra fields`);
    // RFC 5280: an extension appears at most once; two copies invite parser confusion.
    if (seen.has(oid)) throw new ExtensionError(`extension ${oid} appears twice`);
    seen.add(oid);
    out.push({ oid, critical, value });
  }
  return out;
}

function extensionValue(ext: RawExtension): Tlv {
  try {
    return decodeDer(ext.value);
  } catch (cause) {
    throw new ExtensionError(`extension ${ext.oid} value is not DER`, { cause });
  }
}

/** basicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
export function readBasicConstraints(ext: RawExtension): { isCa: boolean; pathLength: number | undefined } {
  const parts = kids(expect(extensionValue(ext), TAG_SEQUENCE, "basicConstraints"), "basicConstraints");
  let isCa = false;
  let pathLength: number | undefined;
  let j = 0;
  if (parts[j]?.tag === TAG_BOOLEAN) {
    const b = parts[j]!.value;
    // DER TRUE is FF; anything else would be read differently by different parsers.
    if (b.length !== 1 || b[0] !== 0xff) throw new DerError("basicConstraints cA is not DER TRUE");
    isCa = b[0] === 0xff;
    j++;
  }
  if (parts[j]) pathLength = smallInteger(parts[j++]!, "pathLenConstraint");
  if (j !== parts.length) throw new DerError("basicConstraints has extra fields");
  // RFC 5280 4.2.1.9: pathLen only when cA is set (OpenSSL marks the certificate invalid).
  if (pathLength !== undefined && !isCa) throw new DerError("pathLenConstraint on a non-CA");
  return { isCa, pathLength };
}

/** keyUsage BIT STRING: unused-bits byte, then bits, digitalSignature = 0x80 of the first byte. */
export function readKeyUsage(ext: RawExtension): Set<KeyUsageName> {
  const bits = expect(extensionValue(ext), TAG_BIT_STRING, "keyUsage").value;
  if (bits.length < 2 || bits.length > 3 || bits[0]! > 7) throw new DerError("keyUsage bit string malformed");
  const keyUsage = new Set<KeyUsageName>();
  for (let bit = 0; bit < KEY_USAGE_BITS.length; bit++)
    if (bits[1 + (bit >> 3)]! & (0x80 >> (bit & 7))) keyUsage.add(KEY_USAGE_BITS[bit]!);
  return keyUsage;
}

/** extKeyUsage ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (OID); the OIDs in order. */
export function readExtendedKeyUsage(ext: RawExtension): string[] {
  const purposes = kids(expect(extensionValue(ext), TAG_SEQUENCE, "extKeyUsage"), "extKeyUsage");
  if (purposes.length === 0) throw new DerError("extKeyUsage is empty");
  return purposes.map(oidString);
}

/** subjectKeyIdentifier ::= OCTET STRING */
export function readSubjectKeyId(ext: RawExtension): Uint8Array {
  return expect(extensionValue(ext), TAG_OCTET_STRING, "subjectKeyIdentifier").value;
}

/** SEQUENCE { [0] keyIdentifier OPTIONAL, [1] authorityCertIssuer OPTIONAL, [2] serial OPTIONAL } */
export function readAuthorityKeyId(ext: RawExtension): Uint8Array | undefined {
  const parts = kids(expect(extensionValue(ext), TAG_SEQUENCE, "authorityKeyIdentifier"), "AKI");
  return parts.find((p) => p.tag === 0x80)?.value;
}

/** One of our attribute extensions: a DER UTF8String (`what` names it in errors). */
export function readUtf8Extension(ext: RawExtension, what: string): string {
  const value = directoryString(expect(extensionValue(ext), TAG_UTF8_STRING, what));
  if (value === undefined) throw new DerError(`${what} is not valid UTF-8`);
  return value;
}
