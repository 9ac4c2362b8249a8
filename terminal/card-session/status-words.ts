/**
 * What each status word means to the terminal, per command: the one place a status word becomes a
 * TerminalError. Every command of the card session has a table; a word the table does not name
 * gets the command's `otherwise` rule. Status words are shown one way: `formatSw` ("9305") in
 * details, `describeWalletSw` ("9305 insufficient balance") in messages.
 *
 * `refused` marks a refusal the card answers before it commits anything (docs/protocol.md): the
 * payment may be voided. It is typed (CardRefusal), never a flag in `details`.
 */
import { formatSw, SW } from "../../protocol/sw.js";
import { WALLET_SW } from "../../protocol/wallet/constants.js";
import { describeWalletSw } from "../../protocol/wallet/status-words.js";
import { CardRefusal, TerminalError, type TerminalErrorCode } from "../errors.js";

export interface SwRule {
  readonly code: TerminalErrorCode;
  readonly message: string;
  /** The card refused before committing (only DEBIT's refusals). */
  readonly refused?: boolean;
}

export interface CommandStatusWords {
  readonly command: string;
  readonly rules: ReadonlyMap<number, SwRule>;
  /** Any other word than 9000 and the rules' words. */
  readonly otherwise: SwRule;
}

const unexpected = (command: string, refused = false): SwRule => ({
  code: "TERM_ERR_PROTOCOL",
  message: `${command}: unexpected status word`,
  ...(refused ? { refused } : {}),
});

export const SELECT_SW: CommandStatusWords = {
  command: "SELECT",
  rules: new Map(),
  otherwise: {
    code: "TERM_ERR_NOT_TAPWALLET",
    message: "not a tapwallet card (the application is not on it)",
  },
};

export const INITIATE_AUTH_SW: CommandStatusWords = {
  command: "INITIATE AUTHENTICATE",
  rules: new Map<number, SwRule>([
    [
      WALLET_SW.TERMINAL_REFUSED,
      { code: "TERM_ERR_TERMINAL_REFUSED", message: "the wallet refused this terminal's certificate" },
    ],
    [
      WALLET_SW.TERMINAL_CLOCK,
      {
        code: "TERM_ERR_TERMINAL_REFUSED",
        message:
          "the wallet refused this terminal's certificate: it expired before a time the wallet has seen",
      },
    ],
    [WALLET_SW.BLOCKED, { code: "TERM_ERR_CARD_BLOCKED", message: "the wallet is blocked" }],
  ]),
  otherwise: unexpected("INITIATE AUTHENTICATE"),
};

export const EXTERNAL_AUTH_SW: CommandStatusWords = {
  command: "EXTERNAL AUTHENTICATE",
  rules: new Map(),
  otherwise: {
    code: "TERM_ERR_TERMINAL_REFUSED",
    message: "the wallet refused the terminal's authentication",
  },
};

/** The outer word of a secure-messaging command: anything but 9000 means the channel is gone. */
export const SECURE_OUTER_SW: CommandStatusWords = {
  command: "secure messaging",
  rules: new Map(),
  otherwise: { code: "TERM_ERR_PROTOCOL", message: "the card dropped the secure session" },
};

/**
 * The inner word of DEBIT. The card answers a refusal only before it commits, so every word is a
 * refusal except 930C: the card already holds a debit for this seq, which must never be voided.
 */
