/**
 * Issuing certificates and CRLs (ECDSA P-256 / SHA-256) with @peculiar/x509 on node's WebCrypto, plus
 * PEM output. Async, and the library is loaded on first use (a dynamic import), so the card and terminal
 * hot paths, which only parse and verify, never load it. Used by the fixture generator, `posd init`,
 * card personalisation and the acquirer's hotlist.
 */
import { createHash, createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import { equalBytes, hex } from "../bytes.js";
import { type RandomSource, rawPublicKey, systemRandom } from "../crypto.js";
import { ProtocolError } from "../errors.js";
import {
  ATTRIBUTE_OIDS,
  attributeProblem,
  type CertAttributes,
  type CertRole,
  isCaRole as isCaRoleName,
  parseCertificate,
  parsed,
  ROLE_OIDS,
} from "./certificate.js";
import { type KeyUsageName, normalizeSerial, OID_CRL_NUMBER } from "./der.js";

export interface IssueOptions {
  /** Decides the defaults below and the role purpose in extendedKeyUsage (ROLE_OIDS). */
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
  /**
   * extendedKeyUsage: "default" is the role's purpose alone (ROLE_OIDS[role]); "none" leaves the
   * extension out; a list gives the purposes as OIDs (hostile fixtures: a CA without a role, two roles).
   */
  extendedKeyUsage?: "default" | "none" | readonly string[];
  /**
   * Overrides basicConstraints cA, and writes the extension even on a leaf (hostile fixtures: a leaf
   * marked CA, a CA marked not-CA).
   */
  caFlag?: boolean;
  /** Extra extensions as DER, for hostile fixtures (an unknown critical extension). */
  extraExtensions?: readonly { oid: string; critical: boolean; value: Uint8Array }[];
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
 * Issue a DER certificate signed with ECDSA P-256 / SHA-256: basicConstraints (critical, CAs only),
 * keyUsage (critical), extendedKeyUsage (the role's purpose, non-critical), subjectKeyIdentifier (CAs),
 * authorityKeyIdentifier (= the issuer's SKI), our attributes.
 * Subject is CN + O only, so a leaf stays ~340 bytes on the air.
 */
export async function issueCertificate(options: IssueOptions): Promise<Uint8Array> {
  const lib = await loadX509();
  const isCaRole = isCaRoleName(options.role);
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
  const extensions: InstanceType<X509Lib["Extension"]>[] = [];
  // A leaf has no basicConstraints (RFC 5280 4.2.1.9 allows it; absent means cA FALSE): its role is
  // in extendedKeyUsage, and the 14 bytes keep a first tap's terminal chain in four short APDUs.
  if (isCa || options.caFlag !== undefined)
    extensions.push(new lib.BasicConstraintsExtension(isCa, isCa ? options.pathLength : undefined, true));
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
  const purposes = options.extendedKeyUsage ?? "default";
  if (purposes !== "none") {
    const oids = purposes === "default" ? [ROLE_OIDS[options.role]] : [...purposes];
    // Non-critical, so software that knows nothing of our roles still reads the certificate; our
    // verifier requires the purpose whatever the flag says (TrustStore.verifyChain).
    extensions.push(new lib.ExtendedKeyUsageExtension(oids, false));
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
