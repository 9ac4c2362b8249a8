/**
 * Issuer commands for a wallet's card, queued by the operator and delivered by the next online
 * terminal the card is presented at (like EMV issuer scripts):
 *
 * - `wallet set-params` queues UPDATE PARAMETERS. The platform's copy of the parameters moves when
 *   the card's PARAMETERS record comes back, so `wallet show` says what the card has and what is
 *   still pending. A newer set-params supersedes a pending one, carrying both's values.
 * - `wallet report-lost` marks the wallet lost at once (its online account and loads stop: the
 *   load rules refuse a wallet that is not active), puts it on the acquirer's hotlist (the version
 *   moves) and queues BLOCK (reason lost) for the card.
 * - `wallet release` queues UNBLOCK; the wallet becomes active and leaves the hotlist when the
 *   card's UNBLOCK record comes back. A BLOCK never signed is simply dropped, and the release is
 *   immediate; one that was signed may be on the card, so UNBLOCK follows it.
 *
 * Delivering (terminal routes, POST /v1/platform/commands/:commandId/sign and …/complete): each
 * signing spends a new card challenge and is idempotent by its request id; the card's record
 * proves it by its binding. The effects on the card are idempotent (setting the same parameters,
 * blocking a blocked card), so a command whose receipt was lost is simply delivered again.
 */
import { randomBytes } from "node:crypto";
import { MAX_AMOUNT_MINOR } from "../../protocol/amount.js";
import type {
  CommandCompletion,
  CommandSignRequest,
  CommandState,
  IssuerCommandKind,
  SignedIssuerCommand,
} from "../../protocol/platform/api.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import { BLOCK_REASON } from "../../protocol/wallet/messages.js";
import type { OperatorActor } from "../db/audit.js";
import type { AuthenticatedTerminal } from "../domain/trust.js";
import { AcquirerError } from "../errors.js";
import { cardKey } from "./cards.js";
import { nowSeconds, type PlatformContext } from "./context.js";
import { idempotencyConflict, requestHash } from "./idempotency.js";
import { challengeReused } from "./loads.js";
import type { Wallet } from "./model.js";
import { checkProof } from "./proof.js";
import { checkRequestTime } from "./rules.js";
import type { IssuerCommandRow } from "./store/commands.js";
import type { PlatformStore, PlatformTx } from "./store/platform-store.js";
import { walletOrUnknown } from "./wallets.js";

export interface WalletParameters {
  readonly singleLimit: number;
  readonly balanceLimit: number;
  readonly autoLoadThreshold: number;
  readonly autoLoadAmount: number;
}

const PARAMETER_NAMES: Readonly<Record<keyof WalletParameters, string>> = {
  singleLimit: "single limit",
  balanceLimit: "balance limit",
  autoLoadThreshold: "auto-load threshold",
  autoLoadAmount: "auto-load amount",
};

const RECORD_OF: Readonly<Record<IssuerCommandKind, (typeof RECORD_TYPE)[keyof typeof RECORD_TYPE]>> = {
  parameters: RECORD_TYPE.PARAMETERS,
  block: RECORD_TYPE.BLOCK,
  unblock: RECORD_TYPE.UNBLOCK,
};

const newCommandId = (): string => randomBytes(8).toString("hex");

const rangeError = (message: string, details: Record<string, unknown>) =>
  new AcquirerError("ACQ_ERR_PARAMS_RANGE", message, { details });

/** The parameters a wallet's card ends with, or ACQ_ERR_PARAMS_RANGE naming what is out of range. */
export function checkParameters(p: WalletParameters): void {
  for (const [key, name] of Object.entries(PARAMETER_NAMES) as [keyof WalletParameters, string][]) {
    const v = p[key];
    if (!Number.isSafeInteger(v) || v < 0 || v > MAX_AMOUNT_MINOR)
      throw rangeError(`the ${name} must be 0..${MAX_AMOUNT_MINOR} minor units, got ${v}`, { field: key });
  }
  if (p.balanceLimit === 0)
    throw rangeError("the balance limit must be greater than zero", { field: "balanceLimit" });
  if (p.singleLimit > p.balanceLimit)
    throw rangeError(`the single limit ${p.singleLimit} is over the balance limit ${p.balanceLimit}`, {
      field: "singleLimit",
    });
  if (p.autoLoadAmount > p.balanceLimit)
    throw rangeError(`the auto-load amount ${p.autoLoadAmount} is over the balance limit ${p.balanceLimit}`, {
      field: "autoLoadAmount",
    });
  if (p.autoLoadThreshold >= p.balanceLimit)
    throw rangeError(
      `the auto-load threshold ${p.autoLoadThreshold} must be under the balance limit ${p.balanceLimit}`,
      { field: "autoLoadThreshold" },
    );
}

