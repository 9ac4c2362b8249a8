/**
 * Stored-value operations asked for by the cash register (nexo's StoredValueRequest: Load,
 * Reverse, and a balance inquiry), with the rules of its payments (payment-manager.ts): the
 * register's `serviceId` is the idempotency key (the same id with the same terms is the same
 * operation, never a second load; other terms are TERM_ERR_ECR_CONFLICT), a register that lost an
 * answer asks for the status, it can abort while the terminal waits for a card, and there is one
 * card operation at a time: the PaymentManager's card slot, shared with payments.
 *
 *   load     → runLoad (run-load.ts) at an online terminal: cash, bound account, another account,
 *              the online account
 *   reverse  → runRevoke: a same-day cash load of this terminal given back, the card present
 *   balance  → runBalanceInquiry (balance-inquiry.ts): the card's balance, and the platform's
 *              accounts at an online terminal; offline, the card's only
 *
 * States: waiting_for_card → in_progress → done | declined | in_doubt | error, or
 * waiting_for_card → aborted | timed_out. A load cut off after LOAD may have reached the card is
 * in_doubt: it is settled at the wallet's next presentation at an online terminal, and its status
 * follows the terminal's load row then (done if the card's record was booked after all, declined
 * if it was voided or given back). A load's id is linked to its operation before its load row is
 * written, so that this also holds after a crash.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import {
  FINAL_STORED_VALUE_STATES as FINAL,
  LOAD_TYPE_OF_SOURCE,
  type StoredEcrStoredValue,
  type StoredValueOperation,
  type StoredValueSource,
  type StoredValueState,
  type StoredValueTerms,
  termsProblem,
} from "../domain/ecr-stored-value.js";
import { asTerminalError, TerminalError } from "../errors.js";
import { type BalanceDeps, runBalanceInquiry } from "./balance-inquiry.js";
import { money } from "./outcome-json.js";
import type { CardPresentation, CardSource, PaymentManager } from "./payment-manager.js";
import type { EcrStoredValues, LoadIntents } from "./ports.js";
import { type LoadDeps, runLoad, runRevoke } from "./run-load.js";

export interface StoredValueRequest {
  readonly serviceId: string;
  readonly terms: StoredValueTerms;
}

/** What the register reads: the operation, its state and its outcome. */
export interface EcrStoredValue {
  readonly serviceId: string;
  readonly operation: StoredValueOperation;
  readonly state: StoredValueState;
  readonly amount: number | null;
  readonly currency: number | null;
  readonly source: StoredValueSource | null;
  readonly teller: string | null;
  readonly fromAccount: string | null;
  /** A reverse's load; a load's own id once it has one. */
  readonly loadId: string | null;
  /** The outcome (status loaded, reversed or balance; or a code and reason) once there is one. */
  readonly outcome: Record<string, unknown> | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface StoredValueManagerOptions {
  readonly operations: EcrStoredValues;
  /** The terminal's one card slot (the PaymentManager): busy while a payment runs. */
  readonly slot: Pick<PaymentManager, "occupy">;
  readonly cardSource: CardSource;
  /** What a balance inquiry needs at any terminal (keys, trust). */
  readonly card: BalanceDeps;
  /** The wallet platform; undefined at an offline terminal, which refuses load and reverse. */
  readonly online: LoadDeps | undefined;
  /** This terminal's loads: a reverse names one of them, an in_doubt load follows its row. */
  readonly loads: LoadIntents;
  readonly cardWaitMs: number;
  readonly logger: Logger;
}

function requestHash(t: StoredValueTerms): string {
  const terms = [t.operation, t.amount, t.currency, t.source, t.teller, t.fromAccount, t.loadId];
  return createHash("sha256")
    .update(JSON.stringify(terms.map((v) => v ?? null)))
    .digest("hex");
}

/** The end of an operation on the card: its state and outcome. */
interface Ending {
  readonly state: StoredValueState;
  readonly outcome: Record<string, unknown>;
}

export class StoredValueManager extends EventEmitter {
  readonly #o: StoredValueManagerOptions;
  /** The operation in the card slot now, and what aborts its wait for a card. */
  #active: { serviceId: string; abort: AbortController } | undefined;

  constructor(options: StoredValueManagerOptions) {
    super();
    this.#o = options;
    this.#endInterrupted();
  }

