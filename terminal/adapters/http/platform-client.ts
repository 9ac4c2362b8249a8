/**
 * The WalletPlatform port over HTTP: each request signed with the terminal's certificate key
 * (protocol/platform/request-auth.ts) and sent with the acquirer client's retries (the platform is
 * idempotent by each request's id, and the very same signed bytes are resent). Answers are checked
 * field by field before a use case sees them.
 *
 * A refusal the platform names (protocol/platform/api.ts, PLATFORM_REFUSALS) is TERM_ERR_LOAD_REFUSED
 * with the platform's code and message; any other 4xx is TERM_ERR_ACQUIRER_REJECTED.
 */
import type { KeyObject } from "node:crypto";
import {
  ATTENTION_MAX,
  type AttentionAnswer,
  type AttentionRequest,
  type CardRecordProof,
  type CommandCompletion,
  type CommandSignRequest,
  type CommandState,
  ISSUER_COMMAND_KINDS,
  LOAD_TYPES,
  type LoadCommand,
  type LoadRequest,
  type LoadState,
  PLATFORM_REFUSALS,
  type PresentedAnswer,
  type PresentedRequest,
  type ReversalCommand,
  type ReversalOutcome,
  type ReversalRequest,
  type SignedIssuerCommand,
  WALLET_STATUSES,
} from "../../../protocol/platform/api.js";
import { signPlatformRequest } from "../../../protocol/platform/request-auth.js";
import type { WalletPlatform } from "../../application/ports.js";
import { TerminalError } from "../../errors.js";
import type { AcquirerClient } from "./acquirer-client.js";

export interface PlatformSigner {
  readonly privateKey: KeyObject;
  /** The terminal certificate and its CA certificates (DER), leaf first. */
  readonly chain: readonly Uint8Array[];
}

const REFUSALS: ReadonlySet<string> = new Set(PLATFORM_REFUSALS);
const HEX = /^[0-9a-f]*$/;
/** A wallet id as the platform's routes take it (acquirer-stub/routes/schemas.ts). */
const WALLET_ID = /^[A-Za-z0-9._-]{1,16}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isHex = (v: unknown, length?: number): v is string =>
  typeof v === "string" && HEX.test(v) && (length === undefined || v.length === length);

function malformed(what: string): TerminalError {
  return new TerminalError("TERM_ERR_ACQUIRER_RESPONSE", `the platform's answer to ${what} is malformed`);
}

function asLoadState(body: unknown, loadId: string, what: string): LoadState {
  if (
    !isRecord(body) ||
    body.loadId !== loadId ||
    typeof body.walletId !== "string" ||
    !(LOAD_TYPES as readonly unknown[]).includes(body.type) ||
    !isCount(body.amount) ||
    !isCount(body.currency) ||
    !["pending", "loaded", "voided", "reversed"].includes(body.state as string) ||
    (body.cardCounter !== undefined && !isCount(body.cardCounter)) ||
    !Number.isSafeInteger(body.offlineBalance)
  )
    throw malformed(what);
  return body as unknown as LoadState;
}

export class PlatformClient implements WalletPlatform {
  readonly #http: AcquirerClient;
  readonly #signer: PlatformSigner;

  constructor(http: AcquirerClient, signer: PlatformSigner) {
    this.#http = http;
    this.#signer = signer;
  }

