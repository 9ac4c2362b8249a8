/**
 * Load reversals: signing LOAD REVERSAL (POST /v1/platform/loads/:loadId/reversal) and settling
 * what the card answered (POST …/reversal/complete).
 *
 * A reversal is signed for a pending load (in doubt: the terminal lost the card's answer), or for
 * a completed cash load a teller takes back at the counter on its business day (rules.ts). Each
 * request spends a new card challenge and is idempotent by its request id.
 *
 * What the card answers settles the load, once:
 * - `not-found` (930E): the card has no such load, and since its challenge was spent by the
 *   reversal's GET CHALLENGE, the LOAD can never run: a pending load is voided, its bank hold
 *   released, nothing booked. Only a pending load can be not found.
 * - `reversed` with the card's LOAD_REVERSAL record (bound to this reversal's command): a pending
 *   load happened and was taken back at once, so both its booking and its reversal are booked
 *   (net zero) and its hold released; a loaded load's booking is reversed (the wallet's offline
 *   account → the revoking teller's drawer, or back to the source: bank account, online account).
 */
import type {
  LoadState,
  ReversalCommand,
  ReversalOutcome,
  ReversalRequest,
} from "../../protocol/platform/api.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import type { AuthenticatedTerminal } from "../domain/trust.js";
import { AcquirerError } from "../errors.js";
import { reversedLoadTransfers, walletOffline } from "./accounts.js";
import { cardKey } from "./cards.js";
import { nowSeconds, type PlatformContext } from "./context.js";
import { idempotencyConflict, requestHash } from "./idempotency.js";
import { challengeReused, loadStateOf, lockedLoad } from "./loads.js";
import { BANK_FUNDED, type Load, type Reversal } from "./model.js";
import { checkProof } from "./proof.js";
import { checkRequestTime, checkReversible } from "./rules.js";

export async function requestReversal(
  ctx: PlatformContext,
  terminal: AuthenticatedTerminal,
  loadId: string,
  request: ReversalRequest,
): Promise<ReversalCommand> {
  const now = nowSeconds(ctx);
  const hash = requestHash(terminal.terminalId, { loadId, ...request });
  return ctx.store.write("reversal request", async (tx) => {
    const { wallet, load } = await lockedLoad(tx, loadId);
    const stored = await tx.loads.reversal(request.requestId);
    if (stored) {
      if (stored.requestHash !== hash) throw idempotencyConflict("reversal request id", request.requestId);
      return { loadId, command: stored.command };
    }
    checkRequestTime(request.time, now);
    checkReversible(load, request.teller, now);
    if (await tx.loads.challengeUsed(wallet.walletId, request.challenge))
      throw challengeReused(wallet.walletId);
    const signed = ctx.issuer.reversal(wallet.walletId, request.challenge, { loadId, time: now });
    await tx.loads.insertReversal({
      requestId: request.requestId,
      requestHash: hash,
      loadId,
      terminalId: terminal.terminalId,
      challenge: request.challenge,
      teller: request.teller ?? null,
      issuedAt: now,
      command: signed.command,
      binding: signed.binding,
      outcome: null,
      cardCounter: null,
      proof: null,
      answer: null,
      completedAt: null,
    });
    await tx.loads.useChallenge(wallet.walletId, request.challenge, "reversal", request.requestId, now);
    return { loadId, command: signed.command };
  });
}

function sameOutcome(r: Reversal, o: ReversalOutcome): boolean {
  if (r.outcome !== o.outcome) return false;
  if (o.outcome === "not-found") return true;
  return r.proof?.record === o.proof.record && r.proof.signature === o.proof.signature;
}

function notNow(load: Load, what: string): AcquirerError {
  return new AcquirerError("ACQ_ERR_LOAD_STATE", `load ${load.loadId} is ${load.state}: ${what}`, {
    details: { loadId: load.loadId, state: load.state },
  });
}

export async function completeReversal(
  ctx: PlatformContext,
  loadId: string,
  outcome: ReversalOutcome,
): Promise<LoadState> {
  return ctx.store.write("reversal complete", async (tx) => {
    const unknown = () =>
      new AcquirerError("ACQ_ERR_REVERSAL_UNKNOWN", `no reversal ${outcome.requestId} of load ${loadId}`, {
        details: { loadId, requestId: outcome.requestId },
      });
    const known = await tx.loads.reversal(outcome.requestId);
    if (!known || known.loadId !== loadId) throw unknown();
    const { wallet, load } = await lockedLoad(tx, loadId);
    const reversal = (await tx.loads.reversal(outcome.requestId))!;
    if (reversal.outcome !== null) {
      if (sameOutcome(reversal, outcome) && reversal.answer !== null)
        return JSON.parse(reversal.answer) as LoadState;
      throw new AcquirerError(
        "ACQ_ERR_LOAD_STATE",
        `reversal ${reversal.requestId} was already settled as ${reversal.outcome}`,
        { details: { loadId, requestId: reversal.requestId, outcome: reversal.outcome } },
      );
    }
    const now = nowSeconds(ctx);
    const offline = await tx.ledger.balance(walletOffline(load.walletId));

    if (outcome.outcome === "not-found") {
      if (load.state !== "pending") throw notNow(load, "the card's record of it cannot be missing");
      const answer = loadStateOf(load, "voided", offline, null);
      await tx.loads.move(loadId, "pending", "voided", { at: now });
      if (BANK_FUNDED.has(load.type)) await tx.bank.endHold(loadId, "released", now);
      await tx.loads.completeReversal(reversal.requestId, "not-found", {
        at: now,
        answer: JSON.stringify(answer),
      });
      return answer;
    }

    const checked = checkProof(outcome.proof, cardKey(wallet), {
      type: RECORD_TYPE.LOAD_REVERSAL,
      walletId: load.walletId,
      amount: load.amount,
      currency: load.currency,
      binding: reversal.binding,
    });
    let answer: LoadState;
    if (load.state === "pending") {
      answer = loadStateOf(load, "reversed", offline, null);
      await tx.loads.move(loadId, "pending", "reversed", { at: now });
      // The hold is released first, so that the bank account's debit never meets its own hold.
      if (BANK_FUNDED.has(load.type)) await tx.bank.endHold(load.loadId, "released", now);
    } else if (load.state === "loaded") {
      answer = loadStateOf(load, "reversed", offline - load.amount, load.cardCounter);
      await tx.loads.move(loadId, "loaded", "reversed", {});
    } else throw notNow(load, "nothing left to reverse");
    const completed = load.state === "loaded";
    for (const t of reversedLoadTransfers(load, { completed, revokingTeller: reversal.teller }))
      await tx.ledger.transfer(t, now);
    await tx.wallets.setLastCounter(load.walletId, checked.record.cardCounter);
    await tx.loads.completeReversal(reversal.requestId, "reversed", {
      at: now,
      cardCounter: checked.record.cardCounter,
      proof: { record: checked.bytes, signature: checked.signature },
      answer: JSON.stringify(answer),
    });
    return answer;
  });
}
