/**
 * The certificates the card checks a terminal with: a trust store of its root and the acquirer CAs
 * it has cached (DF06 in the FCI), rebuilt only when that list changes, and the last few terminal
 * certificates parsed (the same terminals come back tap after tap). The chain check itself requires
 * root → acquirer CA → terminal role by role (TrustStore.verifyChain with role "terminal").
 */
import { hex } from "../../protocol/bytes.js";
import { sha256 } from "../../protocol/crypto.js";
import type { Logger } from "../../protocol/logger.js";
import { type Certificate, hasRole, parseCertificate, TrustStore } from "../../protocol/pki.js";

/** Recently seen terminal certificates, parsed once. */
const CERT_CACHE_SIZE = 8;

export class CardCertificates {
  readonly #root: Certificate;
  readonly #logger: Logger;
  readonly #parsed = new Map<string, Certificate>();
  #trust: TrustStore | undefined;
  #trustFor: readonly string[] | undefined;

  constructor(root: Certificate, logger: Logger) {
    this.#root = root;
    this.#logger = logger;
  }

  /**
   * Root + the cached CAs (base64 DER); an unparsable one, or one that is not an acquirer CA (a
   * state file from before roles were checked, where a rogue terminal could plant an issuer CA), is
   * logged and left out.
   */
  trustStore(cas: readonly string[]): TrustStore {
    // Every commit makes a new state (and a new array): compare what is cached, not the array.
    const same = this.#trustFor?.length === cas.length && cas.every((c, i) => c === this.#trustFor![i]);
    if (!this.#trust || !same) {
      const intermediates: Certificate[] = [];
      for (const b64 of cas) {
        try {
          const ca = parseCertificate(new Uint8Array(Buffer.from(b64, "base64")));
          if (hasRole(ca, "acquirer-ca")) intermediates.push(ca);
          else
            this.#logger.warn(
              { subject: ca.subject, roles: ca.roles },
              "ignoring a cached CA that is not an acquirer CA",
            );
        } catch (e) {
          this.#logger.warn({ err: e }, "ignoring an unparsable cached CA");
        }
      }
      this.#trust = new TrustStore([this.#root], intermediates);
      this.#trustFor = cas;
    }
    return this.#trust;
  }

  /** Parse a certificate from the wire, from the cache when it was seen lately (oldest out). */
  parse(der: Uint8Array): Certificate {
    const key = hex(sha256(der));
    const cached = this.#parsed.get(key);
    if (cached) return cached;
    const certificate = parseCertificate(der);
    if (this.#parsed.size >= CERT_CACHE_SIZE) {
      const oldest = this.#parsed.keys().next().value;
      if (oldest !== undefined) this.#parsed.delete(oldest);
    }
    this.#parsed.set(key, certificate);
    return certificate;
  }
}