  async presented(walletId: string, request: PresentedRequest): Promise<PresentedAnswer> {
    const what = "the presentation of the wallet";
    const body = await this.#post(
      `/v1/platform/wallets/${encodeURIComponent(walletId)}/presented`,
      request,
      what,
    );
    if (
      !isRecord(body) ||
      body.walletId !== walletId ||
      !(WALLET_STATUSES as readonly unknown[]).includes(body.status) ||
      !Number.isSafeInteger(body.offlineBalance) ||
      !Number.isSafeInteger(body.onlineBalance) ||
      !isRecord(body.autoLoad) ||
      typeof body.autoLoad.on !== "boolean" ||
      !isCount(body.autoLoad.threshold) ||
      !isCount(body.autoLoad.amount) ||
      !Array.isArray(body.loadsInDoubt) ||
      !body.loadsInDoubt.every(
        (l: unknown) =>
          isRecord(l) &&
          isHex(l.loadId, 16) &&
          isCount(l.amount) &&
          isCount(l.currency) &&
          (LOAD_TYPES as readonly unknown[]).includes(l.type),
      ) ||
      !Array.isArray(body.pendingCommands) ||
      !body.pendingCommands.every(
        (c: unknown) =>
          isRecord(c) &&
          isHex(c.commandId, 16) &&
          (ISSUER_COMMAND_KINDS as readonly unknown[]).includes(c.kind),
      )
    )
      throw malformed(what);
    return body as unknown as PresentedAnswer;
  }

  async requestLoad(request: LoadRequest): Promise<LoadCommand> {
    const what = `load ${request.loadId}`;
    const body = await this.#post("/v1/platform/loads", request, what);
    if (
      !isRecord(body) ||
      body.loadId !== request.loadId ||
      !isCount(body.serial) ||
      !isCount(body.issuedAt) ||
      !isHex(body.command) ||
      (body.command as string).length === 0 ||
      !isCount(body.amount) ||
      !isCount(body.currency)
    )
      throw malformed(what);
    return body as unknown as LoadCommand;
  }

  async completeLoad(loadId: string, proof: CardRecordProof): Promise<LoadState> {
    const what = `the completion of load ${loadId}`;
    return asLoadState(await this.#post(`/v1/platform/loads/${loadId}/complete`, proof, what), loadId, what);
  }

  async requestReversal(loadId: string, request: ReversalRequest): Promise<ReversalCommand> {
    const what = `the reversal of load ${loadId}`;
    const body = await this.#post(`/v1/platform/loads/${loadId}/reversal`, request, what);
    if (!isRecord(body) || body.loadId !== loadId || !isHex(body.command) || body.command === "")
      throw malformed(what);
    return body as unknown as ReversalCommand;
  }

  async completeReversal(loadId: string, outcome: ReversalOutcome): Promise<LoadState> {
    const what = `the reversal of load ${loadId}`;
    return asLoadState(
      await this.#post(`/v1/platform/loads/${loadId}/reversal/complete`, outcome, what),
      loadId,
      what,
    );
  }

  async signCommand(commandId: string, request: CommandSignRequest): Promise<SignedIssuerCommand> {
    const what = `issuer command ${commandId}`;
    const body = await this.#post(`/v1/platform/commands/${commandId}/sign`, request, what);
    if (
      !isRecord(body) ||
      body.commandId !== commandId ||
      !(ISSUER_COMMAND_KINDS as readonly unknown[]).includes(body.kind) ||
      !isHex(body.command) ||
      body.command === ""
    )
      throw malformed(what);
    return body as unknown as SignedIssuerCommand;
  }

  async completeCommand(commandId: string, completion: CommandCompletion): Promise<CommandState> {
    const what = `the receipt of issuer command ${commandId}`;
    const body = await this.#post(`/v1/platform/commands/${commandId}/complete`, completion, what);
    if (
      !isRecord(body) ||
      body.commandId !== commandId ||
      !(ISSUER_COMMAND_KINDS as readonly unknown[]).includes(body.kind) ||
      !["pending", "delivered", "superseded"].includes(body.state as string)
    )
      throw malformed(what);
    return body as unknown as CommandState;
  }

  async attention(request: AttentionRequest): Promise<AttentionAnswer> {
    const what = "the attention list";
    const body = await this.#post("/v1/platform/attention", request, what);
    if (
      !isRecord(body) ||
      !Array.isArray(body.wallets) ||
      body.wallets.length > ATTENTION_MAX ||
      !body.wallets.every((w: unknown) => typeof w === "string" && WALLET_ID.test(w)) ||
      typeof body.truncated !== "boolean" ||
      !isCount(body.asOf)
    )
      throw malformed(what);
    return body as unknown as AttentionAnswer;
  }

  async #post(path: string, payload: unknown, what: string): Promise<unknown> {
    const body = JSON.stringify(payload);
    const headers = signPlatformRequest(this.#signer.privateKey, this.#signer.chain, {
      method: "POST",
      path,
      body,
    });
    const res = await this.#http.postJson(path, body, headers);
    if (res.status === 200) return res.body;
    const answer = isRecord(res.body) ? res.body : {};
    const code = typeof answer.code === "string" ? answer.code : undefined;
    const message = typeof answer.message === "string" ? answer.message : undefined;
    const details = {
      status: res.status,
      ...(code ? { code } : {}),
      ...(isRecord(answer.details) ? { platform: answer.details } : {}),
    };
    if (code && REFUSALS.has(code))
      throw new TerminalError("TERM_ERR_LOAD_REFUSED", `${message ?? code} [${code}]`, { details });
    if (!code)
      throw new TerminalError(
        "TERM_ERR_ACQUIRER_RESPONSE",
        `${what}: unexpected HTTP ${res.status} from the platform`,
        { details },
      );
    throw new TerminalError("TERM_ERR_ACQUIRER_REJECTED", `${what} refused: ${message ?? code} [${code}]`, {
      details,
    });
  }
}