  /** Start an operation, or return the existing one for this serviceId. */
  start(request: StoredValueRequest): { operation: EcrStoredValue; created: boolean } {
    const { serviceId, terms } = request;
    const problem = termsProblem(terms);
    if (problem) throw new TerminalError("TERM_ERR_ECR_BAD_REQUEST", `invalid request: ${problem}`);
    const existing = this.#o.operations.get(serviceId);
    if (existing) {
      if (existing.requestHash !== requestHash(terms))
        throw new TerminalError(
          "TERM_ERR_ECR_CONFLICT",
          `serviceId ${serviceId} was already used for a different stored-value operation`,
        );
      return { operation: this.#view(existing), created: false };
    }
    if (terms.operation !== "balance" && !this.#o.online)
      throw new TerminalError(
        "TERM_ERR_OFFLINE",
        `a stored-value ${terms.operation} needs an online terminal (acquirer.url): nothing was sent to the card`,
      );
    if (terms.operation === "reverse") {
      const load = this.#o.loads.get(terms.loadId!);
      if (load?.type !== "cash")
        throw new TerminalError(
          "TERM_ERR_SV_UNKNOWN_LOAD",
          load
            ? `load ${terms.loadId} is a ${load.type} load: only cash loads are given back at the counter`
            : `load ${terms.loadId} was not made at this terminal`,
        );
    }
    const { abort, released } = this.#o.slot.occupy({
      serviceId,
      label: `stored-value ${terms.operation}`,
      waiting: () => this.#o.operations.get(serviceId)?.state === "waiting_for_card",
      run: (signal) => {
        // Stored once the slot is taken (a busy terminal stores nothing), before anything runs.
        this.#o.operations.create({ serviceId, requestHash: requestHash(terms), terms });
        return this.#run(serviceId, terms, signal);
      },
    });
    this.#active = { serviceId, abort };
    // The final state is told once the card is free again: a register that hears it may go on at once.
    void released.then(() => {
      this.#active = undefined;
      const state = this.#o.operations.get(serviceId)?.state;
      if (state) this.emit("change", serviceId, state);
    });
    return { operation: this.get(serviceId)!, created: true };
  }

  /** Abort an operation that is still waiting for a card. */
  abort(serviceId: string): EcrStoredValue | undefined {
    const row = this.#o.operations.get(serviceId);
    if (!row) return undefined;
    if (row.state === "waiting_for_card" && this.#active?.serviceId === serviceId) {
      this.#active.abort.abort("aborted");
      return this.#view(row);
    }
    if (FINAL.has(row.state)) return this.#view(row);
    throw new TerminalError(
      "TERM_ERR_ECR_NOT_ABORTABLE",
      "the card is being read: the stored-value operation cannot be aborted any more",
    );
  }

  /** The operation, an in_doubt load following its load row. */
  get(serviceId: string): EcrStoredValue | undefined {
    const row = this.#o.operations.get(serviceId);
    return row && this.#view(row);
  }

  /** The operation in the card slot now, if any. */
  current(): EcrStoredValue | undefined {
    return this.#active ? this.get(this.#active.serviceId) : undefined;
  }

  /** Resolves with the operation once it is final, or as it is when `timeoutMs` passes. */
  async waitFinal(serviceId: string, timeoutMs: number): Promise<EcrStoredValue | undefined> {
    const now = this.get(serviceId);
    if (!now || FINAL.has(now.state)) return now;
    return new Promise((resolve) => {
      const onChange = (id: string) => {
        if (id !== serviceId) return;
        const o = this.get(serviceId)!;
        if (FINAL.has(o.state)) finish(o);
      };
      const timer = setTimeout(() => finish(this.get(serviceId)), timeoutMs);
      const finish = (o: EcrStoredValue | undefined) => {
        clearTimeout(timer);
        this.off("change", onChange);
        resolve(o);
      };
      this.on("change", onChange);
    });
  }

