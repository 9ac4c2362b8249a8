/**
 * Who sends a wallet-platform request (protocol/platform/request-auth.ts): the terminal whose
 * certificate chain is in `tapwallet-certificates` and whose certificate key signed the method,
 * the path and the exact body bytes received (`tapwallet-signature`).
 *
 * The body must be checked as received, not as parsed, so the platform's routes keep it: their
 * scope replaces the JSON parser with one that keeps the raw text beside the parsed value. Then,
 * before the schema validation, the chain is verified (ACQ_ERR_TERMINAL_CERT / _REVOKED, as for
 * batches), the terminal id checked against the revoked ones, and the signature over what came
 * (ACQ_ERR_REQUEST_SIGNATURE, 401). The terminal id of a request is its certificate's.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { readPlatformRequestAuth, verifyPlatformRequest } from "../../protocol/platform/request-auth.js";
import type { AcquirerTrust, AuthenticatedTerminal } from "../domain/trust.js";
import { AcquirerError } from "../errors.js";

const rawBodies = new WeakMap<FastifyRequest, string>();
const terminals = new WeakMap<FastifyRequest, AuthenticatedTerminal>();

/** In this scope, JSON bodies are parsed as before (prototype poisoning refused) and kept as text. */
export function keepRawJsonBodies(scope: FastifyInstance): void {
  const parse = scope.getDefaultJsonParser("error", "error");
  scope.removeContentTypeParser("application/json");
  scope.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    rawBodies.set(request, body as string);
    (parse as (r: FastifyRequest, b: string, d: typeof done) => void)(request, body as string, done);
  });
}

export interface RequestAuthDeps {
  readonly trust: AcquirerTrust;
  readonly clock: () => Date;
  readonly isTerminalRevoked: (terminalId: string) => Promise<boolean>;
}

/** A preValidation hook: authenticate the terminal and its signature over the request. */
export function authenticateRequests(deps: RequestAuthDeps) {
  return async (request: FastifyRequest): Promise<void> => {
    const auth = readPlatformRequestAuth(request.headers);
    if ("error" in auth)
      throw new AcquirerError("ACQ_ERR_REQUEST_SIGNATURE", `the request is not signed: ${auth.error}`);
    const terminal = deps.trust.authenticateTerminal(auth.chain, deps.clock());
    if (await deps.isTerminalRevoked(terminal.terminalId))
      throw new AcquirerError("ACQ_ERR_TERMINAL_REVOKED", `terminal ${terminal.terminalId} is revoked`, {
        details: { terminalId: terminal.terminalId },
      });
    const body = rawBodies.get(request) ?? "";
    if (
      !verifyPlatformRequest(
        terminal.publicKey,
        { method: request.method, path: request.url, body },
        auth.signature,
      )
    )
      throw new AcquirerError(
        "ACQ_ERR_REQUEST_SIGNATURE",
        `the signature of terminal ${terminal.terminalId} does not verify over this request`,
        { details: { terminalId: terminal.terminalId } },
      );
    terminals.set(request, terminal);
  };
}

/** The terminal that sent an authenticated request. */
export function terminalOf(request: FastifyRequest): AuthenticatedTerminal {
  const terminal = terminals.get(request);
  if (!terminal) throw new Error("platform route reached without request authentication");
  return terminal;
}
