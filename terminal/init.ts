/**
 * `posd init`: a working terminal in one command, from the test PKI (or a given acquirer CA):
 * a fresh P-256 key (encrypted PKCS#8, 0600), a short-lived terminal certificate (30 days by
 * default: the offline card's defence against a stolen terminal), the trusted root, issuer CA,
 * acquirer CA and CRL, and a posd.json that points at them.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { currencyByCode, formatAmount } from "../protocol/amount.js";
import { decryptPrivateKeyPem, encryptPrivateKeyPem, generateP256KeyPair } from "../protocol/crypto.js";
import { fixturesDir } from "../protocol/paths.js";
import { certificateFromPem, certificateToPem, issueCertificate, randomSerial } from "../protocol/pki.js";
import { CONFIG_FILE_NAME, type ConfigFile } from "./config.js";
import { TerminalError } from "./errors.js";

export interface InitOptions {
  readonly dataDir: string;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly merchantCategory: string;
  readonly region: string;
  readonly currency: string;
  readonly validityDays?: number;
  readonly acquirerUrl?: string;
  /** Overwrite an existing configuration. */
  readonly force?: boolean;
  /** The acquirer CA that issues the terminal certificate; default: the test PKI in fixtures/. */
  readonly ca?: { certificateFile: string; keyFile: string; passphrase: string };
  /** Key passphrase; default: a random one written to key.passphrase (0600) next to the key. */
  readonly passphrase?: string;
  readonly now?: Date;
}

export interface InitResult {
  readonly configPath: string;
  readonly certificateNotAfter: Date;
  readonly passphraseFile: string | undefined;
}

const TEST_PKI_PASSPHRASE = "tapwallet-test-only";

/** The hotlist floor `posd init` writes, in whole units of the terminal's currency. */
export const HOTLIST_FLOOR_UNITS = 50;

function writePrivate(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export async function initTerminal(o: InitOptions): Promise<InitResult> {
  const configPath = join(o.dataDir, CONFIG_FILE_NAME);
  if (existsSync(configPath) && !o.force) {
    throw new TerminalError("TERM_ERR_USAGE", `${configPath} already exists (use --force to replace it)`);
  }
  if (!/^[A-Za-z0-9._-]{1,16}$/.test(o.terminalId) || !/^[A-Za-z0-9._-]{1,16}$/.test(o.merchantId)) {
    throw new TerminalError(
      "TERM_ERR_USAGE",
      "terminal and merchant ids are 1-16 characters of [A-Za-z0-9._-]",
    );
  }
  if (!/^\d{4}$/.test(o.merchantCategory)) {
    throw new TerminalError("TERM_ERR_USAGE", "the merchant category is a 4-digit ISO 18245 MCC (e.g. 5411)");
  }
  try {
    currencyByCode(o.currency);
  } catch (cause) {
    throw new TerminalError("TERM_ERR_USAGE", `unknown currency ${o.currency}`, { cause });
  }
  const pki = fixturesDir("pki");
  const caCertFile = o.ca?.certificateFile ?? join(pki, "acquirer-ca.crt.pem");
  const caKeyFile = o.ca?.keyFile ?? join(pki, "acquirer-ca.key.pem");
  let caKey: ReturnType<typeof decryptPrivateKeyPem>;
  let caCert: ReturnType<typeof certificateFromPem>;
  try {
    caCert = certificateFromPem(readFileSync(caCertFile, "utf8"));
    caKey = decryptPrivateKeyPem(readFileSync(caKeyFile, "utf8"), o.ca?.passphrase ?? TEST_PKI_PASSPHRASE);
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_KEY",
      `cannot use the acquirer CA ${caCertFile}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }

  mkdirSync(join(o.dataDir, "pki"), { recursive: true, mode: 0o700 });
  const now = o.now ?? new Date();
  const notAfter = new Date(now.getTime() + (o.validityDays ?? 30) * 86_400_000);
  const keyPair = generateP256KeyPair();
  const der = await issueCertificate({
    role: "terminal",
    subjectCommonName: o.terminalId,
    publicKey: keyPair.publicKey,
    issuer: { certificate: caCert.der, privateKey: caKey },
    serialNumber: randomSerial(),
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter,
    attributes: {
      terminalId: o.terminalId,
      merchantId: o.merchantId,
      merchantCategory: o.merchantCategory,
      region: o.region,
    },
  });
  const passphrase = o.passphrase ?? randomBytes(24).toString("base64url");
  const passphraseFile = o.passphrase ? undefined : join(o.dataDir, "key.passphrase");
  writePrivate(join(o.dataDir, "terminal.key.pem"), encryptPrivateKeyPem(keyPair.privateKey, passphrase));
  if (passphraseFile) writePrivate(passphraseFile, `${passphrase}\n`);
  writeFileSync(join(o.dataDir, "terminal.crt.pem"), certificateToPem(der));
  copyFileSync(caCertFile, join(o.dataDir, "pki", "acquirer-ca.crt.pem"));
  for (const f of ["root-ca.crt.pem", "issuer-ca.crt.pem"])
    copyFileSync(join(pki, f), join(o.dataDir, "pki", f));
  copyFileSync(join(pki, "crl", "issuer-ca.crl"), join(o.dataDir, "pki", "issuer-ca.crl"));

  const config: ConfigFile = {
    version: 1,
    terminalId: o.terminalId,
    currency: o.currency.toUpperCase(),
    database: "records.sqlite",
    terminal: {
      keyFile: "terminal.key.pem",
      certificateFile: "terminal.crt.pem",
      chainFiles: ["pki/acquirer-ca.crt.pem"],
      ...(passphraseFile ? { passphraseFile: "key.passphrase" } : {}),
    },
    trust: {
      rootFiles: ["pki/root-ca.crt.pem"],
      issuerFiles: ["pki/issuer-ca.crt.pem"],
      crlFiles: ["pki/issuer-ca.crl"],
    },
    acquirer: {
      ...(o.acquirerUrl ? { url: o.acquirerUrl } : {}),
      timeoutMs: 10_000,
      retries: 5,
      batchMaxRecords: 2_000,
    },
    limits: {
      maxOfflineAmount: formatAmount(500 * 10 ** currencyByCode(o.currency).exponent, o.currency),
      maxOfflineRecords: 500,
      maxOfflineHours: 24,
    },
    // Until the first `posd sync` (and once the hotlist is older than a day) only payments up to the
    // floor go through: a lost wallet risks at most that much at a terminal that cannot know.
    hotlist: {
      maxAgeHours: 24,
      floorAmounts: {
        [o.currency.toUpperCase()]: formatAmount(
          HOTLIST_FLOOR_UNITS * 10 ** currencyByCode(o.currency).exponent,
          o.currency,
        ),
      },
    },
    reader: { apduTimeoutMs: 2_000, cardWaitMs: 30_000 },
    ecr: { host: "127.0.0.1", port: 8765 },
    schedule: { uploadIntervalSec: 900, syncIntervalSec: 900 },
  };
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return { configPath, certificateNotAfter: notAfter, passphraseFile };
}
