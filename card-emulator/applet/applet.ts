/**
 * The tapwallet wallet applet: a pure, synchronous `process(apdu) → response` that never throws.
 *
 * `process` applies the generic checks of docs/protocol.md ("Rules for every command") in their
 * order, each step a small module of this folder, then the command's handler:
 *   1. decode the short APDU (6700);
 *   2. GET RESPONSE serves the rest of a long answer (response.ts: 61xx, 6985, 6A86, 6700), or
 *      6883 while a command chain is open;
 *   3. the class byte (commands.ts: 6E00);
 *   4. the next part of an open chain (chaining.ts: 9000 per part, 6883, 6700);
 *   5. the instruction and its classes (6D00, 6E00);
 *   6. the selection (6985 before SELECT);
 *   7. a first chained part (chaining.ts: 6884, 6A86, 6700, 9000);
 *   8. in the clear (6982 for a secure-only command), or secure messaging (secure-messaging.ts:
 *      no session 6982, a command that does not authenticate → plain 6988 and the session ends);
 *   9. the handler (handlers/*.ts via the INS table; a refusal is an SwError), its answer sealed in
 *      the secure channel when it came through it, split over GET RESPONSE when over 255 bytes.
 * State changes are computed on a copy and committed through the store before the answer is built;
 * a failing commit answers 6F00 and keeps the old state.
 *
 * Fault injection is not in here: FaultyApplet (faulty.ts) wraps the applet, through the two seams
 * of AppletOptions (`commands`, `identity`).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { type CommandApdu, decodeCommand } from "../../protocol/apdu.js";
import { equalBytes } from "../../protocol/bytes.js";
import {
  decryptPrivateKeyPem,
  type RandomSource,
  rawPublicKey,
  systemRandom,
} from "../../protocol/crypto.js";
import { ProtocolError } from "../../protocol/errors.js";
import { type Logger, silentLogger } from "../../protocol/logger.js";
import { type Certificate, parseCertificate } from "../../protocol/pki.js";
import { formatSw, SW } from "../../protocol/sw.js";
import { INS } from "../../protocol/wallet/constants.js";
import type { VirtualCard } from "../adapters/vpcd.js";
import { CardError } from "../errors.js";
import { type CryptoChoice, createCardCrypto, DEFAULT_CRYPTO } from "./card-crypto.js";
import { CardCertificates } from "./certificates.js";
import { CommandChain, isChained } from "./chaining.js";
import { COMMANDS, type CommandTable, classKind, commandFor } from "./commands.js";
import {
  type AppletAnswer,
  type AppletCommand,
  type AppletContext,
  type CardIdentity,
  type CommandSpec,
  type PendingAuth,
  type Session,
  SwError,
} from "./context.js";
import { isGetResponse, ResponseBuffer, sw } from "./response.js";
import { isSecure, unwrapCommand, wrapResponse } from "./secure-messaging.js";
import type { CardState, CardStateStore } from "./state.js";

export const DEFAULT_CARD_PASSPHRASE = "tapwallet-test-only";

export interface AppletOptions {
  random?: RandomSource;
  crypto?: CryptoChoice;
  logger?: Logger;
  /** Default: TAPWALLET_CARD_PASSPHRASE, else `tapwallet-test-only`. */
  passphrase?: string;
  /** The INS table. Default COMMANDS; a decorator (FaultyApplet) passes one with wrapped handlers. */
  commands?: CommandTable;
  /** The identity SELECT makes current, given the card's own. Default: the card's own. */
  identity?: (own: CardIdentity) => CardIdentity;
}

function decodeBase64Der(b64: string, what: string): Certificate {
  try {
    return parseCertificate(new Uint8Array(Buffer.from(b64, "base64")));
  } catch (cause) {
    throw new CardError("CARD_ERR_STATE", `card state: ${what} is not a usable certificate`, { cause });
  }
}

function samePublicKey(privateKey: KeyObject, certificate: Certificate): boolean {
  return equalBytes(rawPublicKey(createPublicKey(privateKey)), rawPublicKey(certificate.publicKey));
}

/** A short APDU, or undefined for bytes that are not one. */
function decodeShort(bytes: Uint8Array): CommandApdu | undefined {
  try {
    return decodeCommand(bytes);
  } catch {
    return undefined;
  }
}

/** What the handler sees of a command: after chaining, `data` decrypted when it came secured. */
function appletCommand(apdu: CommandApdu, data: Uint8Array, secure: boolean): AppletCommand {
  return { cla: apdu.cla, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data, ne: apdu.ne, secure };
}

