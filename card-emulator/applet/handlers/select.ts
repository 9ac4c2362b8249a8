/**
 * Commands that need no authentication: SELECT (→ FCI), GET DATA (the card certificate) and
 * GET CHALLENGE (the single-use challenge of the next issuer-signed command).
 */
import { equalBytes } from "../../../protocol/bytes.js";
import { SW } from "../../../protocol/sw.js";
import {
  AID,
  CAPABILITY,
  CHALLENGE_LENGTH,
  INS,
  PROTOCOL_VERSION,
  TAG,
  WALLET_STATE,
} from "../../../protocol/wallet/constants.js";
import { caId, encodeFci } from "../../../protocol/wallet/messages.js";
import { type AppletContext, type CommandSpec, SwError } from "../context.js";

export const ALL_CAPABILITIES =
  CAPABILITY.DEBIT |
  CAPABILITY.LOAD |
  CAPABILITY.TRANSACTION_LOG |
  CAPABILITY.PARAMETERS |
  CAPABILITY.BLOCK |
  CAPABILITY.CA_CACHE;

/** The FCI this card answers to SELECT now (wallet state and cached CAs change it). */
export function buildFci(ctx: AppletContext): Uint8Array {
  return encodeFci({
    version: PROTOCOL_VERSION,
    walletId: ctx.identity.walletId,
    capabilities: ALL_CAPABILITIES,
    currency: ctx.state.currency,
    state: ctx.state.blocked ? WALLET_STATE.BLOCKED : WALLET_STATE.ACTIVE,
    cachedCaIds: ctx.state.cachedCas.map((b64) => caId(new Uint8Array(Buffer.from(b64, "base64")))),
    // The counter before this session's commits: a terminal records it with its intent, so that a
    // later "not in the log" (6A83) can be checked against the log's coverage (read.ts).
    counter: ctx.state.counter,
  });
}

function requireNoData(data: Uint8Array): void {
  if (data.length !== 0) throw new SwError(SW.WRONG_LENGTH, "this command takes no data");
}

export const selectCommand: CommandSpec = {
  name: "SELECT",
  ins: INS.SELECT,
  classes: ["iso"],
  handler(ctx, c) {
    // 00 A4 04 00 Lc AID [Le]: select by DF name, first occurrence, return the FCI.
    if (c.p1 !== 0x04 || c.p2 !== 0x00) throw new SwError(SW.INCORRECT_P1P2);
    if (!equalBytes(c.data, AID)) throw new SwError(SW.FILE_NOT_FOUND, "unknown AID");
    return { data: ctx.select(() => buildFci(ctx)) };
  },
};

export const getDataCommand: CommandSpec = {
  name: "GET DATA",
  ins: INS.GET_DATA,
  classes: ["proprietary"],
  handler(ctx, c) {
    // 80 CA DF 10 00: the card certificate (DER); other objects are not found.
    if (((c.p1 << 8) | c.p2) !== TAG.CERTIFICATE) throw new SwError(SW.REFERENCED_DATA_NOT_FOUND);
    requireNoData(c.data);
    return { data: ctx.identity.certificate.der };
  },
};

export const getChallengeCommand: CommandSpec = {
  name: "GET CHALLENGE",
  ins: INS.GET_CHALLENGE,
  classes: ["iso"],
  handler(ctx, c) {
    // 00 84 00 00 10 → 16 random bytes, kept for the next issuer-signed command only.
    if (c.p1 !== 0 || c.p2 !== 0) throw new SwError(SW.INCORRECT_P1P2);
    requireNoData(c.data);
    if (c.ne !== undefined && c.ne !== CHALLENGE_LENGTH && c.ne !== 256)
      throw new SwError(SW.WRONG_LENGTH, "the challenge is 16 bytes");
    const challenge = ctx.random(CHALLENGE_LENGTH);
    if (challenge.length !== CHALLENGE_LENGTH) throw new Error("random source returned a short buffer");
    ctx.setChallenge(challenge.slice());
    return { data: challenge };
  },
};
