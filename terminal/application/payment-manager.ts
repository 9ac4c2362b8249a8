/**
 * Payments asked for by the cash register (ECR), with the semantics registers know from nexo /
 * Sale-to-POI: the register's `serviceId` is the idempotency key (the same id again is the same
 * payment, never a second charge), a register that lost an answer asks for the status, it can
 * abort while the terminal waits for a card, and there is one payment at a time.
 *
 * The manager holds the terminal's one card slot: a payment, the recovery of a torn one, or another
 * card operation of the register (`occupy`: the stored-value operations of
 * stored-value-manager.ts). While one holds it, the others are TERM_ERR_ECR_BUSY.
 *
 * States: waiting_for_card → in_progress → approved | declined | torn | error, or
 * waiting_for_card → aborted | timed_out. A torn payment follows its intent: when the wallet is
 * presented again and the intent resolves, the status query answers approved or declined.
 *
 * Every state change is written through the EcrPayments port (the `ecr_payments` table in posd) so
 * the status survives a restart.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import { type EcrState, FINAL_ECR_STATES as FINAL, type StoredEcrPayment } from "../domain/ecr-payment.js";
import { asTerminalError, TerminalError } from "../errors.js";
import { outcomeJson } from "./outcome-json.js";
import type { EcrPayments, RecordLedger } from "./ports.js";
import type { PaymentOutcome, PaymentRequest, RecoveredIntent } from "./run-payment.js";

export interface EcrRequest {
  readonly serviceId: string;
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  readonly reference?: string;
}

export interface EcrPayment {
  readonly serviceId: string;
  readonly state: EcrState;
  readonly amount: number;
  readonly currency: number;
  readonly reference: string | null;
  readonly seq: number | null;
  /** The payment outcome (record, or decline code and reason) once there is one. */
  readonly outcome: Record<string, unknown> | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An earlier cash-register payment that a later tap of the same wallet resolved. */
export interface ResolvedPayment {
  readonly serviceId: string;
  readonly seq: number;
  /** What the earlier payment is now: the card's log proved it charged, or not, or still unknown. */
  readonly outcome: "approved" | "declined" | "torn";
  readonly amount: number;
  readonly currency: number;
}

/** How a card operation ended, as the reader shows it: approved (a payment, or a stored-value operation done), or not. */
export interface CardResult {
  readonly status: PaymentOutcome["status"];
}

/** A wallet in the field, ready for one payment (or one stored-value operation). */
export interface CardPresentation {
  readonly transport: Transport;
  /** Feedback (LED, beep) and release of the card handle. */
  finish(outcome: CardResult): Promise<void>;
}

/** Where cards come from: a PC/SC reader, or a virtual card. */
export interface CardSource {
  /** Resolves when a wallet is in the field; rejects with an AbortError when `signal` aborts. */
  waitForCard(signal: AbortSignal): Promise<CardPresentation>;
}

/**
 * Another card operation of the register (a stored-value load, reverse or balance inquiry,
 * application/stored-value-manager.ts) in the terminal's one card slot: while it runs, a payment
 * is busy, and the other way round.
 */
export interface CardOperation {
  /** The register's service id, named in the answer a busy terminal gives. */
  readonly serviceId: string;
  /** What it is, in that answer ("stored-value load"). */
  readonly label: string;
  /** Whether it still waits for a card: a shutdown aborts it then (one on the card finishes). */
  waiting(): boolean;
  /** The whole operation; `signal` aborts its wait for a card (abort, timeout, shutdown). */
  run(signal: AbortSignal): Promise<void>;
}

interface ActiveJob {
  readonly serviceId: string;
  /** "payment", or the label of another card operation. */
  readonly label: string;
  readonly abort: AbortController;
  readonly done: Promise<void>;
  waiting(): boolean;
}

