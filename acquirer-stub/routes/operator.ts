/**
 * Operator routes (the CLI does the same on the database file):
 *   POST /v1/wallets/:walletId/block {reason, issuer?} — loss report: 200 { walletId, issuer, blocked,
 *     changed, hotlistVersion }; `issuer` (an issuer CA's certificate fingerprint, 64 hex) blocks the
 *     wallet id for that issuer's cards only, without it at every issuer
 *   POST /v1/wallets/:walletId/unblock [{issuer?}] — release: every block of the wallet id, or only
 *     the one at `issuer`: 200 (changed: false when nothing was released)
 *   GET  /v1/wallets/:walletId/ledger          — accepted records by counter, gaps, balance breaks, clones
 *   GET  /v1/reports/settlement?date=YYYY-MM-DD[&gapDays=N] — settlement, reconciliation, outstanding gaps, clones
 *   GET  /v1/findings, /v1/wallets/:walletId/findings — wallets terminals caught rolled back or edited
 *   GET  /v1/platform/wallets/:walletId        — the wallet platform's view (platform/routes.ts)
 * Who may call them is the app's OperatorAccess (operator-auth.ts): with a token each needs
 * `Authorization: Bearer <token>` (else 401); `off` registers none of them (404). Block and unblock
 * are written to the operator audit log (db/audit.ts) in their own transaction.
 */
import type { FastifyInstance } from "fastify";
import type { AcquirerStore } from "../db/store.js";
import { type BlockReason, ISSUER_FINGERPRINT_PATTERN } from "../domain/hotlist.js";
import { isCalendarDate } from "../domain/settle.js";
import { AcquirerError } from "../errors.js";
import { httpActor, type OperatorAccess, operatorAuthorizer, operatorMode } from "./operator-auth.js";
import { blockBodySchema, reportQuerySchema, walletParamsSchema } from "./schemas.js";

export { operatorAuthorizer } from "./operator-auth.js";

export function registerOperatorRoutes(
  app: FastifyInstance,
  store: AcquirerStore,
  clock: () => Date,
  access: OperatorAccess,
): void {
  if (operatorMode(access) === "off") return;
  const authorize = operatorAuthorizer(access);
  const now = () => Math.floor(clock().getTime() / 1000);

  app.post<{ Params: { walletId: string }; Body: { reason: BlockReason; issuer?: string } }>(
    "/v1/wallets/:walletId/block",
    { schema: { params: walletParamsSchema, body: blockBodySchema }, preHandler: authorize },
    async (request) => {
      const { walletId } = request.params;
      const { reason, issuer } = request.body;
      const changed = await store.blockWallet(walletId, reason, now(), httpActor(access, request), issuer);
      request.log.info({ walletId, reason, issuer: issuer ?? null, changed }, "wallet blocked");
      return {
        walletId,
        issuer: issuer ?? null,
        blocked: true,
        changed,
        hotlistVersion: await store.hotlistVersion(),
      };
    },
  );

  app.post<{ Params: { walletId: string }; Body: unknown }>(
    "/v1/wallets/:walletId/unblock",
    { schema: { params: walletParamsSchema }, preHandler: authorize },
    async (request) => {
      // No body, {} or {issuer}: nothing else is accepted (checked after authentication: a body
      // schema would answer 400 to a caller without a token).
      const body = request.body;
      const ok =
        body === undefined ||
        (typeof body === "object" &&
          body !== null &&
          !Array.isArray(body) &&
          Object.keys(body).every((k) => k === "issuer") &&
          ((body as { issuer?: unknown }).issuer === undefined ||
            (typeof (body as { issuer?: unknown }).issuer === "string" &&
              ISSUER_FINGERPRINT_PATTERN.test((body as { issuer: string }).issuer))));
      if (!ok)
        throw new AcquirerError(
          "ACQ_ERR_BAD_REQUEST",
          "unblock takes no body, {} or {issuer} (an issuer CA certificate's SHA-256, 64 lower-case hex)",
        );
      const { walletId } = request.params;
      const issuer = (body as { issuer?: string } | undefined)?.issuer;
      const changed = await store.unblockWallet(
        walletId,
        now(),
        httpActor(access, request),
        undefined,
        issuer,
      );
      request.log.info({ walletId, issuer: issuer ?? null, changed }, "wallet unblocked");
      return {
        walletId,
        issuer: issuer ?? null,
        blocked: false,
        changed,
        hotlistVersion: await store.hotlistVersion(),
      };
    },
  );

  app.get<{ Params: { walletId: string } }>(
    "/v1/wallets/:walletId/ledger",
    { schema: { params: walletParamsSchema }, preHandler: authorize },
    async (request) => store.walletLedger(request.params.walletId),
  );

  app.get("/v1/findings", { preHandler: authorize }, async () => ({ findings: await store.findings() }));

  app.get<{ Params: { walletId: string } }>(
    "/v1/wallets/:walletId/findings",
    { schema: { params: walletParamsSchema }, preHandler: authorize },
    async (request) => ({ findings: await store.findings(request.params.walletId) }),
  );

  app.get<{ Querystring: { date: string; gapDays?: string } }>(
    "/v1/reports/settlement",
    { schema: { querystring: reportQuerySchema }, preHandler: authorize },
    async (request) => {
      if (!isCalendarDate(request.query.date))
        throw new AcquirerError("ACQ_ERR_BAD_REQUEST", `date ${request.query.date} is not a calendar date`);
      // Open gaps and intents are aged to the server's clock, as the CLI's report ages them to its own.
      const { date, gapDays } = request.query;
      return store.settlementReport(date, {
        now: now(),
        ...(gapDays === undefined ? {} : { gapDays: Number(gapDays) }),
      });
    },
  );
}
