/**
 * The tapwallet wallet applet: a pure, synchronous `process(apdu) → response` that never throws
 * (except the TearError / SilentError faults, which the transport turns into a lost card).
 *
 * Layers inside `process`, outermost first:
 *   1. decode the short APDU (6700), GET RESPONSE buffer (61xx) and command chaining (CLA bit 0x10;
 *      a part of another command while a chain is pending → 6883; chaining on a command that does
 *      not take it → 6884);
 *   2. class and instruction (6E00, 6D00), selection (6985 before SELECT);
 *   3. secure messaging when CLA has bit 0x04: no session → 6982, a command that does not
 *      authenticate → plain 6988 and the session is dropped;
 *   4. dispatch on the INS table (handlers/*.ts), handlers raise SwError;
 *   5. seal the answer in the secure channel, split answers over 255 bytes with 61xx.
 * State changes are computed on a copy and committed through the store before the answer is built;
 * a failing commit answers 6F00 and keeps the old state.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { type CommandApdu, decodeCommand } from "../../protocol/apdu.js";
import { concat, equalBytes, hex } from "../../protocol/bytes.js";
import {
  decryptPrivateKeyPem,
  type RandomSource,
  rawPublicKey,
  sha256,
  systemRandom,
} from "../../protocol/crypto.js";
import { ProtocolError } from "../../protocol/errors.js";
import { type Logger, silentLogger } from "../../protocol/logger.js";
import { type Certificate, parseCertificate, TrustStore } from "../../protocol/pki.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { registerSwMeanings, SW } from "../../protocol/sw.js";
import { CLA_SM_BIT, INS, WALLET_SW_MEANINGS } from "../../protocol/wallet/constants.js";
import type { VirtualCard } from "../adapters/vpcd.js";
import { CardError } from "../errors.js";
import { CERTIFICATE_FAULT_FIXTURES, type Faults, SilentError, TearError } from "../faults.js";
import { type CryptoChoice, createCardCrypto, DEFAULT_CRYPTO } from "./card-crypto.js";
import {
  type AppletAnswer,
  type AppletCommand,
  type AppletContext,
  type CardIdentity,
  type ClassKind,
  type CommandSpec,
  type PendingAuth,
  type Session,
  SwError,
} from "./context.js";
import { externalAuthCommand, initiateAuthCommand } from "./handlers/auth.js";
import { debitCommand } from "./handlers/debit.js";
import {
  blockWalletCommand,
  loadCommand,
  loadReversalCommand,
  unblockWalletCommand,
  updateParametersCommand,
} from "./handlers/online.js";
import { getTransactionLogCommand, readBalanceCommand } from "./handlers/read.js";
import { getChallengeCommand, getDataCommand, selectCommand } from "./handlers/select.js";
import type { CardState, CardStateStore } from "./state.js";

registerSwMeanings(WALLET_SW_MEANINGS);

export const DEFAULT_CARD_PASSPHRASE = "tapwallet-test-only";

export interface AppletOptions {
  random?: RandomSource;
  crypto?: CryptoChoice;
  faults?: Faults;
  logger?: Logger;
  /** Default: TAPWALLET_CARD_PASSPHRASE, else `tapwallet-test-only`. */
  passphrase?: string;
}

/** The INS table. */
export const COMMANDS: ReadonlyMap<number, CommandSpec> = new Map(
  [
    selectCommand,
    getDataCommand,
    getChallengeCommand,
    initiateAuthCommand,
    externalAuthCommand,
    debitCommand,
    getTransactionLogCommand,
    readBalanceCommand,
    loadCommand,
    loadReversalCommand,
    updateParametersCommand,
    blockWalletCommand,
    unblockWalletCommand,
  ].map((spec) => [spec.ins, spec]),
);

const CHAIN_BIT = 0x10;
/** The largest chained command we buffer: three 2048-byte certificates and the rest of INITIATE. */
export const MAX_CHAINED_DATA = 3 * (2048 + 4) + 128;
/**
 * At most 255 data bytes per response (like commands: the ACR122U and Android HCE are happiest with
 * that); the rest waits for GET RESPONSE, announced as 61xx with xx = min(left, FF).
 */
