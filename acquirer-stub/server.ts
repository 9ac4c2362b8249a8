/**
 * `acquirer-stub serve`: open the database and the trust material, build the app, listen. Nothing
 * else happens here (buildApp is what tests exercise). Stops cleanly on SIGINT/SIGTERM: fastify
 * finishes in-flight requests (a batch transaction is synchronous, never cut in half), then the
 * database is closed.
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
  close(): Promise<void>;
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const pki = loadPki(options.pkiDir);
  if (pki.testOnly)
    options.logger.warn({ pki: pki.dir }, "using the committed TEST-ONLY PKI: its private keys are public");
  const store = AcquirerStore.open(options.db);
  const app = buildApp({
    store,
    trust: pki.trust,
    hotlistSigner: pki.hotlistSigner,
    logger: options.logger,
    ...(options.operatorToken ? { operatorToken: options.operatorToken } : {}),
  });
  app.addHook("onClose", async () => store.close());
  let url: string;
  try {
    url = await app.listen({ port: options.port, host: options.host });
  } catch (e) {
    await app.close();
    throw e;
  }
  options.logger.info({ url, db: options.db }, "acquirer listening");
  return { app, url, close: () => app.close() };
}
