/**
 * Secure messaging (CLA 84) through the session's channel, protocol/wallet/secure-channel.ts:
 *
 *   command   84 INS P1 P2 Lc  GCM(kCmd, counter; AAD = CLA INS P1 P2 counter)(data) || tag (16)  00
 *   response  GCM(kRsp, counter; AAD = INS counter)(data || inner SW1 SW2) || tag (16)  90 00
 *
 * A command that does not authenticate (modified, replayed, reordered, truncated) closes the channel
 * and is answered a plain 6988; the caller then forgets the session, so what follows gets 6982.
 */

import { SW } from "../../protocol/sw.js";
import { CLA_SM_BIT } from "../../protocol/wallet/constants.js";
import type { SecureHeader } from "../../protocol/wallet/secure-channel.js";
import type { AppletAnswer, Session } from "./context.js";

/** CLA bit 0x04: the command data is sealed in the session's channel. */
export function isSecure(cla: number): boolean {
  return (cla & CLA_SM_BIT) !== 0;
}

/** The plain command data, or undefined when it does not authenticate (the channel is then closed). */
export function unwrapCommand(
  session: Session,
  header: SecureHeader,
  sealed: Uint8Array,
): Uint8Array | undefined {
  try {
    return session.channel.openCommand(header, sealed);
  } catch {
    return undefined;
  }
}

/**
 * The answer sealed for an outer 9000, its status word inside; undefined when the channel closed
 * while the command ran (then only the plain status word can go out).
 */
export function wrapResponse(session: Session, ins: number, answer: AppletAnswer): Uint8Array | undefined {
  return session.channel.open
    ? session.channel.sealResponse(ins, answer.data, answer.sw ?? SW.OK)
    : undefined;
}
