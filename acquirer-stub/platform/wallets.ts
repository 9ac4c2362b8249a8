/**
 * Wallets and bank accounts: issuing a wallet and opening a bank account (the CLI), a card's
 * presentation at an online terminal (POST /v1/platform/wallets/:walletId/presented), and the
 * operator's views of both.
 *
 * Issuing and opening are idempotent by id: the same values again are a no-op ("already"), other
 * values ACQ_ERR_WALLET_EXISTS / ACQ_ERR_ACCOUNT_EXISTS. An opening balance or deposit is a booking
 * (issuer:float → wallet:W:offline, bank:deposits → bank:N), never a number written on its own.
 */
import { createHash } from "node:crypto";
import {
  ATTENTION_MAX,
  type AttentionAnswer,
  type AttentionRequest,
  type IssuerCommandKind,
  type PresentedAnswer,
  type PresentedRequest,
} from "../../protocol/platform/api.js";
import { iso } from "../db/columns.js";
import type { AuthenticatedTerminal } from "../domain/trust.js";
import { AcquirerError } from "../errors.js";
import {
  bankAccount,
  depositBookingId,
  depositTransfer,
  issueBookingId,
  issueTransfer,
  walletOffline,
  walletOnline,
} from "./accounts.js";
import type { BankLoadMessage } from "./bank-message.js";
import { registerCard, verifyCard } from "./cards.js";
import { nowSeconds, type PlatformContext } from "./context.js";
import { idempotencyConflict, requestHash } from "./idempotency.js";
import type { BankAccount, LoadType, Wallet } from "./model.js";
import { checkRequestTime } from "./rules.js";
import type { Entry } from "./store/ledger.js";
import type { PlatformStore, PlatformTx } from "./store/platform-store.js";

export interface WalletIssue {
  readonly walletId: string;
  readonly currency: number;
  /** Minor units booked from the issuer's float to the wallet's offline account (0: none). */
  readonly opening: number;
  readonly boundAccount: string | null;
  readonly balanceLimit: number;
  readonly singleLimit: number;
  readonly autoLoadThreshold: number;
  /** 0: auto-load off. */
  readonly autoLoadAmount: number;
}

/** Issue a wallet. Returns false when it was issued with these very values already. */
export async function issueWallet(store: PlatformStore, w: WalletIssue, now: number): Promise<boolean> {
  return store.write("issue wallet", async (tx) => {
    const existing = await tx.wallets.get(w.walletId, { lock: true });
    if (existing) {
      const opening = (await tx.ledger.booked(issueBookingId(w.walletId)))?.amount ?? 0;
      const differs = issueDifferences(existing, opening, w);
      if (differs.length === 0) return false;
      throw new AcquirerError(
        "ACQ_ERR_WALLET_EXISTS",
        `wallet ${w.walletId} was issued with another ${differs.join(", ")}`,
        { details: { walletId: w.walletId, fields: differs } },
      );
    }
    if (w.boundAccount !== null) {
      const account = await tx.bank.get(w.boundAccount);
      if (!account)
        throw new AcquirerError("ACQ_ERR_ACCOUNT_UNKNOWN", `no bank account ${w.boundAccount}`, {
          details: { account: w.boundAccount },
        });
      if (account.status !== "open")
        throw new AcquirerError("ACQ_ERR_ACCOUNT_CLOSED", `bank account ${w.boundAccount} is closed`);
      if (account.currency !== w.currency)
        throw new AcquirerError(
          "ACQ_ERR_CURRENCY",
          `bank account ${w.boundAccount} is in currency ${account.currency}, the wallet in ${w.currency}`,
        );
    }
    await tx.wallets.insert({
      walletId: w.walletId,
      currency: w.currency,
      status: "active",
      boundAccount: w.boundAccount,
      balanceLimit: w.balanceLimit,
      singleLimit: w.singleLimit,
      autoLoadThreshold: w.autoLoadThreshold,
      autoLoadAmount: w.autoLoadAmount,
      autoLoadOn: w.autoLoadAmount > 0,
      cardCertificate: null,
      lastCounter: null,
      createdAt: now,
    });
    if (w.opening > 0) await tx.ledger.transfer(issueTransfer(w.walletId, w.opening, w.currency), now);
    return true;
  });
}

function issueDifferences(existing: Wallet, opening: number, w: WalletIssue): string[] {
  const pairs: [string, unknown, unknown][] = [
    ["currency", existing.currency, w.currency],
    ["opening balance", opening, w.opening],
    ["bound account", existing.boundAccount, w.boundAccount],
    ["balance limit", existing.balanceLimit, w.balanceLimit],
    ["single limit", existing.singleLimit, w.singleLimit],
    ["auto-load threshold", existing.autoLoadThreshold, w.autoLoadThreshold],
    ["auto-load amount", existing.autoLoadAmount, w.autoLoadAmount],
  ];
  return pairs.filter(([, a, b]) => a !== b).map(([name]) => name);
}

