/**
 * Loads: signing the LOAD command a terminal asks for (POST /v1/platform/loads) and booking it
 * when the card's record proves it (POST /v1/platform/loads/:loadId/complete).
 *
 * Request, in one transaction under the wallet's lock: the checks (rules.ts), the card challenge
 * spent, the bank funds held (bank-funded types), the load stored pending with its signed
 * command. Idempotent by load id: the same request gets the stored command again, another one
 * with that id 409. A refusal stores nothing.
 *
 * Completion: the record verified against the wallet's registered card and the command's binding
 * (proof.ts), then booked once: the source (the teller's drawer, the bank account whose hold is
 * posted, or the online account) → the wallet's offline account. The same proof again gets the
 * same answer and books nothing; another proof for a completed load is ACQ_ERR_LOAD_STATE. Any
 * authenticated terminal may forward the proof: the card may have moved to another one.
 */
import type { CardRecordProof, LoadCommand, LoadRequest, LoadState } from "../../protocol/platform/api.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import type { AuthenticatedTerminal } from "../domain/trust.js";
import { AcquirerError } from "../errors.js";
import { loadTransfer, walletOffline, walletOnline } from "./accounts.js";
import { bankLoadMessage } from "./bank-message.js";
import { cardKey, registerCard, verifyCard } from "./cards.js";
import { nowSeconds, type PlatformContext } from "./context.js";
import { idempotencyConflict, requestHash } from "./idempotency.js";
import { BANK_FUNDED, type Load, type LoadStateName } from "./model.js";
import { checkProof } from "./proof.js";
import { checkFunding, checkLoadRequest, checkRequestTime } from "./rules.js";
import type { PlatformTx } from "./store/platform-store.js";
import { walletOrUnknown } from "./wallets.js";

export function loadCommandOf(load: Load): LoadCommand {
  return {
    loadId: load.loadId,
    serial: load.serial,
    issuedAt: load.issuedAt,
    command: load.command,
    amount: load.amount,
    currency: load.currency,
  };
}

export function loadStateOf(
  load: Load,
  state: LoadStateName,
  offlineBalance: number,
  cardCounter: number | null,
): LoadState {
  return {
    loadId: load.loadId,
    walletId: load.walletId,
    type: load.type,
    amount: load.amount,
    currency: load.currency,
    state,
    ...(cardCounter === null ? {} : { cardCounter }),
    offlineBalance,
  };
}

export function challengeReused(walletId: string): AcquirerError {
  return new AcquirerError(
    "ACQ_ERR_CHALLENGE_REUSED",
    `this card challenge already signed a command for wallet ${walletId}: read a new one`,
    { details: { walletId } },
  );
}

/**
 * A load and its wallet read under the wallet's lock (the load is read again once the lock is
 * held: another instance may have moved it while this one waited).
 */
export async function lockedLoad(tx: PlatformTx, loadId: string) {
  const first = await tx.loads.get(loadId);
  if (!first) throw new AcquirerError("ACQ_ERR_LOAD_UNKNOWN", `no load ${loadId}`, { details: { loadId } });
  const wallet = await walletOrUnknown(tx, first.walletId, { lock: true });
  return { wallet, load: (await tx.loads.get(loadId))! };
}

