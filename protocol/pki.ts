/**
 * X.509 certificates and CRLs on ECDSA P-256 / SHA-256: issuing (async, @peculiar/x509 on node's
 * WebCrypto, loaded lazily so the card and terminal hot paths never load it) and parsing + verifying
 * (synchronous, node:crypto `X509Certificate` — OpenSSL's parser — for the structure and signatures).
 *
 * Node exposes neither pathLenConstraint, nor keyUsage bits, nor private extensions, and its
 * `checkIssued` accepts a CA:FALSE issuer that lacks keyUsage (where `openssl verify` refuses): so the
 * extensions are read from the DER here (with the BER-TLV codec of ./tlv.ts, which is DER-strict on
 * lengths) and every path rule is checked by `TrustStore.verifyChain` itself.
 *
 * Our attributes are non-critical private extensions, each value a DER UTF8String, under the arc
 * 1.3.6.1.4.1.59999.1 — illustrative only: a real deployment registers its own IANA Private
 * Enterprise Number and uses that arc.
 */
import {
  createHash,
  createPublicKey,
  type KeyObject,
  verify as nodeVerify,
  webcrypto,
  X509Certificate,
} from "node:crypto";
import { asBuffer, equalBytes, fromUtf8, hex } from "./bytes.js";
import { type RandomSource, rawPublicKey, systemRandom } from "./crypto.js";
import { ProtocolError, type ProtocolErrorCode } from "./errors.js";
import { decodeOne, type Tlv } from "./tlv.js";

export const OID_WALLET_ID = "1.3.6.1.4.1.59999.1.1";
export const OID_TERMINAL_ID = "1.3.6.1.4.1.59999.1.2";
export const OID_MERCHANT_ID = "1.3.6.1.4.1.59999.1.3";
/** ISO 18245 merchant category code, 4 digits. */
export const OID_MERCHANT_CATEGORY = "1.3.6.1.4.1.59999.1.4";
/** ISO 3166-1 alpha-2 country ("TW") or an ISO 3166-2 subdivision ("TW-TPE"). */
export const OID_REGION = "1.3.6.1.4.1.59999.1.5";
export const OID_MERCHANT_NAME = "1.3.6.1.4.1.59999.1.6";

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_SUBJECT_KEY_ID = "2.5.29.14";
const OID_AUTHORITY_KEY_ID = "2.5.29.35";
const OID_CRL_NUMBER = "2.5.29.20";
const OID_CRL_REASON = "2.5.29.21";
const OID_INVALIDITY_DATE = "2.5.29.24";
const OID_COMMON_NAME = "2.5.4.3";
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_PRIME256V1 = "1.2.840.10045.3.1.7";
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";

export interface CertAttributes {
  walletId?: string;
  terminalId?: string;
  merchantId?: string;
  merchantCategory?: string;
  region?: string;
  merchantName?: string;
}

const ATTRIBUTE_OIDS: Record<keyof CertAttributes, string> = {
  walletId: OID_WALLET_ID,
  terminalId: OID_TERMINAL_ID,
  merchantId: OID_MERCHANT_ID,
  merchantCategory: OID_MERCHANT_CATEGORY,
  region: OID_REGION,
  merchantName: OID_MERCHANT_NAME,
};
const ATTRIBUTE_BY_OID = new Map(
  Object.entries(ATTRIBUTE_OIDS).map(([name, oid]) => [oid, name as keyof CertAttributes]),
);

const ATTRIBUTE_MAX_BYTES = 64;
const ATTRIBUTE_FORMATS: Partial<Record<keyof CertAttributes, RegExp>> = {
  merchantCategory: /^\d{4}$/,
  region: /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/,
};

/** Why an attribute value is unacceptable, or undefined when it is fine. */
function attributeProblem(name: keyof CertAttributes, value: string): string | undefined {
  const length = Buffer.byteLength(value, "utf8");
  if (length === 0 || length > ATTRIBUTE_MAX_BYTES) return `${name} must be 1..${ATTRIBUTE_MAX_BYTES} bytes`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return `${name} contains control characters`;
  const format = ATTRIBUTE_FORMATS[name];
  if (format && !format.test(value)) return `${name} does not match ${format}`;
  return undefined;
}

export type CertRole = "root" | "ca" | "card" | "terminal";

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

export interface IssueOptions {
  role: CertRole;
  subjectCommonName: string;
  /**
   * Subject O; default "tapwallet". Subjects are CN + O only: every byte of a leaf crosses the air
   * on each tap (a card leaf is ~445 bytes, a terminal leaf with all attributes ~530).
   */
  subjectOrganization?: string;
  publicKey: KeyObject;
  issuer: { certificate: Uint8Array; privateKey: KeyObject } | { selfSigned: true; privateKey: KeyObject };
  /** Hex, positive; leading zeros are dropped. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** pathLenConstraint of a CA certificate. */
  pathLength?: number;
  attributes?: CertAttributes;
  /** "default": CA keyCertSign + cRLSign, leaf digitalSignature + keyAgreement; "none": no extension. */
  keyUsage?: "default" | "none" | KeyUsageName[];
  /** Overrides basicConstraints cA (hostile fixtures: a leaf marked CA, a CA marked not-CA). */
  caFlag?: boolean;
  /** Extra extensions as DER, for hostile fixtures (an unknown critical extension). */
  extraExtensions?: readonly { oid: string; critical: boolean; value: Uint8Array }[];
}

/** Certificates from the wire are refused above this size before any parsing. */
export const MAX_CERT_BYTES = 2048;

/** CRLs come from the acquirer: bounded too (≈ 100,000 entries of ~40 bytes). */
export const MAX_CRL_BYTES = 4 * 1024 * 1024;

