/**
 * The composition root of posd: reads the configuration's files (key, certificates, CRLs) and its
 * risk limits, opens the terminal's SQLite file, and assembles the ports the use cases take
 * (terminal/application/ports.ts). Nothing else reads key files.
 */
import { readFileSync } from "node:fs";
import { currencyByCode } from "../../protocol/amount.js";
import { decryptPrivateKeyPem } from "../../protocol/crypto.js";
import { isTapwalletError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/logger.js";
import {
  type Certificate,
  type CertRole,
  type Crl,
  certificateFromPem,
  hasRole,
  parseCrl,
  TrustStore,
} from "../../protocol/pki.js";
import type { Transport } from "../../protocol/transport.js";
import type { CountedTransport } from "../../protocol/transport-wrappers.js";
import type { SqliteAttention } from "../adapters/sqlite/attention-store.js";
import type { BatchStore } from "../adapters/sqlite/batch-store.js";
import type { EcrPaymentStore } from "../adapters/sqlite/ecr-payment-store.js";
import type { SqliteHotlist } from "../adapters/sqlite/hotlist-store.js";
import type { SqliteLoadIntents } from "../adapters/sqlite/load-store.js";
import type { RecordStore } from "../adapters/sqlite/record-store.js";
import type { SqliteRefunds } from "../adapters/sqlite/refund-store.js";
import type { SqliteWalletWatch } from "../adapters/sqlite/seen-wallets-store.js";
import type { SqliteStoredValues } from "../adapters/sqlite/stored-value-store.js";
import { SqliteTerminalStore } from "../adapters/sqlite/terminal-store.js";
import type { Clock } from "../application/ports.js";
import { checkHotlist, checkRisk, type HotlistPolicy, type RiskLimits } from "../application/risk.js";
import type { PaymentDeps } from "../application/run-payment.js";
import type { CardTrust, TerminalIdentity } from "../card-session/session.js";
import type { Config } from "../config.js";
import { TerminalError } from "../errors.js";
import { type CardTransportOptions, cardTransport } from "./card-transport.js";

export interface TerminalContext {
  readonly config: Config;
  readonly identity: TerminalIdentity;
  readonly trust: CardTrust;
  /** Intents and records (RecordLedger, RiskView) and what `posd status` reads. */
  readonly store: RecordStore;
  readonly batches: BatchStore;
  readonly hotlist: SqliteHotlist;
  /** The wallets the platform has work for, as last fetched (posd sync). */
  readonly attention: SqliteAttention;
  readonly ecrPayments: EcrPaymentStore;
  /** The cash register's stored-value operations (load, reverse, balance inquiry). */
  readonly ecrStoredValues: SqliteStoredValues;
  /** Per wallet the last verified counter and balance, the local blocklist, the findings to upload. */
  readonly walletWatch: SqliteWalletWatch;
  /** The loads this terminal ran; the pending ones are in doubt (`posd status`). */
  readonly loads: SqliteLoadIntents;
  /** Refunds of returned goods, sent with the next batch. */
  readonly refunds: SqliteRefunds;
  /** The clock everything stored is dated by. */
  readonly clock: Clock;
  readonly logger: Logger;
  readonly terminalId: string;
  readonly merchantId: string;
  /** ISO 4217 numeric of the configured currency. */
  readonly currency: number;
  /** The offline risk limits of the configuration, the amount limit in `currency`. */
  readonly riskLimits: RiskLimits;
  /** How fresh the hotlist must be for payments above the floor (configuration `hotlist`). */
  readonly hotlistPolicy: HotlistPolicy;
  /** The stack's settings for every card connection: the configured per-APDU timeout, the log. */
  readonly cardTransport: CardTransportOptions;
  close(): void;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      `cannot read the ${what} ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

function readCertificate(path: string, what: string): Certificate {
  try {
    return certificateFromPem(readText(path, what));
  } catch (cause) {
    if (cause instanceof TerminalError) throw cause;
    throw new TerminalError("TERM_ERR_CONFIG", `the ${what} ${path} is not a valid certificate`, { cause });
  }
}

function readCrl(path: string, issuers: readonly Certificate[]): Crl {
  const bytes = (() => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new TerminalError("TERM_ERR_CONFIG", `cannot read the CRL ${path}`, { cause });
    }
  })();
  const text = bytes.toString("latin1");
  const der = text.includes("-----BEGIN")
    ? new Uint8Array(Buffer.from(text.replace(/-----[^-]+-----|\s+/g, ""), "base64"))
    : new Uint8Array(bytes);
  let last: unknown;
  for (const issuer of issuers) {
    try {
      return parseCrl(der, issuer);
    } catch (e) {
      last = e;
    }
  }
  throw new TerminalError("TERM_ERR_CONFIG", `the CRL ${path} is not signed by a configured CA`, {
    cause: last,
  });
}

/** The key passphrase: $TAPWALLET_KEY_PASSPHRASE, else the configured passphrase file. */
export function keyPassphrase(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.TAPWALLET_KEY_PASSPHRASE;
  if (fromEnv) return fromEnv;
  if (config.terminal.passphraseFile)
    return readText(config.terminal.passphraseFile, "key passphrase file").trim();
  throw new TerminalError(
    "TERM_ERR_KEY",
    "no key passphrase: set TAPWALLET_KEY_PASSPHRASE or terminal.passphraseFile in the configuration",
  );
}

export function loadIdentity(config: Config, env: NodeJS.ProcessEnv = process.env): TerminalIdentity {
  const certificate = readCertificate(config.terminal.certificateFile, "terminal certificate");
  const chain = config.terminal.chainFiles.map((f) => readCertificate(f, "CA certificate"));
  let pem: string;
  try {
    pem = readFileSync(config.terminal.keyFile, "utf8");
  } catch (cause) {
    throw new TerminalError("TERM_ERR_KEY", `cannot read the terminal key ${config.terminal.keyFile}`, {
      cause,
    });
  }
  let privateKey: ReturnType<typeof decryptPrivateKeyPem>;
  try {
    privateKey = decryptPrivateKeyPem(pem, keyPassphrase(config, env));
  } catch (cause) {
    if (cause instanceof TerminalError) throw cause;
    const reason = isTapwalletError(cause) ? cause.message : String(cause);
    throw new TerminalError(
      "TERM_ERR_KEY",
      `cannot decrypt the terminal key ${config.terminal.keyFile}: ${reason}`,
      {
        cause,
      },
    );
  }
  const pub = certificate.publicKey.export({ format: "jwk" });
  const priv = privateKey.export({ format: "jwk" });
  if (pub.x !== priv.x || pub.y !== priv.y) {
    throw new TerminalError("TERM_ERR_KEY", "the terminal key does not match the terminal certificate");
  }
  const attrs = certificate.attributes;
  if (!attrs.terminalId || !attrs.merchantId) {
    throw new TerminalError("TERM_ERR_CONFIG", "the terminal certificate has no terminal id or merchant id");
  }
  if (attrs.terminalId !== config.terminalId) {
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      `terminalId ${config.terminalId} in the configuration does not match the certificate's ${attrs.terminalId}`,
    );
  }
  return { privateKey, certificate, chain };
}

