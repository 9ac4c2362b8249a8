/**
 * X.509 certificates and CRLs on ECDSA P-256 / SHA-256 for the wallet PKI (root → issuer CA → cards,
 * root → acquirer CA → terminals), in five parts:
 * - ./der.ts: DER reading on top of the BER-TLV codec, for what node:crypto does not expose
 *   (pathLenConstraint, keyUsage bits, private extensions);
 * - ./certificate.ts: parsing certificates from the wire (node's `X509Certificate`, OpenSSL's parser,
 *   for the structure and signatures), our attributes and roles;
 * - ./crl.ts: parsing and verifying CRLs;
 * - ./trust-store.ts: `TrustStore.verifyChain`, which checks every path rule itself;
 * - ./issue.ts: issuing (async, @peculiar/x509, loaded lazily so the hot paths never load it) and PEM.
 * This file is the public API; the rest of each module is internal to the folder.
 */
export {
  type CertAttributes,
  type Certificate,
  type CertRole,
  certificateFromPem,
  hasRole,
  isCaRole,
  MAX_CERT_BYTES,
  OID_MERCHANT_CATEGORY,
  OID_MERCHANT_ID,
  OID_MERCHANT_NAME,
  OID_REGION,
  OID_TERMINAL_ID,
  OID_WALLET_ID,
  parseCertificate,
  ROLE_OIDS,
} from "./certificate.js";
export { type Crl, crlFromPem, MAX_CRL_BYTES, parseCrl } from "./crl.js";
export { type KeyUsageName, normalizeSerial } from "./der.js";
export {
  certificateToPem,
  crlToPem,
  type IssueOptions,
  issueCertificate,
  issueCrl,
  randomSerial,
} from "./issue.js";
export { TrustStore, type VerifyOptions } from "./trust-store.js";
