/**
 * Refunds on the cash-register API, with the serviceId idempotency and the status query of
 * payments (application/refund.ts). A refund needs no card, so it is final when it is answered:
 * there is nothing to wait for and nothing to abort.
 *
 *   POST /v1/refunds {serviceId, seq, amount (minor units), currency}   201 stored, 200 the same again
 *   GET  /v1/refunds/:serviceId                                          where it is (stored, sent, settled…)
 */
import type { FastifyInstance } from "fastify";
import { currencyByCode, MAX_AMOUNT_MINOR } from "../../../protocol/amount.js";
import { type RefundDeps, refundJson, runRefund } from "../../application/refund.js";
import { httpStatus, TerminalError } from "../../errors.js";
import { currencyProperty, serviceIdProperty, serviceParams } from "./ecr-schemas.js";

const refundBody = {
  type: "object",
  additionalProperties: false,
  required: ["serviceId", "seq", "amount", "currency"],
  properties: {
    serviceId: serviceIdProperty,
    seq: { type: "integer", minimum: 1, maximum: 0xffffffff },
    amount: { type: "integer", minimum: 1, maximum: MAX_AMOUNT_MINOR },
    currency: currencyProperty,
  },
} as const;

interface RefundBody {
  serviceId: string;
  seq: number;
  amount: number;
  currency: string;
}

export function registerRefundRoutes(app: FastifyInstance, deps: RefundDeps): void {
  app.post<{ Body: RefundBody }>("/v1/refunds", { schema: { body: refundBody } }, async (req, reply) => {
    let currency: number;
    try {
      currency = currencyByCode(req.body.currency).numeric;
    } catch (e) {
      return reply.code(400).send({ code: "TERM_ERR_ECR_BAD_REQUEST", message: (e as Error).message });
    }
    try {
      const { refund, created } = runRefund(deps, {
        serviceId: req.body.serviceId,
        seq: req.body.seq,
        amount: req.body.amount,
        currency,
      });
      return reply.code(created ? 201 : 200).send(refundJson(refund));
    } catch (e) {
      if (e instanceof TerminalError)
        return reply.code(httpStatus(e.code)).send({ code: e.code, message: e.message });
      throw e;
    }
  });

  app.get<{ Params: { serviceId: string } }>(
    "/v1/refunds/:serviceId",
    { schema: { params: serviceParams } },
    async (req, reply) => {
      const refund = deps.refunds.byServiceId(req.params.serviceId);
      if (!refund)
        return reply
          .code(404)
          .send({ code: "TERM_ERR_ECR_NOT_FOUND", message: "no refund with this serviceId" });
      return refundJson(refund);
    },
  );
}
