/**
 * Mutual authentication: INITIATE AUTHENTICATE (the card verifies the terminal's chain, answers
 * its certificate, ephemeral key, nonce and a signature over the transcript hash H) and EXTERNAL
 * AUTHENTICATE (the terminal's signature over H; then both derive the secure-messaging keys).
 */
import { concat, equalBytes, zeroize } from "../../../protocol/bytes.js";
import { ProtocolError } from "../../../protocol/errors.js";
import type { Certificate } from "../../../protocol/pki.js";
import { SW } from "../../../protocol/sw.js";
import { tlv } from "../../../protocol/tlv.js";
import { ID_PATTERN, INS, NONCE_LENGTH, TAG, WALLET_SW } from "../../../protocol/wallet/constants.js";
import {
  cardAuthMessage,
  encodeCardAuth,
  parseExternalAuth,
  parseInitiateAuth,
  terminalAuthMessage,
  transcriptHash,
} from "../../../protocol/wallet/messages.js";
import { deriveSessionKeys, SecureChannel } from "../../../protocol/wallet/secure-channel.js";
import {
  type AppletCommand,
  type AppletContext,
  type CommandSpec,
  OK,
  parseOr6A80,
  SwError,
} from "../context.js";
import { cloneState, MAX_CACHED_CAS } from "../state.js";

function requireP1P2Zero(p1: number, p2: number): void {
  if (p1 !== 0 || p2 !== 0) throw new SwError(SW.INCORRECT_P1P2);
}

/** Verify the terminal chain at the terminal's time; any defect is 930A. */
function verifyTerminal(
  ctx: AppletContext,
  certificates: readonly Uint8Array[],
  time: number,
): Certificate[] {
  try {
    const [leaf, ...rest] = certificates.map((der) => ctx.parseCertificate(der));
    return ctx.trustStore().verifyChain(leaf!, rest, { at: new Date(time * 1000), role: "terminal" });
  } catch (e) {
    if (e instanceof ProtocolError)
      throw new SwError(WALLET_SW.TERMINAL_REFUSED, `terminal certificate refused: ${e.code}`);
    throw e;
  }
}

const MCC = /^\d{4}$/;
const REGION = /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/;

/**
 * The syntax the card requires of the terminal's attributes (docs/protocol.md, "Ids"): terminal and
 * merchant ids 1–16 of [A-Za-z0-9._-], merchant category 4 digits, region ISO 3166 (TW, TW-TPE).
 * Checked here, not at DEBIT: the record could not carry a 17-character terminal id.
 */
function terminalAttributeProblem(terminal: Certificate): string | undefined {
  const a = terminal.attributes;
  if (a.terminalId === undefined || !ID_PATTERN.test(a.terminalId)) return "terminal id";
  if (a.merchantId === undefined || !ID_PATTERN.test(a.merchantId)) return "merchant id";
  if (a.merchantCategory !== undefined && !MCC.test(a.merchantCategory)) return "merchant category";
  if (a.region !== undefined && !REGION.test(a.region)) return "region";
  return undefined;
}

/** Remember acquirer CAs the terminal had to send (announced in DF06 next time); at most 4, oldest out. */
function cacheCas(ctx: AppletContext, path: readonly Certificate[], presented: readonly Uint8Array[]): void {
  const cached = new Set(ctx.state.cachedCas);
  const fresh = path
    .slice(1, -1)
    .filter((ca) => presented.some((p) => equalBytes(p, ca.der)))
    .map((ca) => Buffer.from(ca.der).toString("base64"))
    .filter((b64) => !cached.has(b64));
  if (fresh.length === 0) return;
  const next = cloneState(ctx.state);
  next.cachedCas = [...next.cachedCas, ...fresh].slice(-MAX_CACHED_CAS);
  ctx.commitQuietly(next);
}

/**
 * What INITIATE AUTHENTICATE does before it reads its data: P1/P2 00 00 (6A86), the end of any
 * session or half-done authentication, then the selection (6985); the FCI it will hash. Also the
 * point where the silent fault (faulty.ts) stops answering.
 */