export const MAX_RESPONSE_CHUNK = 255;
/** Recently seen terminal certificates, parsed once (the same terminals come back tap after tap). */
const CERT_CACHE_SIZE = 8;

const CLASS_BYTE: Record<ClassKind, number> = { iso: 0x00, proprietary: 0x80, secure: 0x84 };

function sw(word: number): Uint8Array {
  return Uint8Array.of(word >> 8, word & 0xff);
}

function classKind(cla: number): ClassKind | undefined {
  const base = cla & ~CHAIN_BIT;
  if (base === CLASS_BYTE.iso) return "iso";
  if (base === CLASS_BYTE.proprietary) return "proprietary";
  if (base === CLASS_BYTE.secure) return "secure";
  return undefined;
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

interface PendingChain {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly parts: Uint8Array[];
  length: number;
}

export class WalletApplet implements VirtualCard {
  /** Fault injection; may be changed between commands (a certificate fault applies from the next SELECT). */
  faults: Faults;

  readonly #store: CardStateStore;
  readonly #random: RandomSource;
  readonly #logger: Logger;
  readonly #cryptoChoice: CryptoChoice;
  readonly #ownIdentity: CardIdentity;
  readonly #faultIdentities = new Map<string, CardIdentity>();
  readonly #root: Certificate;
  readonly #issuer: Certificate;
  readonly #certCache = new Map<string, Certificate>();
  #state: CardState;
  #trust: TrustStore | undefined;
  #trustFor: readonly string[] | undefined;

  // Volatile: lost on power-off, reset, and (partly) on SELECT.
  #identity: CardIdentity;
  #fci: Uint8Array | undefined;
  #pending: PendingAuth | undefined;
  #session: Session | undefined;
  #challenge: Uint8Array | undefined;
  #chain: PendingChain | undefined;
  #response: Uint8Array | undefined;
  #silent = false;
  #ctx: AppletContext | undefined;

  constructor(store: CardStateStore, options: AppletOptions = {}) {
    this.#store = store;
    this.#state = store.load();
    this.#random = options.random ?? systemRandom;
    this.#logger = options.logger ?? silentLogger();
    this.#cryptoChoice = options.crypto ?? DEFAULT_CRYPTO;
    this.faults = options.faults ?? {};
    const passphrase = options.passphrase ?? process.env.TAPWALLET_CARD_PASSPHRASE ?? DEFAULT_CARD_PASSPHRASE;

    const certificate = decodeBase64Der(this.#state.certificate, "certificate");
    this.#issuer = decodeBase64Der(this.#state.issuerCertificate, "issuerCertificate");
    this.#root = decodeBase64Der(this.#state.rootCertificate, "rootCertificate");
    if (certificate.attributes.walletId !== this.#state.walletId)
      throw new CardError("CARD_ERR_STATE", "card certificate names another wallet id than the state");
    if (!certificate.x509.verify(this.#issuer.publicKey) || !this.#issuer.x509.verify(this.#root.publicKey))
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

  /**
   * One command APDU in, one response APDU out (≥ 2 bytes, ending in SW1 SW2). Never throws, except
   * the TearError and SilentError faults.
   */
  process(apdu: Uint8Array): Uint8Array {
    try {
      if (this.#silent) throw new SilentError();
      return this.#process(apdu);
    } catch (e) {
      if (e instanceof TearError || e instanceof SilentError) throw e;
      this.#logger.error({ err: e, ins: apdu[1] }, "applet internal failure; answered 6F00");
      this.#chain = undefined;
      this.#response = undefined;
      return sw(SW.UNKNOWN);
    }
  }

  #process(bytes: Uint8Array): Uint8Array {
    let apdu: CommandApdu;
    try {
      apdu = decodeCommand(bytes);
    } catch {
      this.#chain = undefined;
      this.#response = undefined;
      return sw(SW.WRONG_LENGTH);
    }

    // GET RESPONSE serves what is left of the last answer; any other command forgets it.
    if (apdu.ins === INS.GET_RESPONSE && apdu.cla === 0x00) {
      if (this.#chain) {
        this.#chain = undefined;
        return sw(SW.LAST_COMMAND_EXPECTED);
      }
      return this.#getResponse(apdu);
    }
    this.#response = undefined;

    const kind = classKind(apdu.cla);
    if (kind === undefined) {
      this.#chain = undefined;
      return sw(SW.CLA_NOT_SUPPORTED);
    }
    const chained = (apdu.cla & CHAIN_BIT) !== 0;
    const cla = apdu.cla & ~CHAIN_BIT;

    // Command chaining: every part repeats CLA (without 0x10), INS, P1, P2 of the first.
    let data = apdu.data;
    const chain = this.#chain;
    if (chain) {
      if (chain.cla !== cla || chain.ins !== apdu.ins || chain.p1 !== apdu.p1 || chain.p2 !== apdu.p2) {
        this.#chain = undefined;
        return sw(SW.LAST_COMMAND_EXPECTED);
      }
      chain.length += data.length;
      if (chain.length > MAX_CHAINED_DATA) {
        this.#chain = undefined;
        return sw(SW.WRONG_LENGTH);
      }
      chain.parts.push(data.slice());
      if (chained) return sw(SW.OK);
      this.#chain = undefined;
      data = concat(...chain.parts);
    }

    const spec = COMMANDS.get(apdu.ins);
    if (!spec) return sw(SW.INS_NOT_SUPPORTED);
    if (!spec.classes.includes(kind)) return sw(SW.CLA_NOT_SUPPORTED);
    if (chained && !chain) {
      if (!spec.chainable) return sw(SW.COMMAND_CHAINING_NOT_SUPPORTED);
      if (data.length === 0) return sw(SW.WRONG_LENGTH);
      this.#chain = {
        cla,
        ins: apdu.ins,
        p1: apdu.p1,
        p2: apdu.p2,
        parts: [data.slice()],
        length: data.length,
      };
      return sw(SW.OK);
    }
    if (this.#fci === undefined && spec.ins !== INS.SELECT) return sw(SW.CONDITIONS_NOT_SATISFIED);

    const command = { cla, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, ne: apdu.ne };
    if ((cla & CLA_SM_BIT) === 0) {
      if (spec.secureOnly) return sw(SW.SECURITY_STATUS_NOT_SATISFIED);
      const answer = this.#run(spec, { ...command, data, secure: false });
      return this.#respond(answer.data, answer.sw ?? SW.OK);
    }

    // Secure messaging: 84 INS P1 P2 Lc GCM(kCmd, …) || tag 00
    const session = this.#session;
    if (!session) return sw(SW.SECURITY_STATUS_NOT_SATISFIED);
    let plain: Uint8Array;
    try {
      plain = session.channel.openCommand(command, data);
    } catch {
      this.#dropSession();
      return sw(SW.SM_DATA_INCORRECT);
    }
    const answer = this.#run(spec, { ...command, data: plain, secure: true });
    // The handler may have ended the session (it never does today); the answer still uses this channel.
    const sealed = session.channel.open
      ? session.channel.sealResponse(apdu.ins, answer.data, answer.sw ?? SW.OK)
      : undefined;
    if (!sealed) return sw(answer.sw ?? SW.OK);
    return this.#respond(sealed, SW.OK);
  }

  #run(spec: CommandSpec, command: AppletCommand): AppletAnswer {
    try {
      return spec.handler(this.#context(), command);
    } catch (e) {
      if (e instanceof SwError) {
        this.#logger.debug({ command: spec.name, sw: e.sw.toString(16) }, e.message);
        return { data: new Uint8Array(0), sw: e.sw };
      }
      if (e instanceof TearError || e instanceof SilentError) throw e;
      this.#logger.error({ err: e, command: spec.name }, "handler failed; answered 6F00");
      return { data: new Uint8Array(0), sw: SW.UNKNOWN };
    }
  }

  /** Data and status word, the data split over GET RESPONSE when longer than 255 bytes. */
  #respond(data: Uint8Array, word: number): Uint8Array {
    if (data.length <= MAX_RESPONSE_CHUNK) return concat(data, sw(word));
    // Only a successful answer is ever long; its final status word is then 9000.
    this.#response = data.slice(MAX_RESPONSE_CHUNK);
    return concat(data.subarray(0, MAX_RESPONSE_CHUNK), this.#moreData());
  }

  #moreData(): Uint8Array {
    const left = this.#response?.length ?? 0;
    return Uint8Array.of(0x61, Math.min(left, MAX_RESPONSE_CHUNK));
  }

  /** 00 C0 00 00 Le: the next up to min(Le, 255) bytes; 61xx while more is left. */
  #getResponse(apdu: CommandApdu): Uint8Array {
    const pending = this.#response;
    if (!pending) return sw(SW.CONDITIONS_NOT_SATISFIED);
    if (apdu.p1 !== 0 || apdu.p2 !== 0) {
      this.#response = undefined;
      return sw(SW.INCORRECT_P1P2);
    }
    const n = Math.min(apdu.ne ?? MAX_RESPONSE_CHUNK, MAX_RESPONSE_CHUNK, pending.length);
    const chunk = pending.subarray(0, n);
    if (n === pending.length) {
      this.#response = undefined;
      return concat(chunk, sw(SW.OK));
    }
    this.#response = pending.slice(n);
    return concat(chunk, this.#moreData());
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
      get faults() {
        return applet.faults;
      },
      logger: this.#logger,
      trustStore: () => this.#trustStore(),
      parseCertificate: (der) => this.#parseCertificate(der),
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
      goSilent: () => {
        this.#silent = true;
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

  #trustStore(): TrustStore {
    const cas = this.#state.cachedCas;
    // Every commit makes a new state (and a new array): compare what is cached, not the array.
    const same = this.#trustFor?.length === cas.length && cas.every((c, i) => c === this.#trustFor![i]);
    if (!this.#trust || !same) {
      const intermediates: Certificate[] = [];
      for (const b64 of cas) {
        try {
          intermediates.push(parseCertificate(new Uint8Array(Buffer.from(b64, "base64"))));
        } catch (e) {
          this.#logger.warn({ err: e }, "ignoring an unparsable cached CA");
        }
      }
      this.#trust = new TrustStore([this.#root], intermediates);
      this.#trustFor = cas;
    }
    return this.#trust;
  }

  #parseCertificate(der: Uint8Array): Certificate {
    const key = hex(sha256(der));
    const cached = this.#certCache.get(key);
    if (cached) return cached;
    const certificate = parseCertificate(der);
    if (this.#certCache.size >= CERT_CACHE_SIZE) {
      const oldest = this.#certCache.keys().next().value;
      if (oldest !== undefined) this.#certCache.delete(oldest);
    }
    this.#certCache.set(key, certificate);
    return certificate;
  }

  /** The identity for the current certificate fault (fixture certificate and key) or the card's own. */
  #resolveIdentity(): CardIdentity {
    const fault = this.faults.certificate;
    if (!fault) return this.#ownIdentity;
    let identity = this.#faultIdentities.get(fault);
    if (!identity) {
      const pki = loadFixturePki();
      const name = CERTIFICATE_FAULT_FIXTURES[fault];
      const certificate = pki.cert(name);
      identity = {
        walletId: certificate.attributes.walletId ?? this.#state.walletId,
        certificate,
        crypto: createCardCrypto(this.#cryptoChoice, pki.key(name), this.#random),
      };
      this.#faultIdentities.set(fault, identity);
    }
    return identity;
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
    this.#chain = undefined;
    this.#response = undefined;
    this.#silent = false;
  }
}
