/**
 * The payment use case: one tap from amount to a durably stored, doubly signed record.
 *
 *   SELECT → mutual authentication → recover this wallet's pending intents (torn taps) →
 *   store a pending intent (allocates the terminal seq, durable) → DEBIT → verify the record →
 *   counter-sign, chain and store it → approved.
 *
 * The terminal never stores a record it did not verify, never voids an intent the card might have
 * committed, and tells the cashier exactly why a tap did not go through.
 */
import type { KeyObject } from "node:crypto";
import { currencyByNumeric, formatMoney } from "../../protocol/amount.js";
import { ecdsaSign, type RandomSource } from "../../protocol/crypto.js";
import type { Logger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import { counting, isCounted } from "../../protocol/transport-wrappers.js";
import type { LogNotFound, SignedRecord } from "../../protocol/wallet/messages.js";
import {
  type AuthenticatedCard,
  CardSession,
  type CardTrust,
  isBlocked,
  type TerminalIdentity,
} from "../card-session/session.js";
import type { CompletedDebit, Intent, StoredTransaction } from "../domain/records.js";
import { judgeNotInLog } from "../domain/torn.js";
import {
  asTerminalError,
  CardRefusal,
  errorClass,
  TerminalError,
  type TerminalErrorCode,
} from "../errors.js";
import type { DeliveredCommand } from "./issuer-commands.js";
import { type AutoLoadResult, deliversToHotlisted, onlineBeforeDebit } from "./online-tap.js";
import type { RecordLedger, WalletWatch } from "./ports.js";
import type { LoadDeps, SettledLoad } from "./run-load.js";
import {
  announcedRollback,
  catchForgedWallet,
  flagAnnouncedRollback,
  rememberRecord,
} from "./wallet-watch.js";

export interface PaymentDeps {
  /**
   * An online terminal's wallet platform (its loads, the platform client): with it, a card under
   * its auto-load threshold is loaded in the same tap before the DEBIT. Offline terminals have none.
   */
  readonly online?: LoadDeps;
  /** Where intents and records are kept (the SQLite file in posd). */
  readonly store: RecordLedger;
  readonly identity: TerminalIdentity;
  readonly trust: CardTrust;
  readonly logger: Logger;
  readonly random?: RandomSource;
  /** ECDSA signer for the card session (tests: RFC 6979 for byte-stable transcripts). */
  readonly signer?: (privateKey: KeyObject, message: Uint8Array) => Uint8Array;
  /** Unix seconds. */
  readonly clock?: () => number;
  /** Offline risk limits: a TerminalError declines before the card is touched. */
  readonly riskCheck?: (request: PaymentRequest) => TerminalError | undefined;
  /** At most this many pending intents of the wallet are resolved per tap (each costs one APDU). */
  readonly maxRecoveriesPerTap?: number;
  /**
   * Per wallet, the last counter and balance this terminal verified, and its local blocklist
   * (wallet-watch.ts). posd always has it (terminal/composition/root.ts); without it a rolled-back
   * or edited wallet is only logged.
   */
  readonly walletWatch?: WalletWatch;
}

export interface PaymentRequest {
  /** Minor units, > 0. */
  readonly amount: number;
  /** ISO 4217 numeric. */
  readonly currency: number;
  /** The cash register's reference (service id), stored with the intent. */
  readonly reference?: string;
  /** The cash-register payment this tap is for: linked to the seq when the intent is written. */
  readonly serviceId?: string;
}

export interface RecoveredIntent {
  readonly seq: number;
  readonly outcome: "complete" | "voided" | "unresolved";
  readonly amount: number;
  /** Why an intent stays unresolved when the card's log cannot settle it (the acquirer will). */
  readonly reason?: string;
}

export interface TapStats {
  readonly apdus: number;
  readonly bytesOut: number;
  readonly bytesIn: number;
  readonly totalMs: number;
  readonly storeMs: number;
}

export type PaymentOutcome =
  | {
      readonly status: "approved";
      readonly record: StoredTransaction;
      readonly walletId: string;
      readonly recovered: readonly RecoveredIntent[];
      readonly stats: TapStats;
      /** The automatic load this tap ran (or skipped) before the DEBIT, at an online terminal. */
      readonly autoLoad?: AutoLoadResult;
      /** What the platform had this tap do first (loads in doubt settled, issuer commands delivered). */
      readonly online?: OnlineWork;
    }
  | {
      /** The card or the terminal's policy refused; nothing was charged. */
      readonly status: "declined";
      readonly code: TerminalErrorCode;
      readonly message: string;
      readonly walletId?: string;
      readonly seq?: number;
      readonly recovered: readonly RecoveredIntent[];
      readonly stats: TapStats;
      /** The automatic load this tap ran (or skipped) before the DEBIT, at an online terminal. */
      readonly autoLoad?: AutoLoadResult;
      /** What the platform had this tap do first (loads in doubt settled, issuer commands delivered). */
      readonly online?: OnlineWork;
    }
  | {
      /** DEBIT went out and no verified answer came back: the intent stays pending until the wallet returns. */
      readonly status: "torn";
      readonly code: TerminalErrorCode;
      readonly message: string;
      readonly walletId: string;
      readonly seq: number;
      readonly recovered: readonly RecoveredIntent[];
      readonly stats: TapStats;
      /** The automatic load this tap ran (or skipped) before the DEBIT, at an online terminal. */
      readonly autoLoad?: AutoLoadResult;
      /** What the platform had this tap do first (loads in doubt settled, issuer commands delivered). */
      readonly online?: OnlineWork;
    }
  | {
      /** The tap failed before anything could be charged (card removed early, reader error, bad answer). */
      readonly status: "error";
      readonly code: TerminalErrorCode;
      readonly message: string;
      readonly walletId?: string;
      readonly recovered: readonly RecoveredIntent[];
      readonly stats: TapStats;
      /** The automatic load this tap ran (or skipped) before the DEBIT, at an online terminal. */
      readonly autoLoad?: AutoLoadResult;
      /** What the platform had this tap do first (loads in doubt settled, issuer commands delivered). */
      readonly online?: OnlineWork;
    };

/** The platform's work an online tap did before its DEBIT (online-tap.ts); present only when there was some. */
export interface OnlineWork {
  readonly settled: readonly SettledLoad[];
  readonly delivered: readonly DeliveredCommand[];
}

function sessionFor(transport: Transport, deps: PaymentDeps): CardSession {
  return new CardSession(transport, {
    identity: deps.identity,
    trust: deps.trust,
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.signer ? { signer: deps.signer } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
}

export async function runPayment(
  transport: Transport,
  deps: PaymentDeps,
  request: PaymentRequest,
): Promise<PaymentOutcome> {
  const started = performance.now();
  let storeMs = 0;
  const timed = <T>(fn: () => T): T => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      storeMs += performance.now() - t0;
    }
  };
  // The stack counts (terminal/composition/card-transport.ts); a bare transport is counted here.
  const link = isCounted(transport) ? transport : counting(transport);
  const before = { ...link.counts };
  const session = sessionFor(link, deps);
  const stats = (): TapStats => ({
    apdus: link.counts.apdus - before.apdus,
    bytesOut: link.counts.bytesOut - before.bytesOut,
    bytesIn: link.counts.bytesIn - before.bytesIn,
    totalMs: performance.now() - started,
    storeMs,
  });
  const sign = (message: Uint8Array) => ecdsaSign(deps.identity.privateKey, message);
  const recovered: RecoveredIntent[] = [];
  const log = deps.logger.child({
    tap: request.reference ?? undefined,
    amount: formatMoney(request.amount, currencyByNumeric(request.currency)),
  });

  let autoLoad: AutoLoadResult | undefined;
  let work: OnlineWork | undefined;
  const withAutoLoad = () => ({ ...(autoLoad ? { autoLoad } : {}), ...(work ? { online: work } : {}) });
  const fail = (e: unknown, walletId?: string): PaymentOutcome => {
    const err = asTerminalError(e);
    const status = errorClass(err.code) === "decline" ? "declined" : "error";
    log.info({ code: err.code, walletId }, `${status}: ${err.message}`);
    return {
      status,
      code: err.code,
      message: err.message,
      ...(walletId ? { walletId } : {}),
      recovered,
      stats: stats(),
      ...withAutoLoad(),
    };
  };

  log.debug("tap started");
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
    return fail(new TerminalError("TERM_ERR_AMOUNT", "the amount must be a positive number of minor units"));
  }
  const refusal = deps.riskCheck?.(request);
  if (refusal) return fail(refusal);

  let card: AuthenticatedCard;
  try {
    const fci = await session.select();
    // The platform has work for this wallet (its BLOCK or UNBLOCK among it, maybe): a hotlisted or
    // blocked card goes on to the online step, which delivers it and then refuses the payment.
    const listed = deliversToHotlisted(deps.online, fci.walletId);
    card = await session.authenticate({ hotlisted: listed ? "mark" : "refuse" });
    if (isBlocked(fci) && !listed) throw new TerminalError("TERM_ERR_CARD_BLOCKED", "the wallet is blocked");
  } catch (e) {
    session.close();
    return fail(e);
  }
  const walletId = card.walletId;
  // Caught here before: declined before anything else is sent to it (its log is not trusted either).
  if (deps.walletWatch?.isBlocked(walletId)) {
    session.close();
    return fail(
      new TerminalError(
        "TERM_ERR_LOCAL_BLOCKLIST",
        "the wallet is on this terminal's blocklist: it was caught here rolled back or with a forged balance",
        { details: { walletId } },
      ),
      walletId,
    );
  }
  // The counter the card announced at SELECT is behind what this terminal verified: declined
  // before DEBIT, so the card commits nothing (wallet-watch.ts).
  const watched = deps.walletWatch;
  const early = watched && announcedRollback(watched, card);
  if (early) {
    try {
      const { balance } = await session.readBalance();
      const voided = timed(() =>
        deps.store.createIntent({
          walletId,
          amount: request.amount,
          currency: request.currency,
          terminalTime: card.terminalTime,
          transcriptHash: card.transcriptHash,
          ...(request.reference ? { reference: request.reference } : {}),
          ...(request.serviceId === undefined ? {} : { serviceId: request.serviceId }),
        }),
      );
      const caught = timed(() =>
        flagAnnouncedRollback(watched, voided.seq, early, { balance, ...request }, card, log),
      );
      timed(() => deps.store.void(voided.seq, caught.resolution, sign));
      return {
        status: "declined",
        code: caught.error.code,
        message: caught.error.message,
        walletId,
        seq: voided.seq,
        recovered,
        stats: stats(),
      };
    } catch (e) {
      return fail(e, walletId);
    } finally {
      session.close();
    }
  }

  // Torn taps of this wallet first: a pending intent is resolved from the card's own log.
  try {
    // An intent marked unresolved is not asked again: the card's log no longer covers it.
    const pending = timed(() => deps.store.pendingIntents(walletId))
      .filter((i) => !i.unresolved)
      .slice(0, deps.maxRecoveriesPerTap ?? 2);
    for (const intent of pending)
      recovered.push(await recoverIntent(session, deps, intent, sign, timed, log));
    // A torn tap's record just proved the wallet rolled back or edited: no new DEBIT for it.
    if (deps.walletWatch?.isBlocked(walletId))
      throw new TerminalError(
        "TERM_ERR_LOCAL_BLOCKLIST",
        "the wallet's recovered record shows it rolled back or with a forged balance: declined and blocklisted here",
        { details: { walletId } },
      );
  } catch (e) {
    session.close();
    return fail(e, walletId);
  }

  // At an online terminal: the platform's work for the wallet, and a card under its auto-load
  // threshold loaded first (seed 000; online-tap.ts).
  if (deps.online) {
    try {
      const tap = await onlineBeforeDebit(session, card, deps.online, log);
      autoLoad = tap?.autoLoad;
      if (tap && (tap.settled.length > 0 || tap.delivered.length > 0))
        work = { settled: tap.settled, delivered: tap.delivered };
      if (tap?.refusal) throw tap.refusal;
    } catch (e) {
      session.close();
      return fail(e, walletId);
    }
  }

  let intent: Intent;
  try {
    intent = timed(() =>
      deps.store.createIntent({
        walletId,
        amount: request.amount,
        currency: request.currency,
        terminalTime: card.terminalTime,
        transcriptHash: card.transcriptHash,
        // The card's counter before DEBIT (its FCI), or for a card that does not announce it a
        // lower bound: the highest this terminal verified, else 0 (see terminal/domain/torn.ts).
        cardCounterSeen: card.fci.counter ?? deps.store.lastCardCounter(walletId) ?? 0,
        ...(request.reference ? { reference: request.reference } : {}),
        ...(request.serviceId === undefined ? {} : { serviceId: request.serviceId }),
      }),
    );
  } catch (e) {
    session.close();
    return fail(e, walletId);
  }

  try {
    const signed = await session.debit({
      amount: request.amount,
      currency: request.currency,
      terminalSeq: intent.seq,
    });
    const watch = deps.walletWatch;
    // The card has committed: a rolled-back or edited wallet is declined, never approved; its
    // signed record is kept in the finding and the intent voided (see wallet-watch.ts).
    const caught = watch && timed(() => catchForgedWallet(watch, intent.seq, signed, card, log));
    if (caught) {
      timed(() => deps.store.void(intent.seq, caught.resolution, sign));
      return {
        status: "declined",
        code: caught.error.code,
        message: caught.error.message,
        walletId,
        seq: intent.seq,
        recovered,
        stats: stats(),
      };
    }
    // Without a wallet watch (a hand-built PaymentDeps) an old counter is only logged.
    const previous = timed(() => deps.store.lastCardCounter(walletId));
    if (previous !== undefined && signed.record.cardCounter <= previous)
      log.warn({ walletId, counter: signed.record.cardCounter, previous }, "card counter went backwards");
    const record = timed(() => deps.store.complete(intent.seq, completedDebit(signed, card, "online"), sign));
    if (watch) timed(() => rememberRecord(watch, intent.seq, signed.record));
    log.info({ walletId, seq: intent.seq, counter: signed.record.cardCounter }, "approved");
    return { status: "approved", record, walletId, recovered, stats: stats(), ...withAutoLoad() };
  } catch (e) {
    const err = asTerminalError(e);
    if (err instanceof CardRefusal) {
      timed(() => deps.store.void(intent.seq, `declined by card: ${err.code}`, sign));
      log.info({ walletId, seq: intent.seq, code: err.code }, `declined: ${err.message}`);
      return {
        status: "declined",
        code: err.code,
        message: err.message,
        walletId,
        seq: intent.seq,
        recovered,
        stats: stats(),
        ...withAutoLoad(),
      };
    }
    // The DEBIT may have been committed by the card: keep the intent for recovery on the next tap.
    log.warn(
      { walletId, seq: intent.seq, code: err.code },
      `torn: ${err.message}; pending until the wallet is presented again`,
    );
    return {
      status: "torn",
      code: err.code,
      message: `${err.message}; the payment is pending until the same wallet is presented again`,
      walletId,
      seq: intent.seq,
      recovered,
      stats: stats(),
      ...withAutoLoad(),
    };
  } finally {
    session.close();
  }
}

