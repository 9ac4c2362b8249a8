/**
 * Who may call the operator routes (block, unblock, ledgers, reports, findings, the platform's
 * wallet views). The app is told one of three things, explicitly; there is no "no token means
 * open", so no code path opens them by accident:
 *
 *   { token }      each operator route needs `Authorization: Bearer <token>` (else 401
 *                  ACQ_ERR_UNAUTHORIZED);
 *   { open: true } no token (in-process tests; `serve --insecure-operator-routes`, loudly);
 *   { off: true }  the operator routes are not registered at all (404); terminals are served.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { OperatorActor } from "../db/audit.js";
import { AcquirerError } from "../errors.js";

export type OperatorAccess = { readonly token: string } | { readonly open: true } | { readonly off: true };

export type OperatorMode = "token" | "open" | "off";

/**
 * The one mode `access` names, or ACQ_ERR_NO_OPERATOR_TOKEN for anything else (an empty token,
 * none of the three, or more than one): a mistake refuses to start rather than opens.
 */
export function operatorMode(access: OperatorAccess): OperatorMode {
  const a = access as { token?: unknown; open?: unknown; off?: unknown } | undefined;
  const modes: OperatorMode[] = [];
  if (a?.token !== undefined) {
    if (typeof a.token !== "string" || a.token === "")
      throw new AcquirerError("ACQ_ERR_NO_OPERATOR_TOKEN", "the operator token is empty");
    modes.push("token");
  }
  if (a?.open === true) modes.push("open");
  if (a?.off === true) modes.push("off");
  if (modes.length !== 1)
    throw new AcquirerError(
      "ACQ_ERR_NO_OPERATOR_TOKEN",
      "say how operators are let in: exactly one of { token }, { open: true }, { off: true }",
    );
  return modes[0]!;
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/**
 * A preHandler for an operator route. With a token it compares the SHA-256 digests of the
 * Authorization header given and the one expected with timingSafeEqual: constant time, and the
 * digests are always 32 bytes, so neither the token nor its length leaks through timing.
 */
export function operatorAuthorizer(access: OperatorAccess) {
  const mode = operatorMode(access);
  const expected = "token" in access && mode === "token" ? sha256(`Bearer ${access.token}`) : undefined;
  return async (request: FastifyRequest): Promise<void> => {
    if (mode === "open") return;
    // `off`: the routes are not registered; should one be, it refuses everyone.
    const given = sha256(request.headers.authorization ?? "");
    if (!expected || !timingSafeEqual(given, expected))
      throw new AcquirerError("ACQ_ERR_UNAUTHORIZED", "operator token missing or wrong");
  };
}

/** Who an operator request is, for the audit log: how it was let in, and from where. */
export function httpActor(access: OperatorAccess, request: FastifyRequest): OperatorActor {
  return {
    via: "http",
    who: operatorMode(access) === "token" ? "operator-token" : "open-operator-routes",
    address: request.ip ?? null,
  };
}
