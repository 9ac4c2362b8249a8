/**
 * Stored-value operations on the cash-register API, nexo-style (StoredValueRequest with Load and
 * Reverse, and a balance inquiry), with the serviceId idempotency, status query and abort rules
 * of payments (application/stored-value-manager.ts). One card operation at a time, payments
 * included.
 *
 *   POST /v1/stored-value {serviceId, operation, amount?, currency?, source?, teller?, fromAccount?, loadId?}
 *        [?wait=seconds]                        201 new, 200 the same again; 400, 409, 422
 *   GET  /v1/stored-value/:serviceId [?wait=seconds]   long-poll until the operation is final
 *   POST /v1/stored-value/:serviceId/abort             only while it waits for the card
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { currencyByCode, MAX_AMOUNT_MINOR } from "../../../protocol/amount.js";
import type { StoredValueManager } from "../../application/stored-value-manager.js";
import {
  STORED_VALUE_OPERATIONS,
  STORED_VALUE_SOURCES,
  type StoredValueOperation,
  type StoredValueSource,
} from "../../domain/ecr-stored-value.js";
import { httpStatus, TerminalError } from "../../errors.js";
import { currencyProperty, serviceIdProperty, serviceParams, waitQuery } from "./ecr-schemas.js";

const storedValueBody = {
  type: "object",
  additionalProperties: false,
  required: ["serviceId", "operation"],
  properties: {
    serviceId: serviceIdProperty,
    operation: { type: "string", enum: STORED_VALUE_OPERATIONS },
    amount: { type: "integer", minimum: 1, maximum: MAX_AMOUNT_MINOR },
    currency: currencyProperty,
    source: { type: "string", enum: STORED_VALUE_SOURCES },
    teller: { type: "string", pattern: "^[A-Za-z0-9._-]{1,16}$" },
    fromAccount: { type: "string", pattern: "^[A-Za-z0-9._-]{1,34}$" },
    loadId: { type: "string", pattern: "^[0-9a-f]{16}$" },
  },
} as const;

interface StoredValueBody {
  serviceId: string;
  operation: StoredValueOperation;
  amount?: number;
  currency?: string;
  source?: StoredValueSource;
  teller?: string;
  fromAccount?: string;
  loadId?: string;
}

const notFound = (reply: FastifyReply) =>
  reply
    .code(404)
    .send({ code: "TERM_ERR_ECR_NOT_FOUND", message: "no stored-value operation with this serviceId" });

const refused = (reply: FastifyReply, e: TerminalError) =>
  reply.code(httpStatus(e.code)).send({ code: e.code, message: e.message });

export function registerStoredValueRoutes(
  app: FastifyInstance,
  manager: StoredValueManager,
  maxWaitSeconds: number,
): void {
  const waitMs = (wait: string | undefined) => Math.min(Number(wait ?? 0), maxWaitSeconds) * 1000;

  app.post<{ Body: StoredValueBody; Querystring: { wait?: string } }>(
    "/v1/stored-value",
    { schema: { body: storedValueBody, querystring: waitQuery } },
    async (req, reply) => {
      const { serviceId, currency: code, ...rest } = req.body;
      let currency: number | undefined;
      try {
        currency = code === undefined ? undefined : currencyByCode(code).numeric;
      } catch (e) {
        return reply.code(400).send({ code: "TERM_ERR_ECR_BAD_REQUEST", message: (e as Error).message });
      }
      try {
        const { operation, created } = manager.start({
          serviceId,
          terms: { ...rest, ...(currency === undefined ? {} : { currency }) },
        });
        const wait = waitMs(req.query.wait);
        const view = wait > 0 ? await manager.waitFinal(serviceId, wait) : operation;
        return reply.code(created ? 201 : 200).send(view);
      } catch (e) {
        if (e instanceof TerminalError) return refused(reply, e);
        throw e;
      }
    },
  );

  app.get<{ Params: { serviceId: string }; Querystring: { wait?: string } }>(
    "/v1/stored-value/:serviceId",
    { schema: { params: serviceParams, querystring: waitQuery } },
    async (req, reply) => {
      const wait = waitMs(req.query.wait);
      const { serviceId } = req.params;
      const operation = wait > 0 ? await manager.waitFinal(serviceId, wait) : manager.get(serviceId);
      return operation ?? notFound(reply);
    },
  );

  app.post<{ Params: { serviceId: string } }>(
    "/v1/stored-value/:serviceId/abort",
    { schema: { params: serviceParams } },
    async (req, reply) => {
      try {
        const operation = manager.abort(req.params.serviceId);
        if (!operation) return notFound(reply);
        return (await manager.waitFinal(req.params.serviceId, 5_000)) ?? operation;
      } catch (e) {
        if (e instanceof TerminalError) return refused(reply, e);
        throw e;
      }
    },
  );
}