export interface Certificate {
  readonly der: Uint8Array;
  /** node:crypto's (OpenSSL's) view of the certificate. */
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  /** Lower-case hex without leading zeros ("1001", "a3f"). */
  readonly serialNumber: string;
  /** SHA-256 of the DER, lower-case hex. */
  readonly fingerprint: string;
  /** "CN=…, O=…" (node's rendering, one attribute per comma). */
  readonly subject: string;
  readonly issuer: string;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  /** Undefined when the certificate has no keyUsage extension. */
  readonly keyUsage: ReadonlySet<KeyUsageName> | undefined;
  readonly attributes: CertAttributes;
  readonly unknownCriticalExtensions: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// DER reading on top of the BER-TLV codec

const TAG_BOOLEAN = 0x01;
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_UTF8_STRING = 0x0c;
const TAG_PRINTABLE_STRING = 0x13;
const TAG_T61_STRING = 0x14;
const TAG_IA5_STRING = 0x16;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;

/** Thrown inside the DER readers; converted to the caller's code (certificate or CRL). */
class DerError extends Error {}

function decodeDer(bytes: Uint8Array): Tlv {
  try {
    // Certificates nest ~7 levels (Name: cert > tbs > name > set > seq > value); 12 leaves margin.
    return decodeOne(bytes, { maxDepth: 12 });
  } catch (cause) {
    throw new DerError(cause instanceof Error ? cause.message : "malformed DER", { cause });
  }
}

function expect(node: Tlv | undefined, tag: number, what: string): Tlv {
  if (!node || node.tag !== tag)
    throw new DerError(
      `${what}: expected tag ${tag.toString(16)}, found ${node ? node.tag.toString(16) : "nothing"}`,
    );
  return node;
}

function kids(node: Tlv, what: string): readonly Tlv[] {
  if (!node.children) throw new DerError(`${what}: expected a constructed value`);
  return node.children;
}

/** The full encodings (tag | length | value) of a constructed node's children, as views. */
function encodings(parent: Tlv): Uint8Array[] {
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

function oidString(node: Tlv): string {
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
function smallInteger(node: Tlv, what: string): number {
  expect(node, TAG_INTEGER, what);
  const v = node.value;
  if (v.length === 0 || v.length > 7) throw new DerError(`${what}: integer length out of range`);
  if (v[0]! & 0x80) throw new DerError(`${what}: negative integer`);
  if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) throw new DerError(`${what}: integer not minimal`);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** A positive serial number as normalised lower-case hex (no leading zeros). */
function serialHex(node: Tlv, what: string): string {
  expect(node, TAG_INTEGER, what);
  const v = node.value;
  // RFC 5280: at most 20 octets (21 with the sign byte); positive.
  if (v.length === 0 || v.length > 21) throw new DerError(`${what}: serial length out of range`);
  if (v[0]! & 0x80) throw new DerError(`${what}: negative serial`);
  return normalizeSerial(hex(v));
}

/**
 * A fresh serial for issuing at runtime: 16 random bytes (126 bits of entropy) with 01 as the top bits,
 * as RFC 5280 / CA/B practice want (≥ 64 bits of entropy). Fixtures use fixed serials instead.
 */
export function randomSerial(random: RandomSource = systemRandom): string {
  const bytes = new Uint8Array(random(16));
  bytes[0] = (bytes[0]! & 0x3f) | 0x40; // positive and always 16 bytes long
  return normalizeSerial(hex(bytes));
}

/** Serial numbers compare as normalised hex: lower case, no leading zeros ("0" for zero). */
export function normalizeSerial(serial: string): string {
  if (!/^[0-9a-fA-F]+$/.test(serial)) throw new RangeError(`serial number is not hexadecimal: ${serial}`);
  return serial.toLowerCase().replace(/^0+(?=.)/, "");
}

function two(s: string, i: number): number {
  const c1 = s.charCodeAt(i) - 48;
  const c2 = s.charCodeAt(i + 1) - 48;
  if (c1 < 0 || c1 > 9 || c2 < 0 || c2 > 9) throw new DerError("time has a non-digit");
  return c1 * 10 + c2;
}

/** UTCTime YYMMDDHHMMSSZ (YY ≥ 50 → 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ, as DER requires. */
function derTime(node: Tlv | undefined, what: string): Date {
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
function commonNameOf(name: Tlv): string {
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

/** A known extension whose value does not decode: PROTO_ERR_CERT_EXTENSION rather than a parse error. */
class ExtensionError extends Error {}

interface RawExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

/** Extensions ::= SEQUENCE OF SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function readExtensions(seq: Tlv, what: string): RawExtension[] {
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

// ---------------------------------------------------------------------------------------------
// Certificates

interface CertificateFields {
  der: Uint8Array;
  x509: X509Certificate;
  serialNumber: string;
  fingerprint: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  pathLength: number | undefined;
  keyUsage: ReadonlySet<KeyUsageName> | undefined;
  attributes: CertAttributes;
  unknownCriticalExtensions: readonly string[];
  subjectName: Uint8Array;
  issuerName: Uint8Array;
  subjectKeyId: Uint8Array | undefined;
  authorityKeyId: Uint8Array | undefined;
}

/** The parsed certificate; the DER Names and key identifiers are kept for path building. */
class ParsedCertificate implements Certificate {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly serialNumber: string;
  readonly fingerprint: string;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  readonly keyUsage: ReadonlySet<KeyUsageName> | undefined;
  readonly attributes: CertAttributes;
  readonly unknownCriticalExtensions: readonly string[];
  /** DER of the subject Name, compared byte for byte with a child's issuer Name. */
  readonly subjectName: Uint8Array;
  readonly issuerName: Uint8Array;
  readonly subjectKeyId: Uint8Array | undefined;
  readonly authorityKeyId: Uint8Array | undefined;
  #publicKey: KeyObject | undefined;
  #subject: string | undefined;
  #issuer: string | undefined;

  constructor(f: CertificateFields) {
    this.der = f.der;
    this.x509 = f.x509;
    this.serialNumber = f.serialNumber;
    this.fingerprint = f.fingerprint;
    this.commonName = f.commonName;
    this.notBefore = f.notBefore;
    this.notAfter = f.notAfter;
    this.isCa = f.isCa;
    this.pathLength = f.pathLength;
    this.keyUsage = f.keyUsage;
    this.attributes = f.attributes;
    this.unknownCriticalExtensions = f.unknownCriticalExtensions;
    this.subjectName = f.subjectName;
    this.issuerName = f.issuerName;
    this.subjectKeyId = f.subjectKeyId;
    this.authorityKeyId = f.authorityKeyId;
  }

  // Lazy: node builds a new KeyObject / string on every access, and the hot path needs only some.
  get publicKey(): KeyObject {
    this.#publicKey ??= this.x509.publicKey;
    return this.#publicKey;
  }
  get subject(): string {
    this.#subject ??= this.x509.subject.split("\n").join(", ");
    return this.#subject;
  }
  get issuer(): string {
    this.#issuer ??= this.x509.issuer.split("\n").join(", ");
    return this.#issuer;
  }

  toJSON(): Record<string, unknown> {
    return {
      subject: this.subject,
      issuer: this.issuer,
      serialNumber: this.serialNumber,
      fingerprint: this.fingerprint,
      notBefore: this.notBefore.toISOString(),
      notAfter: this.notAfter.toISOString(),
      isCa: this.isCa,
      attributes: this.attributes,
    };
  }
}

function certError(
  code: ProtocolErrorCode,
  message: string,
  cause?: unknown,
  details?: Record<string, unknown>,
) {
  return new ProtocolError(code, message, {
    ...(cause === undefined ? {} : { cause }),
    ...(details === undefined ? {} : { details }),
  });
}

/**
 * Parse a DER certificate from an untrusted source. Size first (> MAX_CERT_BYTES →
 * PROTO_ERR_CERT_TOO_LARGE before any parsing), then the DER structure, node's (OpenSSL's) parser,
 * P-256 / ecdsa-with-SHA256 only (PROTO_ERR_CERT_ALGORITHM); a malformed known extension →
 * PROTO_ERR_CERT_EXTENSION; anything else malformed → PROTO_ERR_CERT_PARSE. It checks no signature,
 * date or chain: that is TrustStore.verifyChain.
 */
export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > MAX_CERT_BYTES)
    throw certError(
      "PROTO_ERR_CERT_TOO_LARGE",
      `certificate is ${der.length} bytes (at most ${MAX_CERT_BYTES})`,
      undefined,
      {
        length: der.length,
        max: MAX_CERT_BYTES,
      },
    );
  // Own copy: the caller's receive buffer may be reused after we return.
  const bytes = new Uint8Array(der);
  try {
    return parseCertificateBytes(bytes);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    if (e instanceof ExtensionError) throw certError("PROTO_ERR_CERT_EXTENSION", e.message, e);
    throw certError("PROTO_ERR_CERT_PARSE", `certificate is not valid DER X.509: ${(e as Error).message}`, e);
  }
}

function parseCertificateBytes(der: Uint8Array): ParsedCertificate {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  const cert = expect(decodeDer(der), TAG_SEQUENCE, "Certificate");
  const [tbs, sigAlg, sigValue, extra] = kids(cert, "Certificate");
  if (!tbs || !sigAlg || !sigValue || extra) throw new DerError("Certificate must have exactly 3 fields");
  expect(tbs, TAG_SEQUENCE, "tbsCertificate");
  expect(sigAlg, TAG_SEQUENCE, "signatureAlgorithm");
  expect(sigValue, TAG_BIT_STRING, "signatureValue");

  // TBSCertificate ::= SEQUENCE { [0] version, serial, signature, issuer, validity, subject, spki,
  //                              [1] issuerUID, [2] subjectUID, [3] extensions }
  const fields = kids(tbs, "tbsCertificate");
  const tbsEnc = encodings(tbs);
  let i = 0;
  let version = 0;
  if (fields[0]?.tag === 0xa0) {
    version = smallInteger(kids(fields[0], "version")[0]!, "version");
    i++;
  }
  if (version > 2) throw new DerError(`unknown X.509 version ${version + 1}`);
  const serialNumber = serialHex(fields[i++]!, "serialNumber");
  const innerAlgIndex = i;
  expect(fields[i++], TAG_SEQUENCE, "signature");
  const issuerName = tbsEnc[i]!;
  expect(fields[i++], TAG_SEQUENCE, "issuer");
  const validity = kids(expect(fields[i++], TAG_SEQUENCE, "validity"), "validity");
  if (validity.length !== 2) throw new DerError("validity must have 2 times");
  const notBefore = derTime(validity[0], "notBefore");
  const notAfter = derTime(validity[1], "notAfter");
  const subjectNode = expect(fields[i], TAG_SEQUENCE, "subject");
  const subjectName = tbsEnc[i++]!;
  const spki = kids(expect(fields[i++], TAG_SEQUENCE, "subjectPublicKeyInfo"), "subjectPublicKeyInfo");
  if (fields[i]?.tag === 0x81 || fields[i]?.tag === 0xa1) i++;
  if (fields[i]?.tag === 0x82 || fields[i]?.tag === 0xa2) i++;
  let extensions: RawExtension[] = [];
  if (fields[i]?.tag === 0xa3) {
    if (version !== 2) throw new DerError("extensions in a certificate that is not v3");
    const inner = kids(fields[i]!, "extensions");
    if (inner.length !== 1) throw new DerError("[3] must hold one SEQUENCE");
    extensions = readExtensions(inner[0]!, "extensions");
    i++;
  }
  if (i !== fields.length) throw new DerError("unexpected fields at the end of tbsCertificate");
  if (!equalBytes(tbsEnc[innerAlgIndex]!, encodings(cert)[1]!))
    throw new DerError("inner and outer signature algorithms differ");

  // OpenSSL's parser validates what we did not (string types, key encoding) and gives us verify().
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(asBuffer(der));
  } catch (cause) {
    throw certError("PROTO_ERR_CERT_PARSE", "OpenSSL cannot parse the certificate", cause);
  }

  // P-256 and ECDSA-SHA256 only: SEQUENCE { OID id-ecPublicKey, OID prime256v1 }
  const algorithm = kids(expect(spki[0], TAG_SEQUENCE, "spki algorithm"), "spki algorithm");
  const keyType = algorithm[0] ? oidString(algorithm[0]) : "";
  const curve = algorithm[1]?.tag === TAG_OID ? oidString(algorithm[1]) : "";
  const signatureAlg = oidString(kids(sigAlg, "signatureAlgorithm")[0]!);
  if (keyType !== OID_EC_PUBLIC_KEY || curve !== OID_PRIME256V1 || signatureAlg !== OID_ECDSA_SHA256)
    throw certError("PROTO_ERR_CERT_ALGORITHM", "certificate is not ECDSA P-256 with SHA-256", undefined, {
      keyType,
      curve,
      signatureAlgorithm: signatureAlg,
    });

  let isCa = false;
  let pathLength: number | undefined;
  let keyUsage: Set<KeyUsageName> | undefined;
  let subjectKeyId: Uint8Array | undefined;
  let authorityKeyId: Uint8Array | undefined;
  const attributes: CertAttributes = {};
  const unknownCritical: string[] = [];
  for (const ext of extensions) {
    try {
      switch (ext.oid) {
        case OID_BASIC_CONSTRAINTS: {
          // SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
          const parts = kids(
            expect(extensionValue(ext), TAG_SEQUENCE, "basicConstraints"),
            "basicConstraints",
          );
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
          break;
        }
        case OID_KEY_USAGE: {
          // BIT STRING: unused-bits byte, then bits, digitalSignature = 0x80 of the first byte.
          const bits = expect(extensionValue(ext), TAG_BIT_STRING, "keyUsage").value;
          if (bits.length < 2 || bits.length > 3 || bits[0]! > 7)
            throw new DerError("keyUsage bit string malformed");
          keyUsage = new Set();
          for (let bit = 0; bit < KEY_USAGE_BITS.length; bit++)
            if (bits[1 + (bit >> 3)]! & (0x80 >> (bit & 7))) keyUsage.add(KEY_USAGE_BITS[bit]!);
          break;
        }
        case OID_SUBJECT_KEY_ID:
          subjectKeyId = expect(extensionValue(ext), TAG_OCTET_STRING, "subjectKeyIdentifier").value;
          break;
        case OID_AUTHORITY_KEY_ID: {
          // SEQUENCE { [0] keyIdentifier OPTIONAL, [1] authorityCertIssuer OPTIONAL, [2] serial OPTIONAL }
          const parts = kids(expect(extensionValue(ext), TAG_SEQUENCE, "authorityKeyIdentifier"), "AKI");
          authorityKeyId = parts.find((p) => p.tag === 0x80)?.value;
          break;
        }
        default: {
          const attribute = ATTRIBUTE_BY_OID.get(ext.oid);
          if (attribute) {
            const value = directoryString(expect(extensionValue(ext), TAG_UTF8_STRING, attribute));
            if (value === undefined) throw new DerError(`${attribute} is not valid UTF-8`);
            const problem = attributeProblem(attribute, value);
            if (problem) throw new DerError(problem);
            attributes[attribute] = value;
          } else if (ext.critical) unknownCritical.push(ext.oid);
        }
      }
    } catch (e) {
      if (e instanceof ExtensionError) throw e;
      throw new ExtensionError(`extension ${ext.oid} is malformed: ${(e as Error).message}`, { cause: e });
    }
  }

  return new ParsedCertificate({
    der,
    x509,
    serialNumber,
    fingerprint: createHash("sha256").update(der).digest("hex"),
    commonName: commonNameOf(subjectNode),
    notBefore,
    notAfter,
    isCa,
    pathLength,
    keyUsage,
    attributes,
    unknownCriticalExtensions: unknownCritical,
    subjectName,
    issuerName,
    subjectKeyId,
    authorityKeyId,
  });
}

/** Parse a PEM certificate ("-----BEGIN CERTIFICATE-----"); the first one when there are several. */
export function certificateFromPem(pem: string): Certificate {
  return parseCertificate(pemBody(pem, "CERTIFICATE", "PROTO_ERR_CERT_PARSE"));
}

function pemBody(pem: string, label: string, code: ProtocolErrorCode): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!match) throw new ProtocolError(code, `no ${label} PEM block`);
  return new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"));
}

