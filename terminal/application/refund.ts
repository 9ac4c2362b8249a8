/**
 * A refund of returned goods (`posd refund`, POST /v1/refunds): no card is needed, the money goes
 * to the wallet's online account at the issuer. The terminal checks the original debit and what
 * is left of it, signs the credit record with its certificate key and stores it; the next upload
 * takes it to the acquirer (terminal/domain/refunds.ts).
 *
 * The cash register's serviceId is the idempotency key, as for payments: the same id with the same
 * terms is the same refund (never a second credit), with other terms TERM_ERR_ECR_CONFLICT.
 */
import { createHash } from "node:crypto";
import { ecdsaSign } from "../../protocol/crypto.js";
import type { Logger } from "../../protocol/logger.js";
import type { TerminalIdentity } from "../card-session/session.js";
import type { StoredRefund } from "../domain/refunds.js";
import { TerminalError } from "../errors.js";
import { money } from "./outcome-json.js";
import type { RefundLedger } from "./ports.js";

export interface RefundRequest {
  /** The terminal seq of the debit refunded. */
  readonly seq: number;
  /** Minor units. */
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  readonly serviceId?: string;
}

export interface RefundDeps {
  readonly refunds: RefundLedger;
  readonly identity: Pick<TerminalIdentity, "privateKey">;
  readonly terminalId: string;
  readonly logger: Logger;
}

function requestHash(r: RefundRequest): string {
  return createHash("sha256")
    .update(JSON.stringify(["refund", r.seq, r.amount, r.currency]))
    .digest("hex");
}

/** Store a refund, or return the one stored for this serviceId. */
export function runRefund(
  deps: RefundDeps,
  request: RefundRequest,
): { refund: StoredRefund; created: boolean } {
  const hash = requestHash(request);
  if (request.serviceId !== undefined) {
    const existing = deps.refunds.byServiceId(request.serviceId);
    if (existing) {
      if (existing.requestHash !== hash)
        throw new TerminalError(
          "TERM_ERR_ECR_CONFLICT",
          `serviceId ${request.serviceId} was already used for a different refund`,
        );
      return { refund: existing, created: false };
    }
  }
  const refund = deps.refunds.create(
    {
      originalSeq: request.seq,
      amount: request.amount,
      currency: request.currency,
      ...(request.serviceId === undefined ? {} : { serviceId: request.serviceId, requestHash: hash }),
    },
    deps.terminalId,
    (m) => ecdsaSign(deps.identity.privateKey, m),
  );
  deps.logger.info(
    { refundId: refund.refundId, seq: refund.originalSeq, amount: refund.amount, currency: refund.currency },
    "refund stored: it goes up with the next batch",
  );
  return { refund, created: true };
}

/** Where a refund is: stored here, sent in a batch, or the acquirer's verdict. */
export function refundState(r: StoredRefund): "stored" | "sent" | "settled" | "pending" | "rejected" {
  if (r.uploadStatus) return r.uploadStatus;
  return r.batchId === undefined ? "stored" : "sent";
}

/** The JSON form of a refund (`posd refund --json`, the cash-register API). */
export function refundJson(r: StoredRefund): Record<string, unknown> {
  return {
    refundId: r.refundId,
    state: refundState(r),
    seq: r.originalSeq,
    walletId: r.walletId,
    cardCounter: r.cardCounter,
    amount: r.amount,
    currency: r.currency,
    amountText: money(r.amount, r.currency),
    createdAt: new Date(r.createdAt * 1000).toISOString(),
    serviceId: r.serviceId ?? null,
    batchId: r.batchId ?? null,
    upload: r.uploadStatus ? { status: r.uploadStatus, reason: r.uploadReason ?? null } : null,
  };
}