export interface PaymentManagerOptions {
  /** Where the register's payments are kept. */
  readonly payments: EcrPayments;
  /** The records, to follow a torn payment's intent. */
  readonly records: Pick<RecordLedger, "get">;
  readonly cardSource: CardSource;
  readonly pay: (transport: Transport, request: PaymentRequest) => Promise<PaymentOutcome>;
  /** Only the recovery half of a tap: resolve the presented wallet's torn intents, charge nothing. */
  readonly recover?: (transport: Transport) => Promise<{ recovered: readonly RecoveredIntent[] }>;
  readonly cardWaitMs: number;
  readonly logger: Logger;
}

function requestHash(r: EcrRequest): string {
  return createHash("sha256")
    .update(JSON.stringify([r.amount, r.currency, r.reference ?? null]))
    .digest("hex");
}

export class PaymentManager extends EventEmitter {
  readonly #o: PaymentManagerOptions;
  /** The terminal's one card slot: a payment, a recovery or another card operation. */
  #active: ActiveJob | undefined;
  #closed = false;

  constructor(options: PaymentManagerOptions) {
    super();
    this.#o = options;
    // A payment that was waiting or in progress when posd stopped did not finish here: waiting ones
    // are aborted; one in progress whose intent was written (its seq is linked in the intent's own
    // transaction) is torn and follows its intent; one without a seq never reached DEBIT.
    options.payments.endInterrupted({
      status: "error",
      code: "TERM_ERR_INTERRUPTED",
      message: "posd stopped before anything was sent to the card: nothing was charged",
    });
  }

  get busy(): boolean {
    return this.#active !== undefined;
  }

