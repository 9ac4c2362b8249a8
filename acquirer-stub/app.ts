/**
 * The acquirer's HTTP service: `buildApp(deps)` assembles fastify with its dependencies and
 * returns it without listening (tests use `inject()`; server.ts listens).
 *
 * Routes (JSON; errors are `{ code: "ACQ_ERR_…", message, details? }`):
 *   GET  /healthz                          200 { status: "ok", engine } | 503 database unavailable
 *   POST /v1/batches                       see routes/batches.ts (idempotent by batch id)
 *   GET  /v1/batches/:batchId[?terminalId=] the stored verdict, 404 when none
 *   GET  /v1/hotlist[?since=VERSION]       signed hotlist | 304
 *   POST /v1/wallets/:walletId/block       operator (routes/operator.ts)
 *   POST /v1/wallets/:walletId/unblock     operator
 *   GET  /v1/wallets/:walletId/ledger      operator
 *   GET  /v1/reports/settlement?date=      operator
 *   POST /v1/platform/…                    the wallet platform, terminal-signed (platform/routes.ts),
 *                                          when the issuer key is given
 *   GET  /v1/platform/wallets/:walletId    operator
 *   GET  /v1/platform/reconciliation       operator
 *
 * "operator": as `deps.operator` says (routes/operator-auth.ts): with the bearer token, open, or
 * not registered at all (404); operator actions are written to the audit log (db/audit.ts).
 */
import type { KeyObject } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { type Logger, silentLogger } from "../protocol/logger.js";
import { BatchProcessor } from "./application/batches.js";
import type { AcquirerStore } from "./db/store.js";
import type { HotlistSigner } from "./domain/hotlist.js";
import type { AcquirerTrust } from "./domain/trust.js";
import { authenticateRequests } from "./platform/auth.js";
import { IssuerSigner } from "./platform/issuer.js";
import { registerPlatformRoutes } from "./platform/routes.js";
import { PlatformStore } from "./platform/store/platform-store.js";
import { registerBatchRoutes } from "./routes/batches.js";
import { errorHandler, notFoundHandler } from "./routes/errors.js";
import { registerHotlistRoutes } from "./routes/hotlist.js";
import { operatorAuthorizer, registerOperatorRoutes } from "./routes/operator.js";
import { type OperatorAccess, operatorMode } from "./routes/operator-auth.js";

/** Default body limit: a 20,000-record batch (~14 MB of JSON) fits; a 50 MB body is refused with 413. */
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

export interface AcquirerDeps {
  readonly store: AcquirerStore;
  readonly trust: AcquirerTrust;
  /** The acquirer CA certificate and key that sign the hotlist and its CRL. */
  readonly hotlistSigner: HotlistSigner;
  /**
   * The issuer CA key the wallet platform signs issuer commands with (LOAD, LOAD REVERSAL); without
   * it the platform's terminal routes are not served.
   */
  readonly issuerKey?: KeyObject;
  /** One pino logger per process (protocol/logger.ts); default: silent. */
  readonly logger?: Logger;
  /** Injected clock (tests): certificate validity, received times, hotlist times. */
  readonly clock?: () => Date;
  readonly bodyLimit?: number;
  /** Time allowed to receive a whole request (slow senders are cut off with 408). Default 60 s. */
  readonly requestTimeoutMs?: number;
  /** Time a socket may stay idle. Default 30 s. */
  readonly connectionTimeoutMs?: number;
  /**
   * Who may call the operator routes, said explicitly (routes/operator-auth.ts): `{ token }` (a
   * bearer token), `{ open: true }` (no token: tests, `serve --insecure-operator-routes`) or
   * `{ off: true }` (not registered: 404).
   */
  readonly operator: OperatorAccess;
  /**
   * How long after a wallet's block its debits are still accepted, flagged as the issuer's loss
   * (domain/block-binding.ts); default the terminals' maximum hotlist age, 24 h.
   */
  readonly hotlistGraceSeconds?: number;
  /**
   * How far a debit's card counter may run ahead of the highest the platform knew before the
   * wallet is blocked for a counter jump (platform/store/shadow-balance.ts); default 256.
   */
  readonly maxCounterJump?: number;
  /** Test hook: runs after a batch is committed and before it is answered. */
  readonly afterCommit?: (batchId: string) => Promise<void>;
}

export async function buildApp(deps: AcquirerDeps): Promise<FastifyInstance> {
  const clock = deps.clock ?? (() => new Date());
  operatorMode(deps.operator); // an operator access that names no one mode refuses to build

  const app = Fastify({
    loggerInstance: deps.logger ?? silentLogger(),
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    requestTimeout: deps.requestTimeoutMs ?? 60_000,
    connectionTimeout: deps.connectionTimeoutMs ?? 30_000,
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
    ajv: {
      // Refuse rather than repair: no coercion ("5" is not 5), no silent removal of unknown fields.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  }) as unknown as FastifyInstance;

  const nowSeconds = Math.floor(clock().getTime() / 1000);
  await deps.store.syncRevokedCardSerials(deps.trust.revokedCardSerials(), nowSeconds);

  const processor = new BatchProcessor({
    store: deps.store,
    trust: deps.trust,
    clock,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.afterCommit ? { afterCommit: deps.afterCommit } : {}),
    ...(deps.hotlistGraceSeconds === undefined ? {} : { hotlistGraceSeconds: deps.hotlistGraceSeconds }),
    ...(deps.maxCounterJump === undefined ? {} : { maxCounterJump: deps.maxCounterJump }),
  });

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  app.get("/healthz", async (_request, reply) => {
    if (!(await deps.store.healthy()))
      return reply
        .status(503)
        .header("retry-after", "1")
        .send({ code: "ACQ_ERR_STORE_UNAVAILABLE", message: "database unavailable" });
    return { status: "ok", engine: deps.store.kind };
  });
  registerBatchRoutes(app, processor, {
    terminal: authenticateRequests({
      trust: deps.trust,
      clock,
      isTerminalRevoked: (terminalId) => deps.store.isTerminalRevoked(terminalId),
    }),
    operator: operatorAuthorizer(deps.operator),
  });
  registerHotlistRoutes(app, deps.store, deps.hotlistSigner, clock);
  registerOperatorRoutes(app, deps.store, clock, deps.operator);
  if (deps.issuerKey)
    registerPlatformRoutes(app, {
      ctx: {
        store: PlatformStore.of(deps.store, deps.logger),
        trust: deps.trust,
        issuer: new IssuerSigner(deps.issuerKey),
        clock,
      },
      isTerminalRevoked: (terminalId) => deps.store.isTerminalRevoked(terminalId),
      operator: deps.operator,
    });
  return app;
}
