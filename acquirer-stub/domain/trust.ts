/**
 * What the acquirer trusts: the scheme roots, the issuer CAs whose cards it settles, its own
 * acquirer CA(s) that certify terminals, and the CRLs it was given. Pure (no I/O): the CLI loads
 * the files, this decides.
 *
 * Two separate trust stores, so that a role cannot borrow the other branch of the PKI: a card must
 * chain root → an issuer CA → card; a terminal root → an acquirer CA → terminal. A certificate with
 * card attributes issued by the acquirer CA (or a terminal certified by an issuer CA) is refused,
 * by TrustStore.verifyChain's role check (each CA's extendedKeyUsage role) and again by the
 * fingerprints of the configured CAs; the configuration itself must put each CA where its role says.
 *
 * Card chains are verified once per distinct certificate (cached by the SHA-256 of the DER, never
 * by the fingerprint the client claims): a batch of 10,000 records from 50 wallets costs 50 chain
 * verifications, and the cached public KeyObject keeps the per-record card signature check at one
 * node:crypto verify.
 */
import { createHash, type KeyObject } from "node:crypto";
import { ProtocolError } from "../../protocol/errors.js";
import {
  type Certificate,
  type CertRole,
  type Crl,
  hasRole,
  parseCertificate,
  TrustStore,
} from "../../protocol/pki.js";
import { AcquirerError, type AcquirerErrorCode } from "../errors.js";

export interface TrustConfig {
  readonly roots: readonly Certificate[];
  readonly issuerCas: readonly Certificate[];
  readonly acquirerCas: readonly Certificate[];
  /** CRLs already verified against their issuer (parseCrl): issuer CAs' and acquirer CAs'. */
  readonly crls?: readonly Crl[];
}

/** A card certificate that chained to the root through an accepted issuer, with its validity window. */
export interface VerifiedCard {
  readonly fingerprint: string;
  readonly certificate: Certificate;
  readonly publicKey: KeyObject;
  readonly walletId: string;
  /**
   * The issuer CA the chain went through: SHA-256 (hex) of its certificate's DER. The hotlist keys
   * revocations and blocks by it (two issuers may use the same serial, or the same wallet id).
   */
  readonly issuerFingerprint: string;
  /** Unix seconds: the latest notBefore and the earliest notAfter of the whole path. */
  readonly validFrom: number;
  readonly validUntil: number;
}

export type CardCheck = { ok: true; card: VerifiedCard } | { ok: false; reason: AcquirerErrorCode };

export interface AuthenticatedTerminal {
  readonly certificate: Certificate;
  readonly publicKey: KeyObject;
  readonly terminalId: string;
  readonly merchantId: string;
}

function requireRoles(certificates: readonly Certificate[], role: CertRole): void {
  for (const c of certificates)
    if (!hasRole(c, role))
      throw new AcquirerError(
        "ACQ_ERR_CONFIG",
        `${c.subject} is configured as ${role} but its certificate's roles are ${c.roles.join(", ") || "none"}`,
        { details: { subject: c.subject, required: role, roles: [...c.roles] } },
      );
}

/** Bound on the card cache: a full clear beyond it keeps memory flat under a flood of certificates. */
const MAX_CACHED_CARDS = 100_000;

export class AcquirerTrust {
  readonly #cards: TrustStore;
  readonly #terminals: TrustStore;
  readonly #acquirerCaFingerprints: Set<string>;
  readonly #issuerCaFingerprints: Set<string>;
  readonly #crls: readonly Crl[];
  readonly #cardCache = new Map<string, CardCheck>();
  readonly acquirerCas: readonly Certificate[];
  readonly issuerCas: readonly Certificate[];

  constructor(config: TrustConfig) {
    if (config.roots.length === 0) throw new AcquirerError("ACQ_ERR_CONFIG", "no trusted root");
    if (config.acquirerCas.length === 0) throw new AcquirerError("ACQ_ERR_CONFIG", "no acquirer CA");
    // Each CA where its role says: an issuer CA among the acquirer CAs would certify terminals.
    requireRoles(config.roots, "root");
    requireRoles(config.issuerCas, "issuer-ca");
    requireRoles(config.acquirerCas, "acquirer-ca");
    this.#cards = new TrustStore(config.roots, config.issuerCas);
    this.#terminals = new TrustStore(config.roots, config.acquirerCas);
    this.#acquirerCaFingerprints = new Set(config.acquirerCas.map((c) => c.fingerprint));
    this.#issuerCaFingerprints = new Set(config.issuerCas.map((c) => c.fingerprint));
    this.#crls = config.crls ?? [];
    this.acquirerCas = config.acquirerCas;
    this.issuerCas = config.issuerCas;
  }