export class WalletApplet implements VirtualCard {
  readonly #store: CardStateStore;
  readonly #random: RandomSource;
  readonly #logger: Logger;
  readonly #cryptoChoice: CryptoChoice;
  readonly #commands: CommandTable;
  readonly #presentIdentity: ((own: CardIdentity) => CardIdentity) | undefined;
  readonly #ownIdentity: CardIdentity;
  readonly #issuer: Certificate;
  readonly #certificates: CardCertificates;
  #state: CardState;

  // Volatile: lost on power-off, reset, and (partly) on SELECT.
  #identity: CardIdentity;
  #fci: Uint8Array | undefined;
  #pending: PendingAuth | undefined;
  #session: Session | undefined;
  #challenge: Uint8Array | undefined;
  readonly #chain = new CommandChain();
  readonly #response = new ResponseBuffer();
  #ctx: AppletContext | undefined;

  constructor(store: CardStateStore, options: AppletOptions = {}) {
    this.#store = store;
    this.#state = store.load();
    this.#random = options.random ?? systemRandom;
    this.#logger = options.logger ?? silentLogger();
    this.#cryptoChoice = options.crypto ?? DEFAULT_CRYPTO;
    this.#commands = options.commands ?? COMMANDS;
    this.#presentIdentity = options.identity;
    const passphrase = options.passphrase ?? process.env.TAPWALLET_CARD_PASSPHRASE ?? DEFAULT_CARD_PASSPHRASE;

    const certificate = decodeBase64Der(this.#state.certificate, "certificate");
    this.#issuer = decodeBase64Der(this.#state.issuerCertificate, "issuerCertificate");
    const root = decodeBase64Der(this.#state.rootCertificate, "rootCertificate");
    this.#certificates = new CardCertificates(root, this.#logger);
    if (certificate.attributes.walletId !== this.#state.walletId)
      throw new CardError("CARD_ERR_STATE", "card certificate names another wallet id than the state");
    if (!certificate.x509.verify(this.#issuer.publicKey) || !this.#issuer.x509.verify(root.publicKey))
      throw new CardError("CARD_ERR_STATE", "card state certificates do not chain card → issuer CA → root");
    let key: KeyObject;
    try {
      key = decryptPrivateKeyPem(this.#state.privateKey, passphrase);
    } catch (cause) {
      throw new CardError("CARD_ERR_KEY", "the card private key cannot be decrypted", {
        cause: cause instanceof ProtocolError ? cause.code : undefined,
      });
    }
    if (!samePublicKey(key, certificate))
      throw new CardError("CARD_ERR_STATE", "the card private key does not match its certificate");
    this.#ownIdentity = {
      walletId: this.#state.walletId,
      certificate,
      crypto: createCardCrypto(this.#cryptoChoice, key, this.#random),
    };
    this.#identity = this.#resolveIdentity();
  }

  /** The committed state (a snapshot: the applet replaces it on every commit, never mutates it). */
  get state(): Readonly<CardState> {
    return this.#state;
  }

  get cryptoName(): CryptoChoice {
    return this.#cryptoChoice;
  }

  /** Whether an authenticated session is open (for tests and the control interface). */
  get authenticated(): boolean {
    return this.#session !== undefined;
  }

  powerOff(): void {
    this.#forgetVolatile();
  }

  reset(): void {
    this.#forgetVolatile();
  }

  /** One command APDU in, one response APDU out (≥ 2 bytes, ending in SW1 SW2). Never throws. */
  process(apdu: Uint8Array): Uint8Array {
    try {
      return this.#process(apdu);
    } catch (e) {
      this.#logger.error({ err: e, ins: apdu[1] }, "applet internal failure; answered 6F00");
      return this.#abort(SW.UNKNOWN);
    }
  }

  /** The steps of the module comment, in their order; each answers with its status word or goes on. */
  #process(bytes: Uint8Array): Uint8Array {
    const apdu = decodeShort(bytes);
    if (!apdu) return this.#abort(SW.WRONG_LENGTH);

    // GET RESPONSE serves what is left of the last answer; any other command forgets it.
    if (isGetResponse(apdu))
      return this.#chain.open ? this.#abort(SW.LAST_COMMAND_EXPECTED) : this.#response.next(apdu);
    this.#response.clear();

    const kind = classKind(apdu.cla);
    if (kind === undefined) return this.#abort(SW.CLA_NOT_SUPPORTED);

    const data = this.#chain.take(apdu);
    if (typeof data === "number") return sw(data);

    const spec = commandFor(this.#commands, apdu.ins, kind);
    if (typeof spec === "number") return sw(spec);
    if (this.#fci === undefined && spec.ins !== INS.SELECT) return sw(SW.CONDITIONS_NOT_SATISFIED);
    if (isChained(apdu.cla)) return sw(this.#chain.begin(spec, apdu));

    return isSecure(apdu.cla) ? this.#secure(spec, apdu, data) : this.#clear(spec, apdu, data);
  }

  /** 80 / 00: a secure-only command in the clear → 6982 (a session, if any, stays). */
  #clear(spec: CommandSpec, apdu: CommandApdu, data: Uint8Array): Uint8Array {
    if (spec.secureOnly) return sw(SW.SECURITY_STATUS_NOT_SATISFIED);
    const answer = this.#run(spec, appletCommand(apdu, data, false));
    return this.#response.answer(answer.data, answer.sw ?? SW.OK);
  }

  /** 84: no session → 6982; data that does not authenticate → plain 6988 and the session ends. */
  #secure(spec: CommandSpec, apdu: CommandApdu, data: Uint8Array): Uint8Array {
    const session = this.#session;
    if (!session) return sw(SW.SECURITY_STATUS_NOT_SATISFIED);
    const plain = unwrapCommand(session, apdu, data);
    if (!plain) {
      this.#dropSession();
      return sw(SW.SM_DATA_INCORRECT);
    }
    const answer = this.#run(spec, appletCommand(apdu, plain, true));
    // The handler may have ended the session (it never does today); the answer still uses this channel.
    const sealed = wrapResponse(session, apdu.ins, answer);
    return sealed ? this.#response.answer(sealed, SW.OK) : sw(answer.sw ?? SW.OK);
  }

  #run(spec: CommandSpec, command: AppletCommand): AppletAnswer {
    try {
      return spec.handler(this.#context(), command);
    } catch (e) {
      if (e instanceof SwError) {
        this.#logger.debug({ command: spec.name, sw: formatSw(e.sw) }, e.message);
        return { data: new Uint8Array(0), sw: e.sw };
      }
      this.#logger.error({ err: e, command: spec.name }, "handler failed; answered 6F00");
      return { data: new Uint8Array(0), sw: SW.UNKNOWN };
    }
  }

  /** Answer a bare status word and forget the open chain and any pending GET RESPONSE data. */
  #abort(word: number): Uint8Array {
    this.#chain.drop();
    this.#response.clear();
    return sw(word);
  }

  #context(): AppletContext {
    if (this.#ctx) return this.#ctx;
    const applet = this;
    this.#ctx = {
      get state() {
        return applet.#state;
      },
      get identity() {
        return applet.#identity;
      },
      issuer: this.#issuer,
      random: this.#random,
      logger: this.#logger,
      trustStore: () => this.#certificates.trustStore(this.#state.cachedCas),
      parseCertificate: (der) => this.#certificates.parse(der),
      get fci() {
        return applet.#fci;
      },
      get pending() {
        return applet.#pending;
      },
      set pending(value) {
        if (applet.#pending && applet.#pending !== value) applet.#pending.ephemeral.destroy();
        applet.#pending = value;
      },
      takePending: () => {
        const pending = this.#pending;
        this.#pending = undefined;
        return pending;
      },
      get session() {
        return applet.#session;
      },
      set session(value) {
        applet.#session = value;
      },
      takeChallenge: () => {
        const c = this.#challenge;
        this.#challenge = undefined;
        return c;
      },
      setChallenge: (challenge) => {
        this.#challenge = challenge;
      },
      select: (buildFci) => {
        this.#dropAuthentication();
        this.#challenge = undefined;
        this.#identity = this.#resolveIdentity();
        this.#fci = buildFci();
        return this.#fci;
      },
      dropSession: () => this.#dropSession(),
      commit: (next) => this.#commit(next),
      commitQuietly: (next) => {
        try {
          this.#commit(next);
        } catch (e) {
          this.#logger.warn({ err: e }, "could not persist a cache update; continuing without it");
        }
      },
    };
    return this.#ctx;
  }

  #commit(next: CardState): void {
    try {
      this.#store.commit(next);
    } catch (e) {
      this.#logger.error({ err: e }, "state commit failed; answered 6F00, state unchanged");
      throw new SwError(SW.UNKNOWN, "state commit failed");
    }
    this.#state = next;
  }

  /** The identity the card presents from this SELECT on: its own, unless the `identity` option swaps it. */
  #resolveIdentity(): CardIdentity {
    return this.#presentIdentity ? this.#presentIdentity(this.#ownIdentity) : this.#ownIdentity;
  }

  #dropAuthentication(): void {
    if (this.#pending) this.#pending.ephemeral.destroy();
    this.#pending = undefined;
    this.#dropSession();
  }

  #dropSession(): void {
    this.#session?.channel.close();
    this.#session = undefined;
  }

  #forgetVolatile(): void {
    this.#dropAuthentication();
    this.#fci = undefined;
    this.#challenge = undefined;
    this.#chain.drop();
    this.#response.clear();
  }
}
