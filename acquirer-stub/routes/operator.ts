/**
 * Operator routes (the CLI does the same on the database file):
 *   POST /v1/wallets/:walletId/block {reason}  — loss report: 200 { walletId, blocked, changed, hotlistVersion }
 *   POST /v1/wallets/:walletId/unblock [{}]    — release: 200 (changed: false when it was not blocked)
 *   GET  /v1/wallets/:walletId/ledger          — accepted records by counter, gaps, balance breaks, clones
 *   GET  /v1/reports/settlement?date=YYYY-MM-DD — settlement, reconciliation, outstanding gaps, clones
 *   GET  /v1/findings, /v1/wallets/:walletId/findings — wallets terminals caught rolled back or edited
 *   GET  /v1/platform/wallets/:walletId        — the wallet platform's view (platform/routes.ts)
 * Who may call them is the app's OperatorAccess (operator-auth.ts): with a token each needs
 * `Authorization: Bearer <token>` (else 401); `off` registers none of them (404). Block and unblock
 * are written to the operator audit log (db/audit.ts) in their own transaction.
 */
import type { FastifyInstance } from "fastify";
import type { AcquirerStore } from "../db/store.js";
import type { BlockReason } from "../domain/hotlist.js";
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

  app.post<{ Params: { walletId: string }; Body: { reason: BlockReason } }>(
    "/v1/wallets/:walletId/block",
    { schema: { params: walletParamsSchema, body: blockBodySchema }, preHandler: authorize },
    async (request) => {
      const { walletId } = request.params;
      const changed = await store.blockWallet(
        walletId,
        request.body.reason,
        now(),
        httpActor(access, request),
      );
      request.log.info({ walletId, reason: request.body.reason, changed }, "wallet blocked");
      return { walletId, blocked: true, changed, hotlistVersion: await store.hotlistVersion() };
    },
  );

  app.post<{ Params: { walletId: string }; Body: unknown }>(
    "/v1/wallets/:walletId/unblock",
    { schema: { params: walletParamsSchema }, preHandler: authorize },
    async (request) => {
      // No body, or an empty JSON object: nothing else is accepted.
      const body = request.body;
      if (body !== undefined && (typeof body !== "object" || body === null || Object.keys(body).length > 0))
        throw new AcquirerError("ACQ_ERR_BAD_REQUEST", "unblock takes no body (or {})");
      const { walletId } = request.params;
      const changed = await store.unblockWallet(walletId, now(), httpActor(access, request));
      request.log.info({ walletId, changed }, "wallet unblocked");
      return { walletId, blocked: false, changed, hotlistVersion: await store.hotlistVersion() };
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

  app.get<{ Querystring: { date: string } }>(
    "/v1/reports/settlement",
    { schema: { querystring: reportQuerySchema }, preHandler: authorize },
    async (request) => {
      if (!isCalendarDate(request.query.date))
        throw new AcquirerError("ACQ_ERR_BAD_REQUEST", `date ${request.query.date} is not a calendar date`);
      return store.settlementReport(request.query.date);
    },
  );
}
