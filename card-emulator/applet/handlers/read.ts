/**
 * Reading the card in a session: GET TRANSACTION LOG (this session's terminal's entries only, for
 * torn-transaction recovery) and READ BALANCE.
 */
import { concat } from "../../../protocol/bytes.js";
import { SW } from "../../../protocol/sw.js";
import {
  INS,
  LOG_BY_SEQ,
  LOG_LAST_N,
  MAX_LOG_READ,
  RECORD_TYPE,
  WALLET_STATE,
} from "../../../protocol/wallet/constants.js";
import { encodeBalance, encodeLogNotFound, parseLogBySeq } from "../../../protocol/wallet/messages.js";
import { type CommandSpec, parseOr6A80, SwError } from "../context.js";
import { entryAnswer } from "../records.js";
import type { CardState } from "../state.js";

/**
 * The oldest counter the log holds: every change bumps the counter and lands in the log in the same
 * commit, and only the oldest entries are dropped, so the log holds every record from here to the
 * current counter (the current counter + 1 when it is empty).
 */
function logFrom(state: Readonly<CardState>): number {
  return state.log[0]?.counter ?? state.counter + 1;
}

export const getTransactionLogCommand: CommandSpec = {
  name: "GET TRANSACTION LOG",
  ins: INS.GET_TRANSACTION_LOG,
  classes: ["proprietary", "secure"],
  secureOnly: true,
  handler(ctx, c) {
    const session = ctx.session;
    if (!session) throw new SwError(SW.SECURITY_STATUS_NOT_SATISFIED);
    const mine = ctx.state.log.filter((e) => e.terminalId === session.terminalId);
    if (c.p1 === LOG_BY_SEQ) {
      // P1 01 P2 00, data DF21 terminal seq (4) → DF30 record, DF13 signature; or 6A83
      if (c.p2 !== 0) throw new SwError(SW.INCORRECT_P1P2);
      const seq = parseOr6A80(() => parseLogBySeq(c.data));
      const found = mine.findLast((e) => e.type === RECORD_TYPE.DEBIT && e.terminalSeq === seq);
      // Not found: say which counters the log still covers, so the terminal can tell "never
      // committed" from "committed, but the entry has been pushed out of the 32-entry log".
      if (!found)
        return { data: encodeLogNotFound({ logFrom: logFrom(ctx.state) }), sw: SW.RECORD_NOT_FOUND };
      return { data: entryAnswer(found) };
    }
    if (c.p1 === LOG_LAST_N) {
      // P1 02 P2 n (1..4), no data → up to n (record, signature) pairs, newest first
      if (c.p2 < 1 || c.p2 > MAX_LOG_READ) throw new SwError(SW.INCORRECT_P1P2);
      if (c.data.length !== 0) throw new SwError(SW.WRONG_LENGTH);
      return { data: concat(...mine.slice(-c.p2).reverse().map(entryAnswer)) };
    }
    throw new SwError(SW.INCORRECT_P1P2);
  },
};

export const readBalanceCommand: CommandSpec = {
  name: "READ BALANCE",
  ins: INS.READ_BALANCE,
  classes: ["proprietary", "secure"],
  secureOnly: true,
  handler(ctx, c) {
    if (!ctx.session) throw new SwError(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (c.p1 !== 0 || c.p2 !== 0) throw new SwError(SW.INCORRECT_P1P2);
    if (c.data.length !== 0) throw new SwError(SW.WRONG_LENGTH);
    const s = ctx.state;
    return {
      data: encodeBalance({
        balance: s.balance,
        currency: s.currency,
        counter: s.counter,
        state: s.blocked ? WALLET_STATE.BLOCKED : WALLET_STATE.ACTIVE,
        ...s.limits,
      }),
    };
  },
};
