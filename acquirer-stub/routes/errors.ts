/**
 * Every failure becomes `{ code: "ACQ_ERR_…", message, details? }` with a 4xx or 5xx status: the
 * framework's own errors (bad JSON, schema, body too large, media type, unknown route), ours
 * (AcquirerError), the database's (503: retry) and anything unexpected (500, logged with its stack;
 * the client sees no internals). No route stores anything before its last check passed, and a
 * batch is written in one transaction, so an error never leaves partial state.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
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
  ACQ_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ACQ_ERR_STORE: 503,
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

function isSqliteError(e: unknown): boolean {
  return e instanceof Error && e.name === "SqliteError";
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let status: number;
  let body: ErrorBody;
  if (error instanceof AcquirerError) {
    status = statusOf(error.code);
    body = { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
    if (error.code === "ACQ_ERR_IN_FLIGHT") reply.header("retry-after", "1");
    if (status >= 500) request.log.error({ err: error }, "request failed");
    else request.log.info({ code: error.code, status }, error.message);
  } else if (isSqliteError(error)) {
    status = 503;
    body = { code: "ACQ_ERR_STORE", message: "the database is unavailable; nothing was stored: retry" };
    reply.header("retry-after", "1");
    request.log.error({ err: error }, "database error");
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
