/**
 * Personalisation: a new card key pair, a card certificate from the issuer CA (role card, wallet id
 * attribute), the root the card verifies terminals against, limits and policy — as a CardState ready
 * to be written. The default issuer CA is the test PKI's (fixtures/pki/issuer-ca, root-ca).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { CURRENCIES, MAX_AMOUNT_MINOR } from "../protocol/amount.js";
import { equalBytes } from "../protocol/bytes.js";
import {
  encryptPrivateKeyPem,
  generateP256KeyPair,
  type RandomSource,
  rawPublicKey,
  systemRandom,
} from "../protocol/crypto.js";
import { type Certificate, issueCertificate, parseCertificate, randomSerial } from "../protocol/pki.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { ID_PATTERN } from "../protocol/wallet/constants.js";
import { DEFAULT_CARD_PASSPHRASE } from "./applet/applet.js";
import { type CardLimits, type CardPolicy, type CardState, validateState } from "./applet/state.js";
import { CardError } from "./errors.js";

export interface PersonalizeOptions {
  walletId: string;
  /** ISO 4217 numeric. */
  currency: number;
  /** Opening balance, minor units. */
  balance: number;
  /** Defaults: balance limit max(100 000, balance), single limit = balance limit, no auto-load. */
  limits?: Partial<CardLimits>;
  policy?: Partial<CardPolicy>;
  /** The issuer CA that certifies the card; default the test PKI's issuer-ca. */
  issuer?: { certificate: Uint8Array; privateKey: KeyObject };
  /** The root CA (DER) the issuer chains to and the card trusts; default the test PKI's root-ca. */
  root?: Uint8Array;
  /** Encrypts the card key; default TAPWALLET_CARD_PASSPHRASE, else `tapwallet-test-only`. */
  passphrase?: string;
  /** Start of the certificate's validity when the policy sets none; default now. */
  now?: Date;
  random?: RandomSource;
}

const THREE_YEARS_MS = 3 * 365.25 * 24 * 3600 * 1000;
const DEFAULT_BALANCE_LIMIT = 100_000;

function fail(message: string, cause?: unknown): CardError {
  return new CardError("CARD_ERR_PERSONALIZE", message, cause === undefined ? undefined : { cause });
}

function checkAmount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_AMOUNT_MINOR)
    throw fail(`${name} must be 0..${MAX_AMOUNT_MINOR} minor units, got ${String(value)}`);
}

function parse(der: Uint8Array, what: string): Certificate {
  try {
    return parseCertificate(der);
  } catch (cause) {
    throw fail(`${what} is not a usable certificate`, cause);
  }
}