/**
 * Only the recovery half of a tap: authenticate the wallet and resolve its pending intents from its
 * log, without a new debit (`posd recover`, and an operator's tool after a crash).
 */
export async function recoverPending(
  transport: Transport,
  deps: PaymentDeps,
): Promise<{ walletId?: string; recovered: RecoveredIntent[]; error?: TerminalError }> {
  const session = sessionFor(transport, deps);
  const sign = (message: Uint8Array) => ecdsaSign(deps.identity.privateKey, message);
  const recovered: RecoveredIntent[] = [];
  let walletId: string | undefined;
  try {
    await session.select();
    walletId = (await session.authenticate()).walletId;
    for (const intent of deps.store.pendingIntents(walletId).filter((i) => !i.unresolved)) {
      recovered.push(await recoverIntent(session, deps, intent, sign, (fn) => fn(), deps.logger));
    }
    return { walletId, recovered };
  } catch (e) {
    const error = asTerminalError(e);
    return { ...(walletId ? { walletId } : {}), recovered, error };
  } finally {
    session.close();
  }
}

/** What the store keeps of a verified debit record. */
function completedDebit(signed: SignedRecord, card: AuthenticatedCard, resolution: string): CompletedDebit {
  return {
    cardCounter: signed.record.cardCounter,
    balanceAfter: signed.record.balanceAfter,
    cardRecord: signed.bytes,
    cardSignature: signed.signature,
    cardCertificate: card.certificate.der,
    resolution,
  };
}

