/**
 * The terminal's side of the acquirer wire (used by `posd upload` and `posd sync`): axios over
 * HTTP(S) with keep-alive, a timeout per attempt, and retries with exponential backoff and full
 * jitter (delay = random × min(max, base × 2^attempt)) on what may succeed later: network errors
 * (refused, reset, timeout, cut mid-body), 5xx, 408, 429 and 409 ACQ_ERR_IN_FLIGHT. Other 4xx
 * answers are final and never retried.
 *
 * A batch is serialised once and the very same bytes are resent under the same batch id on every
 * retry: the acquirer replays its stored verdict for a batch id it already settled, so an upload
 * interrupted anywhere (even after the acquirer committed) settles exactly once.
 */
import type { KeyObject } from "node:crypto";
import http from "node:http";
import https from "node:https";
import axios, { type AxiosInstance, type AxiosResponse, isAxiosError } from "axios";
import { ecdsaVerify } from "../../../protocol/crypto.js";
import { isTapwalletError } from "../../../protocol/errors.js";
import type { Logger } from "../../../protocol/logger.js";
import { type Certificate, parseCrl } from "../../../protocol/pki.js";
import { signPlatformRequest } from "../../../protocol/platform/request-auth.js";
import type { BatchResult, BatchUpload } from "../../../protocol/wallet/batch.js";
import {
  type Hotlist,
  type HotlistWire,
  hotlistMessage,
  hotlistSerials,
  type IssuerHotlist,
  type IssuerHotlistWire,
  isIssuerHotlist,
  issuerHotlistMessage,
  parseIssuerHotlistWire,
} from "../../../protocol/wallet/hotlist.js";
import type { FetchedHotlist, VerifiedHotlist } from "../../application/ports.js";
import { TerminalError } from "../../errors.js";

export interface AcquirerClientOptions {
  /** "http://127.0.0.1:8443" (a trailing slash is fine). */
  readonly baseUrl: string;
  /** Per attempt: the socket may stay silent this long (upload, verification, answer). Default 30 s. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt. Default 6 (about a minute of backoff in the worst case). */
  readonly retries?: number;
  /** Backoff base and cap. Defaults 250 ms and 15 s. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly logger?: Logger;
  /** Uniform [0, 1) for the jitter; injected so tests are deterministic. Default Math.random. */
  readonly random?: () => number;
  /** Injected for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Largest answer accepted. Default 64 MiB (a 20,000-record verdict is well under 2 MiB). */
  readonly maxResponseBytes?: number;
}

export interface UploadOptions {
  /** Bytes of the body sent so far, per attempt (for a progress bar). */
  readonly onProgress?: (p: { sentBytes: number; totalBytes: number; attempt: number }) => void;
  /** Called before each retry with the delay chosen and why. */
  readonly onRetry?: (r: { attempt: number; delayMs: number; reason: string }) => void;
  readonly signal?: AbortSignal;
}

interface RequestSpec {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly upload?: UploadOptions;
}

