/**
 * The committed TEST-ONLY PKI (fixtures/pki/, made by `npm run pki`), loaded for tests, the demo and
 * benchmarks. Not for production paths: these private keys are public.
 *
 * Loading is synchronous: certificates and CRLs are parsed up front; private keys are decrypted on
 * first use and cached (PBKDF2 makes each one a few milliseconds).
 */
import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { decryptPrivateKeyPem } from "./crypto.js";
import { fixturesDir } from "./paths.js";
import {
  type CertAttributes,
  type Certificate,
  type CertRole,
  type Crl,
  certificateFromPem,
  parseCrl,
  TrustStore,
} from "./pki.js";

/** The passphrase of every fixture key. Public, like the keys. */
export const FIXTURE_PASSPHRASE = "tapwallet-test-only";
/** Subject O of every fixture certificate. */
export const FIXTURE_ORGANIZATION = "tapwallet TEST";
/** A time at which the normal fixtures are all valid (and expired / not-yet-valid ones are not). */
export const FIXTURE_TIME = new Date("2026-01-01T00:00:00Z");

export interface FixtureCertEntry {
  role: CertRole;
  description: string;
  /** Paths relative to fixtures/pki/. */
  cert: string;
  key: string;
  /** Name of the issuing fixture; null when self-signed. */
  issuer: string | null;
  /** Issuer names from the direct issuer up to the self-signed top. */
  chain: string[];
  /** Whether the default trust store holds it as an anchor. */
  trusted: boolean;
  subject: string;
  serialNumber: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  attributes: CertAttributes;
  derBytes: number;
  /** Outcome of verifyChain in the default context (`verification`): "ok" or a PROTO_ERR_CERT_* code. */
  expect: { role: CertRole; result: string };
}

export interface FixtureCrlEntry {
  description: string;
  der: string;
  pem: string;
  issuer: string;
  crlNumber: number;
  thisUpdate: string;
  nextUpdate: string;
  revoked: { certificate: string; serialNumber: string }[];
}

export interface FixtureIndex {
  testOnly: true;
  passphrase: string;
  regenerate: string;
  verification: { at: string; roots: string[]; intermediates: string[]; crls: string[] };
  certificates: Record<string, FixtureCertEntry>;
  crls: Record<string, FixtureCrlEntry>;
}

export interface FixturePki {
  /** Absolute path of fixtures/pki/. */
  readonly dir: string;
  readonly index: FixtureIndex;
  readonly passphrase: string;
  /** FIXTURE_TIME. */
  readonly at: Date;
  /** Fixture names: "root-ca", "issuer-ca", "cards/alice", "terminals/term-0001", … */
  readonly names: readonly string[];
  /** The parsed certificate; throws on an unknown name. */
  cert(name: string): Certificate;
  /** The certificate's DER. */
  der(name: string): Uint8Array;
  /** The decrypted private key (cached). */
  key(name: string): KeyObject;
  /** Its issuers as a holder would present them: the chain without trusted roots. */
  intermediates(name: string): Certificate[];
  /** A parsed, signature-checked CRL: "crl/issuer-ca", "crl/issuer-ca-empty", "crl/acquirer-ca". */
  crl(name: string): Crl;
  /** Roots root-ca; known intermediates issuer-ca and acquirer-ca. */
  readonly trustStore: TrustStore;
  /** The CRLs of the default verification context (crl/issuer-ca, crl/acquirer-ca). */
  readonly crls: readonly Crl[];
}

let cached: FixturePki | undefined;

/** Load fixtures/pki/ (memoised per process: everything in it is immutable). */
export function loadFixturePki(): FixturePki {
  cached ??= load(fixturesDir("pki"));
  return cached;
}

function load(dir: string): FixturePki {
  const read = (relative: string) => readFileSync(`${dir}/${relative}`);
  const index = JSON.parse(read("index.json").toString("utf8")) as FixtureIndex;
  const certs = new Map<string, Certificate>();
  for (const [name, entry] of Object.entries(index.certificates))
    certs.set(name, certificateFromPem(read(entry.cert).toString("utf8")));

  const cert = (name: string): Certificate => {
    const found = certs.get(name);
    if (!found) throw new RangeError(`no fixture certificate named ${name}`);
    return found;
  };
  const crls = new Map<string, Crl>();
  for (const [name, entry] of Object.entries(index.crls))
    crls.set(name, parseCrl(new Uint8Array(read(entry.der)), cert(entry.issuer)));
  const crl = (name: string): Crl => {
    const found = crls.get(name);
    if (!found) throw new RangeError(`no fixture CRL named ${name}`);
    return found;
  };

  const keys = new Map<string, KeyObject>();
  const key = (name: string): KeyObject => {
    let found = keys.get(name);
    if (!found) {
      const entry = index.certificates[name];
      if (!entry) throw new RangeError(`no fixture key named ${name}`);
      found = decryptPrivateKeyPem(read(entry.key).toString("utf8"), index.passphrase);
      keys.set(name, found);
    }
    return found;
  };

  const trustStore = new TrustStore(
    index.verification.roots.map(cert),
    index.verification.intermediates.map(cert),
  );
  return {
    dir,
    index,
    passphrase: index.passphrase,
    at: new Date(index.verification.at),
    names: Object.keys(index.certificates),
    cert,
    der: (name) => cert(name).der,
    key,
    intermediates: (name) => {
      const entry = index.certificates[name];
      if (!entry) throw new RangeError(`no fixture certificate named ${name}`);
      return entry.chain.filter((n) => !index.certificates[n]?.trusted).map(cert);
    },
    crl,
    trustStore,
    crls: index.verification.crls.map(crl),
  };
}
