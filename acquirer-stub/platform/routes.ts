/**
 * The wallet platform's HTTP routes (JSON; the types of protocol/platform/api.ts). Terminal routes
 * are signed by the terminal's certificate key (auth.ts) and idempotent by their ids:
 *
 *   POST /v1/platform/wallets/:walletId/presented   PresentedRequest → PresentedAnswer
 *   POST /v1/platform/loads                         LoadRequest → LoadCommand
 *   POST /v1/platform/loads/:loadId/complete        CardRecordProof → LoadState
 *   POST /v1/platform/loads/:loadId/reversal        ReversalRequest → ReversalCommand
 *   POST /v1/platform/loads/:loadId/reversal/complete  ReversalOutcome → LoadState
 *   POST /v1/platform/commands/:commandId/sign      CommandSignRequest → SignedIssuerCommand
 *   POST /v1/platform/commands/:commandId/complete  CommandCompletion → CommandState
 *   POST /v1/platform/attention                     AttentionRequest → AttentionAnswer
 *
 * 200 with the answer; 400 malformed (or ACQ_ERR_REQUEST_TIME), 401 unsigned or a signature that
 * does not verify, 403 terminal certificate refused or revoked, 404 wallet / load / reversal
 * unknown, 409 idempotency conflict / challenge reused / load state, 422 a refusal a terminal acts
 * on by code (PLATFORM_REFUSALS), 503 database unavailable (retry).
 *
 * Operator (as the app's OperatorAccess says: with the token, open, or not registered when off):
 *   GET /v1/platform/wallets/:walletId   the wallet, its accounts, bound account and loads
 *   GET /v1/platform/reconciliation      every account reconciled (PlatformReconciliation)
 */
import type { FastifyInstance } from "fastify";
import type {
  AttentionRequest,
  CardRecordProof,
  CommandCompletion,
  CommandSignRequest,
  LoadRequest,
  PresentedRequest,
  ReversalOutcome,
  ReversalRequest,
} from "../../protocol/platform/api.js";
import { type OperatorAccess, operatorAuthorizer, operatorMode } from "../routes/operator-auth.js";
import { authenticateRequests, keepRawJsonBodies, terminalOf } from "./auth.js";
import { completeCommand, signCommand } from "./commands.js";
import type { PlatformContext } from "./context.js";
import { completeLoad, requestLoad } from "./loads.js";
import { platformReconciliation } from "./reports.js";
import { completeReversal, requestReversal } from "./reversals.js";
import {
  attentionRequestSchema,
  cardRecordProofSchema,
  commandCompletionSchema,
  commandParamsSchema,
  commandSignRequestSchema,
  loadParamsSchema,
  loadRequestSchema,
  presentedRequestSchema,
  reversalOutcomeSchema,
  reversalRequestSchema,
  walletParamsSchema,
} from "./schemas.js";
import { attention, presented, walletView } from "./wallets.js";

/** A platform request is a few kilobytes (a card certificate at most). */
export const PLATFORM_BODY_LIMIT = 64 * 1024;

export interface PlatformRouteDeps {
  readonly ctx: PlatformContext;
  readonly isTerminalRevoked: (terminalId: string) => Promise<boolean>;
  readonly operator: OperatorAccess;
}

export function registerPlatformRoutes(app: FastifyInstance, deps: PlatformRouteDeps): void {
  const { ctx } = deps;

  void app.register(async (scope) => {
    keepRawJsonBodies(scope);
    scope.addHook(
      "preValidation",
      authenticateRequests({ trust: ctx.trust, clock: ctx.clock, isTerminalRevoked: deps.isTerminalRevoked }),
    );
    const options = <B, P>(body: B, params?: P) => ({
      schema: { body, ...(params ? { params } : {}) },
      bodyLimit: PLATFORM_BODY_LIMIT,
    });

    scope.post<{ Params: { walletId: string }; Body: PresentedRequest }>(
      "/v1/platform/wallets/:walletId/presented",
      options(presentedRequestSchema, walletParamsSchema),
      async (request) => presented(ctx, terminalOf(request), request.params.walletId, request.body),
    );

    scope.post<{ Body: LoadRequest }>("/v1/platform/loads", options(loadRequestSchema), async (request) =>
      requestLoad(ctx, terminalOf(request), request.body),
    );

    scope.post<{ Params: { loadId: string }; Body: CardRecordProof }>(
      "/v1/platform/loads/:loadId/complete",
      options(cardRecordProofSchema, loadParamsSchema),
      async (request) => completeLoad(ctx, request.params.loadId, request.body),
    );

    scope.post<{ Params: { loadId: string }; Body: ReversalRequest }>(
      "/v1/platform/loads/:loadId/reversal",
      options(reversalRequestSchema, loadParamsSchema),
      async (request) => requestReversal(ctx, terminalOf(request), request.params.loadId, request.body),
    );

    scope.post<{ Params: { loadId: string }; Body: ReversalOutcome }>(
      "/v1/platform/loads/:loadId/reversal/complete",
      options(reversalOutcomeSchema, loadParamsSchema),
      async (request) => completeReversal(ctx, request.params.loadId, request.body),
    );

    scope.post<{ Params: { commandId: string }; Body: CommandSignRequest }>(
      "/v1/platform/commands/:commandId/sign",
      options(commandSignRequestSchema, commandParamsSchema),
      async (request) => signCommand(ctx, terminalOf(request), request.params.commandId, request.body),
    );

    scope.post<{ Params: { commandId: string }; Body: CommandCompletion }>(
      "/v1/platform/commands/:commandId/complete",
      options(commandCompletionSchema, commandParamsSchema),
      async (request) => completeCommand(ctx, terminalOf(request), request.params.commandId, request.body),
    );

    scope.post<{ Body: AttentionRequest }>(
      "/v1/platform/attention",
      options(attentionRequestSchema),
      async (request) => attention(ctx, request.body),
    );
  });

  if (operatorMode(deps.operator) === "off") return;
  const authorize = operatorAuthorizer(deps.operator);
  app.get<{ Params: { walletId: string } }>(
    "/v1/platform/wallets/:walletId",
    { schema: { params: walletParamsSchema }, preHandler: authorize },
    async (request) => walletView(ctx.store, request.params.walletId),
  );

  app.get("/v1/platform/reconciliation", { preHandler: authorize }, async () =>
    platformReconciliation(ctx.store),
  );
}