export async function requestLoad(
  ctx: PlatformContext,
  terminal: AuthenticatedTerminal,
  request: LoadRequest,
): Promise<LoadCommand> {
  const now = nowSeconds(ctx);
  const hash = requestHash(terminal.terminalId, request);
  return ctx.store.write("load request", async (tx) => {
    // The wallet's lock first: a copy of this request on another instance is then either stored
    // (and replayed here) or not begun.
    const locked = await tx.wallets.get(request.walletId, { lock: true });
    const stored = await tx.loads.get(request.loadId);
    if (stored) {
      if (stored.requestHash !== hash) throw idempotencyConflict("load id", request.loadId);
      return loadCommandOf(stored);
    }
    checkRequestTime(request.time, now);
    const wallet = locked ?? (await walletOrUnknown(tx, request.walletId));
    await registerCard(tx, wallet, verifyCard(ctx, request.cardCertificate, wallet.walletId, now));
    const funding = checkLoadRequest(request, wallet);
    if (await tx.loads.challengeUsed(wallet.walletId, request.challenge))
      throw challengeReused(wallet.walletId);
    const account = funding.kind === "bank" ? await tx.bank.get(funding.number) : undefined;
    const onlineAvailable =
      funding.kind === "online"
        ? (await tx.ledger.balance(walletOnline(wallet.walletId))) -
          (await tx.loads.pendingFromOnline(wallet.walletId))
        : 0;
    checkFunding(funding, request, account, onlineAvailable);

    const serial = await tx.loads.nextSerial();
    const signed = ctx.issuer.load(wallet.walletId, request.challenge, {
      amount: request.amount,
      currency: request.currency,
      loadId: request.loadId,
      time: now,
    });
    const load: Load = {
      loadId: request.loadId,
      requestHash: hash,
      walletId: wallet.walletId,
      terminalId: terminal.terminalId,
      type: request.type,
      amount: request.amount,
      currency: request.currency,
      teller: request.teller ?? null,
      branch: request.branch ?? null,
      account: funding.kind === "bank" ? funding.number : null,
      challenge: request.challenge,
      serial,
      issuedAt: now,
      command: signed.command,
      binding: signed.binding,
      state: "pending",
      cardCounter: null,
      completedAt: null,
      proof: null,
      answer: null,
      bankMessage: bankLoadMessage({
        serial,
        at: now,
        type: request.type,
        amount: request.amount,
        currency: request.currency,
        teller: request.teller ?? null,
        branch: request.branch ?? null,
        walletStatus: wallet.status,
        card: request.card,
        account: funding.kind === "bank" ? funding.number : null,
      }),
    };
    await tx.loads.insert(load);
    await tx.loads.useChallenge(wallet.walletId, request.challenge, "load", load.loadId, now);
    // The guarded hold is the last word on the funds: another writer may have held them since.
    if (funding.kind === "bank" && !(await tx.bank.hold(load.loadId, funding.number, load.amount, now)))
      throw new AcquirerError(
        "ACQ_ERR_INSUFFICIENT_FUNDS",
        `bank account ${funding.number} no longer has ${load.amount} available`,
        { details: { account: funding.number, amount: load.amount } },
      );
    return loadCommandOf(load);
  });
}

const sameProof = (a: Load["proof"], b: CardRecordProof) =>
  a !== null && a.record === b.record && a.signature === b.signature;

export async function completeLoad(
  ctx: PlatformContext,
  loadId: string,
  proof: CardRecordProof,
): Promise<LoadState> {
  return ctx.store.write("load complete", async (tx) => {
    const { wallet, load } = await lockedLoad(tx, loadId);
    if (sameProof(load.proof, proof) && load.answer !== null) return JSON.parse(load.answer) as LoadState;
    if (load.state !== "pending")
      throw new AcquirerError(
        "ACQ_ERR_LOAD_STATE",
        `load ${loadId} is ${load.state}${load.proof ? " with another proof" : ""}: this proof is not taken`,
        { details: { loadId, state: load.state } },
      );
    const checked = checkProof(proof, cardKey(wallet), {
      type: RECORD_TYPE.LOAD,
      walletId: load.walletId,
      amount: load.amount,
      currency: load.currency,
      binding: load.binding,
    });
    const now = nowSeconds(ctx);
    const counter = checked.record.cardCounter;
    const offline = await tx.ledger.balance(walletOffline(load.walletId));
    const answer = loadStateOf(load, "loaded", offline + load.amount, counter);
    // The state moves first: of two writers with the same proof, the second reruns and replays.
    await tx.loads.move(loadId, "pending", "loaded", {
      at: now,
      cardCounter: counter,
      proof: { record: checked.bytes, signature: checked.signature },
      answer: JSON.stringify(answer),
    });
    if (BANK_FUNDED.has(load.type)) await tx.bank.endHold(loadId, "posted", now);
    await tx.ledger.transfer(loadTransfer(load), now);
    await tx.wallets.setLastCounter(load.walletId, counter);
    return answer;
  });
}
