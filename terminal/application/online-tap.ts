/**
 * What a payment at an online terminal does with the platform before its DEBIT (seed 000):
 *
 * - a card under its auto-load threshold is loaded from the bound account in the same tap, when the
 *   wallet's agreement is on at the platform;
 * - a wallet on the attention list (an issuer command queued, a load in doubt) is presented to the
 *   platform first: its loads in doubt are settled and its commands (parameters, BLOCK, UNBLOCK)
 *   delivered, like EMV issuer scripts in an online authorisation;
 * - a hotlisted card on the attention list is handed its BLOCK, then refused.
 *
 * Every other tap stays offline: one READ BALANCE more, no network. A platform that is unreachable
 * or refuses only skips all this (the payment goes on as offline; the work waits for the next
 * online presentation), except that a hotlisted card is refused either way.
 */
import type { Logger } from "../../protocol/logger.js";
import { WALLET_STATE } from "../../protocol/wallet/constants.js";
import type { AuthenticatedCard, CardSession } from "../card-session/session.js";
import { asTerminalError, TerminalError } from "../errors.js";
import type { DeliveredCommand } from "./issuer-commands.js";
import {
  hotlistedRefusal,
  type LoadDeps,
  type LoadOutcome,
  loadOnCard,
  type OnlineCard,
  PLATFORM_DOWN,
  presentOnline,
  type SettledLoad,
} from "./run-load.js";
import type { TapStats } from "./run-payment.js";

/** What the automatic load of a payment did (seed 000: in the same tap, before the debit). */
export type AutoLoadResult =
  | {
      readonly status: "loaded";
      readonly loadId: string;
      readonly amount: number;
      readonly balanceAfter: number;
    }
  | { readonly status: "skipped"; readonly reason: string };

/** What the platform did in this tap before the DEBIT. */
export interface OnlineTap {
  readonly autoLoad?: AutoLoadResult;
  /** Loads in doubt of the wallet that this tap settled. */
  readonly settled: readonly SettledLoad[];
  /** Issuer commands the card executed in this tap. */
  readonly delivered: readonly DeliveredCommand[];
  /** The payment must not go on (a hotlisted card, a wallet blocked just now): it is declined with this. */
  readonly refusal?: TerminalError;
}

/** Whether a payment should ask for "mark" at authentication: a hotlisted card gets its BLOCK first. */
export function deliversToHotlisted(deps: LoadDeps | undefined, announcedWalletId: string): boolean {
  return deps?.attention?.has(announcedWalletId) ?? false;
}

const noStats = (): TapStats => ({ apdus: 0, bytesOut: 0, bytesIn: 0, totalMs: 0, storeMs: 0 });

/**
 * The online step of a payment, on the authenticated card. Undefined when there is nothing to do
 * online (the card is not under its threshold and the platform has no work for it). Throws only
 * what ends the tap: TERM_ERR_LOAD_IN_DOUBT (an auto-load cut off on the card) and card errors.
 */
export async function onlineBeforeDebit(
  session: CardSession,
  card: AuthenticatedCard,
  deps: LoadDeps,
  log: Logger,
): Promise<OnlineTap | undefined> {
  const balance = await session.readBalance();
  const listed = deps.attention?.has(card.walletId) ?? false;
  const under = (b: typeof balance) => b.autoLoadAmount > 0 && b.balance < b.autoLoadThreshold;
  if (!listed && !under(balance) && !card.hotlisted) return undefined;
  const skipped = (reason: string) => {
    log.info({ walletId: card.walletId, reason }, "auto-load skipped; the payment goes on offline");
    return { status: "skipped" as const, reason };
  };

  let online: OnlineCard;
  try {
    online = await presentOnline(session, card, balance, deps, log);
  } catch (e) {
    const err = asTerminalError(e);
    if (!PLATFORM_DOWN.has(err.code) && err.code !== "TERM_ERR_LOAD_REFUSED") throw err;
    log.warn(
      { walletId: card.walletId, code: err.code },
      `the platform did not present the wallet (its work waits for the next online presentation): ${err.message}`,
    );
    const refusal = card.hotlisted ? hotlistedRefusal({ card, delivered: [] }) : undefined;
    return {
      ...(under(balance)
        ? { autoLoad: skipped(`the platform did not present the wallet: ${err.message}`) }
        : {}),
      settled: [],
      delivered: [],
      ...(refusal ? { refusal } : {}),
    };
  }
  const done = { settled: online.settled, delivered: online.delivered };
  if (card.hotlisted) return { ...done, refusal: hotlistedRefusal(online) };
  if (online.balance.state === WALLET_STATE.BLOCKED || online.platform.status !== "active")
    return {
      ...done,
      refusal: new TerminalError(
        "TERM_ERR_CARD_BLOCKED",
        `the wallet is ${online.platform.status} at the platform${
          online.delivered.some((d) => d.kind === "block") ? ": BLOCK delivered to the card" : ""
        }`,
        { details: { walletId: card.walletId, status: online.platform.status } },
      ),
    };
  // The threshold and balance as they are now: this presentation may have changed either.
  if (!under(online.balance)) return done;
  if (!online.platform.autoLoad.on)
    return { ...done, autoLoad: skipped("the wallet's auto-load agreement is off") };
  const amount = online.balance.autoLoadAmount;
  let outcome: LoadOutcome;
  try {
    outcome = await loadOnCard(
      online,
      deps,
      { type: "auto", amount, currency: balance.currency },
      log,
      noStats,
    );
  } catch (e) {
    const err = asTerminalError(e);
    if (!PLATFORM_DOWN.has(err.code)) throw err;
    return { ...done, autoLoad: skipped(`the platform did not sign the load: ${err.message}`) };
  }
  if (outcome.status === "loaded")
    return {
      ...done,
      autoLoad: { status: "loaded", loadId: outcome.loadId, amount, balanceAfter: outcome.balanceAfter },
    };
  if (outcome.status === "in_doubt")
    throw new TerminalError("TERM_ERR_LOAD_IN_DOUBT", outcome.message, {
      details: { loadId: outcome.loadId },
    });
  return { ...done, autoLoad: skipped(outcome.message) };
}
