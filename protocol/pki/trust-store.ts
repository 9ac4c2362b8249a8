/**
 * The trust store and chain verification. Node's `checkIssued` accepts a CA:FALSE issuer that lacks
 * keyUsage (where `openssl verify` refuses), so node:crypto is used only for each link's signature and
 * every path rule is a small function here, applied by `TrustStore.verifyChain` in a fixed order (the
 * order decides which PROTO_ERR_CERT_* code a certificate with several faults gets).
 *
 * Roles are checked at every step, not only at the leaf: each certificate of the path must carry the
 * extendedKeyUsage purpose of its place (ROLE_OIDS), so that a bank's issuer CA cannot mint terminals
 * nor an acquirer CA cards, whatever the trust store holds.
 */
import { equalBytes } from "../bytes.js";
import { ProtocolError } from "../errors.js";
import {
  type Certificate,
  type CertRole,
  certError,
  hasRole,
  isCaRole,
  type ParsedCertificate,
  parsed,
} from "./certificate.js";
import type { Crl } from "./crl.js";

export interface VerifyOptions {
  /** The time of use (the terminal's clock, the record's time). */
  at: Date;
  /**
   * What the end certificate must be: a card (walletId) or a terminal (terminalId + merchantId), or,
   * to check a CA certificate itself, the CA's role. The CAs above it must carry the roles that may
   * issue it (ISSUED_BY).
   */
  role: CertRole;
  /** CRLs already verified by parseCrl; each certificate is checked against its issuer's. */
  crls?: readonly Crl[];
}

/**
 * Which role may issue which: the scheme root the two kinds of CA, an issuer CA cards, an acquirer CA
 * terminals. So a card's path is exactly root → issuer CA → card and a terminal's root → acquirer CA
 * → terminal.
 */
const ISSUED_BY: Readonly<Record<CertRole, CertRole | undefined>> = {
  card: "issuer-ca",
  terminal: "acquirer-ca",
  "issuer-ca": "root",
  "acquirer-ca": "root",
  root: undefined,
};

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
   * ROLE (leaf attributes, a CA used as a card/terminal, or a certificate of the path without the
   * role purpose of its place: a terminal issued by an issuer CA, a CA without a role marker),
   * REVOKED (any certificate whose issuer's CRL is given). The rules apply in the order of the calls
   * below.
   */
  verifyChain(
    leaf: Certificate,
    presentedIntermediates: readonly Certificate[],
    options: VerifyOptions,
  ): Certificate[] {
    checkPresentedCount(presentedIntermediates);
    const path = this.#buildPath(parsed(leaf), presentedIntermediates.map(parsed));
    for (const cert of path) checkNoUnknownCriticalExtension(cert);
    for (let i = 1; i < path.length; i++) {
      checkIssuerIsCa(path[i]!);
      checkPathLength(path[i]!, i - 1);
    }
    for (const cert of path) checkValidAt(cert, options.at);
    const end = path[0]!;
    if (isCaRole(options.role)) checkLeafIsCa(end);
    else {
      const leafRole = options.role as "card" | "terminal";
      checkLeafKeyUsage(end);
      checkLeafAttributes(end, leafRole);
      checkLeafIsNotCa(end, leafRole);
    }
    let role: CertRole | undefined = options.role;
    for (let i = 0; i < path.length; i++) {
      if (i > 0) role = checkIssuerMayIssue(path[i]!, role!, path[i - 1]!);
      checkRoleMarker(path[i]!, role!);
    }
    for (let i = 0; i + 1 < path.length; i++) checkNotRevoked(path[i]!, path[i + 1]!, options.crls ?? []);
    return path;
  }

  /** Leaf-first path to a trusted root, every link's signature verified (CA links from the cache). */
  #buildPath(leaf: ParsedCertificate, presented: ParsedCertificate[]): ParsedCertificate[] {
    const path = [leaf];
    let current = leaf;
    while (!this.#rootFingerprints.has(current.fingerprint)) {
      checkPathBound(path, leaf);
      const issuer = this.#signingIssuer(current, this.#issuerCandidates(current, path, presented));
      path.push(issuer);
      current = issuer;
    }
    return path;
  }

  /** Certificates that may have issued `current` (by Name and key identifier), roots first. */
  #issuerCandidates(
    current: ParsedCertificate,
    path: readonly ParsedCertificate[],
    presented: readonly ParsedCertificate[],
  ): ParsedCertificate[] {
    const fits = (c: ParsedCertificate) =>
      couldHaveIssued(c, current) && !path.some((p) => p.fingerprint === c.fingerprint);
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
    return candidates;
  }

  /** The first candidate whose key verifies the signature of `current`. */
  #signingIssuer(current: ParsedCertificate, candidates: readonly ParsedCertificate[]): ParsedCertificate {
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
    return issuer;
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
// The chain rules, in the order verifyChain applies them

/** A path has at most MAX_PATH certificates: more presented ones than that is noise or an attack. */
function checkPresentedCount(presented: readonly Certificate[]): void {
  if (presented.length > MAX_PATH)
    throw certError("PROTO_ERR_CERT_ISSUER", `${presented.length} intermediates presented`, undefined, {
      max: MAX_PATH,
    });
}

