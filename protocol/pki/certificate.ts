/**
 * Certificates from untrusted sources: size bound, our own DER reading (./der.ts) for what node does
 * not expose, then node:crypto's `X509Certificate` (OpenSSL's parser) for the structure, the key and
 * later the signatures. Parsing checks no signature, date or chain: that is ./trust-store.ts.
 *
 * Also the vocabulary shared with issuing: certificate roles and our attributes. The attributes are
 * non-critical private extensions, each value a DER UTF8String, under the arc 1.3.6.1.4.1.59999.1; the
 * roles are extendedKeyUsage purposes under 1.3.6.1.4.1.59999.2 — illustrative only: a real deployment
 * registers its own IANA Private Enterprise Number and uses that arc.
 */
import { createHash, type KeyObject, X509Certificate } from "node:crypto";
import { asBuffer, equalBytes } from "../bytes.js";
import { ProtocolError, type ProtocolErrorCode } from "../errors.js";
import {
  commonNameOf,
  DerError,
  decodeDer,
  derTime,
  ExtensionError,
  encodings,
  expect,
  type KeyUsageName,
  kids,
  OID_AUTHORITY_KEY_ID,
  OID_BASIC_CONSTRAINTS,
  OID_EC_PUBLIC_KEY,
  OID_ECDSA_SHA256,
  OID_EXT_KEY_USAGE,
  OID_KEY_USAGE,
  OID_PRIME256V1,
  OID_SUBJECT_KEY_ID,
  oidString,
  type RawExtension,
  readAuthorityKeyId,
  readBasicConstraints,
  readExtendedKeyUsage,
  readExtensions,
  readKeyUsage,
  readSubjectKeyId,
  readUtf8Extension,
  serialHex,
  smallInteger,
  TAG_BIT_STRING,
  TAG_OID,
  TAG_SEQUENCE,
} from "./der.js";

export const OID_WALLET_ID = "1.3.6.1.4.1.59999.1.1";
export const OID_TERMINAL_ID = "1.3.6.1.4.1.59999.1.2";
export const OID_MERCHANT_ID = "1.3.6.1.4.1.59999.1.3";
/** ISO 18245 merchant category code, 4 digits. */
export const OID_MERCHANT_CATEGORY = "1.3.6.1.4.1.59999.1.4";
/** ISO 3166-1 alpha-2 country ("TW") or an ISO 3166-2 subdivision ("TW-TPE"). */
export const OID_REGION = "1.3.6.1.4.1.59999.1.5";
export const OID_MERCHANT_NAME = "1.3.6.1.4.1.59999.1.6";

export interface CertAttributes {
  walletId?: string;
  terminalId?: string;
  merchantId?: string;
  merchantCategory?: string;
  region?: string;
  merchantName?: string;
}

export const ATTRIBUTE_OIDS: Record<keyof CertAttributes, string> = {
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
export function attributeProblem(name: keyof CertAttributes, value: string): string | undefined {
  const length = Buffer.byteLength(value, "utf8");
  if (length === 0 || length > ATTRIBUTE_MAX_BYTES) return `${name} must be 1..${ATTRIBUTE_MAX_BYTES} bytes`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return `${name} contains control characters`;
  const format = ATTRIBUTE_FORMATS[name];
  if (format && !format.test(value)) return `${name} does not match ${format}`;
  return undefined;
}

/**
 * What a certificate is in the scheme's PKI. Each is marked by its own extendedKeyUsage purpose, and
 * chains are checked role by role: root → issuer-ca → card, root → acquirer-ca → terminal.
 */
export type CertRole = "root" | "issuer-ca" | "acquirer-ca" | "card" | "terminal";

/** The extendedKeyUsage purpose (KeyPurposeId) that marks each role. */
export const ROLE_OIDS: Readonly<Record<CertRole, string>> = {
  root: "1.3.6.1.4.1.59999.2.1",
  "issuer-ca": "1.3.6.1.4.1.59999.2.2",
  "acquirer-ca": "1.3.6.1.4.1.59999.2.3",
  card: "1.3.6.1.4.1.59999.2.4",
  terminal: "1.3.6.1.4.1.59999.2.5",
};
const ROLE_BY_OID = new Map(Object.entries(ROLE_OIDS).map(([role, oid]) => [oid, role as CertRole]));

/** Whether the certificate carries `role` and no other of ours (what every step of a path needs). */
export function hasRole(cert: Pick<Certificate, "roles">, role: CertRole): boolean {
  return cert.roles.length === 1 && cert.roles[0] === role;
}

/** The CA roles (the rest are leaves: card, terminal). */
export function isCaRole(role: CertRole): boolean {
  return role === "root" || role === "issuer-ca" || role === "acquirer-ca";
}

/** Certificates from the wire are refused above this size before any parsing. */
export const MAX_CERT_BYTES = 2048;

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
  /** The roles its extendedKeyUsage names (ROLE_OIDS), in order; empty without any. */
  readonly roles: readonly CertRole[];
  readonly unknownCriticalExtensions: readonly string[];
}