export function beginAuthentication(ctx: AppletContext, c: AppletCommand): Uint8Array {
  requireP1P2Zero(c.p1, c.p2);
  ctx.dropSession();
  ctx.pending = undefined;
  if (!ctx.fci) throw new SwError(SW.CONDITIONS_NOT_SATISFIED, "SELECT first");
  return ctx.fci;
}

export const initiateAuthCommand: CommandSpec = {
  name: "INITIATE AUTHENTICATE",
  ins: INS.INITIATE_AUTH,
  classes: ["proprietary"],
  chainable: true,
  p1p2: [0, 0],
  handler(ctx, c) {
    const fci = beginAuthentication(ctx, c);
    // DF10 terminal certificate, DF10 CA certificate (0..2), DF11 eph key, DF12 nonce, DF14 time
    const init = parseOr6A80(() => parseInitiateAuth(c.data));
    const peer = parseOr6A80(() => ctx.identity.crypto.importPeerKey(init.ephemeralKey));
    const path = verifyTerminal(ctx, init.certificates, init.time);
    const terminal = path[0]!;
    const problem = terminalAttributeProblem(terminal);
    if (problem)
      throw new SwError(WALLET_SW.TERMINAL_REFUSED, `terminal certificate refused: malformed ${problem}`);
    // A stolen terminal cannot turn its clock back past what this card has already seen: the mark
    // is the latest terminal-certificate notBefore of a session that changed the card (records.ts).
    if (terminal.notAfter.getTime() < ctx.state.highWaterTime * 1000)
      throw new SwError(
        WALLET_SW.TERMINAL_CLOCK,
        "terminal certificate expired before the card's high-water time",
      );

    const ephemeral = ctx.identity.crypto.ephemeral();
    const nonce = ctx.random(NONCE_LENGTH).slice();
    // DF10 card certificate | DF11 card eph key (65) | DF12 card nonce (16), then DF13 signature (64)
    const cardPart = encodeCardAuth({
      certificate: ctx.identity.certificate.der,
      ephemeralKey: ephemeral.publicKey,
      nonce,
    });
    const transcript = transcriptHash(fci, c.data, cardPart);
    const signature = ctx.identity.crypto.sign(cardAuthMessage(transcript));
    ctx.pending = { transcript, terminal, ephemeral, peer, time: init.time };
    cacheCas(ctx, path, init.certificates.slice(1));
    return { data: concat(cardPart, tlv(TAG.SIGNATURE, signature)) };
  },
};

export const externalAuthCommand: CommandSpec = {
  name: "EXTERNAL AUTHENTICATE",
  ins: INS.EXTERNAL_AUTH,
  classes: ["proprietary"],
  handler(ctx, c) {
    requireP1P2Zero(c.p1, c.p2);
    // One attempt per INITIATE AUTHENTICATE, whatever its outcome.
    const pending = ctx.takePending();
    ctx.dropSession();
    if (!pending) throw new SwError(SW.CONDITIONS_NOT_SATISFIED, "no INITIATE AUTHENTICATE to complete");
    try {
      // DF13 terminal signature (64) over "TAPWALLET/1 TERMINAL AUTH" || H
      const signature = parseOr6A80(() => parseExternalAuth(c.data));
      if (!ctx.identity.crypto.verify(pending.terminal, terminalAuthMessage(pending.transcript), signature))
        throw new SwError(SW.SECURITY_STATUS_NOT_SATISFIED, "terminal signature does not verify");
      const shared = pending.ephemeral.agree(pending.peer);
      const keys = deriveSessionKeys(shared, pending.transcript);
      zeroize(shared);
      ctx.session = {
        channel: new SecureChannel(keys),
        transcript: pending.transcript,
        terminal: pending.terminal,
        terminalId: pending.terminal.attributes.terminalId ?? "",
        time: pending.time,
      };
      return OK;
    } finally {
      pending.ephemeral.destroy();
    }
  },
};
