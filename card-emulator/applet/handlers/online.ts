/**
 * Issuer-signed online commands relayed by a terminal: LOAD, LOAD REVERSAL, UPDATE PARAMETERS,
 * BLOCK, UNBLOCK. Each carries the issuer CA's signature over the card's last GET CHALLENGE value,
 * so it can neither be forged nor replayed; each bumps the counter, commits, and answers a signed
 * record whose binding is SHA-256 of the signed issuer command message.
 */
import { hex } from "../../../protocol/bytes.js";
import { sha256 } from "../../../protocol/crypto.js";
import { SW } from "../../../protocol/sw.js";
import { INS, RECORD_TYPE, type RecordType, WALLET_SW } from "../../../protocol/wallet/constants.js";
import {
  issuerCommandMessage,
  parseBlockPayload,
  parseIssuerCommand,
  parseLoadPayload,
  parseParametersPayload,
  parseReversalPayload,
} from "../../../protocol/wallet/messages.js";
import {
  type AppletCommand,
  type AppletContext,
  type CommandSpec,
  parseOr6A80,
  SwError,
} from "../context.js";
import { makeRecord, nextCounter, raiseHighWater, recordAnswer } from "../records.js";
import { appendLog, type CardState, cloneState } from "../state.js";

interface Verified {
  readonly payload: Uint8Array;
  /** SHA-256 of the signed issuer command message: the record's binding. */
  readonly binding: Uint8Array;
}

/**
 * data: DF40 payload (≤ 128) | DF13 issuer signature (64) over
 * "TAPWALLET/1 ISSUER COMMAND" || INS || len(wallet id) || wallet id || challenge (16) || payload.
 * The challenge is taken first: it is gone whatever happens next.
 */
function verifyIssuerCommand(ctx: AppletContext, c: AppletCommand): Verified {
  const challenge = ctx.takeChallenge();
  if (c.p1 !== 0 || c.p2 !== 0) throw new SwError(SW.INCORRECT_P1P2);
  const { payload, signature } = parseOr6A80(() => parseIssuerCommand(c.data));
  if (!challenge) throw new SwError(SW.CONDITIONS_NOT_SATISFIED, "GET CHALLENGE first");
  const message = issuerCommandMessage(c.ins, ctx.identity.walletId, challenge, payload);
  if (!ctx.identity.crypto.verify(ctx.issuer, message, signature))
    throw new SwError(WALLET_SW.ISSUER_SIGNATURE, "issuer signature does not verify");
  return { payload, binding: sha256(message) };
}

/** Record, log and commit an online change; the answer is the signed record. */
function commitOnline(
  ctx: AppletContext,
  c: AppletCommand,
  v: Verified,
  record: { type: RecordType; amount: number; time: number; loadId?: Uint8Array },
  change: (next: CardState) => void,
): Uint8Array {
  const counter = nextCounter(ctx.state);
  const next = cloneState(ctx.state);
  change(next);
  next.counter = counter;
  const session = c.secure ? ctx.session : undefined;
  if (session) raiseHighWater(next, session.terminal);
  const made = makeRecord(ctx, counter, {
    type: record.type,
    amount: record.amount,
    balanceAfter: next.balance,
    terminalId: session?.terminalId ?? "",
    terminalSeq: 0,
    time: record.time,
    binding: v.binding,
    ...(record.loadId ? { loadId: record.loadId } : {}),
  });
  appendLog(next, made.entry);
  ctx.commit(next);
  return recordAnswer(made);
}

const ONLINE_CLASSES = ["proprietary", "secure"] as const;

