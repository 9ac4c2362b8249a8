/**
 * Every failure becomes `{ code: "ACQ_ERR_…", message, details? }` with a 4xx or 5xx status: the
 * framework's own errors (bad JSON, schema, body too large, media type, unknown route), ours
 * (AcquirerError), the database's (503: retry) and anything unexpected (500, logged with its stack;
 * the client sees no internals). No route stores anything before its last check passed, and a
 * batch is written in one transaction, so an error never leaves partial state.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isDatabaseError, isUnavailable } from "../db/engine.js";
import { AcquirerError, type AcquirerErrorCode } from "../errors.js";

const STATUS: Partial<Record<AcquirerErrorCode, number>> = {
  ACQ_ERR_BAD_REQUEST: 400,
  ACQ_ERR_UNAUTHORIZED: 401,
  ACQ_ERR_TERMINAL_CERT: 403,
  ACQ_ERR_TERMINAL_REVOKED: 403,
  ACQ_ERR_TERMINAL_MISMATCH: 403,
  ACQ_ERR_MANIFEST_SIGNATURE: 403,
  ACQ_ERR_NOT_FOUND: 404,
  ACQ_ERR_CHAIN_BREAK: 409,
  ACQ_ERR_IDEMPOTENCY_CONFLICT: 409,
  ACQ_ERR_IN_FLIGHT: 409,
  ACQ_ERR_BODY_TOO_LARGE: 413,
  // The wallet platform: who is asking, what it names, and the refusals a terminal acts on by code.
  ACQ_ERR_REQUEST_SIGNATURE: 401,
  ACQ_ERR_REQUEST_TIME: 400,
  ACQ_ERR_WALLET_UNKNOWN: 404,
  ACQ_ERR_LOAD_UNKNOWN: 404,
  ACQ_ERR_REVERSAL_UNKNOWN: 404,
  ACQ_ERR_COMMAND_UNKNOWN: 404,
  ACQ_ERR_COMMAND_STATE: 409,
  ACQ_ERR_WALLET_NOT_LOST: 409,
  ACQ_ERR_PARAMS_RANGE: 400,
  ACQ_ERR_CHALLENGE_REUSED: 409,
  ACQ_ERR_LOAD_STATE: 409,
  ACQ_ERR_REVERSAL_DAY: 409,
  ACQ_ERR_WALLET_EXISTS: 409,
  ACQ_ERR_ACCOUNT_EXISTS: 409,
  ACQ_ERR_WALLET_BLOCKED: 422,
  ACQ_ERR_CARD_MISMATCH: 422,
  ACQ_ERR_CARD_CERT: 422,
  ACQ_ERR_UNKNOWN_ISSUER: 422,
  ACQ_ERR_CARD_REVOKED: 422,
  ACQ_ERR_RECORD_FORMAT: 422,
  ACQ_ERR_CURRENCY: 422,
  ACQ_ERR_LOAD_AMOUNT: 422,
  ACQ_ERR_OVER_BALANCE_LIMIT: 422,
  ACQ_ERR_NO_BOUND_ACCOUNT: 422,
  ACQ_ERR_AUTO_LOAD_OFF: 422,
  ACQ_ERR_ACCOUNT_UNKNOWN: 422,
  ACQ_ERR_ACCOUNT_CLOSED: 422,
  ACQ_ERR_INSUFFICIENT_FUNDS: 422,
  ACQ_ERR_LOAD_SIGNATURE: 422,
  ACQ_ERR_LOAD_RECORD_MISMATCH: 422,
  ACQ_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ACQ_ERR_STORE: 503,
  ACQ_ERR_STORE_UNAVAILABLE: 503,
  ACQ_ERR_STORE_CONFLICT: 503,
};

export function statusOf(code: AcquirerErrorCode): number {
  return STATUS[code] ?? 500;
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The framework's error for a request the client got wrong, as our code. */
function frameworkCode(e: FastifyError): AcquirerErrorCode | undefined {
  if (e.validation) return "ACQ_ERR_BAD_REQUEST";
  switch (e.statusCode) {
    case 413:
      return "ACQ_ERR_BODY_TOO_LARGE";
    case 415:
      return "ACQ_ERR_UNSUPPORTED_MEDIA_TYPE";
    case 404:
      return "ACQ_ERR_NOT_FOUND";
    default:
      return e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500
        ? "ACQ_ERR_BAD_REQUEST"
        : undefined;
  }
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let status: number;
  let body: ErrorBody;
  if (error instanceof AcquirerError) {
    status = statusOf(error.code);
    body = { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
    if (error.code === "ACQ_ERR_IN_FLIGHT" || status === 503) reply.header("retry-after", "1");
    if (status >= 500) request.log.error({ err: error }, "request failed");
    else request.log.info({ code: error.code, status }, error.message);
  } else if (isDatabaseError(error)) {
    status = 503;
    body = isUnavailable(error)
      ? {
          code: "ACQ_ERR_STORE_UNAVAILABLE",
          message: "the database connection was lost; nothing was stored: retry",
        }
      : { code: "ACQ_ERR_STORE", message: "the database is unavailable; nothing was stored: retry" };
    reply.header("retry-after", "1");
    request.log.error({ code: body.code, err: error }, "database error");
  } else {
    const code = frameworkCode(error);
    if (code) {
      status = code === "ACQ_ERR_BAD_REQUEST" ? 400 : statusOf(code);
      const message =
        code === "ACQ_ERR_BODY_TOO_LARGE"
          ? `request body is larger than ${request.routeOptions.bodyLimit ?? "the"} bytes accepted`
          : error.message;
      body = { code, message };
      request.log.info({ code, status }, message);
    } else {
      status = 500;
      body = { code: "ACQ_ERR_INTERNAL", message: "internal error; nothing was stored" };
      request.log.error({ err: error }, "unexpected error");
    }
  }
  void reply.status(status).type("application/json").send(body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply
    .status(404)
    .send({ code: "ACQ_ERR_NOT_FOUND", message: `no route ${request.method} ${request.url}` });
}
