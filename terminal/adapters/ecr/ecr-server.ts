/**
 * The cash-register (ECR) API: local HTTP JSON on 127.0.0.1, nexo-like semantics (see
 * application/payment-manager.ts). Every body is validated against a JSON schema; what is wrong
 * gets a 4xx with a stable code and a reason, and changes nothing.
 *
 *   POST /v1/payments {serviceId, amount (minor units), currency, reference?}  [?wait=seconds]
 *   GET  /v1/payments/:serviceId [?wait=seconds]   long-poll until the payment is final
 *   POST /v1/payments/:serviceId/abort
 *   POST /v1/payments/:serviceId/recover           a torn payment resolved on the next tap, no charge
 *   POST /v1/refunds, GET /v1/refunds/:serviceId     refunds of returned goods (ecr-refunds.ts)
 *   POST /v1/stored-value, GET …/:serviceId, POST …/:serviceId/abort   load, reverse, balance
 *                                                    inquiry with the card (ecr-stored-value.ts)
 *   GET  /v1/status
 *   GET  /v1/totals                                  since the last upload, by outcome and currency
 *
 * Who may call it (every route, before anything else): a request whose Host is not the bound
 * address, localhost, a loopback address or a name in ecr.allowedHosts is refused (a web page that
 * re-binds its own DNS name to 127.0.0.1 cannot reach the API); so is a browser's cross-origin
 * request (an Origin other than the API's own, or Sec-Fetch-Site other than same-origin or none);
 * and with ecr.token set, a request without `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from "fastify";
import { currencyByCode, MAX_AMOUNT_MINOR } from "../../../protocol/amount.js";
import type { Logger } from "../../../protocol/logger.js";
import { money } from "../../application/outcome-json.js";
import type { PaymentManager } from "../../application/payment-manager.js";
import type { Batches, EcrPayments } from "../../application/ports.js";
import type { RefundDeps } from "../../application/refund.js";
import type { StoredValueManager } from "../../application/stored-value-manager.js";
import { httpStatus, TerminalError } from "../../errors.js";
import { registerRefundRoutes } from "./ecr-refunds.js";
import { currencyProperty, serviceIdProperty, serviceParams, waitQuery } from "./ecr-schemas.js";
import { registerStoredValueRoutes } from "./ecr-stored-value.js";

/** What GET /v1/totals reads. */
export interface TotalsSources {
  readonly batches: Pick<Batches, "unbatched" | "lastUploadAt">;
  readonly ecrPayments: Pick<EcrPayments, "tallySince">;
}

export interface EcrAppOptions {
  readonly manager: PaymentManager;
  readonly stores: TotalsSources;
  readonly logger: Logger;
  /** Extra fields for GET /v1/status (terminal id, reader, certificate…). */
  readonly status: () => Record<string, unknown>;
  /** Longest long-poll a client may ask for, seconds. */
  readonly maxWaitSeconds?: number;
  /** Who may call the API (Host names, bearer token); default: loopback names only, no token. */
  readonly access?: EcrAccess;
  /** Refunds (POST /v1/refunds); without them the routes are not served. */
  readonly refunds?: RefundDeps;
  /** Stored-value operations (POST /v1/stored-value); without them the routes are not served. */
  readonly storedValue?: StoredValueManager;
}

export interface EcrAccess {
  /** The address the API listens on (ecr.host). */
  readonly boundHost: string;
  /** Other names the Host header may carry (ecr.allowedHosts). */
  readonly allowedHosts?: readonly string[];
  /** When set, `Authorization: Bearer <token>` is required (ecr.token, $TAPWALLET_ECR_TOKEN). */
  readonly token?: string;
}

/** The access rules from the configuration's `ecr` section. */
export function ecrAccess(ecr: {
  readonly host: string;
  readonly allowedHosts: readonly string[];
  readonly token?: string | undefined;
}): EcrAccess {
  return {
    boundHost: ecr.host,
    allowedHosts: ecr.allowedHosts,
    ...(ecr.token === undefined ? {} : { token: ecr.token }),
  };
}

/** The host name of a Host header or an origin's host ("[::1]:8765" → "::1"), lower case. */
function hostName(hostAndPort: string): string {
  const h = hostAndPort.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") === -1 ? undefined : h.indexOf("]"));
  const colons = h.split(":").length - 1;
  const name = colons === 1 ? h.slice(0, h.indexOf(":")) : h;
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1)$/;