export interface AccountOpening {
  readonly number: string;
  readonly holder: string;
  readonly currency: number;
  /** The opening deposit, minor units (0: none). */
  readonly balance: number;
}

/** Open a bank account. Returns false when it was opened with these very values already. */
export async function openBankAccount(
  store: PlatformStore,
  a: AccountOpening,
  now: number,
): Promise<boolean> {
  return store.write("open bank account", async (tx) => {
    const existing = await tx.bank.get(a.number);
    if (existing) {
      const deposit = (await tx.ledger.booked(depositBookingId(a.number)))?.amount ?? 0;
      if (existing.holder === a.holder && existing.currency === a.currency && deposit === a.balance)
        return false;
      throw new AcquirerError(
        "ACQ_ERR_ACCOUNT_EXISTS",
        `bank account ${a.number} was opened with another holder, currency or opening balance`,
        { details: { account: a.number } },
      );
    }
    await tx.bank.insert({ number: a.number, holder: a.holder, currency: a.currency, createdAt: now });
    if (a.balance > 0) await tx.ledger.transfer(depositTransfer(a.number, a.balance, a.currency), now);
    return true;
  });
}

/** The wallet, or ACQ_ERR_WALLET_UNKNOWN. */
export async function walletOrUnknown(
  tx: PlatformTx,
  walletId: string,
  options: { lock?: boolean } = {},
): Promise<Wallet> {
  const wallet = await tx.wallets.get(walletId, options);
  if (!wallet)
    throw new AcquirerError("ACQ_ERR_WALLET_UNKNOWN", `no wallet ${walletId} on the platform`, {
      details: { walletId },
    });
  return wallet;
}

/**
 * A card at an online terminal: its certificate verified and registered, the counter the terminal
 * read noted, and what the terminal must settle with the card first (the wallet's pending loads,
 * oldest first). Idempotent by request id.
 */
export async function presented(
  ctx: PlatformContext,
  terminal: AuthenticatedTerminal,
  walletId: string,
  request: PresentedRequest,
): Promise<PresentedAnswer> {
  const now = nowSeconds(ctx);
  const hash = requestHash(terminal.terminalId, { walletId, ...request });
  return ctx.store.write("card presented", async (tx) => {
    const wallet = await walletOrUnknown(tx, walletId, { lock: true });
    const stored = await tx.wallets.presentation(request.requestId);
    if (stored) {
      if (stored.requestHash !== hash)
        throw idempotencyConflict("presentation request id", request.requestId);
      return JSON.parse(stored.answer) as PresentedAnswer;
    }
    checkRequestTime(request.time, now);
    await registerCard(tx, wallet, verifyCard(ctx, request.cardCertificate, walletId, now));
    await tx.wallets.setLastCounter(walletId, request.card.counter);
    const pending = await tx.loads.ofWallet(walletId, "pending");
    const answer: PresentedAnswer = {
      walletId,
      status: wallet.status,
      offlineBalance: await tx.ledger.balance(walletOffline(walletId)),
      onlineBalance: await tx.ledger.balance(walletOnline(walletId)),
      // The wallet's automatic-load agreement: an online terminal loads `amount` from the bound
      // account in a payment's tap when the card's balance is under the card's threshold.
      autoLoad: {
        on: wallet.autoLoadOn && wallet.boundAccount !== null,
        threshold: wallet.autoLoadThreshold,
        amount: wallet.autoLoadAmount,
      },
      loadsInDoubt: pending.map((l) => ({
        loadId: l.loadId,
        amount: l.amount,
        currency: l.currency,
        type: l.type,
      })),
      pendingCommands: (await tx.commands.ofWallet(walletId, "pending")).map((c) => ({
        commandId: c.commandId,
        kind: c.kind,
      })),
    };
    await tx.wallets.insertPresentation({
      requestId: request.requestId,
      requestHash: hash,
      walletId,
      terminalId: terminal.terminalId,
      answer: JSON.stringify(answer),
      at: now,
    });
    return answer;
  });
}

/**
 * The wallets an online terminal should present in a plain payment (POST /v1/platform/attention):
 * those with a queued issuer command or a load in doubt. A read: nothing is stored, so the request
 * id needs no idempotency record (the same request answers the list as it is now).
 */
export async function attention(ctx: PlatformContext, request: AttentionRequest): Promise<AttentionAnswer> {
  const now = nowSeconds(ctx);
  checkRequestTime(request.time, now);
  const wallets = await ctx.store.read("attention list", (tx) => tx.wallets.withWork(ATTENTION_MAX + 1));
  return { wallets: wallets.slice(0, ATTENTION_MAX), truncated: wallets.length > ATTENTION_MAX, asOf: now };
}

