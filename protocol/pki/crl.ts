/**
 * X.509 v2 CRLs from the acquirer: parsed with the DER readers of ./der.ts and verified against the
 * issuing CA's key with node:crypto over the DER tbsCertList. The result is what TrustStore.verifyChain
 * takes as `crls`: the issuer's fingerprint and the revoked serials.
 */
import { verify as nodeVerify } from "node:crypto";
import { equalBytes } from "../bytes.js";
import { ProtocolError } from "../errors.js";
import { type Certificate, parsed, pemBody } from "./certificate.js";
import {
  DerError,
  decodeDer,
  derTime,
  encodings,
  expect,
  kids,
  OID_AUTHORITY_KEY_ID,
  OID_CRL_NUMBER,
  OID_CRL_REASON,
  OID_ECDSA_SHA256,
  OID_INVALIDITY_DATE,
  oidString,
  readExtensions,
  serialHex,
  smallInteger,
  TAG_BIT_STRING,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_SEQUENCE,
  TAG_UTC_TIME,
} from "./der.js";

/** CRLs come from the acquirer: bounded too (≈ 100,000 entries of ~40 bytes). */
export const MAX_CRL_BYTES = 4 * 1024 * 1024;

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
