/**
 * Loads at an online terminal, with the card present (seed 000; protocol/platform/api.ts):
 *
 *   SELECT → mutual authentication → READ BALANCE → forward this terminal's kept LOAD proofs →
 *   tell the platform the wallet is here → settle its loads in doubt (LOAD REVERSAL each) →
 *   deliver the issuer commands queued for the card (issuer-commands.ts) →
 *   store the load intent (durable) → GET CHALLENGE → the platform signs LOAD over it →
 *   check the command is the one asked for → relay → verify the card's record → the platform books it.
 *
 * Where it can be cut off, and what then holds:
 * - before LOAD goes out: nothing is on the card; the platform's load stays pending and the next
 *   presentation voids it (930E), releasing any hold;
 * - LOAD out, no verified answer (card gone, timeout): in doubt; the next presentation reverses
 *   it if the card has it, or voids it if not, whichever terminal it is at;
 * - the record verified, the platform unreachable: the record is kept here and forwarded at the
 *   next online session of this terminal; a reversal elsewhere in between takes it back instead.
 * Nothing is booked twice (every platform call is idempotent by its id) and nothing is lost.
 */
import type { KeyObject } from "node:crypto";
import { currencyByNumeric, formatMoney } from "../../protocol/amount.js";
import { fromHex, hex } from "../../protocol/bytes.js";
import { type RandomSource, systemRandom } from "../../protocol/crypto.js";
import type { Logger } from "../../protocol/logger.js";
import type { CardView, LoadState, LoadType, PresentedAnswer } from "../../protocol/platform/api.js";
import type { Transport } from "../../protocol/transport.js";
import { counting, isCounted } from "../../protocol/transport-wrappers.js";
import { INS, LOAD_ID_LENGTH, RECORD_TYPE, WALLET_STATE } from "../../protocol/wallet/constants.js";
import {
  type BalanceInfo,
  parseIssuerCommand,
  parseLoadPayload,
  parseReversalPayload,
} from "../../protocol/wallet/messages.js";
import {
  type AuthenticatedCard,
  CardSession,
  type CardTrust,
  type TerminalIdentity,
} from "../card-session/session.js";
import {
  asTerminalError,
  CardRefusal,
  errorClass,
  TerminalError,
  type TerminalErrorCode,
} from "../errors.js";
import { COMMAND_NAME, type DeliveredCommand, deliverPendingCommands } from "./issuer-commands.js";
import type { AttentionList, LoadIntents, WalletPlatform } from "./ports.js";
import type { TapStats } from "./run-payment.js";

export interface LoadDeps {
  readonly loads: LoadIntents;
  readonly platform: WalletPlatform;
  readonly identity: TerminalIdentity;
  readonly trust: CardTrust;
  readonly logger: Logger;
  /** Load ids, request ids and the session's nonces; default node:crypto. */
  readonly random?: RandomSource;
  readonly signer?: (privateKey: KeyObject, message: Uint8Array) => Uint8Array;
  /** Unix seconds. */
  readonly clock?: () => number;
  /** The branch this terminal stands at (the bank message's), when configured. */
  readonly branch?: string;
  /**
   * The wallets the platform has work for, as last fetched (posd sync, posd run's sync): a
   * presentation that did all of a wallet's work takes it off, and a plain payment presents only
   * the wallets on it (online-tap.ts).
   */
  readonly attention?: AttentionList;
}

export interface LoadOrder {
  readonly type: LoadType;
  /** Minor units, > 0. Supplementary loads without an amount move the whole online balance. */
  readonly amount?: number;
  readonly currency: number;
  readonly teller?: string;
  readonly fromAccount?: string;
}

/** A load in doubt this presentation settled before its own operation. */
export interface SettledLoad {
  readonly loadId: string;
  readonly amount: number;
  readonly currency: number;
  /** voided: the card never had it (930E); reversed: it had it and gave it back. */
  readonly outcome: "voided" | "reversed";
}

interface Common {
  readonly walletId?: string;
  readonly settled: readonly SettledLoad[];
  /** Issuer commands the card executed in this presentation (parameters, BLOCK, UNBLOCK). */
  readonly delivered?: readonly DeliveredCommand[];
  readonly stats: TapStats;
}