const currentParameters = (w: Wallet): WalletParameters => ({
  singleLimit: w.singleLimit,
  balanceLimit: w.balanceLimit,
  autoLoadThreshold: w.autoLoadThreshold,
  autoLoadAmount: w.autoLoadAmount,
});

export interface QueuedCommand {
  readonly commandId: string;
  readonly kind: IssuerCommandKind;
  /** Commands this one replaced (their ids). */
  readonly superseded: readonly string[];
}

/**
 * `wallet set-params`: queue UPDATE PARAMETERS with the changed values over what is pending. With
 * an actor (here and in reportLost, releaseWallet), the action is written to the operator audit
 * log in the same transaction; `note` is why, as the operator said it.
 */
export async function setParameters(
  store: PlatformStore,
  walletId: string,
  change: Partial<WalletParameters>,
  now: number,
  actor?: OperatorActor,
  note?: string,
): Promise<QueuedCommand> {
  return store.write("set parameters", async (tx) => {
    const wallet = await walletOrUnknown(tx, walletId, { lock: true });
    if (wallet.status === "closed")
      throw new AcquirerError("ACQ_ERR_WALLET_BLOCKED", `wallet ${walletId} is closed`, {
        details: { walletId },
      });
    const pending = await tx.commands.pendingOfKind(walletId, "parameters");
    if (Object.keys(change).length === 0) throw rangeError("set at least one parameter", { field: null });
    // Only what the operator changed goes to the card (a platform limit of "none" is not the card's).
    const values = { ...(pending?.payload as Partial<WalletParameters> | undefined), ...change };
    checkParameters({ ...currentParameters(wallet), ...values });
    if (pending) await tx.commands.supersede(pending.commandId);
    const commandId = newCommandId();
    await tx.commands.insert({ commandId, walletId, kind: "parameters", payload: values, queuedAt: now });
    const queued: QueuedCommand = {
      commandId,
      kind: "parameters",
      superseded: pending ? [pending.commandId] : [],
    };
    if (actor)
      await tx.audit.record(actor, {
        action: "set-params",
        subject: walletId,
        reason: note ?? null,
        outcome: { commandId, superseded: queued.superseded, values: change },
        at: now,
      });
    return queued;
  });
}

export interface LossReport {
  /** False when the wallet was already reported lost (nothing changed). */
  readonly changed: boolean;
  readonly status: Wallet["status"];
  readonly hotlistVersion: number;
  readonly queued: QueuedCommand | null;
}

/** `wallet report-lost`: the wallet lost, on the hotlist, BLOCK queued for its card. */
export async function reportLost(
  store: PlatformStore,
  walletId: string,
  now: number,
  actor?: OperatorActor,
  note?: string,
): Promise<LossReport> {
  return store.write("report lost", async (tx) => {
    const wallet = await walletOrUnknown(tx, walletId, { lock: true });
    if (wallet.status === "closed")
      throw new AcquirerError("ACQ_ERR_WALLET_BLOCKED", `wallet ${walletId} is closed`, {
        details: { walletId },
      });
    const unblock = await tx.commands.pendingOfKind(walletId, "unblock");
    const block = await tx.commands.pendingOfKind(walletId, "block");
    const already = wallet.status === "lost" && !unblock;
    if (wallet.status !== "lost") await tx.wallets.setStatus(walletId, "lost");
    await tx.hotlist.block(walletId, "lost", "operator", now);
    let queued: QueuedCommand | null = null;
    if (!block) {
      if (unblock) await tx.commands.supersede(unblock.commandId);
      const commandId = newCommandId();
      await tx.commands.insert({
        commandId,
        walletId,
        kind: "block",
        payload: { reason: BLOCK_REASON.LOST },
        queuedAt: now,
      });
      queued = { commandId, kind: "block", superseded: unblock ? [unblock.commandId] : [] };
    }
    const report: LossReport = {
      changed: !already,
      status: "lost",
      hotlistVersion: await tx.hotlist.version(),
      queued,
    };
    if (actor)
      await tx.audit.record(actor, {
        action: "report-lost",
        subject: walletId,
        reason: note ?? null,
        outcome: {
          changed: report.changed,
          hotlistVersion: report.hotlistVersion,
          commandId: queued?.commandId ?? null,
        },
        at: now,
      });
    return report;
  });
}