async function recoverIntent(
  session: CardSession,
  deps: PaymentDeps,
  intent: Intent,
  sign: (m: Uint8Array) => Uint8Array,
  timed: <T>(fn: () => T) => T,
  log: Logger,
): Promise<RecoveredIntent> {
  const base = { seq: intent.seq, amount: intent.amount };
  let answer: Awaited<ReturnType<CardSession["recover"]>>;
  try {
    answer = await session.recover({
      terminalSeq: intent.seq,
      amount: intent.amount,
      currency: intent.currency,
      terminalTime: intent.terminalTime,
      transcriptHash: intent.transcriptHash,
    });
  } catch (e) {
    // Transport failures end the tap; a record that does not verify leaves the intent pending.
    if (
      e instanceof TerminalError &&
      (e.code === "TERM_ERR_RECORD_MISMATCH" || e.code === "TERM_ERR_BAD_SIGNATURE")
    ) {
      log.warn(
        { seq: intent.seq, code: e.code },
        "pending intent not resolved: the card's log entry does not verify",
      );
      return { ...base, outcome: "unresolved" };
    }
    throw e;
  }
  if ("notInLog" in answer) return settleNotInLog(session, deps, intent, answer.notInLog, sign, timed, log);
  const signed = answer.found;
  const watch = deps.walletWatch;
  const caught = watch && timed(() => catchForgedWallet(watch, intent.seq, signed, session.card!, log));
  if (caught) {
    // A torn tap must not become "approved" on a forged record either: declined like a fresh one.
    timed(() => deps.store.void(intent.seq, caught.resolution, sign));
    return { ...base, outcome: "voided" };
  }
  timed(() => deps.store.complete(intent.seq, completedDebit(signed, session.card!, "recovered"), sign));
  if (watch) timed(() => rememberRecord(watch, intent.seq, signed.record));
  log.info(
    { seq: intent.seq, counter: signed.record.cardCounter },
    "torn intent recovered from the card's log",
  );
  return { ...base, outcome: "complete" };
}