/** Our parsed view of a certificate; re-parses one made elsewhere (a plain object with `der`). */
function parsed(cert: Certificate): ParsedCertificate {
  return cert instanceof ParsedCertificate ? cert : (parseCertificate(cert.der) as ParsedCertificate);
}

// ---------------------------------------------------------------------------------------------
// CRLs

export interface Crl {
  readonly der: Uint8Array;
  readonly issuerFingerprint: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly crlNumber: number | undefined;
  /** Normalised hex serials (see Certificate.serialNumber). */
  readonly revokedSerials: ReadonlySet<string>;
}

/**
 * Parse a DER CRL and verify its signature with `issuer`'s key (node:crypto over the DER
 * tbsCertList). The issuer must be the CRL's issuer by Name and hold cRLSign; otherwise, or when the
 * signature fails, PROTO_ERR_CRL_SIGNATURE. Malformed DER, an unknown critical CRL or entry extension
 * (delta CRLs, indirect CRLs, distribution points are not supported) → PROTO_ERR_CRL_PARSE.
 * Freshness (nextUpdate) is the caller's policy: a terminal decides how stale a hotlist may be.
 */
export function parseCrl(der: Uint8Array, issuer: Certificate): Crl {
  if (der.length > MAX_CRL_BYTES)
    throw new ProtocolError("PROTO_ERR_CRL_PARSE", `CRL is ${der.length} bytes (at most ${MAX_CRL_BYTES})`);
  const bytes = new Uint8Array(der);
  const ca = parsed(issuer);
  let body: ReturnType<typeof readCrl>;
  try {
    body = readCrl(bytes);
  } catch (e) {
    throw new ProtocolError("PROTO_ERR_CRL_PARSE", `CRL is not valid DER: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!equalBytes(body.issuerName, ca.subjectName))
    throw new ProtocolError("PROTO_ERR_CRL_SIGNATURE", "CRL issuer is not the given CA", {
      details: { ca: ca.subject },
    });
  if (ca.keyUsage !== undefined && !ca.keyUsage.has("cRLSign"))
    throw new ProtocolError("PROTO_ERR_CRL_SIGNATURE", "CA certificate does not allow cRLSign");
  let ok = false;
  try {
    ok =
      body.signatureAlgorithm === OID_ECDSA_SHA256 &&
      nodeVerify("sha256", body.tbs, { key: ca.publicKey, dsaEncoding: "der" }, body.signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new ProtocolError("PROTO_ERR_CRL_SIGNATURE", "CRL signature does not verify with its issuer key");
  return {
    der: bytes,
    issuerFingerprint: ca.fingerprint,
    thisUpdate: body.thisUpdate,
    nextUpdate: body.nextUpdate,
    crlNumber: body.crlNumber,
    revokedSerials: body.revoked,
  };
}

/** Parse a PEM CRL ("X509 CRL", or peculiar's "CRL" label). */
export function crlFromPem(pem: string, issuer: Certificate): Crl {
  const label = pem.includes("BEGIN X509 CRL") ? "X509 CRL" : "CRL";
  return parseCrl(pemBody(pem, label, "PROTO_ERR_CRL_PARSE"), issuer);
}

const KNOWN_CRL_EXTENSIONS = new Set([OID_CRL_NUMBER, OID_AUTHORITY_KEY_ID]);
const KNOWN_CRL_ENTRY_EXTENSIONS = new Set([OID_CRL_REASON, OID_INVALIDITY_DATE]);

function readCrl(der: Uint8Array) {
  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
  const list = expect(decodeDer(der), TAG_SEQUENCE, "CertificateList");
  const [tbs, sigAlg, sigValue, extra] = kids(list, "CertificateList");
  if (!tbs || !sigAlg || !sigValue || extra) throw new DerError("CertificateList must have exactly 3 fields");
  expect(tbs, TAG_SEQUENCE, "tbsCertList");
  const bits = expect(sigValue, TAG_BIT_STRING, "signatureValue").value;
  if (bits.length < 2 || bits[0] !== 0) throw new DerError("signature bit string malformed");
  const listEnc = encodings(list);

  // TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature, issuer, thisUpdate, nextUpdate
  //   OPTIONAL, revokedCertificates SEQUENCE OF SEQUENCE { serial, date, extensions OPTIONAL }
  //   OPTIONAL, [0] crlExtensions OPTIONAL }
  const fields = kids(tbs, "tbsCertList");
  const tbsEnc = encodings(tbs);
  let i = 0;
  if (fields[0]?.tag === TAG_INTEGER) {
    if (smallInteger(fields[0], "version") !== 1) throw new DerError("CRL version must be v2");
    i++;
  }
  const innerAlg = i;
  expect(fields[i++], TAG_SEQUENCE, "signature");
  if (!equalBytes(tbsEnc[innerAlg]!, listEnc[1]!))
    throw new DerError("inner and outer signature algorithms differ");
  const issuerName = tbsEnc[i]!;
  expect(fields[i++], TAG_SEQUENCE, "issuer");
  const thisUpdate = derTime(fields[i++], "thisUpdate");
  let nextUpdate: Date | undefined;
  if (fields[i]?.tag === TAG_UTC_TIME || fields[i]?.tag === TAG_GENERALIZED_TIME)
    nextUpdate = derTime(fields[i++], "nextUpdate");
  const revoked = new Set<string>();
  if (fields[i]?.tag === TAG_SEQUENCE) {
    for (const entry of kids(fields[i++]!, "revokedCertificates")) {
      const parts = kids(expect(entry, TAG_SEQUENCE, "revoked entry"), "revoked entry");
      revoked.add(serialHex(parts[0]!, "revoked serial"));
      derTime(parts[1], "revocationDate");
      if (parts[2]) {
        for (const ext of readExtensions(parts[2], "entry extensions"))
          if (ext.critical && !KNOWN_CRL_ENTRY_EXTENSIONS.has(ext.oid))
            throw new DerError(`unsupported critical CRL entry extension ${ext.oid}`);
      }
      if (parts.length > 3) throw new DerError("revoked entry has extra fields");
    }
  }
  let crlNumber: number | undefined;
  if (fields[i]?.tag === 0xa0) {
    const inner = kids(fields[i++]!, "crlExtensions");
    if (inner.length !== 1) throw new DerError("[0] must hold one SEQUENCE");
    for (const ext of readExtensions(inner[0]!, "crlExtensions")) {
      if (ext.oid === OID_CRL_NUMBER) crlNumber = smallInteger(decodeDer(ext.value), "cRLNumber");
      else if (ext.critical && !KNOWN_CRL_EXTENSIONS.has(ext.oid))
        throw new DerError(`unsupported critical CRL extension ${ext.oid}`);
    }
  }
  if (i !== fields.length) throw new DerError("unexpected fields at the end of tbsCertList");
  return {
    tbs: listEnc[0]!,
    signatureAlgorithm: oidString(kids(sigAlg, "signatureAlgorithm")[0]!),
    signature: bits.subarray(1),
    issuerName,
    thisUpdate,
    nextUpdate,
    crlNumber,
    revoked,
  };
}

// ---------------------------------------------------------------------------------------------
// Chain verification

export interface VerifyOptions {
  /** The time of use (the terminal's clock, the record's time). */
  at: Date;
  /** What the leaf must be: a card (walletId), a terminal (terminalId + merchantId) or a CA. */
  role: "card" | "terminal" | "ca";
  /** CRLs already verified by parseCrl; each certificate is checked against its issuer's. */
  crls?: readonly Crl[];
}

/** Longest path we try to build (leaf + intermediates + root): our PKI has 3. */
const MAX_PATH = 6;
/** Bound on the verified-link cache (links are only cached after a signature verified). */
const MAX_CACHED_LINKS = 4096;

/**
 * Trust anchors plus the intermediates the holder already knows (a terminal knows the issuer CAs it
 * accepts). Synchronous; it caches each verified CA→issuer link by fingerprints, so verifying many
 * leaves from one issuer costs one signature check per leaf.
 */
export class TrustStore {
  readonly #roots: ParsedCertificate[];
  readonly #rootFingerprints: Set<string>;
  readonly #intermediates: ParsedCertificate[];
  readonly #verifiedLinks = new Set<string>();

  constructor(roots: readonly Certificate[], knownIntermediates: readonly Certificate[] = []) {
    this.#roots = roots.map(parsed);
    this.#rootFingerprints = new Set(this.#roots.map((r) => r.fingerprint));
    this.#intermediates = knownIntermediates.map(parsed);
    for (const root of this.#roots)
      if (!root.isCa || !root.keyUsage?.has("keyCertSign"))
        throw new ProtocolError("PROTO_ERR_CERT_NOT_CA", `trust anchor ${root.subject} is not a CA`);
  }

  /** The trusted roots (for personalising a card with the root key, for listings). */
  get roots(): readonly Certificate[] {
    return this.#roots;
  }

  /**
   * Verifies leaf ← intermediates ← a trusted root and returns the path leaf-first (root last).
   * Throws ProtocolError with the precise PROTO_ERR_CERT_* code:
   * ISSUER (no path to a trusted root), SIGNATURE, EXTENSION (unknown critical), NOT_CA,
   * PATH_LENGTH, EXPIRED / NOT_YET_VALID (any certificate of the path), KEY_USAGE (leaf),
   * ROLE (leaf attributes, or a CA used as a card/terminal), REVOKED (any certificate whose
   * issuer's CRL is given).
   */
  verifyChain(
    leaf: Certificate,
    presentedIntermediates: readonly Certificate[],
    options: VerifyOptions,
  ): Certificate[] {
    // A path has at most MAX_PATH certificates: more presented ones than that is noise or an attack.
    if (presentedIntermediates.length > MAX_PATH)
      throw certError(
        "PROTO_ERR_CERT_ISSUER",
        `${presentedIntermediates.length} intermediates presented`,
        undefined,
        {
          max: MAX_PATH,
        },
      );
    const path = this.#buildPath(parsed(leaf), presentedIntermediates.map(parsed));
    const at = options.at.getTime();

    for (const cert of path)
      if (cert.unknownCriticalExtensions.length > 0)
        throw certError(
          "PROTO_ERR_CERT_EXTENSION",
          `${cert.subject} has an unknown critical extension`,
          undefined,
          {
            subject: cert.subject,
            extensions: cert.unknownCriticalExtensions,
          },
        );

    for (let i = 1; i < path.length; i++) {
      const ca = path[i]!;
      if (!ca.isCa || !ca.keyUsage?.has("keyCertSign"))
        throw certError(
          "PROTO_ERR_CERT_NOT_CA",
          `${ca.subject} issued a certificate but is not a CA`,
          undefined,
          {
            subject: ca.subject,
            isCa: ca.isCa,
            keyUsage: ca.keyUsage ? [...ca.keyUsage] : null,
          },
        );
      // Intermediate CAs between this CA and the leaf (the leaf itself does not count).
      if (ca.pathLength !== undefined && i - 1 > ca.pathLength)
        throw certError(
          "PROTO_ERR_CERT_PATH_LENGTH",
          `${ca.subject} allows ${ca.pathLength} CA(s) below it`,
          undefined,
          {
            subject: ca.subject,
            pathLength: ca.pathLength,
            below: i - 1,
          },
        );
    }

    for (const cert of path) {
      if (at < cert.notBefore.getTime())
        throw certError(
          "PROTO_ERR_CERT_NOT_YET_VALID",
          `${cert.subject} is valid from ${cert.notBefore.toISOString()}`,
          undefined,
          {
            subject: cert.subject,
            notBefore: cert.notBefore.toISOString(),
            at: options.at.toISOString(),
          },
        );
      if (at > cert.notAfter.getTime())
        throw certError(
          "PROTO_ERR_CERT_EXPIRED",
          `${cert.subject} expired ${cert.notAfter.toISOString()}`,
          undefined,
          {
            subject: cert.subject,
            notAfter: cert.notAfter.toISOString(),
            at: options.at.toISOString(),
          },
        );
    }

    const end = path[0]!;
    if (options.role === "ca") {
      if (!end.isCa || !end.keyUsage?.has("keyCertSign"))
        throw certError("PROTO_ERR_CERT_NOT_CA", `${end.subject} is not a CA`, undefined, {
          subject: end.subject,
        });
    } else {
      if (!end.keyUsage?.has("digitalSignature"))
        throw certError(
          "PROTO_ERR_CERT_KEY_USAGE",
          `${end.subject} keyUsage does not allow digitalSignature`,
          undefined,
          {
            subject: end.subject,
            keyUsage: end.keyUsage ? [...end.keyUsage] : null,
          },
        );
      const a = end.attributes;
      const missing =
        options.role === "card"
          ? a.walletId === undefined
            ? "walletId"
            : undefined
          : a.terminalId === undefined
            ? "terminalId"
            : a.merchantId === undefined
              ? "merchantId"
              : undefined;
      if (missing)
        throw certError(
          "PROTO_ERR_CERT_ROLE",
          `${end.subject} has no ${missing} for a ${options.role}`,
          undefined,
          {
            subject: end.subject,
            role: options.role,
            missing,
          },
        );
      // A CA key must not double as a card or terminal key (nor can a card certify another one).
      if (end.isCa)
        throw certError("PROTO_ERR_CERT_ROLE", `${end.subject} is a CA, not a ${options.role}`, undefined, {
          subject: end.subject,
          role: options.role,
        });
    }

    const crls = options.crls ?? [];
    if (crls.length > 0) {
      for (let i = 0; i + 1 < path.length; i++) {
        const cert = path[i]!;
        const issuerFingerprint = path[i + 1]!.fingerprint;
        for (const crl of crls)
          if (crl.issuerFingerprint === issuerFingerprint && crl.revokedSerials.has(cert.serialNumber))
            throw certError(
              "PROTO_ERR_CERT_REVOKED",
              `${cert.subject} (serial ${cert.serialNumber}) is revoked`,
              undefined,
              {
                subject: cert.subject,
                serialNumber: cert.serialNumber,
              },
            );
      }
    }
    return path;
  }

  /** Leaf-first path to a trusted root, every link's signature verified (CA links from the cache). */
  #buildPath(leaf: ParsedCertificate, presented: ParsedCertificate[]): ParsedCertificate[] {
    const path = [leaf];
    let current = leaf;
    while (!this.#rootFingerprints.has(current.fingerprint)) {
      if (path.length >= MAX_PATH)
        throw certError(
          "PROTO_ERR_CERT_ISSUER",
          "no path to a trusted root within the length bound",
          undefined,
          {
            leaf: leaf.subject,
          },
        );
      const inPath = (c: ParsedCertificate) => path.some((p) => p.fingerprint === c.fingerprint);
      const fits = (c: ParsedCertificate) =>
        equalBytes(c.subjectName, current.issuerName) &&
        !(current.authorityKeyId && c.subjectKeyId && !equalBytes(current.authorityKeyId, c.subjectKeyId)) &&
        !inPath(c);
      // Roots first: a trusted anchor ends the path even if a copy was also presented.
      const candidates = [
        ...this.#roots.filter(fits),
        ...presented.filter(fits),
        ...this.#intermediates.filter(fits),
      ];
      if (candidates.length === 0)
        throw certError("PROTO_ERR_CERT_ISSUER", `no trusted issuer for ${current.subject}`, undefined, {
          subject: current.subject,
          issuer: current.issuer,
        });
      const issuer = candidates.find((c) => this.#linkVerifies(current, c));
      if (!issuer)
        throw certError(
          "PROTO_ERR_CERT_SIGNATURE",
          `signature of ${current.subject} does not verify`,
          undefined,
          {
            subject: current.subject,
            issuer: current.issuer,
          },
        );
      path.push(issuer);
      current = issuer;
    }
    return path;
  }

  #linkVerifies(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
    const key = `${child.fingerprint}>${issuer.fingerprint}`;
    if (this.#verifiedLinks.has(key)) return true;
    let ok: boolean;
    try {
      ok = child.x509.verify(issuer.publicKey);
    } catch {
      ok = false;
    }
    // Only CA links are cached: a leaf is checked on every call (it is a new certificate each tap).
    if (ok && child.isCa) {
      if (this.#verifiedLinks.size >= MAX_CACHED_LINKS) this.#verifiedLinks.clear();
      this.#verifiedLinks.add(key);
    }
    return ok;
  }
}

// ---------------------------------------------------------------------------------------------
// Issuing (async; @peculiar/x509 on node's WebCrypto, loaded on first use)

type X509Lib = typeof import("@peculiar/x509");
let x509Lib: Promise<X509Lib> | undefined;

function loadX509(): Promise<X509Lib> {
  x509Lib ??= (async () => {
    // @peculiar/x509 2.x needs the reflect polyfill loaded before it (tsyringe).
    await import("reflect-metadata");
    const lib = await import("@peculiar/x509");
    lib.cryptoProvider.set(webcrypto as unknown as ReturnType<X509Lib["cryptoProvider"]["get"]>);
    return lib;
  })();
  return x509Lib;
}

const signingKeys = new WeakMap<KeyObject, Promise<webcrypto.CryptoKey>>();

function signingKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  let key = signingKeys.get(privateKey);
  if (!key) {
    const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
    key = webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
    ]) as Promise<webcrypto.CryptoKey>;
    signingKeys.set(privateKey, key);
  }
  return key;
}

const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" };

function samePublicKey(privateKey: KeyObject, publicKey: KeyObject): boolean {
  return equalBytes(rawPublicKey(createPublicKey(privateKey)), rawPublicKey(publicKey));
}

/**
 * Key identifier by RFC 5280 4.2.1.2 method 2: 0100 then the low 60 bits of SHA-1(subjectPublicKey),
 * 8 bytes instead of 20 — it appears in every leaf's AKI and every byte costs air time.
 */
function keyIdentifier(publicKey: KeyObject): string {
  const digest = createHash("sha1").update(rawPublicKey(publicKey)).digest();
  const id = digest.subarray(digest.length - 8);
  id[0] = (id[0]! & 0x0f) | 0x40;
  return hex(id);
}

/** A standalone ArrayBuffer copy (WebCrypto-typed APIs want ArrayBuffer, not a view of a shared one). */
function asArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

/** Whole bytes for the hex decoder ("a3f" → "0a3f"). */
function evenHex(h: string): string {
  return h.length % 2 ? `0${h}` : h;
}

/** DER UTF8String: 0C | length | bytes. */
function utf8StringDer(text: string): Uint8Array {
  const body = Buffer.from(text, "utf8");
  const header = body.length < 0x80 ? [0x0c, body.length] : [0x0c, 0x81, body.length];
  return new Uint8Array([...header, ...body]);
}

function keyUsageFlags(lib: X509Lib, usages: readonly KeyUsageName[]): number {
  let flags = 0;
  for (const u of usages) flags |= lib.KeyUsageFlags[u];
  return flags;
}

/**
 * Issue a DER certificate signed with ECDSA P-256 / SHA-256: basicConstraints (critical), keyUsage
 * (critical), subjectKeyIdentifier, authorityKeyIdentifier (= the issuer's SKI), our attributes.
 * Subject is CN + O only, so a leaf stays ~340 bytes on the air.
 */
export async function issueCertificate(options: IssueOptions): Promise<Uint8Array> {
  const lib = await loadX509();
  const isCaRole = options.role === "root" || options.role === "ca";
  const serial = normalizeSerial(options.serialNumber);
  if (serial === "0") throw new RangeError("serial number must be positive");
  if (!(options.notAfter.getTime() > options.notBefore.getTime()))
    throw new RangeError("notAfter must be after notBefore");
  if (options.pathLength !== undefined && (!Number.isInteger(options.pathLength) || options.pathLength < 0))
    throw new RangeError("pathLength must be a non-negative integer");
  rawPublicKey(options.publicKey); // P-256 public key, or PROTO_ERR_KEY

  const spki = new Uint8Array(options.publicKey.export({ format: "der", type: "spki" }));
  // Leaf certificates travel over NFC on every tap: CN only (plus O when asked), no SKI — every
  // byte costs ~85 µs of air time at 106 kbit/s and a P-256 leaf must fit in two short APDUs.
  const organization = options.subjectOrganization ?? (isCaRole ? "tapwallet" : undefined);
  const subject = new lib.Name([
    { CN: [{ utf8String: options.subjectCommonName }] },
    ...(organization === undefined ? [] : [{ O: [{ utf8String: organization }] }]),
  ]);
  const subjectKeyId = keyIdentifier(options.publicKey);

  let issuerName: InstanceType<X509Lib["Name"]>;
  let authorityKeyId: string;
  if ("selfSigned" in options.issuer) {
    if (!samePublicKey(options.issuer.privateKey, options.publicKey))
      throw new ProtocolError("PROTO_ERR_KEY", "self-signed: the private key does not match the public key");
    issuerName = subject;
    authorityKeyId = subjectKeyId;
  } else {
    const issuer = parsed(parseCertificate(options.issuer.certificate));
    if (!samePublicKey(options.issuer.privateKey, issuer.publicKey))
      throw new ProtocolError(
        "PROTO_ERR_KEY",
        "the issuer private key does not match the issuer certificate",
      );
    // Byte-exact copy of the issuer's subject Name: chain building compares Names as bytes.
    issuerName = new lib.Name(asArrayBuffer(issuer.subjectName));
    // RFC 5280: the AKI key identifier is the issuer's SKI (whatever method the issuer used).
    authorityKeyId = issuer.subjectKeyId ? hex(issuer.subjectKeyId) : keyIdentifier(issuer.publicKey);
  }

  const isCa = options.caFlag ?? isCaRole;
  const extensions: InstanceType<X509Lib["Extension"]>[] = [
    new lib.BasicConstraintsExtension(isCa, isCa ? options.pathLength : undefined, true),
  ];
  const usage = options.keyUsage ?? "default";
  if (usage !== "none") {
    const names: readonly KeyUsageName[] =
      usage === "default"
        ? isCaRole
          ? ["keyCertSign", "cRLSign"]
          : ["digitalSignature", "keyAgreement"]
        : usage;
    extensions.push(new lib.KeyUsagesExtension(keyUsageFlags(lib, names), true));
  }
  if (isCaRole) extensions.push(new lib.SubjectKeyIdentifierExtension(subjectKeyId));
  extensions.push(new lib.AuthorityKeyIdentifierExtension(authorityKeyId));
  for (const [name, value] of Object.entries(options.attributes ?? {}) as [
    keyof CertAttributes,
    string | undefined,
  ][]) {
    if (value === undefined) continue;
    const oid = ATTRIBUTE_OIDS[name];
    if (!oid) throw new RangeError(`unknown certificate attribute ${name}`);
    const problem = attributeProblem(name, value);
    if (problem) throw new RangeError(problem);
    extensions.push(new lib.Extension(oid, false, utf8StringDer(value)));
  }
  for (const extra of options.extraExtensions ?? [])
    extensions.push(new lib.Extension(extra.oid, extra.critical, extra.value));

  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: evenHex(serial),
    subject,
    issuer: issuerName,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    publicKey: asArrayBuffer(spki),
    signingKey: await signingKey(options.issuer.privateKey),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

const CRL_REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
] as const;

/** DER INTEGER for a CRL number (non-negative). */
function integerDer(n: number): Uint8Array {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]);
}

/**
 * Issue a DER X.509 v2 CRL (ECDSA P-256 / SHA-256) with cRLNumber and authorityKeyIdentifier.
 * `openssl crl -verify` accepts it (as DER, or as PEM labelled "X509 CRL": see crlToPem).
 */
export async function issueCrl(options: {
  issuer: { certificate: Uint8Array; privateKey: KeyObject };
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
  revoked: { serialNumber: string; revocationDate: Date; reason?: string }[];
}): Promise<Uint8Array> {
  const lib = await loadX509();
  if (!Number.isSafeInteger(options.crlNumber) || options.crlNumber < 0)
    throw new RangeError("crlNumber must be a non-negative integer");
  const issuer = parsed(parseCertificate(options.issuer.certificate));
  if (!samePublicKey(options.issuer.privateKey, issuer.publicKey))
    throw new ProtocolError("PROTO_ERR_KEY", "the CRL signer's private key does not match its certificate");
  const extensions: InstanceType<X509Lib["Extension"]>[] = [
    new lib.Extension(OID_CRL_NUMBER, false, integerDer(options.crlNumber)),
  ];
  if (issuer.subjectKeyId) extensions.push(new lib.AuthorityKeyIdentifierExtension(hex(issuer.subjectKeyId)));
  const entries = options.revoked.map((r) => {
    let reason: number | undefined;
    if (r.reason !== undefined) {
      reason = (CRL_REASONS as readonly string[]).indexOf(r.reason);
      if (reason < 0)
        throw new RangeError(`unknown CRL reason ${r.reason} (one of ${CRL_REASONS.join(", ")})`);
    }
    return {
      serialNumber: evenHex(normalizeSerial(r.serialNumber)),
      revocationDate: r.revocationDate,
      reason,
    };
  });
  const crl = await lib.X509CrlGenerator.create({
    issuer: new lib.Name(asArrayBuffer(issuer.subjectName)),
    thisUpdate: options.thisUpdate,
    nextUpdate: options.nextUpdate,
    signingKey: await signingKey(options.issuer.privateKey),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
    entries,
  });
  return new Uint8Array(crl.rawData);
}

function pem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** PEM "CERTIFICATE". */
export function certificateToPem(der: Uint8Array): string {
  return pem(der, "CERTIFICATE");
}

/** PEM "X509 CRL" (the label OpenSSL reads; @peculiar/x509 writes "CRL"). */
export function crlToPem(der: Uint8Array): string {
  return pem(der, "X509 CRL");
}