export type LoadOutcome =
  | (Common & {
      readonly status: "loaded";
      readonly walletId: string;
      readonly loadId: string;
      readonly type: LoadType;
      readonly amount: number;
      readonly currency: number;
      /** The card's balance after the load (its signed record). */
      readonly balanceAfter: number;
      readonly cardCounter: number;
      /** The platform booked it (false: it was unreachable; the record is kept and forwarded later). */
      readonly booked: boolean;
    })
  | (Common & {
      /** The platform or the card refused: nothing was loaded. */
      readonly status: "declined";
      readonly code: TerminalErrorCode;
      readonly message: string;
      readonly loadId?: string;
    })
  | (Common & {
      /** LOAD went out and no verified answer came back: settled at the next online presentation. */
      readonly status: "in_doubt";
      readonly code: TerminalErrorCode;
      readonly message: string;
      readonly walletId: string;
      readonly loadId: string;
    })
  | (Common & { readonly status: "error"; readonly code: TerminalErrorCode; readonly message: string });

/** The card at an online terminal: authenticated, its balance read, the platform told. */
export interface OnlineCard {
  readonly session: CardSession;
  readonly card: AuthenticatedCard;
  readonly balance: BalanceInfo;
  readonly platform: PresentedAnswer;
  readonly settled: SettledLoad[];
  /** The issuer commands queued for the card that it executed in this presentation. */
  readonly delivered: readonly DeliveredCommand[];
}

const randomHex = (deps: LoadDeps, bytes: number): string => hex((deps.random ?? systemRandom)(bytes));

const now = (deps: LoadDeps): number => (deps.clock ? deps.clock() : Math.floor(Date.now() / 1000));

function cardView(b: BalanceInfo): CardView {
  return {
    balance: b.balance,
    balanceLimit: b.balanceLimit,
    counter: b.counter,
    state: b.state === WALLET_STATE.BLOCKED ? "blocked" : "active",
  };
}

/**
 * Open the card for online work: authenticate it, read its balance, forward the LOAD records this
 * terminal kept while the platform was unreachable, present the wallet and settle its loads in
 * doubt. Throws on anything that stops the session (the caller closes it).
 */
export async function openOnlineCard(session: CardSession, deps: LoadDeps, log: Logger): Promise<OnlineCard> {
  await session.select();
  // A hotlisted card is authenticated all the same: the platform's commands (BLOCK) reach it
  // first, and the operation is refused after (hotlistedRefusal).
  const card = await session.authenticate({ hotlisted: "mark" });
  return presentOnline(session, card, await session.readBalance(), deps, log);
}

/**
 * TERM_ERR_HOTLISTED for a card on this terminal's hotlist that an online presentation handed the
 * platform's commands first: nothing else is done with it.
 */
export function hotlistedRefusal(online: Pick<OnlineCard, "card" | "delivered">): TerminalError {
  const names = online.delivered.map((d) => COMMAND_NAME[d.kind]);
  const unblocked = online.delivered.some((d) => d.kind === "unblock" && d.confirmed);
  const first = names.length > 0 ? `; ${names.join(" and ")} delivered to the card first` : "";
  const after = unblocked ? " (released: it leaves this terminal's hotlist at the next sync, posd sync)" : "";
  return new TerminalError(
    "TERM_ERR_HOTLISTED",
    `the wallet is on the hotlist (reported lost or blocked)${first}${after}`,
    { details: { walletId: online.card.walletId } },
  );
}