  /** Card certificate serials revoked by an issuer CA's CRL (for the hotlist). */
  revokedCardSerials(): { serial: string; issuerFingerprint: string }[] {
    const out: { serial: string; issuerFingerprint: string }[] = [];
    for (const crl of this.#crls)
      if (this.#issuerCaFingerprints.has(crl.issuerFingerprint))
        for (const serial of crl.revokedSerials)
          out.push({ serial, issuerFingerprint: crl.issuerFingerprint });
    return out;
  }

  /**
   * The terminal's certificate chain (leaf first, base64 DER already decoded) checked at `at`:
   * root → an acquirer CA → terminal, terminal role, not on the acquirer CA's CRL.
   * ACQ_ERR_TERMINAL_REVOKED or ACQ_ERR_TERMINAL_CERT otherwise.
   */
  authenticateTerminal(chain: readonly Uint8Array[], at: Date): AuthenticatedTerminal {
    const [leafDer, ...rest] = chain;
    if (!leafDer) throw new AcquirerError("ACQ_ERR_TERMINAL_CERT", "no terminal certificate");
    let path: Certificate[];
    try {
      const leaf = parseCertificate(leafDer);
      path = this.#terminals.verifyChain(leaf, rest.map(parseCertificate), {
        at,
        role: "terminal",
        crls: this.#crls,
      });
    } catch (e) {
      if (e instanceof ProtocolError) {
        const code =
          e.code === "PROTO_ERR_CERT_REVOKED" ? "ACQ_ERR_TERMINAL_REVOKED" : "ACQ_ERR_TERMINAL_CERT";
        throw new AcquirerError(code, `terminal certificate refused: ${e.message}`, {
          cause: e,
          details: { cause: e.code },
        });
      }
      throw e;
    }
    const leaf = path[0]!;
    if (!path[1] || !this.#acquirerCaFingerprints.has(path[1].fingerprint))
      throw new AcquirerError(
        "ACQ_ERR_TERMINAL_CERT",
        "terminal certificate is not issued by an acquirer CA",
        {
          details: { issuer: leaf.issuer },
        },
      );
    return {
      certificate: leaf,
      publicKey: leaf.publicKey,
      terminalId: leaf.attributes.terminalId!,
      merchantId: leaf.attributes.merchantId!,
    };
  }

  /**
   * A card certificate by its DER: root → an accepted issuer CA → card, card role, not revoked.
   * `at` is the record's time; a certificate outside its validity at that time is not cached (a
   * later record may fall inside). Every other outcome is cached by the DER's SHA-256.
   */
  checkCard(der: Uint8Array, at: number): CardCheck {
    const fingerprint = createHash("sha256").update(der).digest("hex");
    const cached = this.#cardCache.get(fingerprint);
    if (cached) return cached;
    const { result, cacheable } = this.#verifyCard(fingerprint, der, at);
    if (cacheable) {
      if (this.#cardCache.size >= MAX_CACHED_CARDS) this.#cardCache.clear();
      this.#cardCache.set(fingerprint, result);
    }
    return result;
  }

  #verifyCard(fingerprint: string, der: Uint8Array, at: number): { result: CardCheck; cacheable: boolean } {
    const refuse = (reason: AcquirerErrorCode, cacheable = true) => ({
      result: { ok: false, reason } as const,
      cacheable,
    });
    let path: Certificate[];
    try {
      const cert = parseCertificate(der);
      path = this.#cards.verifyChain(cert, [], { at: new Date(at * 1000), role: "card", crls: this.#crls });
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      switch (e.code) {
        case "PROTO_ERR_CERT_ISSUER":
          return refuse("ACQ_ERR_UNKNOWN_ISSUER");
        case "PROTO_ERR_CERT_REVOKED":
          return refuse("ACQ_ERR_CARD_REVOKED");
        case "PROTO_ERR_CERT_EXPIRED":
        case "PROTO_ERR_CERT_NOT_YET_VALID":
          return refuse("ACQ_ERR_CARD_CERT", false);
        default:
          return refuse("ACQ_ERR_CARD_CERT");
      }
    }
    const leaf = path[0]!;
    if (!path[1] || !this.#issuerCaFingerprints.has(path[1].fingerprint))
      return refuse("ACQ_ERR_UNKNOWN_ISSUER");
    let validFrom = 0;
    let validUntil = Number.MAX_SAFE_INTEGER;
    for (const c of path) {
      validFrom = Math.max(validFrom, Math.ceil(c.notBefore.getTime() / 1000));
      validUntil = Math.min(validUntil, Math.floor(c.notAfter.getTime() / 1000));
    }
    const card: VerifiedCard = {
      fingerprint,
      certificate: leaf,
      publicKey: leaf.publicKey,
      walletId: leaf.attributes.walletId!,
      issuerFingerprint: path[1]!.fingerprint,
      validFrom,
      validUntil,
    };
    return { result: { ok: true, card }, cacheable: true };
  }
}