export function loadTrust(config: Config): CardTrust {
  const roots = config.trust.rootFiles.map((f) => readCertificate(f, "root certificate"));
  const issuers = config.trust.issuerFiles.map((f) => readCertificate(f, "issuer CA certificate"));
  // An acquirer CA listed among the issuers would let it certify cards here: refuse to start.
  for (const [i, f] of config.trust.rootFiles.entries()) requireRole(roots[i]!, "root", f);
  for (const [i, f] of config.trust.issuerFiles.entries()) requireRole(issuers[i]!, "issuer-ca", f);
  let store: TrustStore;
  try {
    store = new TrustStore(roots, issuers);
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      `the trusted roots are not usable: ${(cause as Error).message}`,
      { cause },
    );
  }
  const crls = config.trust.crlFiles.map((f) => readCrl(f, issuers));
  return { store, crls };
}

function requireRole(cert: Certificate, role: CertRole, file: string): void {
  if (!hasRole(cert, role))
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      `${file} is not a${role === "root" ? " scheme root" : "n issuer CA"} certificate (its roles: ${cert.roles.join(", ") || "none"})`,
      { details: { file, required: role, roles: [...cert.roles] } },
    );
}

export function limitsFromConfig(config: Config, currency: number): RiskLimits {
  return {
    currency,
    ...(config.maxOfflineAmountMinor === undefined ? {} : { maxOfflineAmount: config.maxOfflineAmountMinor }),
    ...(config.limits.maxOfflineRecords === undefined
      ? {}
      : { maxOfflineRecords: config.limits.maxOfflineRecords }),
    ...(config.limits.maxOfflineHours === undefined
      ? {}
      : { maxOfflineHours: config.limits.maxOfflineHours }),
    maxOfflineAmounts: config.maxOfflineAmountsMinor,
  };
}

export function hotlistPolicyFromConfig(config: Config): HotlistPolicy {
  return { maxAgeHours: config.hotlist.maxAgeHours, floors: config.hotlistFloorsMinor };
}

export function openTerminal(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): TerminalContext {
  const identity = loadIdentity(config, env);
  const trust = loadTrust(config);
  let currency: number;
  try {
    currency = currencyByCode(config.currency).numeric;
  } catch (cause) {
    throw new TerminalError("TERM_ERR_CONFIG", `unknown currency ${config.currency}`, { cause });
  }
  const stores = SqliteTerminalStore.open(config.database);
  const { hotlist } = stores;
  const attrs = identity.certificate.attributes;
  return {
    config,
    identity,
    trust: {
      ...trust,
      isHotlisted: (walletId, serial, issuer) => hotlist.isHotlisted(walletId, serial, issuer),
    },
    store: stores.records,
    batches: stores.batches,
    hotlist,
    attention: stores.attention,
    ecrPayments: stores.ecrPayments,
    ecrStoredValues: stores.ecrStoredValues,
    walletWatch: stores.walletWatch,
    loads: stores.loads,
    refunds: stores.refunds,
    clock: stores.clock,
    logger: logger.child({ terminal: attrs.terminalId }),
    terminalId: attrs.terminalId!,
    merchantId: attrs.merchantId!,
    currency,
    riskLimits: limitsFromConfig(config, currency),
    hotlistPolicy: hotlistPolicyFromConfig(config),
    cardTransport: { timeoutMs: config.reader.apduTimeoutMs, logger },
    close: () => stores.close(),
  };
}

/** What runPayment takes in posd: the context's record store, keys and trust, with the risk check. */
export function paymentDeps(ctx: TerminalContext): PaymentDeps {
  return {
    store: ctx.store,
    identity: ctx.identity,
    trust: ctx.trust,
    logger: ctx.logger,
    walletWatch: ctx.walletWatch,
    riskCheck: (request) =>
      checkRisk(ctx.store, ctx.riskLimits, request, ctx.clock.now()) ??
      checkHotlist(ctx.hotlist, ctx.hotlistPolicy, request, ctx.clock.now()),
  };
}

/** A card connection (PC/SC, the virtual card, a recorder around either) inside the one stack. */
export function cardLink(ctx: TerminalContext, connection: Transport): CountedTransport {
  return cardTransport(connection, ctx.cardTransport);
}
