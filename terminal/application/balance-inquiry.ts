/**
 * A balance inquiry with the card present (the register's stored-value "balance"):
 *
 *   SELECT → mutual authentication → READ BALANCE                        at any terminal
 *          → at an online terminal: the wallet presented to the platform (its loads in doubt
 *            settled, its queued issuer commands delivered, run-load.ts presentOnline), whose
 *            answer carries the offline and online accounts
 *
 * Nothing is charged or loaded. An online terminal whose platform does not answer still answers the
 * card's balance, and says the platform's part is missing.
 */
import type { KeyObject } from "node:crypto";
import type { RandomSource } from "../../protocol/crypto.js";
import type { Logger } from "../../protocol/logger.js";
import type { WalletStatus } from "../../protocol/platform/api.js";
import type { Transport } from "../../protocol/transport.js";
import { WALLET_STATE } from "../../protocol/wallet/constants.js";
import type { CardTrust, TerminalIdentity } from "../card-session/session.js";
import { asTerminalError, errorClass, type TerminalErrorCode } from "../errors.js";
import type { DeliveredCommand } from "./issuer-commands.js";
import { counted, type LoadDeps, PLATFORM_DOWN, presentOnline, type SettledLoad } from "./run-load.js";
import type { TapStats } from "./run-payment.js";

/** What an offline inquiry needs: the card session's keys and trust. */
export interface BalanceDeps {
  readonly identity: TerminalIdentity;
  readonly trust: CardTrust;
  readonly logger: Logger;
  readonly random?: RandomSource;
  readonly signer?: (privateKey: KeyObject, message: Uint8Array) => Uint8Array;
  /** Unix seconds. */
  readonly clock?: () => number;
}

/** The platform's accounts of the wallet, as it answered the presentation. */
export interface PlatformBalances {
  readonly status: WalletStatus;
  /** The platform's mirror of the money on the card. */
  readonly offlineBalance: number;
  /** Refunds of returned goods, not on the card (a load from the online account moves them). */
  readonly onlineBalance: number;
}

/** What the platform could not answer: the card's balance stands alone. */
export interface PlatformMissing {
  readonly code: TerminalErrorCode;
  readonly message: string;
}

export type BalanceOutcome =
  | {
      readonly status: "balance";
      readonly walletId: string;
      readonly currency: number;
      /** The card's balance (minor units), after whatever this presentation settled. */
      readonly balance: number;
      readonly balanceLimit: number;
      readonly singleLimit: number;
      readonly cardCounter: number;
      readonly cardState: "active" | "blocked";
      /** At an online terminal; null offline, or when the platform did not answer (`platformError`). */
      readonly platform: PlatformBalances | null;
      readonly platformError?: PlatformMissing;
      readonly settled: readonly SettledLoad[];
      readonly delivered?: readonly DeliveredCommand[];
      readonly stats: TapStats;
    }
  | {
      readonly status: "declined" | "error";
      readonly code: TerminalErrorCode;
      readonly message: string;
      readonly walletId?: string;
      readonly stats: TapStats;
    };

/** The platform's HTTP client's failures, and its refusal: the card's answer stands without the platform's part. */
const PLATFORM_MISSING: ReadonlySet<string> = new Set([...PLATFORM_DOWN, "TERM_ERR_LOAD_REFUSED"]);

/** The card's balance, and the platform's accounts when `online` is given (an online terminal). */
export async function runBalanceInquiry(
  transport: Transport,
  deps: BalanceDeps,
  online: LoadDeps | undefined,
): Promise<BalanceOutcome> {
  const { session, stats } = counted(transport, deps);
  const log = deps.logger.child({ op: "balance inquiry" });
  let walletId: string | undefined;
  try {
    await session.select();
    const card = await session.authenticate();
    walletId = card.walletId;
    let balance = await session.readBalance();
    let platform: PlatformBalances | null = null;
    let platformError: PlatformMissing | undefined;
    let settled: readonly SettledLoad[] = [];
    let delivered: readonly DeliveredCommand[] = [];
    if (online) {
      try {
        const o = await presentOnline(session, card, balance, online, log);
        balance = o.balance;
        settled = o.settled;
        delivered = o.delivered;
        platform = {
          status: o.platform.status,
          offlineBalance: o.platform.offlineBalance,
          onlineBalance: o.platform.onlineBalance,
        };
      } catch (e) {
        const err = asTerminalError(e);
        if (!PLATFORM_MISSING.has(err.code)) throw err;
        platformError = { code: err.code, message: err.message };
        // The platform may have failed after the card settled a load in doubt: the card says.
        balance = await session.readBalance();
        log.info({ walletId, code: err.code }, "the platform did not answer: the card's balance only");
      }
    }
    return {
      status: "balance",
      walletId: card.walletId,
      currency: balance.currency,
      balance: balance.balance,
      balanceLimit: balance.balanceLimit,
      singleLimit: balance.singleLimit,
      cardCounter: balance.counter,
      cardState: balance.state === WALLET_STATE.BLOCKED ? "blocked" : "active",
      platform,
      ...(platformError ? { platformError } : {}),
      settled,
      ...(delivered.length > 0 ? { delivered } : {}),
      stats: stats(),
    };
  } catch (e) {
    const err = asTerminalError(e);
    const status = errorClass(err.code) === "decline" ? "declined" : "error";
    log.info({ code: err.code, walletId }, `balance inquiry ${status}: ${err.message}`);
    return {
      status,
      code: err.code,
      message: err.message,
      ...(walletId ? { walletId } : {}),
      stats: stats(),
    };
  } finally {
    session.close();
  }
}