export const loadCommand: CommandSpec = {
  name: "LOAD",
  ins: INS.LOAD,
  classes: ONLINE_CLASSES,
  handler(ctx, c) {
    const v = verifyIssuerCommand(ctx, c);
    // DF20 amount | DF04 currency | DF41 load id (8) | DF14 issuer time
    const load = parseOr6A80(() => parseLoadPayload(v.payload));
    const s = ctx.state;
    if (s.blocked) throw new SwError(WALLET_SW.BLOCKED);
    if (load.currency !== s.currency) throw new SwError(WALLET_SW.CURRENCY_MISMATCH);
    if (load.amount <= 0) throw new SwError(WALLET_SW.AMOUNT_INVALID);
    if (s.balance + load.amount > s.limits.balanceLimit) throw new SwError(WALLET_SW.OVER_BALANCE_LIMIT);
    // A load id names one load: reusing it would make a later reversal ambiguous.
    const id = hex(load.loadId);
    if ((s.loadLog ?? []).some((e) => e.loadId === id))
      throw new SwError(SW.CONDITIONS_NOT_SATISFIED, "load id already used");
    const data = commitOnline(
      ctx,
      c,
      v,
      { type: RECORD_TYPE.LOAD, amount: load.amount, time: load.time, loadId: load.loadId },
      (next) => {
        next.balance += load.amount;
      },
    );
    return { data };
  },
};

export const loadReversalCommand: CommandSpec = {
  name: "LOAD REVERSAL",
  ins: INS.LOAD_REVERSAL,
  classes: ONLINE_CLASSES,
  handler(ctx, c) {
    const v = verifyIssuerCommand(ctx, c);
    // DF41 load id (8) | DF14 issuer time
    const reversal = parseOr6A80(() => parseReversalPayload(v.payload));
    const id = hex(reversal.loadId);
    const load = (ctx.state.loadLog ?? []).find((e) => e.loadId === id);
    if (!load) throw new SwError(WALLET_SW.LOAD_NOT_FOUND);
    if (load.reversed) throw new SwError(WALLET_SW.ALREADY_REVERSED);
    if (ctx.state.balance < load.amount) throw new SwError(WALLET_SW.INSUFFICIENT_FUNDS);
    const data = commitOnline(
      ctx,
      c,
      v,
      { type: RECORD_TYPE.LOAD_REVERSAL, amount: load.amount, time: reversal.time, loadId: reversal.loadId },
      (next) => {
        next.balance -= load.amount;
        for (const e of [...next.log, ...(next.loadLog ?? [])])
          if (e.type === RECORD_TYPE.LOAD && e.loadId === id) e.reversed = true;
      },
    );
    return { data };
  },
};

export const updateParametersCommand: CommandSpec = {
  name: "UPDATE PARAMETERS",
  ins: INS.UPDATE_PARAMETERS,
  classes: ONLINE_CLASSES,
  handler(ctx, c) {
    const v = verifyIssuerCommand(ctx, c);
    // any of DF42 single limit, DF43 balance limit, DF44 auto-load threshold, DF45 auto-load amount | DF14
    const p = parseOr6A80(() => parseParametersPayload(v.payload));
    const data = commitOnline(
      ctx,
      c,
      v,
      { type: RECORD_TYPE.PARAMETERS, amount: 0, time: p.time },
      (next) => {
        if (p.singleLimit !== undefined) next.limits.singleLimit = p.singleLimit;
        if (p.balanceLimit !== undefined) next.limits.balanceLimit = p.balanceLimit;
        if (p.autoLoadThreshold !== undefined) next.limits.autoLoadThreshold = p.autoLoadThreshold;
        if (p.autoLoadAmount !== undefined) next.limits.autoLoadAmount = p.autoLoadAmount;
      },
    );
    return { data };
  },
};

function blockCommand(name: string, ins: number, type: RecordType, blocked: boolean): CommandSpec {
  return {
    name,
    ins,
    classes: ONLINE_CLASSES,
    handler(ctx, c) {
      const v = verifyIssuerCommand(ctx, c);
      // DF46 reason (1) | DF14 issuer time
      const p = parseOr6A80(() => parseBlockPayload(v.payload));
      const data = commitOnline(ctx, c, v, { type, amount: 0, time: p.time }, (next) => {
        next.blocked = blocked;
        if (blocked) next.blockReason = p.reason;
        else delete next.blockReason;
      });
      return { data };
    },
  };
}

export const blockWalletCommand = blockCommand("BLOCK", INS.BLOCK, RECORD_TYPE.BLOCK, true);
export const unblockWalletCommand = blockCommand("UNBLOCK", INS.UNBLOCK, RECORD_TYPE.UNBLOCK, false);