/** Why a request may not use the API (403 or 401), or undefined when it may. */
function refusal(
  req: FastifyRequest,
  access: EcrAccess,
  allowed: ReadonlySet<string>,
  tokenDigest: Buffer | undefined,
): TerminalError | undefined {
  const host = req.headers.host;
  if (!host || !(LOOPBACK.test(hostName(host)) || allowed.has(hostName(host))))
    return new TerminalError(
      "TERM_ERR_ECR_FORBIDDEN",
      `Host ${JSON.stringify(host ?? "")} is not this terminal's (${access.boundHost}, localhost or ecr.allowedHosts)`,
    );
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none")
    return new TerminalError(
      "TERM_ERR_ECR_FORBIDDEN",
      `a cross-origin browser request (Sec-Fetch-Site ${site})`,
    );
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let same = false;
    try {
      const o = new URL(origin);
      same = o.protocol === "http:" && o.host === host.trim().toLowerCase();
    } catch {
      same = false;
    }
    if (!same)
      return new TerminalError("TERM_ERR_ECR_FORBIDDEN", `a cross-origin browser request (Origin ${origin})`);
  }
  if (tokenDigest) {
    const auth = req.headers.authorization ?? "";
    const given = /^Bearer (\S+)$/.exec(auth)?.[1];
    const digest = createHash("sha256")
      .update(given ?? "")
      .digest();
    if (given === undefined || !timingSafeEqual(digest, tokenDigest))
      return new TerminalError(
        "TERM_ERR_ECR_UNAUTHORIZED",
        given === undefined ? "this API needs Authorization: Bearer <ecr.token>" : "wrong bearer token",
      );
  }
  return undefined;
}

const paymentBody = {
  type: "object",
  additionalProperties: false,
  required: ["serviceId", "amount", "currency"],
  properties: {
    serviceId: serviceIdProperty,
    amount: { type: "integer", minimum: 1, maximum: MAX_AMOUNT_MINOR },
    currency: currencyProperty,
    reference: { type: "string", maxLength: 64 },
  },
} as const;

interface PaymentBody {
  serviceId: string;
  amount: number;
  currency: string;
  reference?: string;
}