  async #run(serviceId: string, terms: StoredValueTerms, signal: AbortSignal): Promise<void> {
    const log = this.#o.logger.child({ serviceId, storedValue: terms.operation });
    const wait = new AbortController();
    const onAbort = () => wait.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => wait.abort("timeout"), this.#o.cardWaitMs);
    let presentation: CardPresentation;
    try {
      presentation = await this.#o.cardSource.waitForCard(wait.signal);
    } catch (e) {
      if (wait.signal.aborted) {
        const state = wait.signal.reason === "timeout" ? "timed_out" : "aborted";
        this.#o.operations.update(serviceId, state);
        log.info(`stored-value ${terms.operation} ${state === "timed_out" ? "timed out" : "aborted"}`);
        return;
      }
      const err = asTerminalError(e);
      this.#o.operations.update(serviceId, "error", {
        outcome: { status: "error", code: err.code, message: err.message },
      });
      return;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
    this.#update(serviceId, "in_progress");
    let ending: Ending;
    try {
      ending = await this.#operate(serviceId, terms, presentation.transport);
    } catch (e) {
      const err = asTerminalError(e);
      log.error({ err: e }, `stored-value ${terms.operation} failed: ${err.message}`);
      ending = { state: "error", outcome: { status: "error", code: err.code, message: err.message } };
    }
    // Stored now, told once the slot is free (start()).
    this.#o.operations.update(serviceId, ending.state, { outcome: ending.outcome });
    log.info({ state: ending.state }, `stored-value ${terms.operation}: ${ending.state}`);
    // The reader's LED and beep, as for a payment: done is approved, anything else is not.
    await presentation
      .finish({ status: ending.state === "done" ? "approved" : "declined" })
      .catch((e) => log.debug({ err: e }, "card feedback failed"));
  }

  async #operate(serviceId: string, terms: StoredValueTerms, transport: Transport): Promise<Ending> {
    const online = this.#o.online;
    if (terms.operation === "balance") {
      const o = await runBalanceInquiry(transport, this.#o.card, online);
      if (o.status === "balance")
        return { state: "done", outcome: { ...o, balanceText: money(o.balance, o.currency) } };
      return { state: o.status, outcome: { ...o } };
    }
    if (!online) throw new TerminalError("TERM_ERR_OFFLINE", "the terminal is offline");
    if (terms.operation === "reverse") {
      const loadId = terms.loadId!;
      const o = await runRevoke(transport, online, { loadId, teller: terms.teller! });
      if (o.status !== "ok") return { state: o.status, outcome: { ...o } };
      const load = this.#o.loads.get(loadId)!;
      const given = o.settled.find((s) => s.loadId === loadId);
      return {
        state: "done",
        outcome: {
          ...o,
          status: "reversed",
          loadId,
          amount: load.amount,
          currency: load.currency,
          amountText: money(load.amount, load.currency),
          // voided: it was in doubt and never reached the card; reversed: the card gave it back.
          settledAs: given?.outcome ?? "reversed",
        },
      };
    }
    const source = terms.source!;
    // The load's id is linked to this operation before its load row is written (a crash after it
    // leaves the operation in doubt, following that row).
    const base = this.#o.loads;
    const loads: LoadIntents = {
      begin: (intent) => {
        this.#o.operations.update(serviceId, "in_progress", { loadId: intent.loadId });
        return base.begin(intent);
      },
      resolve: (loadId, state, resolution) => base.resolve(loadId, state, resolution),
      keepProof: (loadId, proof) => base.keepProof(loadId, proof),
      get: (loadId) => base.get(loadId),
      inDoubt: () => base.inDoubt(),
    };
    const o = await runLoad(
      transport,
      { ...online, loads },
      {
        type: LOAD_TYPE_OF_SOURCE[source],
        currency: terms.currency!,
        ...(terms.amount === undefined ? {} : { amount: terms.amount }),
        ...(terms.teller === undefined ? {} : { teller: terms.teller }),
        ...(terms.fromAccount === undefined ? {} : { fromAccount: terms.fromAccount }),
      },
    );
    const amountText = "amount" in o ? money(o.amount, o.currency) : undefined;
    const outcome = { ...o, ...(amountText ? { amountText } : {}) };
    if (o.status === "loaded") return { state: "done", outcome };
    return { state: o.status, outcome };
  }

  /**
   * After a restart nothing runs: an operation waiting for a card is aborted; a load whose load row
   * was written may have reached the card (in doubt, settled at the next presentation); a reverse
   * cut off may or may not have; anything else sent nothing that changes money.
   */
  #endInterrupted(): void {
    for (const row of this.#o.operations.unfinished()) {
      const { serviceId } = row;
      const op = row.terms.operation;
      if (row.state === "waiting_for_card") this.#o.operations.update(serviceId, "aborted");
      else if (op === "load" && row.loadId !== undefined && this.#o.loads.get(row.loadId))
        this.#o.operations.update(serviceId, "in_doubt", {
          outcome: {
            status: "in_doubt",
            code: "TERM_ERR_LOAD_IN_DOUBT",
            message:
              "posd stopped during the load: it is settled the next time the wallet is presented at an online terminal",
            loadId: row.loadId,
          },
        });
      else if (op === "reverse")
        this.#o.operations.update(serviceId, "error", {
          outcome: {
            status: "error",
            code: "TERM_ERR_SV_INTERRUPTED",
            message: `posd stopped during the reverse of load ${row.loadId}: look the load up at the wallet platform before asking again`,
          },
        });
      else
        this.#o.operations.update(serviceId, "error", {
          outcome: {
            status: "error",
            code: "TERM_ERR_INTERRUPTED",
            message: "posd stopped before anything that moves money was sent to the card: nothing was loaded",
          },
        });
    }
  }

  /** A state on the way (in_progress): stored and told at once. */
  #update(serviceId: string, state: StoredValueState): void {
    this.#o.operations.update(serviceId, state);
    this.emit("change", serviceId, state);
  }

  #view(row: StoredEcrStoredValue): EcrStoredValue {
    let state = row.state;
    let outcome = row.outcome ?? null;
    if (state === "in_doubt" && row.loadId !== undefined) {
      // Follow the load row: settled at a later presentation (here, or elsewhere and then here).
      const load = this.#o.loads.get(row.loadId);
      if (load?.state === "loaded") {
        state = "done";
        outcome = { ...outcome, status: "loaded", resolution: load.resolution ?? null };
      } else if (load && load.state !== "pending") {
        state = "declined";
        outcome = {
          ...outcome,
          status: "declined",
          settledAs: load.state,
          resolution: load.resolution ?? null,
        };
      }
    }
    const t = row.terms;
    return {
      serviceId: row.serviceId,
      operation: t.operation,
      state,
      amount: t.amount ?? null,
      currency: t.currency ?? null,
      source: t.source ?? null,
      teller: t.teller ?? null,
      fromAccount: t.fromAccount ?? null,
      loadId: row.loadId ?? null,
      outcome,
      createdAt: new Date(row.createdAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    };
  }
}
