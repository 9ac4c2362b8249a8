/**
 * What a command handler sees of the applet: the committed state, the card's identity and crypto,
 * the volatile session state (selection, pending authentication, secure channel, challenge), and
 * `commit` to persist a new state before answering. Handlers are small functions
 * `(ctx, command) → answer` that raise SwError for every refusal.
 */

import type { RandomSource } from "../../protocol/crypto.js";
import { ProtocolError } from "../../protocol/errors.js";
import type { Logger } from "../../protocol/logger.js";
import type { Certificate, TrustStore } from "../../protocol/pki.js";
import { SW } from "../../protocol/sw.js";
import type { SecureChannel } from "../../protocol/wallet/secure-channel.js";
import { describeWalletSw } from "../../protocol/wallet/status-words.js";
import type { CardCrypto, EphemeralKey, PeerKey } from "./card-crypto.js";
import type { CardState } from "./state.js";

/** A refusal: `process` answers this status word (inside the secure channel when there is one). */
export class SwError extends Error {
  readonly sw: number;
  constructor(sw: number, message?: string) {
    super(message ?? describeWalletSw(sw));
    this.name = "SwError";
    this.sw = sw;
  }
}

/** Run a parser on untrusted command data: any ProtocolError becomes 6A80 (wrong data). */
export function parseOr6A80<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ProtocolError) throw new SwError(SW.WRONG_DATA, e.message);
    throw e;
  }
}

/** A command after chaining and secure-messaging unwrapping. */
export interface AppletCommand {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  /** Plain command data (decrypted when it came through the secure channel). */
  readonly data: Uint8Array;
  readonly ne: number | undefined;
  /** Whether it came through the secure channel. */
  readonly secure: boolean;
}

export interface AppletAnswer {
  readonly data: Uint8Array;
  /** Default 9000. */
  readonly sw?: number;
}

/** The card as the terminal sees it: normally its own; a certificate fault swaps in a fixture's. */
export interface CardIdentity {
  readonly walletId: string;
  readonly certificate: Certificate;
  readonly crypto: CardCrypto;
}

/** Between INITIATE AUTHENTICATE and EXTERNAL AUTHENTICATE. */
export interface PendingAuth {
  readonly transcript: Uint8Array;
  readonly terminal: Certificate;
  readonly ephemeral: EphemeralKey;
  readonly peer: PeerKey;
  readonly time: number;
}

/** After EXTERNAL AUTHENTICATE: the authenticated terminal and the secure channel. */
export interface Session {
  readonly channel: SecureChannel;
  readonly transcript: Uint8Array;
  readonly terminal: Certificate;
  readonly terminalId: string;
  /** The terminal's signed time (INITIATE AUTHENTICATE), unix seconds. */
  readonly time: number;
}

export interface AppletContext {
  readonly state: Readonly<CardState>;
  readonly identity: CardIdentity;
  readonly issuer: Certificate;
  readonly random: RandomSource;
  readonly logger: Logger;
  /** Root + cached acquirer CAs. */
  trustStore(): TrustStore;
  /** Parse a certificate from the wire (small cache of recently seen terminal certificates). */
  parseCertificate(der: Uint8Array): Certificate;
  /** The SELECT answer data of the current selection (the transcript's FCI). */
  readonly fci: Uint8Array | undefined;
  /** Setting it destroys the ephemeral key of the authentication it replaces. */
  pending: PendingAuth | undefined;
  /** Take the pending authentication (single use); the caller destroys its ephemeral key. */
  takePending(): PendingAuth | undefined;
  session: Session | undefined;
  /** Take (and forget) the GET CHALLENGE value: single use whatever the outcome. */
  takeChallenge(): Uint8Array | undefined;
  setChallenge(challenge: Uint8Array): void;
  /**
   * Select the application: the session, pending authentication and challenge are dropped, the
   * identity is (re)resolved, then `buildFci` makes the FCI that becomes the transcript's.
   */
  select(buildFci: () => Uint8Array): Uint8Array;
  dropSession(): void;
  /** Persist `next` (atomic, durable) and make it current; a failing store → SwError(6F00), state kept. */
  commit(next: CardState): void;
  /** Persist a non-essential change (CA cache); a failure is logged and ignored. */
  commitQuietly(next: CardState): void;
}

export type Handler = (ctx: AppletContext, command: AppletCommand) => AppletAnswer;

export type ClassKind = "iso" | "proprietary" | "secure";

export interface CommandSpec {
  readonly name: string;
  readonly ins: number;
  /** Classes the command accepts: iso 00, proprietary 80, secure 84. */
  readonly classes: readonly ClassKind[];
  /** Only through the secure channel: a plain 80 gets 6982. */
  readonly secureOnly?: boolean;
  /** Accepts command chaining (CLA bit 0x10). */
  readonly chainable?: boolean;
  /**
   * The P1/P2 the command takes, checked on the first chained part already (6A86 at once, not
   * after the last part); unchained commands check their P1/P2 in the handler.
   */
  readonly p1p2?: readonly [number, number];
  readonly handler: Handler;
}

export const OK: AppletAnswer = Object.freeze({ data: new Uint8Array(0) });