/** The online steps of openOnlineCard, on a card already authenticated and read (a payment's). */
export async function presentOnline(
  session: CardSession,
  card: AuthenticatedCard,
  balance: BalanceInfo,
  deps: LoadDeps,
  log: Logger,
): Promise<OnlineCard> {
  await forwardKeptProofs(deps, log);
  const present = (b: BalanceInfo) =>
    deps.platform.presented(card.walletId, {
      requestId: randomHex(deps, 16),
      cardCertificate: Buffer.from(card.certificate.der).toString("base64"),
      card: cardView(b),
      time: now(deps),
    });
  const platform = await present(balance);
  const settled: SettledLoad[] = [];
  for (const doubt of platform.loadsInDoubt) {
    settled.push(await reverseOnCard(session, card, deps, doubt, log));
  }
  // This terminal's own loads of the wallet that the platform holds nothing pending for, and whose
  // record the card never gave here: never signed (cut off before the platform stored it), or
  // settled at another terminal. Either way nothing of them is on the card now.
  const listed = new Set(platform.loadsInDoubt.map((d) => d.loadId));
  for (const intent of deps.loads.inDoubt()) {
    if (intent.walletId !== card.walletId || intent.proof || listed.has(intent.loadId)) continue;
    deps.loads.resolve(intent.loadId, "voided", "the platform holds no pending load with this id");
    log.info(
      { walletId: card.walletId, loadId: intent.loadId },
      "load never signed, or settled elsewhere: voided here",
    );
  }
  const delivered = await deliverPendingCommands(
    session,
    card,
    balance.currency,
    platform.pendingCommands,
    { platform: deps.platform, requestId: () => randomHex(deps, 16), clock: () => now(deps) },
    log,
  );
  // Every load in doubt is settled (or this threw); with every command delivered and taken, the
  // platform has no more work for the wallet until it says so in a later attention list.
  if (delivered.length === platform.pendingCommands.length && delivered.every((d) => d.confirmed))
    deps.attention?.done(card.walletId);
  const after = settled.length > 0 || delivered.length > 0 ? await session.readBalance() : balance;
  // New parameters change the wallet at the platform (its auto-load agreement, say): what the rest
  // of this presentation decides by is the platform's answer after them.
  const changed = delivered.some((d) => d.kind === "parameters" && d.confirmed);
  return {
    session,
    card,
    balance: after,
    platform: changed ? await present(after) : platform,
    settled,
    delivered,
  };
}

/** Records this terminal verified and could not hand over: the platform books them now. */
async function forwardKeptProofs(deps: LoadDeps, log: Logger): Promise<void> {
  for (const intent of deps.loads.inDoubt()) {
    if (!intent.proof) continue;
    const state = await deps.platform.completeLoad(intent.loadId, {
      record: hex(intent.proof.record),
      signature: hex(intent.proof.signature),
    });
    resolveLocal(deps, intent.loadId, state, "booked from the record kept here");
    log.info({ loadId: intent.loadId, state: state.state }, "kept load record forwarded to the platform");
  }
}

function resolveLocal(deps: LoadDeps, loadId: string, state: LoadState, resolution: string): void {
  if (state.state === "pending") return;
  deps.loads.resolve(loadId, state.state, resolution);
}

/**
 * LOAD REVERSAL of one load over a fresh challenge: 930E voids it (it never reached the card), a
 * record reverses it. The platform books either; this terminal's own row (if the load was its) ends.
 */
export async function reverseOnCard(
  session: CardSession,
  card: AuthenticatedCard,
  deps: LoadDeps,
  load: { loadId: string; amount: number; currency: number },
  log: Logger,
  teller?: string,
): Promise<SettledLoad> {
  const challenge = await session.getChallenge();
  const requestId = randomHex(deps, 16);
  const answer = await deps.platform.requestReversal(load.loadId, {
    requestId,
    challenge: hex(challenge),
    time: now(deps),
    ...(teller ? { teller } : {}),
  });
  const data = fromHex(answer.command);
  const reversal = checked(() => parseReversalPayload(parseIssuerCommand(data).payload));
  if (hex(reversal.loadId) !== load.loadId)
    throw new TerminalError("TERM_ERR_ISSUER_COMMAND", "the platform's LOAD REVERSAL names another load", {
      details: { loadId: load.loadId },
    });
  const result = await session.issuerCommand(INS.LOAD_REVERSAL, data, challenge, {
    type: RECORD_TYPE.LOAD_REVERSAL,
    amount: load.amount,
    currency: load.currency,
    time: reversal.time,
  });
  const state =
    "notFound" in result
      ? await deps.platform.completeReversal(load.loadId, { requestId, outcome: "not-found" })
      : await deps.platform.completeReversal(load.loadId, {
          requestId,
          outcome: "reversed",
          proof: { record: hex(result.record.bytes), signature: hex(result.record.signature) },
        });
  const outcome = "notFound" in result ? "voided" : "reversed";
  deps.loads.resolve(load.loadId, outcome, `settled at a presentation of ${card.walletId}`);
  log.info(
    { walletId: card.walletId, loadId: load.loadId, outcome, state: state.state },
    "load in doubt settled",
  );
  return { loadId: load.loadId, amount: load.amount, currency: load.currency, outcome };
}

