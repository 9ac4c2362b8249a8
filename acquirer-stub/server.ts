/**
 * `acquirer-stub serve`: open the database and the trust material, build the app, listen. Nothing
 * else happens here (buildApp is what tests exercise). Stops cleanly on SIGINT/SIGTERM: fastify
 * finishes in-flight requests (a batch transaction commits or rolls back whole), then the
 * database is closed. `db` is a SQLite file path or a postgres:// URL (db/engine.ts).
 *
 * The operator routes are served as `operator` says (routes/operator-auth.ts), which the caller
 * must choose: a token, off, or open, which is warned about loudly once listening. A token shorter
 * than MIN_OPERATOR_TOKEN_LENGTH is refused before anything is opened.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "../protocol/logger.js";
import { buildApp } from "./app.js";
import { loadPki } from "./config.js";
import { AcquirerStore } from "./db/store.js";
import { AcquirerError } from "./errors.js";
import { type OperatorAccess, operatorMode } from "./routes/operator-auth.js";

/** The shortest operator token `serve` accepts (`openssl rand -hex 32` gives 64). */
export const MIN_OPERATOR_TOKEN_LENGTH = 16;

/**
 * ACQ_ERR_WEAK_OPERATOR_TOKEN for a token shorter than MIN_OPERATOR_TOKEN_LENGTH characters. The
 * message says what is needed and how to make it, never the token (nor its length).
 */
export function checkOperatorTokenStrength(access: OperatorAccess): void {
  if (!("token" in access) || [...access.token].length >= MIN_OPERATOR_TOKEN_LENGTH) return;
  throw new AcquirerError(
    "ACQ_ERR_WEAK_OPERATOR_TOKEN",
    `the operator token (TAPWALLET_ACQUIRER_OPERATOR_TOKEN) is too short: it must be at least ` +
      `${MIN_OPERATOR_TOKEN_LENGTH} characters; make one with ` +
      "`export TAPWALLET_ACQUIRER_OPERATOR_TOKEN=$(openssl rand -hex 32)`; not started",
  );
}

export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly db: string;
  readonly pkiDir: string;
  readonly logger: Logger;
  readonly operator: OperatorAccess;
  /** A blocked wallet's debits are accepted (flagged) this long after the block; default 24 h. */
  readonly hotlistGraceSeconds?: number;
  /** Card counters a debit may run ahead of what the platform knew; default 256. */
  readonly maxCounterJump?: number;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  /** The database as it may be shown: a file path, or a URL without its password. */
  readonly database: string;
  close(): Promise<void>;
}

/** What the WARN line says when the operator routes are open (also printed by the CLI). */
export function openOperatorRoutesWarning(url: string): string {
  return (
    `operator routes are open without a token: anyone who can reach ${url} can block and unblock ` +
    "wallets and read every wallet, ledger, report and finding"
  );
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const mode = operatorMode(options.operator);
  checkOperatorTokenStrength(options.operator);
  const pki = loadPki(options.pkiDir);
  if (pki.testOnly)
    options.logger.warn({ pki: pki.dir }, "using the committed TEST-ONLY PKI: its private keys are public");
  if (!pki.issuerKey)
    options.logger.warn(
      { pki: pki.dir },
      "no issuer-ca.key.pem: the wallet platform's terminal routes are off",
    );
  const store = await AcquirerStore.open(options.db, { logger: options.logger });
  let app: FastifyInstance;
  try {
    app = await buildApp({
      store,
      trust: pki.trust,
      hotlistSigner: pki.hotlistSigner,
      ...(pki.issuerKey ? { issuerKey: pki.issuerKey } : {}),
      logger: options.logger,
      operator: options.operator,
      ...(options.hotlistGraceSeconds === undefined
        ? {}
        : { hotlistGraceSeconds: options.hotlistGraceSeconds }),
      ...(options.maxCounterJump === undefined ? {} : { maxCounterJump: options.maxCounterJump }),
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  app.addHook("onClose", async () => store.close());
  let url: string;
  try {
    url = await app.listen({ port: options.port, host: options.host });
  } catch (e) {
    await app.close();
    throw e;
  }
  if (mode === "open") options.logger.warn({ url, operatorRoutes: "open" }, openOperatorRoutesWarning(url));
  if (mode === "off") options.logger.info({ operatorRoutes: "off" }, "operator routes are off (404)");
  options.logger.info({ url, db: store.description, engine: store.kind }, "acquirer listening");
  return { app, url, database: store.description, close: () => app.close() };
}
