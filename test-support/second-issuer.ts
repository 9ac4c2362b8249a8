/**
 * A second issuer CA for the hotlist-by-issuer tests (issue 14 part 5), generated at test time
 * under the fixture root (the committed fixtures hold one issuer CA, issuer-ca): a bank whose card
 * serials and wallet ids may collide with issuer-ca's. Cards it issues come as software cards for
 * the terminal's card session and as TerminalSim cards for batches, and the acquirer and terminal
 * trust built here accept both issuers.
 */
import type { KeyObject } from "node:crypto";
import { AcquirerTrust } from "../acquirer-stub/domain/trust.js";
import { DEFAULT_CARD_PASSPHRASE } from "../card-emulator/applet/applet.js";
import { FaultyApplet } from "../card-emulator/applet/faulty.js";
import { MemoryCardStateStore, validateState } from "../card-emulator/applet/state.js";
import { InProcessTransport } from "../card-emulator/inprocess.js";
import { encryptPrivateKeyPem, generateP256KeyPair } from "../protocol/crypto.js";
import { type Certificate, issueCertificate, parseCertificate, TrustStore } from "../protocol/pki.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import type { CardTrust } from "../terminal/card-session/session.js";
import type { Card } from "./batch-builder.js";
import type { FixtureCard } from "./card-fixture.js";

export interface IssuedCard extends Card {
  /** A software card of this certificate (balance 50.00 EUR, as fixtureCard's). */
  software(): FixtureCard;
}

export interface SecondIssuer {
  readonly certificate: Certificate;
  readonly key: KeyObject;
  /** Its certificate's SHA-256 (hex): how the hotlist names it. */
  readonly fingerprint: string;
  /** Issue a card certificate with this serial and wallet id (either may be issuer-ca's too). */
  card(serial: string, walletId: string): Promise<IssuedCard>;
}

const CA_DATES = { notBefore: new Date("2025-01-01T00:00:00Z"), notAfter: new Date("2045-01-01T00:00:00Z") };
const LEAF_DATES = {
  notBefore: new Date("2025-06-01T00:00:00Z"),
  notAfter: new Date("2035-06-01T00:00:00Z"),
};

/** A card certificate and key as a software card (the same shape as card-emulator's fixture state). */
function softwareCard(certificate: Certificate, key: KeyObject, issuer: Certificate): FixtureCard {
  const pki = loadFixturePki();
  const b64 = (der: Uint8Array) => Buffer.from(der).toString("base64");
  const state = validateState({
    version: 1,
    walletId: certificate.attributes.walletId!,
    currency: 978,
    balance: 5_000,
    counter: 0,
    limits: { singleLimit: 2_000, balanceLimit: 20_000, autoLoadThreshold: 0, autoLoadAmount: 0 },
    policy: { regions: [], categories: [] },
    blocked: false,
    privateKey: encryptPrivateKeyPem(key, process.env.TAPWALLET_CARD_PASSPHRASE ?? DEFAULT_CARD_PASSPHRASE),
    certificate: b64(certificate.der),
    issuerCertificate: b64(issuer.der),
    rootCertificate: b64(pki.der("root-ca")),
    cachedCas: [],
    highWaterTime: 0,
    log: [],
  });
  const store = new MemoryCardStateStore(state);
  const applet = new FaultyApplet(store);
  return { applet, store, transport: new InProcessTransport(applet) };
}

/** "Second Bank CA", an issuer CA under the fixture root. */
export async function secondIssuer(): Promise<SecondIssuer> {
  const pki = loadFixturePki();
  const keys = generateP256KeyPair();
  const der = await issueCertificate({
    role: "issuer-ca",
    subjectCommonName: "Second Bank CA",
    subjectOrganization: "tapwallet TEST",
    publicKey: keys.publicKey,
    issuer: { certificate: pki.der("root-ca"), privateKey: pki.key("root-ca") },
    serialNumber: "1003",
    ...CA_DATES,
    pathLength: 0,
  });
  const certificate = parseCertificate(der);
  return {
    certificate,
    key: keys.privateKey,
    fingerprint: certificate.fingerprint,
    async card(serial, walletId) {
      const cardKeys = generateP256KeyPair();
      const cardDer = await issueCertificate({
        role: "card",
        subjectCommonName: walletId,
        publicKey: cardKeys.publicKey,
        issuer: { certificate: der, privateKey: keys.privateKey },
        serialNumber: serial,
        ...LEAF_DATES,
        attributes: { walletId },
      });
      const cardCert = parseCertificate(cardDer);
      return {
        name: `second-bank/${serial}`,
        walletId,
        certificate: cardCert,
        key: cardKeys.privateKey,
        software: () => softwareCard(cardCert, cardKeys.privateKey, certificate),
      };
    },
  };
}

/** The acquirer's trust with both issuers (and the fixture CRLs: issuer-ca revoked c005). */
export function acquirerTrustWith(second: SecondIssuer): AcquirerTrust {
  const pki = loadFixturePki();
  return new AcquirerTrust({
    roots: [pki.cert("root-ca")],
    issuerCas: [pki.cert("issuer-ca"), second.certificate],
    acquirerCas: [pki.cert("acquirer-ca")],
    crls: pki.crls,
  });
}

/**
 * A terminal's card trust with both issuers and no CRL: what declines a revoked card here is the
 * hotlist the terminal synced, not a CRL file of its own. `isHotlisted` is the terminal's store's.
 */
export function terminalTrustWith(
  second: SecondIssuer,
  isHotlisted: NonNullable<CardTrust["isHotlisted"]>,
): CardTrust {
  const pki = loadFixturePki();
  return {
    store: new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca"), second.certificate]),
    crls: [],
    isHotlisted,
  };
}