/** Make a new card: key pair, certificate from the issuer CA, and its initial state. */
export async function personalize(options: PersonalizeOptions): Promise<CardState> {
  if (!ID_PATTERN.test(options.walletId)) throw fail("wallet id must be 1-16 characters of [A-Za-z0-9._-]");
  if (!Object.values(CURRENCIES).some((c) => c.numeric === options.currency))
    throw fail(`unknown ISO 4217 numeric currency ${String(options.currency)}`);
  checkAmount("balance", options.balance);
  const balanceLimit = options.limits?.balanceLimit ?? Math.max(DEFAULT_BALANCE_LIMIT, options.balance);
  const limits: CardLimits = {
    balanceLimit,
    singleLimit: options.limits?.singleLimit ?? balanceLimit,
    autoLoadThreshold: options.limits?.autoLoadThreshold ?? 0,
    autoLoadAmount: options.limits?.autoLoadAmount ?? 0,
  };
  for (const [name, value] of Object.entries(limits)) checkAmount(name, value);
  if (options.balance > limits.balanceLimit) throw fail("balance is above the balance limit");
  const policy: CardPolicy = {
    ...(options.policy?.validFrom !== undefined ? { validFrom: options.policy.validFrom } : {}),
    ...(options.policy?.validTo !== undefined ? { validTo: options.policy.validTo } : {}),
    regions: [...(options.policy?.regions ?? [])],
    categories: [...(options.policy?.categories ?? [])],
  };

  const pki = options.issuer && options.root ? undefined : loadFixturePki();
  if (options.issuer && !options.root) throw fail("a custom issuer CA needs the root CA it chains to");
  const issuerDer = options.issuer?.certificate ?? pki!.der("issuer-ca");
  const issuerKey = options.issuer?.privateKey ?? pki!.key("issuer-ca");
  const rootDer = options.root ?? pki!.der("root-ca");
  const issuer = parse(issuerDer, "issuer CA certificate");
  const root = parse(rootDer, "root CA certificate");
  if (!issuer.isCa || !issuer.keyUsage?.has("keyCertSign")) throw fail("the issuer certificate is not a CA");
  if (!issuer.x509.verify(root.publicKey)) throw fail("the issuer CA certificate is not signed by the root");
  if (!equalBytes(rawPublicKey(createPublicKey(issuerKey)), rawPublicKey(issuer.publicKey)))
    throw fail("the issuer CA private key does not match its certificate");

  // Validity: the policy window when there is one, else three years from now; never beyond the CA's.
  const now = options.now ?? new Date();
  const notBefore = policy.validFrom !== undefined ? new Date(policy.validFrom * 1000) : now;
  let notAfter =
    policy.validTo !== undefined ? new Date(policy.validTo * 1000) : new Date(now.getTime() + THREE_YEARS_MS);
  if (notAfter > issuer.notAfter) notAfter = issuer.notAfter;
  if (notBefore < issuer.notBefore || !(notAfter > notBefore))
    throw fail("the card validity does not fit inside the issuer CA's");

  const keys = generateP256KeyPair();
  let certificate: Uint8Array;
  try {
    certificate = await issueCertificate({
      role: "card",
      subjectCommonName: options.walletId,
      publicKey: keys.publicKey,
      issuer: { certificate: issuerDer, privateKey: issuerKey },
      serialNumber: randomSerial(options.random ?? systemRandom),
      notBefore,
      notAfter,
      attributes: { walletId: options.walletId },
    });
  } catch (cause) {
    throw fail("the issuer CA could not issue the card certificate", cause);
  }
  const passphrase = options.passphrase ?? process.env.TAPWALLET_CARD_PASSPHRASE ?? DEFAULT_CARD_PASSPHRASE;
  const b64 = (der: Uint8Array) => Buffer.from(der).toString("base64");
  return validateState({
    version: 1,
    walletId: options.walletId,
    currency: options.currency,
    balance: options.balance,
    counter: 0,
    limits,
    policy,
    blocked: false,
    privateKey: encryptPrivateKeyPem(keys.privateKey, passphrase),
    certificate: b64(certificate),
    issuerCertificate: b64(issuerDer),
    rootCertificate: b64(rootDer),
    cachedCas: [],
    highWaterTime: 0,
    log: [],
  });
}

/**
 * A card state from fixture keys and certificates (no issuing, synchronous): for tests and
 * benchmarks that need a byte-stable card. `fixture` names a card of fixtures/pki ("cards/alice").
 */
export function fixtureCardState(
  fixture = "cards/alice",
  overrides: Partial<Omit<CardState, "privateKey" | "certificate">> = {},
): CardState {
  const pki = loadFixturePki();
  const certificate = pki.cert(fixture);
  const walletId = certificate.attributes.walletId;
  if (!walletId) throw fail(`${fixture} is not a card certificate`);
  const b64 = (der: Uint8Array) => Buffer.from(der).toString("base64");
  return validateState({
    version: 1,
    walletId,
    currency: 978,
    balance: 5_000,
    counter: 0,
    limits: { singleLimit: 2_000, balanceLimit: 20_000, autoLoadThreshold: 0, autoLoadAmount: 0 },
    policy: { regions: [], categories: [] },
    blocked: false,
    privateKey: encryptPrivateKeyPem(
      pki.key(fixture),
      process.env.TAPWALLET_CARD_PASSPHRASE ?? DEFAULT_CARD_PASSPHRASE,
    ),
    certificate: b64(certificate.der),
    issuerCertificate: b64(pki.der("issuer-ca")),
    rootCertificate: b64(pki.der("root-ca")),
    cachedCas: [],
    highWaterTime: 0,
    log: [],
    ...overrides,
  });
}