export interface Release {
  /** active: released now (the card was never blocked); lost: UNBLOCK queued, released when the card confirms. */
  readonly status: Wallet["status"];
  readonly hotlistVersion: number;
  readonly queued: QueuedCommand | null;
}

/** `wallet release`: UNBLOCK queued for the card; released at once when no BLOCK ever went out. */
export async function releaseWallet(
  store: PlatformStore,
  walletId: string,
  now: number,
  actor?: OperatorActor,
  note?: string,
): Promise<Release> {
  return store.write("release wallet", async (tx) => {
    const released = await release(tx, walletId, now);
    if (actor)
      await tx.audit.record(actor, {
        action: "release",
        subject: walletId,
        reason: note ?? null,
        outcome: {
          status: released.status,
          hotlistVersion: released.hotlistVersion,
          commandId: released.queued?.commandId ?? null,
        },
        at: now,
      });
    return released;
  });
}

/** The release, inside releaseWallet's transaction. */
async function release(tx: PlatformTx, walletId: string, now: number): Promise<Release> {
  const wallet = await walletOrUnknown(tx, walletId, { lock: true });
  if (wallet.status !== "lost" && wallet.status !== "blocked")
    throw new AcquirerError(
      "ACQ_ERR_WALLET_NOT_LOST",
      `wallet ${walletId} is ${wallet.status}: nothing to release`,
      {
        details: { walletId, status: wallet.status },
      },
    );
  const pendingUnblock = await tx.commands.pendingOfKind(walletId, "unblock");
  if (pendingUnblock)
    return {
      status: wallet.status,
      hotlistVersion: await tx.hotlist.version(),
      queued: { commandId: pendingUnblock.commandId, kind: "unblock", superseded: [] },
    };
  const block = await tx.commands.pendingOfKind(walletId, "block");
  const mayBeOnCard =
    !block ||
    (await tx.commands.signingCount(block.commandId)) > 0 ||
    (await tx.commands.ofWallet(walletId, "delivered")).some((c) => c.kind === "block");
  if (block) await tx.commands.supersede(block.commandId);
  if (!mayBeOnCard) {
    await tx.wallets.setStatus(walletId, "active");
    await tx.hotlist.unblock(walletId, now);
    return { status: "active", hotlistVersion: await tx.hotlist.version(), queued: null };
  }
  const commandId = newCommandId();
  await tx.commands.insert({
    commandId,
    walletId,
    kind: "unblock",
    payload: { reason: BLOCK_REASON.OTHER },
    queuedAt: now,
  });
  return {
    status: wallet.status,
    hotlistVersion: await tx.hotlist.version(),
    queued: { commandId, kind: "unblock", superseded: block ? [block.commandId] : [] },
  };
}

async function lockedCommand(
  tx: PlatformTx,
  commandId: string,
): Promise<{ wallet: Wallet; command: IssuerCommandRow }> {
  const found = await tx.commands.get(commandId);
  if (!found)
    throw new AcquirerError("ACQ_ERR_COMMAND_UNKNOWN", `no issuer command ${commandId}`, {
      details: { commandId },
    });
  const wallet = await walletOrUnknown(tx, found.walletId, { lock: true });
  // Read again under the wallet's lock: another instance may have moved it meanwhile.
  const command = (await tx.commands.get(commandId)) ?? found;
  return { wallet, command };
}

