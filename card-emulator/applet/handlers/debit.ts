/**
 * DEBIT (84 54 00 00, secure only): the checks in the documented order, each with its own status
 * word, then one atomic commit of balance, counter and log entry *before* the signed record is
 * answered. The two phases are separate so that the replay and tear faults (faulty.ts) can act
 * between them and after the commit.
 */
import { SW } from "../../../protocol/sw.js";
import { INS, RECORD_TYPE, WALLET_SW } from "../../../protocol/wallet/constants.js";
import { type Debit, parseDebit } from "../../../protocol/wallet/messages.js";
import {
  type AppletAnswer,
  type AppletCommand,
  type AppletContext,
  type CommandSpec,
  parseOr6A80,
  type Session,
  SwError,
} from "../context.js";
import { makeRecord, nextCounter, raiseHighWater, recordAnswer } from "../records.js";
import { appendLog, type CardPolicy, cloneState } from "../state.js";

/** A policy region "TW" admits the terminal regions "TW" and "TW-TPE"; "TW-TPE" admits only itself. */
export function regionAllowed(allowed: readonly string[], region: string | undefined): boolean {
  if (allowed.length === 0) return true;
  if (region === undefined) return false;
  return allowed.some((a) => region === a || region.startsWith(`${a}-`));
}

export function categoryAllowed(allowed: readonly string[], category: string | undefined): boolean {
  return allowed.length === 0 || (category !== undefined && allowed.includes(category));
}

export function withinValidity(policy: Readonly<CardPolicy>, time: number): boolean {
  return (
    (policy.validFrom === undefined || time >= policy.validFrom) &&
    (policy.validTo === undefined || time <= policy.validTo)
  );
}

function requireSession(ctx: AppletContext): Session {
  if (!ctx.session) throw new SwError(SW.SECURITY_STATUS_NOT_SATISFIED, "no authenticated session");
  return ctx.session;
}

/** Every DEBIT check, in the documented order, each with its own status word; the debit if all pass. */
export function checkDebit(ctx: AppletContext, c: AppletCommand): Debit {
  const session = requireSession(ctx);
  if (c.p1 !== 0 || c.p2 !== 0) throw new SwError(SW.INCORRECT_P1P2);
  // DF20 amount (6 BCD) | DF04 currency (2) | DF21 terminal seq (4)
  const debit = parseOr6A80(() => parseDebit(c.data));
  const s = ctx.state;
  const attributes = session.terminal.attributes;
  if (s.blocked) throw new SwError(WALLET_SW.BLOCKED);
  if (debit.currency !== s.currency) throw new SwError(WALLET_SW.CURRENCY_MISMATCH);
  if (debit.amount <= 0) throw new SwError(WALLET_SW.AMOUNT_INVALID);
  if (debit.amount > s.limits.singleLimit) throw new SwError(WALLET_SW.OVER_SINGLE_LIMIT);
  if (debit.amount > s.balance) throw new SwError(WALLET_SW.INSUFFICIENT_FUNDS);
  if (!withinValidity(s.policy, session.time)) throw new SwError(WALLET_SW.POLICY_VALIDITY);
  if (!categoryAllowed(s.policy.categories, attributes.merchantCategory))
    throw new SwError(WALLET_SW.POLICY_CATEGORY);
  if (!regionAllowed(s.policy.regions, attributes.region)) throw new SwError(WALLET_SW.POLICY_REGION);
  if (
    s.log.some(
      (e) =>
        e.type === RECORD_TYPE.DEBIT &&
        e.terminalId === session.terminalId &&
        e.terminalSeq === debit.terminalSeq,
    )
  )
    throw new SwError(WALLET_SW.DUPLICATE_TERMINAL_SEQ);
  return debit;
}

/** Balance, counter and log entry in one commit, then the signed record as the answer. */
export function commitDebit(ctx: AppletContext, debit: Debit): AppletAnswer {
  const session = requireSession(ctx);
  const s = ctx.state;
  const counter = nextCounter(s);
  const balanceAfter = s.balance - debit.amount;
  const made = makeRecord(ctx, counter, {
    type: RECORD_TYPE.DEBIT,
    amount: debit.amount,
    balanceAfter,
    terminalId: session.terminalId,
    terminalSeq: debit.terminalSeq,
    time: session.time,
    binding: session.transcript,
  });
  const next = cloneState(s);
  next.balance = balanceAfter;
  next.counter = counter;
  raiseHighWater(next, session.terminal);
  appendLog(next, made.entry);
  ctx.commit(next);
  return { data: recordAnswer(made) };
}

export const debitCommand: CommandSpec = {
  name: "DEBIT",
  ins: INS.DEBIT,
  classes: ["proprietary", "secure"],
  secureOnly: true,
  handler: (ctx, c) => commitDebit(ctx, checkDebit(ctx, c)),
};