/** Axios error codes that retrying cannot fix (our own configuration or a cancellation). */
const FINAL_CODES = new Set([
  "ERR_CANCELED",
  "ERR_BAD_OPTION",
  "ERR_BAD_OPTION_VALUE",
  "ERR_INVALID_URL",
  "ERR_NOT_SUPPORT",
  "ERR_DEPRECATED",
  "ERR_FR_TOO_MANY_REDIRECTS",
]);

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function parseJson(text: unknown): unknown {
  if (typeof text !== "string") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

function responseError(message: string, details: Record<string, unknown> = {}): TerminalError {
  return new TerminalError("TERM_ERR_ACQUIRER_RESPONSE", message, { details });
}

/** A BatchResult as the acquirer answers it, checked field by field. */
function asBatchResult(body: unknown, batchId: string): BatchResult {
  if (
    !isRecord(body) ||
    body.batchId !== batchId ||
    (body.status !== "settled" && body.status !== "rejected") ||
    !isCount(body.accepted) ||
    !isCount(body.rejected) ||
    !Array.isArray(body.records)
  )
    throw responseError("the acquirer's answer is not a BatchResult for this batch", { batchId });
  for (const r of body.records as unknown[]) {
    if (
      !isRecord(r) ||
      !isCount(r.seq) ||
      (r.status !== "accepted" && r.status !== "rejected" && r.status !== "voided") ||
      (r.reason !== undefined && typeof r.reason !== "string")
    )
      throw responseError("the acquirer's answer has a malformed record verdict", { batchId });
  }
  const verdicts = (list: unknown, final: boolean) =>
    Array.isArray(list) &&
    list.every(
      (v: unknown) =>
        isRecord(v) &&
        isCount(v.refundId) &&
        (v.status === "settled" || (!final && v.status === "pending") || v.status === "rejected") &&
        (v.reason === undefined || typeof v.reason === "string"),
    );
  if (body.refunds !== undefined && !verdicts(body.refunds, false))
    throw responseError("the acquirer's answer has a malformed refund verdict", { batchId });
  // Refunds of earlier batches that waited for their debit: only a final verdict ends one.
  if (body.refundsResolved !== undefined && !verdicts(body.refundsResolved, true))
    throw responseError("the acquirer's answer has a malformed resolved refund", { batchId });
  return body as unknown as BatchResult;
}

function asHotlistWire(body: unknown): HotlistWire {
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
  if (
    !isRecord(body) ||
    !isCount(body.version) ||
    !isCount(body.issuedAt) ||
    (body.nextUpdate !== undefined && !isCount(body.nextUpdate)) ||
    !strings(body.revokedSerials) ||
    !strings(body.blockedWallets) ||
    typeof body.signature !== "string" ||
    typeof body.crl !== "string"
  )
    throw responseError("the acquirer's hotlist answer is malformed");
  // A fresh object of the format-1 fields only: nothing else of the body travels on.
  const b = body as unknown as HotlistWire;
  return {
    version: b.version,
    issuedAt: b.issuedAt,
    revokedSerials: [...b.revokedSerials],
    blockedWallets: [...b.blockedWallets],
    ...(b.nextUpdate === undefined ? {} : { nextUpdate: b.nextUpdate }),
    signature: b.signature,
    crl: b.crl,
  };
}

/** A GET /v2/hotlist answer: JSON, and a well-formed format-2 hotlist (TERM_ERR_HOTLIST_FORMAT). */
function asIssuerHotlistWire(body: unknown): IssuerHotlistWire {
  if (body === undefined) throw responseError("the acquirer's hotlist answer is not JSON");
  try {
    return parseIssuerHotlistWire(body);
  } catch (cause) {
    if (!isTapwalletError(cause)) throw cause;
    throw new TerminalError("TERM_ERR_HOTLIST_FORMAT", `hotlist refused: ${cause.message}`, {
      cause,
      details: { cause: cause.code },
    });
  }
}

export class AcquirerClient {
  readonly #http: AxiosInstance;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #logger: Logger | undefined;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #agents: { http: http.Agent; https: https.Agent };
  readonly baseUrl: string;

  constructor(options: AcquirerClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TerminalError("TERM_ERR_CONFIG", `acquirer URL is not a URL: ${options.baseUrl}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new TerminalError("TERM_ERR_CONFIG", `acquirer URL must be http(s): ${options.baseUrl}`);
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retries = options.retries ?? 6;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 15_000;
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? sleepMs;
    const maxBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
    this.#agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: 4 }),
      https: new https.Agent({ keepAlive: true, maxSockets: 4 }),
    };
    this.#http = axios.create({
      baseURL: this.baseUrl,
      httpAgent: this.#agents.http,
      httpsAgent: this.#agents.https,
      maxContentLength: maxBytes,
      maxBodyLength: Number.POSITIVE_INFINITY,
      maxRedirects: 0,
      // We read statuses ourselves and parse the text ourselves (so a garbled body is our error).
      validateStatus: () => true,
      responseType: "text",
      transformResponse: [(data: unknown) => data],
      transitional: { clarifyTimeoutError: true },
      proxy: false,
    });
  }

  /**
   * Upload a batch and resolve with the acquirer's verdict: `settled` (HTTP 200, per-record
   * verdicts) or `rejected` as a whole (HTTP 422: chain break inside the batch, replayed batch).
   * Both are final for this batch id. Throws TERM_ERR_ACQUIRER_REJECTED for answers that are not
   * verdicts (403 terminal not authenticated, 409 conflict or batch not continuing the chain, 400,
   * 413: the acquirer's code is in `details.code`), TERM_ERR_ACQUIRER_UNREACHABLE when retries ran
   * out, TERM_ERR_ACQUIRER_RESPONSE when the answer is not a BatchResult.
   */
  async uploadBatch(upload: BatchUpload, options: UploadOptions = {}): Promise<BatchResult> {
    const batchId = upload.manifest.batchId;
    const body = JSON.stringify(upload);
    const res = await this.#request({
      method: "POST",
      path: "/v1/batches",
      body,
      headers: { "content-type": "application/json", "idempotency-key": batchId },
      upload: options,
    });
    if (res.status === 200 || res.status === 422) return asBatchResult(parseJson(res.data), batchId);
    throw this.#rejected(res, `upload of batch ${batchId}`);
  }

  /**
   * The stored verdict for one of this terminal's batch ids, or undefined when the acquirer has
   * none (404). The request is signed with the terminal's certificate key: the acquirer answers a
   * batch's verdict to the terminal that sent it only.
   */
  async batchResult(
    batchId: string,
    signer: { readonly privateKey: KeyObject; readonly chain: readonly Uint8Array[] },
  ): Promise<BatchResult | undefined> {
    const path = `/v1/batches/${encodeURIComponent(batchId)}`;
    const res = await this.#request({
      method: "GET",
      path,
      headers: signPlatformRequest(signer.privateKey, signer.chain, { method: "GET", path, body: "" }),
    });
    if (res.status === 404) return undefined;
    if (res.status === 200 || res.status === 422) return asBatchResult(parseJson(res.data), batchId);
    throw this.#rejected(res, `status of batch ${batchId}`);
  }

  /**
   * The format-2 hotlist (GET /v2/hotlist), or undefined when `sinceVersion` is still current
   * (304). An acquirer that answers 404 there has no format-2 list yet: its format-1 list (GET
   * /v1/hotlist) is fetched instead, whose entries the terminal then holds at every issuer (more
   * declines, never fewer). A /v2 answer that is not format 2 is refused (TERM_ERR_HOTLIST_FORMAT),
   * never read as format 1. The answer is NOT yet trusted: pass it to verifyFetchedHotlist with the
   * acquirer CA before using it.
   */
  async fetchHotlist(sinceVersion?: number): Promise<FetchedHotlist | undefined> {
    const query = sinceVersion === undefined ? "" : `?since=${sinceVersion}`;
    const res = await this.#request({ method: "GET", path: `/v2/hotlist${query}` });
    if (res.status === 304) return undefined;
    if (res.status === 200) return asIssuerHotlistWire(parseJson(res.data));
    if (res.status !== 404) throw this.#rejected(res, "hotlist fetch");
    this.#logger?.warn(
      "the acquirer has no /v2/hotlist: fetching its format-1 hotlist, every entry held at every issuer",
    );
    const v1 = await this.#request({ method: "GET", path: `/v1/hotlist${query}` });
    if (v1.status === 304) return undefined;
    if (v1.status === 200) return asHotlistWire(parseJson(v1.data));
    throw this.#rejected(v1, "hotlist fetch");
  }

  /**
   * POST a JSON body already serialised (a signature may cover these very bytes, resent unchanged on
   * every retry) with the same retries as an upload; resolves with any final answer, parsed.
   */
  async postJson(
    path: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    const res = await this.#request({
      method: "POST",
      path,
      body,
      headers: { "content-type": "application/json", ...headers },
    });
    return { status: res.status, body: parseJson(res.data) };
  }

  /** One quick attempt at GET /healthz: true when the acquirer and its database answer. */
  async health(): Promise<boolean> {
    try {
      const res = await this.#request({
        method: "GET",
        path: "/healthz",
        retries: 0,
        timeoutMs: Math.min(this.#timeoutMs, 5_000),
      });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Close the kept-alive connections (the process can then exit at once). */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #rejected(res: AxiosResponse, what: string): TerminalError {
    const body = parseJson(res.data);
    const code = isRecord(body) && typeof body.code === "string" ? body.code : undefined;
    const message = isRecord(body) && typeof body.message === "string" ? body.message : undefined;
    if (!code)
      return responseError(`${what}: unexpected HTTP ${res.status} from the acquirer`, {
        status: res.status,
      });
    return new TerminalError("TERM_ERR_ACQUIRER_REJECTED", `${what} refused: ${message ?? code} [${code}]`, {
      details: {
        status: res.status,
        code,
        ...(message ? { message } : {}),
        ...(isRecord(body) && isRecord(body.details) ? { acquirer: body.details } : {}),
      },
    });
  }

  #delay(attempt: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** attempt);
    const jittered = Math.floor(this.#random() * ceiling);
    return retryAfterMs === undefined
      ? jittered
      : Math.min(this.#maxDelayMs, Math.max(jittered, retryAfterMs));
  }

  async #request(spec: RequestSpec): Promise<AxiosResponse> {
    const retries = spec.retries ?? this.#retries;
    const timeout = spec.timeoutMs ?? this.#timeoutMs;
    const signal = spec.upload?.signal;
    const totalBytes = spec.body === undefined ? 0 : Buffer.byteLength(spec.body);
    let lastReason = "";
    for (let attempt = 0; ; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const onProgress = spec.upload?.onProgress;
        const res = await this.#http.request<string>({
          method: spec.method,
          url: spec.path,
          ...(spec.body !== undefined ? { data: spec.body } : {}),
          ...(spec.headers ? { headers: spec.headers } : {}),
          timeout,
          ...(signal ? { signal } : {}),
          ...(onProgress
            ? {
                onUploadProgress: (e: { loaded: number }) =>
                  onProgress({ sentBytes: e.loaded, totalBytes, attempt: attempt + 1 }),
              }
            : {}),
        });
        const retryable =
          res.status >= 500 ||
          res.status === 408 ||
          res.status === 429 ||
          (res.status === 409 &&
            (parseJson(res.data) as { code?: unknown } | undefined)?.code === "ACQ_ERR_IN_FLIGHT");
        if (!retryable) return res;
        lastReason = `HTTP ${res.status}`;
        const after = Number(res.headers["retry-after"]);
        if (Number.isFinite(after) && after >= 0) retryAfterMs = after * 1000;
      } catch (e) {
        if (!isAxiosError(e)) throw e;
        if (signal?.aborted || FINAL_CODES.has(e.code ?? "")) throw e;
        lastReason = e.code ?? e.message;
      }
      if (attempt >= retries)
        throw new TerminalError(
          "TERM_ERR_ACQUIRER_UNREACHABLE",
          `acquirer ${this.baseUrl} did not answer ${spec.method} ${spec.path} after ${attempt + 1} attempts (${lastReason})`,
          { details: { attempts: attempt + 1, lastError: lastReason, url: this.baseUrl } },
        );
      const delayMs = this.#delay(attempt, retryAfterMs);
      this.#logger?.warn(
        { path: spec.path, attempt: attempt + 1, delayMs, reason: lastReason },
        "acquirer request failed, retrying",
      );
      spec.upload?.onRetry?.({ attempt: attempt + 1, delayMs, reason: lastReason });
      await this.#sleep(delayMs);
      if (signal?.aborted) throw new TerminalError("TERM_ERR_ACQUIRER_UNREACHABLE", "upload aborted");
    }
  }
}

function hotlistRefusal(why: string, cause?: unknown): TerminalError {
  return new TerminalError(
    "TERM_ERR_HOTLIST_SIGNATURE",
    `hotlist refused: ${why}`,
    cause === undefined ? {} : { cause },
  );
}

/** The acquirer CA's signature over `message`, and its CRL: CRL number = version, exactly `serials`. */
function checkSignedHotlist(
  message: Uint8Array,
  wire: { version: number; signature: string; crl: string },
  serials: readonly string[],
  acquirerCa: Certificate,
): void {
  if (!/^[0-9a-f]{128}$/.test(wire.signature)) throw hotlistRefusal("signature is not 64 bytes of hex");
  if (!ecdsaVerify(acquirerCa.publicKey, message, Buffer.from(wire.signature, "hex")))
    throw hotlistRefusal("signature does not verify with the acquirer CA");
  let crl: ReturnType<typeof parseCrl>;
  try {
    crl = parseCrl(new Uint8Array(Buffer.from(wire.crl, "base64")), acquirerCa);
  } catch (cause) {
    throw hotlistRefusal("CRL does not verify with the acquirer CA", cause);
  }
  const listed = [...crl.revokedSerials].sort();
  const claimed = [...new Set(serials)].sort();
  if (
    crl.crlNumber !== wire.version ||
    listed.length !== claimed.length ||
    listed.some((s, i) => s !== claimed[i])
  )
    throw hotlistRefusal("CRL and hotlist disagree");
}

/**
 * Check a format-1 hotlist before enforcing it: the acquirer CA's signature over `hotlistMessage`,
 * and the CRL (signed by the same CA) listing exactly the same serials with CRL number = version.
 * The signed next update, when the acquirer gives one, is kept. Whether it is older than the stored
 * hotlist (a replay) is syncHotlist's check.
 * `acquirerCa` must be a certificate the terminal already trusts (verified to its root).
 * Throws TERM_ERR_HOTLIST_SIGNATURE on any mismatch.
 * @deprecated format 1 matches on serial alone: verifyIssuerHotlist, or verifyFetchedHotlist.
 */
export function verifyHotlist(wire: HotlistWire, acquirerCa: Certificate): Hotlist {
  const hotlist: Hotlist = {
    version: wire.version,
    issuedAt: wire.issuedAt,
    revokedSerials: [...wire.revokedSerials],
    blockedWallets: [...wire.blockedWallets],
    ...(wire.nextUpdate === undefined ? {} : { nextUpdate: wire.nextUpdate }),
  };
  let message: Uint8Array;
  try {
    message = hotlistMessage(hotlist);
  } catch (cause) {
    throw hotlistRefusal("malformed content", cause);
  }
  checkSignedHotlist(message, wire, wire.revokedSerials, acquirerCa);
  return hotlist;
}

/**
 * Check a format-2 hotlist before enforcing it, exactly as a format-1 one: the acquirer CA's
 * signature over `issuerHotlistMessage` (label TAPWALLET/2 HOTLIST: format-1 bytes never verify
 * here, nor these there), and the CRL listing every issuer's serials, flat, with CRL number =
 * version. TERM_ERR_HOTLIST_FORMAT when it is malformed, TERM_ERR_HOTLIST_SIGNATURE on a mismatch.
 */
export function verifyIssuerHotlist(wire: IssuerHotlistWire, acquirerCa: Certificate): IssuerHotlist {
  const hotlist: IssuerHotlist = {
    format: 2,
    version: wire.version,
    issuedAt: wire.issuedAt,
    nextUpdate: wire.nextUpdate,
    blockedWallets: [...wire.blockedWallets],
    issuers: wire.issuers.map((e) => ({
      issuer: e.issuer,
      revokedSerials: [...e.revokedSerials],
      blockedWallets: [...e.blockedWallets],
    })),
  };
  let message: Uint8Array;
  try {
    message = issuerHotlistMessage(hotlist);
  } catch (cause) {
    throw new TerminalError("TERM_ERR_HOTLIST_FORMAT", "hotlist refused: malformed content", { cause });
  }
  checkSignedHotlist(message, wire, hotlistSerials(hotlist), acquirerCa);
  return hotlist;
}

/** Verify what fetchHotlist answered, by its format (the fetch decided it by the route, /v2 or /v1). */
export function verifyFetchedHotlist(wire: FetchedHotlist, acquirerCa: Certificate): VerifiedHotlist {
  return isIssuerHotlist(wire) ? verifyIssuerHotlist(wire, acquirerCa) : verifyHotlist(wire, acquirerCa);
}
