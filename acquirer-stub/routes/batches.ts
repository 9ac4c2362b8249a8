/**
 * POST /v1/batches — a terminal uploads a batch (BatchUpload); the answer is a BatchResult:
 *   200 settled (per-record verdicts), 422 rejected as a whole (stored: retries get it again),
 *   400 malformed, 403 terminal not authenticated, 409 idempotency conflict / in flight / batch
 *   does not continue the terminal's chain, 413 body too large, 503 database unavailable.
 * GET /v1/batches/:batchId[?terminalId=] — the stored answer for a terminal's batch id (a
 *   terminal that lost the answer asks instead of resending), 404 when the acquirer has no verdict
 *   for it. Only for the terminal that sent the batch (a request signed like the platform's,
 *   protocol/platform/request-auth.ts: it reads its own batches only) or an operator (with the
 *   operator token; `?terminalId=` names the terminal, needed when several used the id); anyone
 *   else gets 401.
 * A replayed answer carries the header `idempotent-replayed: true`.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { CERTIFICATES_HEADER } from "../../protocol/platform/request-auth.js";
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import type { BatchOutcome, BatchProcessor } from "../application/batches.js";
import { AcquirerError } from "../errors.js";
import { terminalOf } from "../platform/auth.js";
import { batchIdParamsSchema, batchQuerySchema, batchUploadSchema } from "./schemas.js";

export interface BatchRouteAuth {
  /** Authenticates a signed terminal request (platform/auth.ts); terminalOf then names the terminal. */
  readonly terminal: (request: FastifyRequest) => Promise<void>;
  /** The operator's authorization (routes/operator.ts). */
  readonly operator: (request: FastifyRequest) => Promise<void>;
}

export function registerBatchRoutes(
  app: FastifyInstance,
  processor: BatchProcessor,
  auth: BatchRouteAuth,
): void {
  app.post<{ Body: BatchUpload }>(
    "/v1/batches",
    { schema: { body: batchUploadSchema } },
    async (request, reply) => {
      const outcome = await processor.submit(request.body);
      return send(reply, outcome);
    },
  );

  app.get<{ Params: { batchId: string }; Querystring: { terminalId?: string } }>(
    "/v1/batches/:batchId",
    {
      schema: { params: batchIdParamsSchema, querystring: batchQuerySchema },
      // A signed request is a terminal's; anything else must be the operator's.
      preHandler: async (request) =>
        request.headers[CERTIFICATES_HEADER] === undefined ? auth.operator(request) : auth.terminal(request),
    },
    async (request, reply) => {
      const signed = request.headers[CERTIFICATES_HEADER] !== undefined;
      let terminalId = request.query.terminalId;
      if (signed) {
        const own = terminalOf(request).terminalId;
        if (terminalId !== undefined && terminalId !== own)
          throw new AcquirerError("ACQ_ERR_BAD_REQUEST", `terminal ${own} reads its own batches only`, {
            details: { terminalId: own, asked: terminalId },
          });
        terminalId = own;
      }
      const outcome = await processor.stored(request.params.batchId, terminalId);
      if (!outcome)
        throw new AcquirerError("ACQ_ERR_NOT_FOUND", `no verdict for batch ${request.params.batchId}`, {
          details: { batchId: request.params.batchId },
        });
      return send(reply, outcome);
    },
  );
}

function send(reply: import("fastify").FastifyReply, outcome: BatchOutcome) {
  if (outcome.replayed) reply.header("idempotent-replayed", "true");
  return reply.status(outcome.httpStatus).type("application/json").send(outcome.body);
}
