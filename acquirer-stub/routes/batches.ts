/**
 * POST /v1/batches — a terminal uploads a batch (BatchUpload); the answer is a BatchResult:
 *   200 settled (per-record verdicts), 422 rejected as a whole (stored: retries get it again),
 *   400 malformed, 403 terminal not authenticated, 409 idempotency conflict / in flight / batch
 *   does not continue the terminal's chain, 413 body too large, 503 database unavailable.
 * GET /v1/batches/:batchId[?terminalId=] — the stored answer for a terminal's batch id (a
 *   terminal that lost the answer asks instead of resending), 404 when the acquirer has no verdict
 *   for it; 400 when several terminals used the id and none is named.
 * A replayed answer carries the header `idempotent-replayed: true`.
 */
import type { FastifyInstance } from "fastify";
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import type { BatchOutcome, BatchProcessor } from "../application/batches.js";
import { AcquirerError } from "../errors.js";
import { batchIdParamsSchema, batchQuerySchema, batchUploadSchema } from "./schemas.js";

export function registerBatchRoutes(app: FastifyInstance, processor: BatchProcessor): void {
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
    { schema: { params: batchIdParamsSchema, querystring: batchQuerySchema } },
    async (request, reply) => {
      const outcome = await processor.stored(request.params.batchId, request.query.terminalId);
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
