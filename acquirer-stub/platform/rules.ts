/**
 * The platform's rules for signing an issuer command (pure): whether a load may be signed, where
 * its money comes from, and whether a load may be reversed. Each refusal is an AcquirerError with
 * a stable code (errors.ts) that a terminal acts on; a refusal stores nothing.
 *
 * A load is checked in two steps, because the second needs the funding account from the database:
 *   checkLoadRequest: the wallet and the card as read (status, currency, amount, balance limit)
 *                     and which account pays;
 *   checkFunding:     that account (known, open, same currency, enough available).
 */
import { MAX_AMOUNT_MINOR } from "../../protocol/amount.js";
import type { LoadRequest } from "../../protocol/platform/api.js";
import { businessDay } from "../domain/verify.js";
import { AcquirerError, type AcquirerErrorCode } from "../errors.js";
import type { BankAccount, Load, Wallet } from "./model.js";

/** How far a terminal's clock may be from the platform's (seconds). */
export const REQUEST_TIME_WINDOW_SECONDS = 300;

export function checkRequestTime(terminalTime: number, now: number): void {
  if (Math.abs(terminalTime - now) > REQUEST_TIME_WINDOW_SECONDS)
    throw new AcquirerError(
      "ACQ_ERR_REQUEST_TIME",
      `the terminal time ${terminalTime} is ${terminalTime - now} s from the platform's clock (at most ±${REQUEST_TIME_WINDOW_SECONDS} s)`,
      { details: { terminalTime, platformTime: now } },
    );
}

/** Who pays for a load. */
export type Funding =
  | { readonly kind: "cash"; readonly teller: string }
  | { readonly kind: "bank"; readonly number: string }
  | { readonly kind: "online" };

function refuse(code: AcquirerErrorCode, message: string, details?: Record<string, unknown>) {
  return new AcquirerError(code, message, details ? { details } : {});
}

export function checkWalletActive(wallet: Wallet): void {
  if (wallet.status !== "active")
    throw refuse("ACQ_ERR_WALLET_BLOCKED", `wallet ${wallet.walletId} is ${wallet.status}`, {
      walletId: wallet.walletId,
      status: wallet.status,
    });
}

/**
 * The checks that need only the request and the wallet, in this order: the fields the type needs,
 * the wallet and card state, the currency, the amount, the balance limit; then who pays.
 */
export function checkLoadRequest(request: LoadRequest, wallet: Wallet): Funding {
  const funding = fundingOf(request, wallet);
  checkWalletActive(wallet);
  if (request.card.state !== "active")
    throw refuse("ACQ_ERR_WALLET_BLOCKED", `the card of wallet ${wallet.walletId} is blocked`, {
      walletId: wallet.walletId,
      cardState: request.card.state,
    });
  if (request.currency !== wallet.currency)
    throw refuse(
      "ACQ_ERR_CURRENCY",
      `the load is in currency ${request.currency}, the wallet in ${wallet.currency}`,
      { currency: request.currency, walletCurrency: wallet.currency },
    );
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0 || request.amount > MAX_AMOUNT_MINOR)
    throw refuse("ACQ_ERR_LOAD_AMOUNT", `the load amount must be 1..${MAX_AMOUNT_MINOR} minor units`, {
      amount: request.amount,
    });
  const limit = Math.min(request.card.balanceLimit, wallet.balanceLimit);
  if (request.card.balance + request.amount > limit)
    throw refuse(
      "ACQ_ERR_OVER_BALANCE_LIMIT",
      `the card's balance ${request.card.balance} plus ${request.amount} exceeds the balance limit ${limit}`,
      { balance: request.card.balance, amount: request.amount, balanceLimit: limit },
    );
  return funding;
}