export interface AccountView extends Omit<BankAccount, "createdAt"> {
  readonly available: number;
  /** ISO 8601. */
  readonly createdAt: string;
}

export interface WalletView {
  readonly walletId: string;
  readonly currency: number;
  readonly status: Wallet["status"];
  readonly balanceLimit: number;
  readonly singleLimit: number;
  readonly autoLoad: { readonly on: boolean; readonly threshold: number; readonly amount: number };
  readonly accounts: { readonly offline: number; readonly online: number };
  readonly boundAccount: AccountView | null;
  /** SHA-256 of the registered card certificate; null before the card's first presentation. */
  readonly cardCertificate: string | null;
  readonly lastCounter: number | null;
  readonly createdAt: string;
  readonly loads: readonly {
    readonly loadId: string;
    readonly serial: number;
    readonly type: LoadType;
    readonly amount: number;
    readonly currency: number;
    readonly state: string;
    readonly terminalId: string;
    readonly teller: string | null;
    readonly account: string | null;
    readonly cardCounter: number | null;
    readonly issuedAt: string;
    /** What the platform told the bank when it signed the load (null: signed before it kept one). */
    readonly bankMessage: BankLoadMessage | null;
  }[];
  /** Issuer commands queued for the card: what was delivered (its record the receipt) and what is pending. */
  readonly commands: readonly {
    readonly commandId: string;
    readonly kind: IssuerCommandKind;
    readonly state: "pending" | "delivered" | "superseded";
    /** The parameters it sets, or `{ reason }` (BLOCK / UNBLOCK). */
    readonly values: Record<string, number>;
    readonly queuedAt: string;
    readonly deliveredAt: string | null;
    readonly terminalId: string | null;
    readonly cardCounter: number | null;
  }[];
}

const withAvailable = (a: BankAccount): AccountView => ({
  ...a,
  available: a.balance - a.held,
  createdAt: iso(a.createdAt),
});

/** The operator's view of a wallet (GET /v1/platform/wallets/:walletId, `wallet show`), from one snapshot. */
export async function walletView(store: PlatformStore, walletId: string): Promise<WalletView> {
  return store.read("wallet view", async (tx) => {
    const w = await walletOrUnknown(tx, walletId);
    const bound = w.boundAccount === null ? undefined : await tx.bank.get(w.boundAccount);
    return {
      walletId: w.walletId,
      currency: w.currency,
      status: w.status,
      balanceLimit: w.balanceLimit,
      singleLimit: w.singleLimit,
      autoLoad: { on: w.autoLoadOn, threshold: w.autoLoadThreshold, amount: w.autoLoadAmount },
      accounts: {
        offline: await tx.ledger.balance(walletOffline(walletId)),
        online: await tx.ledger.balance(walletOnline(walletId)),
      },
      boundAccount: bound ? withAvailable(bound) : null,
      cardCertificate: w.cardCertificate
        ? createHash("sha256").update(w.cardCertificate).digest("hex")
        : null,
      lastCounter: w.lastCounter,
      createdAt: iso(w.createdAt),
      loads: (await tx.loads.ofWallet(walletId)).map((l) => ({
        loadId: l.loadId,
        serial: l.serial,
        type: l.type,
        amount: l.amount,
        currency: l.currency,
        state: l.state,
        terminalId: l.terminalId,
        teller: l.teller,
        account: l.account,
        cardCounter: l.cardCounter,
        issuedAt: iso(l.issuedAt),
        bankMessage: l.bankMessage,
      })),
      commands: (await tx.commands.ofWallet(walletId)).map((c) => ({
        commandId: c.commandId,
        kind: c.kind,
        state: c.state,
        values: c.payload,
        queuedAt: iso(c.queuedAt),
        deliveredAt: c.deliveredAt === null ? null : iso(c.deliveredAt),
        terminalId: c.terminalId,
        cardCounter: c.cardCounter,
      })),
    };
  });
}

/** A bank account with its entries, oldest first (`bank show`). */
export async function bankView(
  store: PlatformStore,
  number: string,
): Promise<AccountView & { entries: readonly Entry[] }> {
  return store.read("bank account view", async (tx) => {
    const account = await tx.bank.get(number);
    if (!account)
      throw new AcquirerError("ACQ_ERR_ACCOUNT_UNKNOWN", `no bank account ${number}`, {
        details: { account: number },
      });
    return { ...withAvailable(account), entries: await tx.ledger.entries(bankAccount(number)) };
  });
}

export async function bankAccounts(store: PlatformStore): Promise<AccountView[]> {
  return store.read("bank accounts", async (tx) => (await tx.bank.list()).map(withAvailable));
}