export const DEBIT_SW: CommandStatusWords = {
  command: "DEBIT",
  rules: new Map<number, SwRule>([
    [WALLET_SW.BLOCKED, { code: "TERM_ERR_CARD_BLOCKED", message: "the wallet is blocked", refused: true }],
    [
      WALLET_SW.CURRENCY_MISMATCH,
      { code: "TERM_ERR_CURRENCY_MISMATCH", message: "the wallet holds another currency", refused: true },
    ],
    [
      WALLET_SW.AMOUNT_INVALID,
      { code: "TERM_ERR_AMOUNT", message: "the card refused the amount", refused: true },
    ],
    [
      WALLET_SW.OVER_SINGLE_LIMIT,
      {
        code: "TERM_ERR_OVER_SINGLE_LIMIT",
        message: "amount exceeds the wallet's single-spend limit",
        refused: true,
      },
    ],
    [
      WALLET_SW.INSUFFICIENT_FUNDS,
      { code: "TERM_ERR_INSUFFICIENT_FUNDS", message: "insufficient balance on the wallet", refused: true },
    ],
    [
      WALLET_SW.POLICY_VALIDITY,
      { code: "TERM_ERR_POLICY", message: "the wallet is outside its validity window", refused: true },
    ],
    [
      WALLET_SW.POLICY_CATEGORY,
      { code: "TERM_ERR_POLICY", message: "the wallet does not allow this merchant category", refused: true },
    ],
    [
      WALLET_SW.POLICY_REGION,
      { code: "TERM_ERR_POLICY", message: "the wallet does not allow this region", refused: true },
    ],
    [
      WALLET_SW.DUPLICATE_TERMINAL_SEQ,
      { code: "TERM_ERR_PROTOCOL", message: "the card already debited this terminal seq" },
    ],
    // The last DEBIT check (docs/protocol.md): inside a session 6985 can only mean the spent counter.
    [
      SW.CONDITIONS_NOT_SATISFIED,
      {
        code: "TERM_ERR_CARD_COUNTER_SPENT",
        message: "the wallet's card counter is spent: it accepts no more payments",
        refused: true,
      },
    ],
  ]),
  otherwise: unexpected("DEBIT", true),
};

/** GET TRANSACTION LOG by seq: 6A83 (no such record) is an answer, handled before the table. */
export const TRANSACTION_LOG_SW: CommandStatusWords = {
  command: "GET TRANSACTION LOG",
  rules: new Map(),
  otherwise: unexpected("GET TRANSACTION LOG"),
};

export const READ_BALANCE_SW: CommandStatusWords = {
  command: "READ BALANCE",
  rules: new Map(),
  otherwise: unexpected("READ BALANCE"),
};

/** GET CHALLENGE: plain ISO command; any word but 9000 means this card cannot run issuer commands. */
export const GET_CHALLENGE_SW: CommandStatusWords = {
  command: "GET CHALLENGE",
  rules: new Map(),
  otherwise: unexpected("GET CHALLENGE"),
};

const loadRefusal = (message: string): SwRule => ({
  code: "TERM_ERR_LOAD_CARD_REFUSED",
  message,
  refused: true,
});

/**
 * The inner word of an issuer command (LOAD, LOAD REVERSAL, UPDATE PARAMETERS, BLOCK, UNBLOCK). The
 * card checks everything before it commits, so every word but 9000 is a refusal: nothing changed on
 * the card. LOAD REVERSAL's 930E (no such load) is an answer, handled before the table.
 */
export const ISSUER_COMMAND_SW: CommandStatusWords = {
  command: "issuer command",
  rules: new Map<number, SwRule>([
    [WALLET_SW.BLOCKED, loadRefusal("the wallet is blocked")],
    [WALLET_SW.CURRENCY_MISMATCH, loadRefusal("the wallet holds another currency")],
    [WALLET_SW.AMOUNT_INVALID, loadRefusal("the card refused the amount")],
    [WALLET_SW.OVER_BALANCE_LIMIT, loadRefusal("the load would take the wallet over its balance limit")],
    [WALLET_SW.INSUFFICIENT_FUNDS, loadRefusal("the wallet no longer holds the amount to reverse")],
    [WALLET_SW.ALREADY_REVERSED, loadRefusal("the card already reversed this load")],
    [WALLET_SW.ISSUER_SIGNATURE, loadRefusal("the card did not accept the issuer's signature")],
    [
      SW.CONDITIONS_NOT_SATISFIED,
      loadRefusal("the card refused the command (challenge not taken, or the load id was used before)"),
    ],
  ]),
  otherwise: loadRefusal("the card refused the issuer command"),
};

/** The error for a status word other than 9000; a refusal is a CardRefusal. */
export function statusWordError(table: CommandStatusWords, sw: number): TerminalError {
  if (sw === SW.OK) throw new RangeError(`${table.command}: 9000 is not an error`);
  const rule = table.rules.get(sw) ?? table.otherwise;
  const message =
    rule === table.otherwise && rule.code === "TERM_ERR_PROTOCOL"
      ? `${rule.message} ${describeWalletSw(sw)}`
      : rule.message;
  const options = { details: { sw: formatSw(sw), command: table.command } };
  return rule.refused
    ? new CardRefusal(rule.code, message, options)
    : new TerminalError(rule.code, message, options);
}