/** Which account a load's type draws on; the fields a type needs are a terminal's to send. */
function fundingOf(request: LoadRequest, wallet: Wallet): Funding {
  if (request.fromAccount !== undefined && request.type !== "non-bound")
    throw refuse("ACQ_ERR_BAD_REQUEST", `fromAccount is for non-bound loads, not ${request.type}`);
  switch (request.type) {
    case "cash":
      if (request.teller === undefined)
        throw refuse("ACQ_ERR_BAD_REQUEST", "a cash load needs the teller whose drawer takes the cash");
      return { kind: "cash", teller: request.teller };
    case "non-bound":
      if (request.fromAccount === undefined)
        throw refuse("ACQ_ERR_BAD_REQUEST", "a non-bound load needs fromAccount");
      return { kind: "bank", number: request.fromAccount };
    case "auto":
      if (!wallet.autoLoadOn)
        throw refuse("ACQ_ERR_AUTO_LOAD_OFF", `wallet ${wallet.walletId} has auto-load switched off`);
      return bound(wallet);
    case "bound":
      return bound(wallet);
    case "supplementary":
      return { kind: "online" };
  }
}

function bound(wallet: Wallet): Funding {
  if (wallet.boundAccount === null)
    throw refuse("ACQ_ERR_NO_BOUND_ACCOUNT", `wallet ${wallet.walletId} has no bound bank account`, {
      walletId: wallet.walletId,
    });
  return { kind: "bank", number: wallet.boundAccount };
}

/**
 * The paying account can pay: a bank account known, open, in the load's currency, with enough
 * available (balance − held); the online account with enough left after its pending loads. The
 * bank hold itself is then one guarded update (the database has the last word under concurrency).
 */
export function checkFunding(
  funding: Funding,
  request: Pick<LoadRequest, "amount" | "currency">,
  account: BankAccount | undefined,
  onlineAvailable: number,
): void {
  if (funding.kind === "cash") return;
  if (funding.kind === "online") {
    if (onlineAvailable < request.amount)
      throw refuse(
        "ACQ_ERR_INSUFFICIENT_FUNDS",
        `the online account has ${onlineAvailable} available, the load needs ${request.amount}`,
        { available: onlineAvailable, amount: request.amount },
      );
    return;
  }
  if (!account)
    throw refuse("ACQ_ERR_ACCOUNT_UNKNOWN", `no bank account ${funding.number}`, { account: funding.number });
  if (account.status !== "open")
    throw refuse("ACQ_ERR_ACCOUNT_CLOSED", `bank account ${account.number} is closed`, {
      account: account.number,
    });
  if (account.currency !== request.currency)
    throw refuse(
      "ACQ_ERR_CURRENCY",
      `bank account ${account.number} is in currency ${account.currency}, the load in ${request.currency}`,
      { account: account.number, accountCurrency: account.currency, currency: request.currency },
    );
  const available = account.balance - account.held;
  if (available < request.amount)
    throw refuse(
      "ACQ_ERR_INSUFFICIENT_FUNDS",
      `bank account ${account.number} has ${available} available, the load needs ${request.amount}`,
      { account: account.number, available, amount: request.amount },
    );
}

/**
 * Whether LOAD REVERSAL may be signed for a load: a pending one (in doubt: the card's answer says
 * whether it happened), or a completed cash load taken back at the counter by a teller on the
 * load's business day. Returns the teller whose drawer pays the cash back (revoke), else null.
 */
export function checkReversible(load: Load, teller: string | undefined, now: number): string | null {
  if (load.state === "pending") return null;
  if (load.state !== "loaded")
    throw refuse("ACQ_ERR_LOAD_STATE", `load ${load.loadId} is ${load.state}: nothing to reverse`, {
      loadId: load.loadId,
      state: load.state,
    });
  if (load.type !== "cash" || teller === undefined)
    throw refuse(
      "ACQ_ERR_LOAD_STATE",
      `load ${load.loadId} is loaded: only a cash load can be taken back, by a teller`,
      { loadId: load.loadId, state: load.state, type: load.type },
    );
  if (businessDay(load.issuedAt) !== businessDay(now))
    throw refuse(
      "ACQ_ERR_REVERSAL_DAY",
      `cash load ${load.loadId} was made on ${businessDay(load.issuedAt)}: it can be revoked that day only`,
      { loadId: load.loadId, businessDay: businessDay(load.issuedAt) },
    );
  return teller;
}