/**
 * The card's log has no entry for the intent (6A83). That proves "never committed" only when the
 * log still covers the counter seen before DEBIT (terminal/domain/torn.ts); otherwise the intent
 * stays pending, marked unresolved, and travels with the next upload for the back office.
 */
async function settleNotInLog(
  session: CardSession,
  deps: PaymentDeps,
  intent: Intent,
  notInLog: LogNotFound,
  sign: (m: Uint8Array) => Uint8Array,
  timed: <T>(fn: () => T) => T,
  log: Logger,
): Promise<RecoveredIntent> {
  const base = { seq: intent.seq, amount: intent.amount };
  let currentCounter = session.card?.fci.counter;
  if (notInLog.logFrom === undefined && currentCounter === undefined && intent.cardCounterSeen !== undefined)
    currentCounter = (await session.readBalance()).counter; // a card that predates DF24 and DF22
  const verdict = judgeNotInLog({
    counterSeen: intent.cardCounterSeen,
    ...notInLog,
    ...(currentCounter === undefined ? {} : { currentCounter }),
  });
  if (verdict.proven) {
    timed(() =>
      deps.store.void(intent.seq, `voided: not in the card's log (never committed; ${verdict.why})`, sign),
    );
    log.info({ seq: intent.seq }, "torn intent voided: the card never committed it");
    return { ...base, outcome: "voided" };
  }
  timed(() => deps.store.markUnresolved(intent.seq, verdict.reason));
  log.warn(
    { seq: intent.seq, counterSeen: intent.cardCounterSeen, ...notInLog, currentCounter },
    `torn intent unresolved: ${verdict.reason}; it goes to the acquirer with the next upload`,
  );
  return { ...base, outcome: "unresolved", reason: verdict.reason };
}