/** POST /v1/platform/commands/:commandId/sign */
export async function signCommand(
  ctx: PlatformContext,
  terminal: AuthenticatedTerminal,
  commandId: string,
  request: CommandSignRequest,
): Promise<SignedIssuerCommand> {
  const now = nowSeconds(ctx);
  const hash = requestHash(terminal.terminalId, { commandId, ...request });
  return ctx.store.write("command sign", async (tx) => {
    const { wallet, command } = await lockedCommand(tx, commandId);
    const stored = await tx.commands.signing(request.requestId);
    if (stored) {
      if (stored.requestHash !== hash)
        throw idempotencyConflict("command signing request id", request.requestId);
      return { commandId, kind: command.kind, command: stored.command };
    }
    if (command.state !== "pending")
      throw new AcquirerError("ACQ_ERR_COMMAND_STATE", `issuer command ${commandId} is ${command.state}`, {
        details: { commandId, state: command.state },
      });
    checkRequestTime(request.time, now);
    if (await tx.loads.challengeUsed(wallet.walletId, request.challenge))
      throw challengeReused(wallet.walletId);
    const p = command.payload;
    const signed =
      command.kind === "parameters"
        ? ctx.issuer.parameters(wallet.walletId, request.challenge, { ...p, time: now })
        : ctx.issuer[command.kind](wallet.walletId, request.challenge, {
            reason: p.reason as number,
            time: now,
          });
    await tx.commands.insertSigning({
      requestId: request.requestId,
      requestHash: hash,
      commandId,
      terminalId: terminal.terminalId,
      challenge: request.challenge,
      issuedAt: now,
      command: signed.command,
      binding: signed.binding,
    });
    await tx.loads.useChallenge(wallet.walletId, request.challenge, "command", request.requestId, now);
    return { commandId, kind: command.kind, command: signed.command };
  });
}

/** POST /v1/platform/commands/:commandId/complete: the card's record is the receipt. */
export async function completeCommand(
  ctx: PlatformContext,
  terminal: AuthenticatedTerminal,
  commandId: string,
  completion: CommandCompletion,
): Promise<CommandState> {
  return ctx.store.write("command complete", async (tx) => {
    const { wallet, command } = await lockedCommand(tx, commandId);
    const signing = await tx.commands.signing(completion.requestId);
    if (!signing || signing.commandId !== commandId)
      throw new AcquirerError(
        "ACQ_ERR_COMMAND_UNKNOWN",
        `no signing ${completion.requestId} of issuer command ${commandId}`,
        { details: { commandId, requestId: completion.requestId } },
      );
    const checked = checkProof(completion.proof, cardKey(wallet), {
      type: RECORD_OF[command.kind],
      walletId: wallet.walletId,
      amount: 0,
      currency: wallet.currency,
      binding: signing.binding,
    });
    if (signing.answer !== null) return JSON.parse(signing.answer) as CommandState;
    const counter = checked.record.cardCounter;
    const now = nowSeconds(ctx);
    // A superseded or already delivered command executed once more on the card changes nothing
    // here: what is pending now carries the state the card must end in.
    if (command.state === "pending") {
      await tx.commands.markDelivered(commandId, {
        requestId: completion.requestId,
        terminalId: terminal.terminalId,
        cardCounter: counter,
        record: checked.bytes,
        signature: checked.signature,
        at: now,
      });
      if (command.kind === "parameters")
        await tx.wallets.setParameters(wallet.walletId, command.payload as Partial<WalletParameters>);
      if (command.kind === "unblock") {
        await tx.wallets.setStatus(wallet.walletId, "active");
        await tx.hotlist.unblock(wallet.walletId, now);
      }
    }
    await tx.wallets.setLastCounter(wallet.walletId, counter);
    const answer: CommandState = {
      commandId,
      walletId: wallet.walletId,
      kind: command.kind,
      state: command.state === "pending" ? "delivered" : command.state,
      cardCounter: counter,
    };
    await tx.commands.setSigningAnswer(completion.requestId, JSON.stringify(answer));
    return answer;
  });
}