function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new TerminalError("TERM_ERR_ISSUER_COMMAND", "the platform's issuer command is malformed", {
      cause: e,
    });
  }
}

/** A card session over `transport`, and the APDU counts and time from now on. */
export function counted(
  transport: Transport,
  deps: Pick<LoadDeps, "identity" | "trust" | "random" | "signer" | "clock">,
): { session: CardSession; stats: () => TapStats } {
  const started = performance.now();
  const link = isCounted(transport) ? transport : counting(transport);
  const before = { ...link.counts };
  const stats = (): TapStats => ({
    apdus: link.counts.apdus - before.apdus,
    bytesOut: link.counts.bytesOut - before.bytesOut,
    bytesIn: link.counts.bytesIn - before.bytesIn,
    totalMs: performance.now() - started,
    storeMs: 0,
  });
  const session = new CardSession(link, {
    identity: deps.identity,
    trust: deps.trust,
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.signer ? { signer: deps.signer } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  return { session, stats };
}

/** What a presentation without a load ends with (`posd sync-card`, `posd load revoke`). */
export type CardSyncOutcome =
  | (Common & { readonly status: "ok"; readonly walletId: string })
  | (Common & {
      readonly status: "declined" | "error";
      readonly code: TerminalErrorCode;
      readonly message: string;
    });

/**
 * Present the wallet and settle its loads in doubt; then `then` (a revoke) on the open card.
 * Whatever fails ends the presentation with its code; what was settled before stays settled.
 */
async function presentation(
  transport: Transport,
  deps: LoadDeps,
  what: string,
  then?: (online: OnlineCard, log: Logger) => Promise<SettledLoad | undefined>,
): Promise<CardSyncOutcome> {
  const { session, stats } = counted(transport, deps);
  const log = deps.logger.child({ op: what });
  let online: OnlineCard | undefined;
  try {
    online = await openOnlineCard(session, deps, log);
    // sync-card only settles and delivers; anything more is refused to a hotlisted card.
    if (then && online.card.hotlisted) throw hotlistedRefusal(online);
    const extra = then ? await then(online, log) : undefined;
    const settled = extra ? [...online.settled, extra] : online.settled;
    return {
      status: "ok",
      walletId: online.card.walletId,
      settled,
      delivered: online.delivered,
      stats: stats(),
    };
  } catch (e) {
    const err = asTerminalError(e);
    const status = errorClass(err.code) === "decline" ? "declined" : "error";
    log.info({ code: err.code }, `${what} ${status}: ${err.message}`);
    return {
      status,
      code: err.code,
      message: err.message,
      ...(online ? { walletId: online.card.walletId } : {}),
      settled: online?.settled ?? [],
      ...(online && online.delivered.length > 0 ? { delivered: online.delivered } : {}),
      stats: stats(),
    };
  } finally {
    session.close();
  }
}

/** `posd sync-card`: the wallet's loads in doubt settled, with nothing else done. */
export function runSyncCard(transport: Transport, deps: LoadDeps): Promise<CardSyncOutcome> {
  return presentation(transport, deps, "sync-card");
}

/**
 * `posd load revoke`: a cash load this terminal made is given back (the same business day, the
 * platform checks): LOAD REVERSAL takes it off the card and the teller's drawer pays it out.
 */
export function runRevoke(
  transport: Transport,
  deps: LoadDeps,
  revoke: { loadId: string; teller: string },
): Promise<CardSyncOutcome> {
  return presentation(transport, deps, "load revoke", async (online, log) => {
    const local = deps.loads.get(revoke.loadId);
    if (!local)
      throw new TerminalError("TERM_ERR_USAGE", `load ${revoke.loadId} was not made at this terminal`);
    if (local.walletId !== online.card.walletId)
      throw new TerminalError(
        "TERM_ERR_USAGE",
        `load ${revoke.loadId} was made to ${local.walletId}, not to the card presented (${online.card.walletId})`,
      );
    if (local.type !== "cash")
      throw new TerminalError(
        "TERM_ERR_USAGE",
        `load ${revoke.loadId} is a ${local.type} load: only cash loads are revoked`,
      );
    // A load settled by this very presentation (it was in doubt) is already off the card.
    if (online.settled.some((s) => s.loadId === revoke.loadId)) return undefined;
    return reverseOnCard(online.session, online.card, deps, local, log, revoke.teller);
  });
}

/** One load: the whole flow of the module comment. */
export async function runLoad(transport: Transport, deps: LoadDeps, order: LoadOrder): Promise<LoadOutcome> {
  const { session, stats } = counted(transport, deps);
  const log = deps.logger.child({ load: order.type });
  let settled: readonly SettledLoad[] = [];
  let delivered: readonly DeliveredCommand[] = [];
  let walletId: string | undefined;
  const fail = (e: unknown, loadId?: string): LoadOutcome => {
    const err = asTerminalError(e);
    const status = errorClass(err.code) === "decline" ? "declined" : "error";
    log.info({ code: err.code, walletId, loadId }, `load ${status}: ${err.message}`);
    return {
      status,
      code: err.code,
      message: err.message,
      ...(walletId ? { walletId } : {}),
      ...(loadId && status === "declined" ? { loadId } : {}),
      settled,
      ...(delivered.length > 0 ? { delivered } : {}),
      stats: stats(),
    } as LoadOutcome;
  };
  if (order.amount !== undefined && (!Number.isSafeInteger(order.amount) || order.amount <= 0))
    return fail(new TerminalError("TERM_ERR_AMOUNT", "the amount must be a positive number of minor units"));

  let online: OnlineCard;
  try {
    online = await openOnlineCard(session, deps, log);
    walletId = online.card.walletId;
    settled = online.settled;
    delivered = online.delivered;
  } catch (e) {
    session.close();
    return fail(e);
  }
  if (online.card.hotlisted) {
    session.close();
    return fail(hotlistedRefusal(online));
  }
  try {
    const outcome = await loadOnCard(online, deps, order, log, stats);
    return delivered.length > 0 ? { ...outcome, delivered } : outcome;
  } catch (e) {
    return fail(e);
  } finally {
    session.close();
  }
}

/** The load itself, on a card already open for online work (also the automatic load of a payment). */
export async function loadOnCard(
  online: OnlineCard,
  deps: LoadDeps,
  order: LoadOrder,
  log: Logger,
  stats: () => TapStats,
): Promise<LoadOutcome> {
  const { session, card, balance, settled } = online;
  const walletId = card.walletId;
  const amount = order.amount ?? (order.type === "supplementary" ? online.platform.onlineBalance : 0);
  if (!Number.isSafeInteger(amount) || amount <= 0)
    throw new TerminalError(
      "TERM_ERR_AMOUNT",
      order.type === "supplementary"
        ? "the wallet's online account is empty: nothing to move onto the card"
        : "the amount must be greater than zero",
    );
  const loadId = randomHex(deps, LOAD_ID_LENGTH);
  const money = formatMoney(amount, currencyByNumeric(order.currency));
  // Durable before the platform hears of it: a crash from here on leaves a load in doubt to show.
  deps.loads.begin({
    loadId,
    walletId,
    type: order.type,
    amount,
    currency: order.currency,
    ...(order.teller ? { teller: order.teller } : {}),
  });
  const declined = (e: TerminalError): LoadOutcome => {
    deps.loads.resolve(loadId, "refused", e.code);
    log.info({ walletId, loadId, code: e.code }, `load declined: ${e.message}`);
    return {
      status: "declined",
      code: e.code,
      message: e.message,
      walletId,
      loadId,
      settled,
      stats: stats(),
    };
  };

  const challenge = await session.getChallenge();
  let command: Awaited<ReturnType<WalletPlatform["requestLoad"]>>;
  try {
    command = await deps.platform.requestLoad({
      loadId,
      walletId,
      cardCertificate: Buffer.from(card.certificate.der).toString("base64"),
      type: order.type,
      amount,
      currency: order.currency,
      ...(order.teller ? { teller: order.teller } : {}),
      ...(deps.branch ? { branch: deps.branch } : {}),
      ...(order.fromAccount ? { fromAccount: order.fromAccount } : {}),
      card: cardView(balance),
      challenge: hex(challenge),
      time: now(deps),
    });
  } catch (e) {
    const err = asTerminalError(e);
    // A refusal stored nothing at the platform; an unreachable platform may have stored the load
    // (pending), which the next presentation voids: here it is in doubt, with nothing on the card.
    if (err.code === "TERM_ERR_LOAD_REFUSED") return declined(err);
    throw err;
  }
  const data = fromHex(command.command);
  const payload = checked(() => parseLoadPayload(parseIssuerCommand(data).payload));
  if (payload.amount !== amount || payload.currency !== order.currency || hex(payload.loadId) !== loadId)
    throw new TerminalError(
      "TERM_ERR_ISSUER_COMMAND",
      "the platform's LOAD is not the load asked for: not sent",
      {
        details: { loadId },
      },
    );

  let record: Awaited<ReturnType<CardSession["issuerCommand"]>>;
  try {
    record = await session.issuerCommand(INS.LOAD, data, challenge, {
      type: RECORD_TYPE.LOAD,
      amount,
      currency: order.currency,
      time: payload.time,
    });
  } catch (e) {
    const err = asTerminalError(e);
    if (err instanceof CardRefusal) {
      // Nothing on the card: void it at the platform now (930E over a new challenge), so a bank hold
      // is released at once; if that fails too, the next presentation does it.
      try {
        await reverseOnCard(session, card, deps, { loadId, amount, currency: order.currency }, log);
      } catch (cause) {
        log.warn({ walletId, loadId, err: asTerminalError(cause).code }, "refused load not voided yet");
      }
      return declined(err);
    }
    log.warn({ walletId, loadId, code: err.code }, `load in doubt: ${err.message}`);
    return {
      status: "in_doubt",
      code: "TERM_ERR_LOAD_IN_DOUBT",
      message: `LOAD of ${money} went to the card and no verified answer came back (${err.message}): present the card again at an online terminal to settle it`,
      walletId,
      loadId,
      settled,
      stats: stats(),
    };
  }
  if ("notFound" in record) throw new TerminalError("TERM_ERR_PROTOCOL", "LOAD answered as a reversal");
  const proof = { record: record.record.bytes, signature: record.record.signature };
  deps.loads.keepProof(loadId, proof);
  let booked = true;
  try {
    const state = await deps.platform.completeLoad(loadId, {
      record: hex(proof.record),
      signature: hex(proof.signature),
    });
    resolveLocal(deps, loadId, state, "booked");
  } catch (e) {
    const err = asTerminalError(e);
    if (err.code !== "TERM_ERR_ACQUIRER_UNREACHABLE") throw err;
    booked = false;
    log.warn(
      { walletId, loadId },
      "the card has the load; the platform is unreachable: the record is kept and forwarded later",
    );
  }
  log.info({ walletId, loadId, amount, counter: record.record.record.cardCounter, booked }, "loaded");
  return {
    status: "loaded",
    walletId,
    loadId,
    type: order.type,
    amount,
    currency: order.currency,
    balanceAfter: record.record.record.balanceAfter,
    cardCounter: record.record.record.cardCounter,
    booked,
    settled,
    stats: stats(),
  };
}

/** What the platform's HTTP client throws when it cannot answer: an auto-load is then skipped. */
export const PLATFORM_DOWN: ReadonlySet<string> = new Set([
  "TERM_ERR_ACQUIRER_UNREACHABLE",
  "TERM_ERR_ACQUIRER_REJECTED",
  "TERM_ERR_ACQUIRER_RESPONSE",
]);