export function buildEcrApp(o: EcrAppOptions) {
  const app = Fastify({
    loggerInstance: o.logger.child({ component: "ecr" }),
    bodyLimit: 16 * 1024,
    connectionTimeout: 130_000,
    requestTimeout: 130_000,
    // No type coercion: "450" is not an amount. Query strings are matched as text instead.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const maxWait = o.maxWaitSeconds ?? 60;
  const access = o.access ?? { boundHost: "127.0.0.1" };
  const allowed = new Set(
    [access.boundHost, ...(access.allowedHosts ?? [])]
      .map(hostName)
      .filter((h) => h !== "0.0.0.0" && h !== "::"),
  );
  const tokenDigest =
    access.token === undefined ? undefined : createHash("sha256").update(access.token).digest();
  app.addHook("onRequest", async (req, reply) => {
    const no = refusal(req, access, allowed, tokenDigest);
    if (!no) return;
    o.logger.warn(
      { code: no.code, host: req.headers.host, origin: req.headers.origin },
      `ECR request refused: ${no.message}`,
    );
    if (no.code === "TERM_ERR_ECR_UNAUTHORIZED") reply.header("www-authenticate", 'Bearer realm="posd"');
    return reply.code(httpStatus(no.code)).send({ code: no.code, message: no.message });
  });

  app.setErrorHandler((error: FastifyError, _req, reply) => {
    if (error.validation) {
      return reply
        .code(400)
        .send({ code: "TERM_ERR_ECR_BAD_REQUEST", message: `invalid request: ${error.message}` });
    }
    if (error.statusCode === 413) {
      return reply.code(413).send({ code: "TERM_ERR_ECR_BAD_REQUEST", message: "request body too large" });
    }
    if (error.statusCode && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ code: "TERM_ERR_ECR_BAD_REQUEST", message: error.message });
    }
    o.logger.error({ err: error }, "ECR API error");
    return reply.code(500).send({ code: "TERM_ERR_INTERNAL", message: "internal error" });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: "TERM_ERR_ECR_NOT_FOUND", message: "no such route" }),
  );

  /** A request the terminal refuses (busy, conflicting serviceId...): the catalog's HTTP status. */
  const refused = (reply: FastifyReply, e: TerminalError) =>
    reply.code(httpStatus(e.code)).send({ code: e.code, message: e.message });

  app.post<{ Body: PaymentBody; Querystring: { wait?: string } }>(
    "/v1/payments",
    { schema: { body: paymentBody, querystring: waitQuery } },
    async (req, reply) => {
      let currency: number;
      try {
        currency = currencyByCode(req.body.currency).numeric;
      } catch (e) {
        return reply.code(400).send({ code: "TERM_ERR_ECR_BAD_REQUEST", message: (e as Error).message });
      }
      try {
        const { payment, created } = o.manager.start({
          serviceId: req.body.serviceId,
          amount: req.body.amount,
          currency,
          ...(req.body.reference === undefined ? {} : { reference: req.body.reference }),
        });
        const wait = Math.min(Number(req.query.wait ?? 0), maxWait);
        const view = wait > 0 ? await o.manager.waitFinal(payment.serviceId, wait * 1000) : payment;
        return reply.code(created ? 201 : 200).send(view);
      } catch (e) {
        if (e instanceof TerminalError) return refused(reply, e);
        throw e;
      }
    },
  );

  app.get<{ Params: { serviceId: string }; Querystring: { wait?: string } }>(
    "/v1/payments/:serviceId",
    { schema: { params: serviceParams, querystring: waitQuery } },
    async (req, reply) => {
      const wait = Math.min(Number(req.query.wait ?? 0), maxWait);
      const payment =
        wait > 0
          ? await o.manager.waitFinal(req.params.serviceId, wait * 1000)
          : o.manager.get(req.params.serviceId);
      if (!payment)
        return reply
          .code(404)
          .send({ code: "TERM_ERR_ECR_NOT_FOUND", message: "no payment with this serviceId" });
      return payment;
    },
  );

  app.post<{ Params: { serviceId: string } }>(
    "/v1/payments/:serviceId/abort",
    { schema: { params: serviceParams } },
    async (req, reply) => {
      try {
        const payment = o.manager.abort(req.params.serviceId);
        if (!payment)
          return reply
            .code(404)
            .send({ code: "TERM_ERR_ECR_NOT_FOUND", message: "no payment with this serviceId" });
        return (await o.manager.waitFinal(req.params.serviceId, 5_000)) ?? payment;
      } catch (e) {
        if (e instanceof TerminalError) return refused(reply, e);
        throw e;
      }
    },
  );

  // A torn payment resolved from the wallet's log on its next tap, without charging again (the
  // cashier's procedure after a lost answer, README "Cash-register API").
  app.post<{ Params: { serviceId: string } }>(
    "/v1/payments/:serviceId/recover",
    { schema: { params: serviceParams } },
    async (req, reply) => {
      try {
        const payment = await o.manager.recover(req.params.serviceId);
        if (!payment)
          return reply
            .code(404)
            .send({ code: "TERM_ERR_ECR_NOT_FOUND", message: "no payment with this serviceId" });
        return payment;
      } catch (e) {
        if (e instanceof TerminalError) return refused(reply, e);
        throw e;
      }
    },
  );

  const refunds = o.refunds;
  if (refunds) void app.register(async (scope) => registerRefundRoutes(scope, refunds));
  const storedValue = o.storedValue;
  if (storedValue) void app.register(async (scope) => registerStoredValueRoutes(scope, storedValue, maxWait));

  app.get("/v1/status", async () => ({
    ...o.status(),
    busy: o.manager.busy,
    current: o.manager.current() ?? null,
    ...(storedValue ? { currentStoredValue: storedValue.current() ?? null } : {}),
  }));

  app.get("/v1/totals", async () => totals(o.stores));
  return app;
}

/** Reconciliation totals since the last upload: by outcome and currency. */
export function totals(stores: TotalsSources): Record<string, unknown> {
  const since = stores.batches.lastUploadAt() ?? 0;
  const rows = stores.batches.unbatched();
  const ecr = stores.ecrPayments.tallySince(since);
  return {
    since: since === 0 ? null : new Date(since).toISOString(),
    records: rows.map((r) => ({ ...r, amountText: money(r.amount, r.currency) })),
    registerPayments: ecr.map((r) => ({ ...r, amountText: money(r.amount, r.currency) })),
  };
}