/** The constructor's input: every field of ParsedCertificate but the lazy ones. */
type CertificateFields = Omit<ParsedCertificate, "publicKey" | "subject" | "issuer" | "toJSON">;

/** What the extensions we know say (the defaults: those of a certificate without them). */
type ExtensionFields = Pick<
  CertificateFields,
  | "isCa"
  | "pathLength"
  | "keyUsage"
  | "attributes"
  | "roles"
  | "unknownCriticalExtensions"
  | "subjectKeyId"
  | "authorityKeyId"
>;

/** The parsed certificate; the DER Names and key identifiers are kept for path building. */
export class ParsedCertificate implements Certificate {
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
  readonly roles: readonly CertRole[];
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
    this.roles = f.roles;
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
      roles: this.roles,
      attributes: this.attributes,
    };
  }
}

export function certError(
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

  const known = readCertificateExtensions(extensions);
  return new ParsedCertificate({
    der,
    x509,
    serialNumber,
    fingerprint: createHash("sha256").update(der).digest("hex"),
    commonName: commonNameOf(subjectNode),
    notBefore,
    notAfter,
    ...known,
    subjectName,
    issuerName,
  });
}

/** The extensions we know, read in order; any failure in one → ExtensionError (PROTO_ERR_CERT_EXTENSION). */
function readCertificateExtensions(extensions: readonly RawExtension[]): ExtensionFields {
  let isCa = false;
  let pathLength: number | undefined;
  let keyUsage: Set<KeyUsageName> | undefined;
  let subjectKeyId: Uint8Array | undefined;
  let authorityKeyId: Uint8Array | undefined;
  const attributes: CertAttributes = {};
  const roles = new Set<CertRole>();
  const unknownCritical: string[] = [];
  for (const ext of extensions) {
    try {
      switch (ext.oid) {
        case OID_BASIC_CONSTRAINTS:
          ({ isCa, pathLength } = readBasicConstraints(ext));
          break;
        case OID_KEY_USAGE:
          keyUsage = readKeyUsage(ext);
          break;
        case OID_SUBJECT_KEY_ID:
          subjectKeyId = readSubjectKeyId(ext);
          break;
        case OID_AUTHORITY_KEY_ID:
          authorityKeyId = readAuthorityKeyId(ext);
          break;
        case OID_EXT_KEY_USAGE:
          // Other purposes (serverAuth, …) are allowed and ignored: only ours make a role.
          for (const purpose of readExtendedKeyUsage(ext)) {
            const role = ROLE_BY_OID.get(purpose);
            if (role) roles.add(role);
          }
          break;
        default: {
          const attribute = ATTRIBUTE_BY_OID.get(ext.oid);
          if (attribute) {
            const value = readUtf8Extension(ext, attribute);
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
  return {
    isCa,
    pathLength,
    keyUsage,
    attributes,
    roles: [...roles],
    unknownCriticalExtensions: unknownCritical,
    subjectKeyId,
    authorityKeyId,
  };
}

/** Parse a PEM certificate ("-----BEGIN CERTIFICATE-----"); the first one when there are several. */
export function certificateFromPem(pem: string): Certificate {
  return parseCertificate(pemBody(pem, "CERTIFICATE", "PROTO_ERR_CERT_PARSE"));
}

/** The DER inside the first PEM block with this label; `code` when there is none. */
export function pemBody(pem: string, label: string, code: ProtocolErrorCode): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!match) throw new ProtocolError(code, `no ${label} PEM block`);
  return new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"));
}

/** Our parsed view of a certificate; re-parses one made elsewhere (a plain object with `der`). */
export function parsed(cert: Certificate): ParsedCertificate {
  return cert instanceof ParsedCertificate ? cert : (parseCertificate(cert.der) as ParsedCertificate);
}
