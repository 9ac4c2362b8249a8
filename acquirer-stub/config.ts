/**
 * Loading the acquirer's trust material from a PKI directory laid out like fixtures/pki/:
 *   root-ca.crt.pem        the scheme root (trust anchor)
 *   issuer-ca.crt.pem      the issuer CA whose cards are settled
 *   acquirer-ca.crt.pem    the acquirer CA (certifies terminals, signs the hotlist)
 *   acquirer-ca.key.pem    its key, encrypted PKCS#8; passphrase from TAPWALLET_ACQUIRER_KEY_PASSPHRASE
 *   issuer-ca.key.pem      optional: the issuer CA key the wallet platform signs issuer commands
 *                          with (LOAD, LOAD REVERSAL); passphrase from TAPWALLET_ISSUER_KEY_PASSPHRASE.
 *                          Without it the platform's terminal routes are off.
 *   crl/issuer-ca.crl      optional DER CRLs (revoked card certificates, revoked terminals)
 *   crl/acquirer-ca.crl
 * The committed test PKI (fixtures/pki) is the default; its passphrase is public and used only
 * for that directory.
 */
import type { KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { decryptPrivateKeyPem, ecdsaSign, ecdsaVerify } from "../protocol/crypto.js";
import { isTapwalletError } from "../protocol/errors.js";
import { fixturesDir } from "../protocol/paths.js";
import { type Certificate, type Crl, certificateFromPem, parseCrl } from "../protocol/pki.js";
import { FIXTURE_PASSPHRASE } from "../protocol/pki-fixtures.js";
import type { HotlistSigner } from "./domain/hotlist.js";
import { AcquirerTrust } from "./domain/trust.js";
import { AcquirerError } from "./errors.js";

export const PASSPHRASE_ENV = "TAPWALLET_ACQUIRER_KEY_PASSPHRASE";
export const ISSUER_PASSPHRASE_ENV = "TAPWALLET_ISSUER_KEY_PASSPHRASE";

export interface LoadedPki {
  readonly dir: string;
  readonly testOnly: boolean;
  readonly trust: AcquirerTrust;
  readonly hotlistSigner: HotlistSigner;
  /** The issuer CA key (issuer-ca.key.pem), when the directory has it: the wallet platform signs with it. */
  readonly issuerKey: KeyObject | undefined;
}

export function defaultPkiDir(): string {
  return fixturesDir("pki");
}

function configError(message: string, cause?: unknown): AcquirerError {
  return new AcquirerError("ACQ_ERR_CONFIG", message, cause === undefined ? {} : { cause });
}

export function loadPki(dir: string, env: NodeJS.ProcessEnv = process.env): LoadedPki {
  const abs = resolve(dir);
  const testOnly = abs === resolve(defaultPkiDir());
  const read = (name: string): string => {
    const path = join(abs, name);
    try {
      return readFileSync(path, "utf8");
    } catch (cause) {
      throw configError(`cannot read ${path}`, cause);
    }
  };
  const cert = (name: string): Certificate => {
    try {
      return certificateFromPem(read(name));
    } catch (cause) {
      if (cause instanceof AcquirerError) throw cause;
      throw configError(`${join(abs, name)} is not a certificate: ${(cause as Error).message}`, cause);
    }
  };
  const root = cert("root-ca.crt.pem");
  const issuerCa = cert("issuer-ca.crt.pem");
  const acquirerCa = cert("acquirer-ca.crt.pem");
  const crls: Crl[] = [];
  for (const [file, issuer] of [
    ["crl/issuer-ca.crl", issuerCa],
    ["crl/acquirer-ca.crl", acquirerCa],
  ] as const) {
    const path = join(abs, file);
    if (!existsSync(path)) continue;
    try {
      crls.push(parseCrl(new Uint8Array(readFileSync(path)), issuer));
    } catch (cause) {
      throw configError(`${path} is not a CRL of ${issuer.subject}: ${(cause as Error).message}`, cause);
    }
  }
  const key = (name: string, passphraseEnv: string, what: string, certificate: Certificate): KeyObject => {
    const passphrase = env[passphraseEnv] ?? (testOnly ? FIXTURE_PASSPHRASE : undefined);
    if (passphrase === undefined) throw configError(`set ${passphraseEnv} to decrypt ${join(abs, name)}`);
    let privateKey: KeyObject;
    try {
      privateKey = decryptPrivateKeyPem(read(name), passphrase);
    } catch (cause) {
      if (cause instanceof AcquirerError) throw cause;
      throw configError(
        `cannot decrypt the ${what} key: ${isTapwalletError(cause) ? cause.message : "unknown error"}`,
        cause,
      );
    }
    // A key that is not the certificate's would sign what nobody verifies: refuse it at start.
    const probe = new TextEncoder().encode(`tapwallet key check ${name}`);
    if (!ecdsaVerify(certificate.publicKey, probe, ecdsaSign(privateKey, probe)))
      throw configError(`${join(abs, name)} is not the key of ${certificate.subject}`);
    return privateKey;
  };
  const privateKey = key("acquirer-ca.key.pem", PASSPHRASE_ENV, "acquirer CA", acquirerCa);
  const issuerKey = existsSync(join(abs, "issuer-ca.key.pem"))
    ? key("issuer-ca.key.pem", ISSUER_PASSPHRASE_ENV, "issuer CA", issuerCa)
    : undefined;
  const trust = new AcquirerTrust({ roots: [root], issuerCas: [issuerCa], acquirerCas: [acquirerCa], crls });
  return { dir: abs, testOnly, trust, hotlistSigner: { certificate: acquirerCa, privateKey }, issuerKey };
}