  /** Start a payment, or return the existing one for this serviceId. */
  start(request: EcrRequest): { payment: EcrPayment; created: boolean } {
    const existing = this.#row(request.serviceId);
    if (existing) {
      if (existing.requestHash !== requestHash(request)) {
        throw new TerminalError(
          "TERM_ERR_ECR_CONFLICT",
          `serviceId ${request.serviceId} was already used for a different payment`,
        );
      }
      return { payment: this.#view(existing), created: false };
    }
    this.#checkFree();
    this.#o.payments.create({
      serviceId: request.serviceId,
      requestHash: requestHash(request),
      amount: request.amount,
      currency: request.currency,
      ...(request.reference === undefined ? {} : { reference: request.reference }),
    });
    const abort = new AbortController();
    const done = this.#run(request, abort.signal).finally(() => {
      this.#active = undefined;
      this.emit("idle");
    });
    const serviceId = request.serviceId;
    this.#active = {
      serviceId,
      label: "payment",
      abort,
      done,
      waiting: () => this.#row(serviceId)?.state === "waiting_for_card",
    };
    return { payment: this.get(request.serviceId)!, created: true };
  }

  /**
   * Run another card operation in the one card slot. Throws TERM_ERR_ECR_BUSY while a payment or
   * another operation holds it (or the terminal is shutting down). Returns the controller that
   * aborts the operation's wait for a card, and a promise that resolves once the slot is free again.
   */
  occupy(operation: CardOperation): { abort: AbortController; released: Promise<void> } {
    this.#checkFree();
    const abort = new AbortController();
    const done = operation
      .run(abort.signal)
      .catch((e) => this.#o.logger.error({ err: e, serviceId: operation.serviceId }, "card operation failed"))
      .finally(() => {
        this.#active = undefined;
        this.emit("idle");
      });
    this.#active = {
      serviceId: operation.serviceId,
      label: operation.label,
      abort,
      done,
      waiting: () => operation.waiting(),
    };
    return { abort, released: done };
  }

  /** Busy (TERM_ERR_ECR_BUSY) while the card slot is held or the terminal is shutting down. */
  #checkFree(): void {
    if (this.#active) {
      throw new TerminalError(
        "TERM_ERR_ECR_BUSY",
        `the terminal is busy with ${this.#active.label} ${this.#active.serviceId}`,
      );
    }
    if (this.#closed) throw new TerminalError("TERM_ERR_ECR_BUSY", "the terminal is shutting down");
  }

  async #run(request: EcrRequest, signal: AbortSignal): Promise<void> {
    const log = this.#o.logger.child({ serviceId: request.serviceId });
    const timer = setTimeout(() => this.#active?.abort.abort("timeout"), this.#o.cardWaitMs);
    let presentation: CardPresentation;
    try {
      presentation = await this.#o.cardSource.waitForCard(signal);
    } catch (e) {
      clearTimeout(timer);
      if (signal.aborted) {
        const state: EcrState = signal.reason === "timeout" ? "timed_out" : "aborted";
        this.#update(request.serviceId, state);
        log.info(`payment ${state === "timed_out" ? "timed out waiting for a card" : "aborted"}`);
        return;
      }
      const err = asTerminalError(e);
      this.#update(request.serviceId, "error", {
        outcome: { status: "error", code: err.code, message: err.message },
      });
      log.warn({ code: err.code }, `payment failed: ${err.message}`);
      return;
    }
    clearTimeout(timer);
    this.#update(request.serviceId, "in_progress");
    let outcome: PaymentOutcome;
    try {
      outcome = await this.#o.pay(presentation.transport, {
        amount: request.amount,
        currency: request.currency,
        reference: request.serviceId,
        serviceId: request.serviceId,
      });
    } catch (e) {
      const err = asTerminalError(e);
      log.error({ err: e }, `payment failed: ${err.message}`);
      outcome = {
        status: "error",
        code: err.code,
        message: err.message,
        recovered: [],
        stats: { apdus: 0, bytesIn: 0, bytesOut: 0, totalMs: 0, storeMs: 0 },
      };
    }
    const seq =
      outcome.status === "approved" ? outcome.record.seq : "seq" in outcome ? outcome.seq : undefined;
    // The store linked the seq when the intent was written: a failure after that may have reached
    // the card, so it is torn (it follows its intent), never an error that invites a second charge.
    const linked = this.#row(request.serviceId)?.seq;
    const state = outcome.status === "error" && linked !== undefined ? "torn" : outcome.status;
    const resolved = this.#resolvedPayments(outcome);
    for (const r of resolved)
      log.info(r, `this tap resolved the earlier payment ${r.serviceId} (seq ${r.seq}): ${r.outcome}`);
    this.#update(request.serviceId, state, {
      ...(seq === undefined ? {} : { seq }),
      outcome: { ...outcomeJson(outcome), ...(resolved.length > 0 ? { resolvedPayments: resolved } : {}) },
    });
    await presentation.finish(outcome).catch((e) => log.debug({ err: e }, "card feedback failed"));
  }

  /**
   * Resolve a torn payment without charging again: wait for the wallet (up to cardWaitMs), read
   * its log, and answer the payment as it is then: approved (the customer paid), declined (never
   * charged), or still torn (another wallet was tapped, or the card could not tell). A payment that
   * is not torn is answered as it is. One thing at a time: busy while a payment runs.
   */
  async recover(serviceId: string): Promise<EcrPayment | undefined> {
    const before = this.get(serviceId);
    if (before?.state !== "torn") return before;
    const recover = this.#o.recover;
    if (!recover) throw new TerminalError("TERM_ERR_USAGE", "this terminal cannot recover payments");
    this.#checkFree();
    const log = this.#o.logger.child({ serviceId });
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort("timeout"), this.#o.cardWaitMs);
    const job = (async () => {
      let presentation: CardPresentation;
      try {
        presentation = await this.#o.cardSource.waitForCard(abort.signal);
      } catch {
        log.info("no wallet presented to resolve the torn payment");
        return;
      } finally {
        clearTimeout(timer);
      }
      try {
        const { recovered } = await recover(presentation.transport);
        for (const r of recovered)
          log.info({ seq: r.seq, outcome: r.outcome }, "torn intent resolved on request");
      } catch (e) {
        log.warn({ err: e }, "resolving the torn payment failed");
      }
      this.emit("change", serviceId, this.get(serviceId)?.state ?? "torn");
    })();
    const done = job.finally(() => {
      this.#active = undefined;
      this.emit("idle");
    });
    // A recovery already waits for the tap of a torn payment: a shutdown lets it end by itself.
    this.#active = { serviceId, label: "payment", abort, done, waiting: () => false };
    await done;
    return this.get(serviceId);
  }

  /** Abort a payment that is still waiting for a card. */
  abort(serviceId: string): EcrPayment | undefined {
    const row = this.#row(serviceId);
    if (!row) return undefined;
    if (row.state === "waiting_for_card" && this.#isPayment(serviceId)) {
      this.#active?.abort.abort("aborted");
      return this.#view(row);
    }
    if (FINAL.has(row.state)) return this.#view(row);
    throw new TerminalError(
      "TERM_ERR_ECR_NOT_ABORTABLE",
      "the card is being read: the payment cannot be aborted any more",
    );
  }

  /** The payment, with a torn one following its intent to its final outcome. */
  get(serviceId: string): EcrPayment | undefined {
    const row = this.#row(serviceId);
    return row && this.#view(row);
  }

  /** Resolves with the payment once it is final, or as it is when `timeoutMs` passes. */
  async waitFinal(serviceId: string, timeoutMs: number): Promise<EcrPayment | undefined> {
    const now = this.get(serviceId);
    if (!now || FINAL.has(now.state)) return now;
    return new Promise((resolve) => {
      const onChange = (id: string) => {
        if (id !== serviceId) return;
        const p = this.get(serviceId)!;
        if (FINAL.has(p.state)) finish(p);
      };
      const timer = setTimeout(() => finish(this.get(serviceId)), timeoutMs);
      const finish = (p: EcrPayment | undefined) => {
        clearTimeout(timer);
        this.off("change", onChange);
        resolve(p);
      };
      this.on("change", onChange);
    });
  }

  /** The payment in the terminal's hands now, if any (not another card operation). */
  current(): EcrPayment | undefined {
    return this.#active?.label === "payment" ? this.get(this.#active.serviceId) : undefined;
  }

  #isPayment(serviceId: string): boolean {
    return this.#active?.label === "payment" && this.#active.serviceId === serviceId;
  }

  /**
   * Stop taking payments (a new serviceId gets "busy"; the status of every payment stays readable):
   * abort one that waits for a card, let one in progress finish.
   */
  async shutdown(): Promise<void> {
    this.#closed = true;
    const active = this.#active;
    if (!active) return;
    if (active.waiting()) active.abort.abort("aborted");
    await active.done;
  }

  /**
   * The earlier cash-register payments whose torn intents this tap resolved: the register learns
   * from the answer to the new payment that the customer had already paid (or had not).
   */
  #resolvedPayments(outcome: PaymentOutcome): ResolvedPayment[] {
    const out: ResolvedPayment[] = [];
    for (const r of outcome.recovered) {
      const earlier = this.#o.payments.bySeq(r.seq);
      if (!earlier) continue;
      out.push({
        serviceId: earlier.serviceId,
        seq: r.seq,
        outcome: r.outcome === "complete" ? "approved" : r.outcome === "voided" ? "declined" : "torn",
        amount: earlier.amount,
        currency: earlier.currency,
      });
    }
    return out;
  }

  #row(serviceId: string): StoredEcrPayment | undefined {
    return this.#o.payments.get(serviceId);
  }

  #update(
    serviceId: string,
    state: EcrState,
    change?: { seq?: number; outcome?: Record<string, unknown> },
  ): void {
    this.#o.payments.update(serviceId, state, change);
    this.emit("change", serviceId, state);
  }

  #view(row: StoredEcrPayment): EcrPayment {
    let state = row.state;
    let outcome = row.outcome ?? null;
    if (state === "torn" && row.seq !== undefined) {
      // Follow the intent: resolved on a later tap of the same wallet.
      const t = this.#o.records.get(row.seq);
      if (t?.status === "complete") {
        state = "approved";
        outcome = { ...outcome, status: "approved", resolution: t.resolution, cardCounter: t.cardCounter };
      } else if (t?.status === "voided") {
        state = "declined";
        outcome = { ...outcome, status: "declined", resolution: t.resolution };
      }
    }
    return {
      serviceId: row.serviceId,
      state,
      amount: row.amount,
      currency: row.currency,
      reference: row.reference ?? null,
      seq: row.seq ?? null,
      outcome,
      createdAt: new Date(row.createdAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    };
  }
}
