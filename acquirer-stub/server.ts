/**
 * `acquirer-stub serve`: open the database and the trust material, build the app, listen. Nothing
 * else happens here (buildApp is what tests exercise). Stops cleanly on SIGINT/SIGTERM: fastify
 * finishes in-flight requests (a batch transaction commits or rolls back whole), then the
 * database is closed. `db` is a SQLite file path or a postgres:// URL (db/engine.ts).
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "../protocol/logger.js";
import { buildApp } from "./app.js";
import { loadPki } from "./config.js";
import { AcquirerStore } from "./db/store.js";

export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly db: string;
  readonly pkiDir: string;
  readonly logger: Logger;
  readonly operatorToken?: string;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  /** The database as it may be shown: a file path, or a URL without its password. */
  readonly database: string;
  close(): Promise<void>;
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
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
      ...(options.operatorToken ? { operatorToken: options.operatorToken } : {}),
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
  options.logger.info({ url, db: store.description, engine: store.kind }, "acquirer listening");
  return { app, url, database: store.description, close: () => app.close() };
}