/** Path building stops at MAX_PATH certificates without reaching an anchor. */
function checkPathBound(path: readonly ParsedCertificate[], leaf: ParsedCertificate): void {
  if (path.length >= MAX_PATH)
    throw certError("PROTO_ERR_CERT_ISSUER", "no path to a trusted root within the length bound", undefined, {
      leaf: leaf.subject,
    });
}

/** The issuer Name matches byte for byte, and the key identifiers do not contradict each other. */
function couldHaveIssued(issuer: ParsedCertificate, child: ParsedCertificate): boolean {
  return (
    equalBytes(issuer.subjectName, child.issuerName) &&
    !(child.authorityKeyId && issuer.subjectKeyId && !equalBytes(child.authorityKeyId, issuer.subjectKeyId))
  );
}

function checkNoUnknownCriticalExtension(cert: ParsedCertificate): void {
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
}

/** Every certificate above the leaf issued one: cA and keyCertSign. */
function checkIssuerIsCa(ca: ParsedCertificate): void {
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
}

/** `below`: the intermediate CAs between this CA and the leaf (the leaf itself does not count). */
function checkPathLength(ca: ParsedCertificate, below: number): void {
  if (ca.pathLength !== undefined && below > ca.pathLength)
    throw certError(
      "PROTO_ERR_CERT_PATH_LENGTH",
      `${ca.subject} allows ${ca.pathLength} CA(s) below it`,
      undefined,
      {
        subject: ca.subject,
        pathLength: ca.pathLength,
        below,
      },
    );
}

/** notBefore ≤ at ≤ notAfter, at the time of use. */
function checkValidAt(cert: ParsedCertificate, at: Date): void {
  if (at.getTime() < cert.notBefore.getTime())
    throw certError(
      "PROTO_ERR_CERT_NOT_YET_VALID",
      `${cert.subject} is valid from ${cert.notBefore.toISOString()}`,
      undefined,
      {
        subject: cert.subject,
        notBefore: cert.notBefore.toISOString(),
        at: at.toISOString(),
      },
    );
  if (at.getTime() > cert.notAfter.getTime())
    throw certError(
      "PROTO_ERR_CERT_EXPIRED",
      `${cert.subject} expired ${cert.notAfter.toISOString()}`,
      undefined,
      {
        subject: cert.subject,
        notAfter: cert.notAfter.toISOString(),
        at: at.toISOString(),
      },
    );
}

/** role "ca": the end certificate must itself be a CA. */
function checkLeafIsCa(end: ParsedCertificate): void {
  if (!end.isCa || !end.keyUsage?.has("keyCertSign"))
    throw certError("PROTO_ERR_CERT_NOT_CA", `${end.subject} is not a CA`, undefined, {
      subject: end.subject,
    });
}

/** A card or terminal key signs (its transcripts, its records). */
function checkLeafKeyUsage(end: ParsedCertificate): void {
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
}

/** A card carries a walletId; a terminal a terminalId and a merchantId. */
function checkLeafAttributes(end: ParsedCertificate, role: "card" | "terminal"): void {
  const a = end.attributes;
  const missing =
    role === "card"
      ? a.walletId === undefined
        ? "walletId"
        : undefined
      : a.terminalId === undefined
        ? "terminalId"
        : a.merchantId === undefined
          ? "merchantId"
          : undefined;
  if (missing)
    throw certError("PROTO_ERR_CERT_ROLE", `${end.subject} has no ${missing} for a ${role}`, undefined, {
      subject: end.subject,
      role,
      missing,
    });
}

/** A CA key must not double as a card or terminal key (nor can a card certify another one). */
function checkLeafIsNotCa(end: ParsedCertificate, role: "card" | "terminal"): void {
  if (end.isCa)
    throw certError("PROTO_ERR_CERT_ROLE", `${end.subject} is a CA, not a ${role}`, undefined, {
      subject: end.subject,
      role,
    });
}

/**
 * The role the issuer of a `childRole` certificate must have; none above a scheme root (a root is
 * the top of every path: one certified by something else is not our PKI's shape).
 */
function checkIssuerMayIssue(
  issuer: ParsedCertificate,
  childRole: CertRole,
  child: ParsedCertificate,
): CertRole {
  const required = ISSUED_BY[childRole];
  if (required === undefined)
    throw certError(
      "PROTO_ERR_CERT_ROLE",
      `${issuer.subject} certified the scheme root ${child.subject}`,
      undefined,
      {
        subject: issuer.subject,
        child: child.subject,
      },
    );
  return required;
}

/**
 * The certificate carries exactly the role purpose of its place in the path (ROLE_OIDS in
 * extendedKeyUsage), and no other of ours: a certificate without one, or with two (a CA that is
 * both an issuer and an acquirer CA), is refused.
 */
function checkRoleMarker(cert: ParsedCertificate, required: CertRole): void {
  if (!hasRole(cert, required))
    throw certError(
      "PROTO_ERR_CERT_ROLE",
      cert.roles.length === 0
        ? `${cert.subject} carries no role, ${required} needed`
        : `${cert.subject} is ${cert.roles.join(" and ")}, ${required} needed here`,
      undefined,
      { subject: cert.subject, required, roles: [...cert.roles] },
    );
}

/** Checked against the CRLs of the certificate's own issuer only. */
function checkNotRevoked(cert: ParsedCertificate, issuer: ParsedCertificate, crls: readonly Crl[]): void {
  for (const crl of crls)
    if (crl.issuerFingerprint === issuer.fingerprint && crl.revokedSerials.has(cert.serialNumber))
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
