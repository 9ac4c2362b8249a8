/**
 * The card session: the middle layer of the terminal (transport stack → card session → use case).
 * It speaks the tapwallet protocol over any Transport and turns bytes and status words into domain
 * values and typed TerminalErrors (status words: status-words.ts; transport, codec and certificate
 * failures: failures.ts). Use cases never see a status word or a TLV. It counts nothing: the
 * transport stack does (terminal/composition/card-transport.ts).
 *
 * One instance per tap. Its secure channel dies with it (or on the first failure).
 */
import type { KeyObject } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { commandApdu, type ResponseApdu } from "../../protocol/apdu.js";
import { constantTimeEqual, equalBytes } from "../../protocol/bytes.js";
import {
  ecdsaSign,
  ecdsaVerify,
  ephemeralEcdh,
  type RandomSource,
  sha256,
  systemRandom,
} from "../../protocol/crypto.js";
import { type Certificate, type Crl, parseCertificate, type TrustStore } from "../../protocol/pki.js";
import { SW } from "../../protocol/sw.js";
import { transmit } from "../../protocol/transmit.js";
import type { Transport } from "../../protocol/transport.js";
import {
  CHALLENGE_LENGTH,
  CLA,
  INS,
  LOG_BY_SEQ,
  NONCE_LENGTH,
  RECORD_TYPE,
  type RecordType,
  WALLET_STATE,
  WALLET_SW,
} from "../../protocol/wallet/constants.js";
import {
  type BalanceInfo,
  caId,
  cardAuthMessage,
  encodeDebit,
  encodeInitiateAuth,
  externalAuthCommand,
  type Fci,
  getChallengeCommand,
  initiateAuthCommand,
  issuerCommandMessage,
  type LogNotFound,
  logBySeqData,
  parseBalance,
  parseCardAuth,
  parseFci,
  parseIssuerCommand,
  parseLogNotFound,
  parseSignedRecord,
  type SignedRecord,
  selectCommand,
  terminalAuthMessage,
  transcriptHash,
} from "../../protocol/wallet/messages.js";
import { verifyCardRecord } from "../../protocol/wallet/records.js";
import { deriveSessionKeys, SecureChannel } from "../../protocol/wallet/secure-channel.js";
import { TerminalError } from "../errors.js";
import { cardCertificateError, toTerminalError } from "./failures.js";
import {
  DEBIT_SW,
  EXTERNAL_AUTH_SW,
  GET_CHALLENGE_SW,
  INITIATE_AUTH_SW,
  ISSUER_COMMAND_SW,
  READ_BALANCE_SW,
  SECURE_OUTER_SW,
  SELECT_SW,
  statusWordError,
  TRANSACTION_LOG_SW,
} from "./status-words.js";

/** What the terminal is: its key and the certificate chain it presents to cards. */
export interface TerminalIdentity {
  readonly privateKey: KeyObject;
  readonly certificate: Certificate;
  /** CA certificates between the terminal certificate and the root (the acquirer CA). */
  readonly chain: readonly Certificate[];
}

/** What the terminal trusts: the root and the issuer CAs it accepts, revocations, the hotlist. */
export interface CardTrust {
  /** Roots + accepted issuer CAs as known intermediates (a card presents only its leaf). */
  readonly store: TrustStore;
  readonly crls: readonly Crl[];
  /**
   * Wallet ids and card certificate serials on the acquirer's hotlist, for a card whose chain went
   * through the issuer CA `issuer` (its certificate's SHA-256 fingerprint): issuers' serials and
   * wallet ids may collide, so an entry of another issuer does not match.
   */
  readonly isHotlisted?: (walletId: string, serialNumber: string, issuer: string) => boolean;
}

export interface CardSessionOptions {
  readonly identity: TerminalIdentity;
  readonly trust: CardTrust;
  /**
   * Nonces and the ephemeral key come from here when given (a recorded transcript then replays
   * byte for byte; hash-to-field over 48 bytes always gives a valid scalar); default: node:crypto's
   * CSPRNG and key generation.
   */
  readonly random?: RandomSource;
  /** ECDSA signer for EXTERNAL AUTHENTICATE; default node:crypto. Tests pass RFC 6979 (noble) for determinism. */
  readonly signer?: (privateKey: KeyObject, message: Uint8Array) => Uint8Array;
  /** Unix seconds. */
  readonly clock?: () => number;
}

/** The authenticated card, after mutual authentication. */
export interface AuthenticatedCard {
  readonly fci: Fci;
  readonly walletId: string;
  readonly certificate: Certificate;
  readonly transcriptHash: Uint8Array;
  /** The terminal time signed into this session (unix seconds). */
  readonly terminalTime: number;
  /** On the hotlist, authenticated all the same (authenticate's `hotlisted: "mark"`). */
  readonly hotlisted?: true;
}

export interface AuthenticateOptions {
  /**
   * A wallet on the hotlist: "refuse" it with TERM_ERR_HOTLISTED before EXTERNAL AUTHENTICATE (the
   * default), or "mark" it and go on, for an online terminal that hands the card the platform's
   * commands (BLOCK first of all) before it refuses the operation.
   */
  readonly hotlisted?: "refuse" | "mark";
}

export class CardSession {
  readonly #transport: Transport;
  readonly #identity: TerminalIdentity;
  readonly #trust: CardTrust;
  readonly #random: RandomSource;
  readonly #injectedRandom: boolean;
  readonly #sign: (privateKey: KeyObject, message: Uint8Array) => Uint8Array;
  readonly #clock: () => number;
  #fciBytes: Uint8Array | undefined;
  #fci: Fci | undefined;
  #card: AuthenticatedCard | undefined;
  #channel: SecureChannel | undefined;

  constructor(transport: Transport, options: CardSessionOptions) {
    this.#transport = transport;
    this.#identity = options.identity;
    this.#trust = options.trust;
    this.#random = options.random ?? systemRandom;
    this.#injectedRandom = options.random !== undefined;
    this.#sign = options.signer ?? ecdsaSign;
    this.#clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
  }

  get card(): AuthenticatedCard | undefined {
    return this.#card;
  }

  async #send(context: string, command: Parameters<typeof transmit>[1]): Promise<ResponseApdu> {
    try {
      return await transmit(this.#transport, command);
    } catch (e) {
      this.close();
      throw toTerminalError(e, context);
    }
  }

  /** SELECT the tapwallet application. A foreign card (6A82, or no FCI) → TERM_ERR_NOT_TAPWALLET. */
  async select(): Promise<Fci> {
    const r = await this.#send("SELECT", selectCommand());
    if (r.sw !== SW.OK) throw statusWordError(SELECT_SW, r.sw);
    try {
      this.#fci = parseFci(r.data);
    } catch (cause) {
      throw new TerminalError(
        "TERM_ERR_NOT_TAPWALLET",
        "not a tapwallet card (its answer to SELECT is not ours)",
        {
          cause,
        },
      );
    }
    this.#fciBytes = r.data.slice();
    return this.#fci;
  }

  /**
   * Mutual authentication: INITIATE AUTHENTICATE (our chain, ephemeral key, nonce, time), verify
   * the card's chain, hotlist and transcript signature, then EXTERNAL AUTHENTICATE and derive the
   * secure channel.
   */
  async authenticate(options: AuthenticateOptions = {}): Promise<AuthenticatedCard> {
    const fci = this.#fci;
    const fciBytes = this.#fciBytes;
    if (!fci || !fciBytes) throw new Error("select() before authenticate()");
    const terminalTime = this.#clock();
    const ephemeral = ephemeralEcdh(
      this.#injectedRandom ? p256.utils.randomSecretKey(this.#random(48)) : undefined,
    );
    const nonce = this.#random(NONCE_LENGTH);
    const cached = fci.cachedCaIds;
    const certificates = [
      this.#identity.certificate.der,
      ...this.#identity.chain
        .filter((ca) => !cached.some((id) => equalBytes(id, caId(ca.der))))
        .map((ca) => ca.der),
    ];
    const initData = encodeInitiateAuth({
      certificates,
      ephemeralKey: ephemeral.publicKey,
      nonce,
      time: terminalTime,
    });
    const r = await this.#send("INITIATE AUTHENTICATE", initiateAuthCommand(initData));
    if (r.sw !== SW.OK) throw statusWordError(INITIATE_AUTH_SW, r.sw);

    let answer: ReturnType<typeof parseCardAuth>;
    let certificate: Certificate;
    try {
      answer = parseCardAuth(r.data);
      certificate = parseCertificate(answer.certificate);
    } catch (e) {
      throw toTerminalError(e, "card certificate");
    }
    let path: Certificate[];
    try {
      path = this.#trust.store.verifyChain(certificate, [], {
        at: new Date(terminalTime * 1000),
        role: "card",
        crls: this.#trust.crls,
      });
    } catch (e) {
      throw cardCertificateError(e);
    }
    // The card's issuer is the issuer CA of the chain just verified (root → issuer CA → card).
    const issuer = path[1]?.fingerprint ?? "";
    const walletId = certificate.attributes.walletId!;
    if (walletId !== fci.walletId) {
      throw new TerminalError(
        "TERM_ERR_CARD_CERT",
        "the certificate names another wallet than the card announced",
        {
          details: { announced: fci.walletId, certified: walletId },
        },
      );
    }
    const hotlisted = this.#trust.isHotlisted?.(walletId, certificate.serialNumber, issuer) ?? false;
    if (hotlisted && options.hotlisted !== "mark") {
      throw new TerminalError(
        "TERM_ERR_HOTLISTED",
        "the wallet is on the hotlist (reported lost or blocked)",
        {
          details: { walletId },
        },
      );
    }
    const h = transcriptHash(fciBytes, initData, answer.signedPart);
    if (!ecdsaVerify(certificate.publicKey, cardAuthMessage(h), answer.signature)) {
      throw new TerminalError(
        "TERM_ERR_BAD_SIGNATURE",
        "the wallet's authentication signature does not verify",
      );
    }
    let shared: Uint8Array;
    try {
      shared = ephemeral.agree(answer.ephemeralKey);
    } catch (e) {
      throw toTerminalError(e, "card ephemeral key");
    }

    const ext = await this.#send(
      "EXTERNAL AUTHENTICATE",
      externalAuthCommand(this.#sign(this.#identity.privateKey, terminalAuthMessage(h))),
    );
    if (ext.sw !== SW.OK) throw statusWordError(EXTERNAL_AUTH_SW, ext.sw);
    this.#channel = new SecureChannel(deriveSessionKeys(shared, h));
    shared.fill(0);
    this.#card = {
      fci,
      walletId,
      certificate,
      transcriptHash: h,
      terminalTime,
      ...(hotlisted ? { hotlisted: true as const } : {}),
    };
    return this.#card;
  }

  /** Send a command under secure messaging; returns the inner answer. */
  async #secure(context: string, ins: number, p1: number, p2: number, plaintext: Uint8Array) {
    const channel = this.#channel;
    if (!channel?.open) throw new Error("authenticate() before secure commands");
    const header = { cla: CLA.SECURE, ins, p1, p2 };
    const sealed = channel.sealCommand(header, plaintext);
    const outer = await this.#send(context, commandApdu({ ...header, data: sealed, ne: 256 }));
    if (outer.sw !== SW.OK) {
      this.close();
      throw statusWordError({ ...SECURE_OUTER_SW, command: context }, outer.sw);
    }
    try {
      return channel.openResponse(ins, outer.data);
    } catch (e) {
      this.close();
      throw toTerminalError(e, context);
    }
  }

  /**
   * DEBIT. Resolves with the verified signed record; a refusal by the card → TerminalError with its
   * domain code (the card did not commit). Anything else after the command went out (card gone,
   * timeout, a record that does not verify) means the card may have committed: the caller keeps
   * its intent pending for recovery.
   */
  async debit(request: { amount: number; currency: number; terminalSeq: number }): Promise<SignedRecord> {
    const card = this.#requireCard();
    const inner = await this.#secure("DEBIT", INS.DEBIT, 0, 0, encodeDebit(request));
    // A refusal (CardRefusal) comes before any commit: the caller may void. See DEBIT_SW.
    if (inner.sw !== SW.OK) throw statusWordError(DEBIT_SW, inner.sw);
    const signed = this.#parseRecord(inner.data, "DEBIT");
    this.#checkRecord(signed, card, {
      amount: request.amount,
      currency: request.currency,
      terminalSeq: request.terminalSeq,
      time: card.terminalTime,
      binding: card.transcriptHash,
    });
    return signed;
  }

  /**
   * GET TRANSACTION LOG for one of this terminal's seqs: the verified record if the card's log
   * holds it; otherwise (inner 6A83) what the card says of its log's coverage (DF24, absent from
   * cards that predate it). Whether "not in the log" proves "never committed" is the caller's
   * judgement (terminal/domain/torn.ts), not this layer's.
   */
  async recover(intent: {
    terminalSeq: number;
    amount: number;
    currency: number;
    terminalTime: number;
    transcriptHash: Uint8Array;
  }): Promise<{ found: SignedRecord } | { notInLog: LogNotFound }> {
    const card = this.#requireCard();
    const inner = await this.#secure(
      "GET TRANSACTION LOG",
      INS.GET_TRANSACTION_LOG,
      LOG_BY_SEQ,
      0,
      logBySeqData(intent.terminalSeq),
    );
    if (inner.sw === SW.RECORD_NOT_FOUND) {
      try {
        return { notInLog: parseLogNotFound(inner.data) };
      } catch (e) {
        throw toTerminalError(e, "GET TRANSACTION LOG");
      }
    }
    if (inner.sw !== SW.OK) throw statusWordError(TRANSACTION_LOG_SW, inner.sw);
    const signed = this.#parseRecord(inner.data, "GET TRANSACTION LOG");
    this.#checkRecord(signed, card, {
      amount: intent.amount,
      currency: intent.currency,
      terminalSeq: intent.terminalSeq,
      time: intent.terminalTime,
      binding: intent.transcriptHash,
    });
    return { found: signed };
  }

  /** GET CHALLENGE: the 16 bytes the next issuer command must be signed over (the card uses them once). */
  async getChallenge(): Promise<Uint8Array> {
    this.#requireCard();
    const answer = await this.#send("GET CHALLENGE", getChallengeCommand());
    if (answer.sw !== SW.OK) throw statusWordError(GET_CHALLENGE_SW, answer.sw);
    if (answer.data.length !== CHALLENGE_LENGTH)
      throw new TerminalError("TERM_ERR_PROTOCOL", "GET CHALLENGE: the challenge is not 16 bytes");
    return answer.data;
  }

  /**
   * Relay an issuer-signed command (LOAD, LOAD REVERSAL, …: `data` is the platform's DF40 | DF13)
   * under secure messaging. Resolves with the card's record once it verifies and matches `expected`
   * and binds to this very command over `challenge`; `{ notFound }` when LOAD REVERSAL finds no such
   * load on the card (930E: the load never happened). A refusal is a CardRefusal: nothing changed on
   * the card. Anything else once the command went out (card gone, a record that does not verify)
   * means the card may have committed: the caller keeps the operation in doubt.
   */
  async issuerCommand(
    ins: number,
    data: Uint8Array,
    challenge: Uint8Array,
    expected: { type: RecordType; amount: number; currency: number; time: number },
  ): Promise<{ record: SignedRecord } | { notFound: true }> {
    const card = this.#requireCard();
    const context =
      ins === INS.LOAD_REVERSAL ? "LOAD REVERSAL" : ins === INS.LOAD ? "LOAD" : "issuer command";
    const { payload } = parseIssuerCommand(data);
    const inner = await this.#secure(context, ins, 0, 0, data);
    if (ins === INS.LOAD_REVERSAL && inner.sw === WALLET_SW.LOAD_NOT_FOUND) return { notFound: true };
    if (inner.sw !== SW.OK) throw statusWordError({ ...ISSUER_COMMAND_SW, command: context }, inner.sw);
    const signed = this.#parseRecord(inner.data, context);
    if (!verifyCardRecord(card.certificate.publicKey, signed.bytes, signed.signature))
      throw new TerminalError(
        "TERM_ERR_BAD_SIGNATURE",
        `the wallet's signature on the ${context} record does not verify`,
      );
    const binding = sha256(issuerCommandMessage(ins, card.walletId, challenge, payload));
    const r = signed.record;
    const mismatches: string[] = [];
    if (r.type !== expected.type) mismatches.push("type");
    if (r.walletId !== card.walletId) mismatches.push("walletId");
    if (r.terminalId !== this.#identity.certificate.attributes.terminalId) mismatches.push("terminalId");
    if (r.amount !== expected.amount) mismatches.push("amount");
    if (r.currency !== expected.currency) mismatches.push("currency");
    if (r.time !== expected.time) mismatches.push("time");
    if (!constantTimeEqual(r.binding, binding)) mismatches.push("binding");
    if (mismatches.length > 0)
      throw new TerminalError(
        "TERM_ERR_RECORD_MISMATCH",
        `the ${context} record does not match the command (${mismatches.join(", ")})`,
        { details: { fields: mismatches } },
      );
    return { record: signed };
  }

  async readBalance(): Promise<BalanceInfo> {
    this.#requireCard();
    const inner = await this.#secure("READ BALANCE", INS.READ_BALANCE, 0, 0, new Uint8Array(0));
    if (inner.sw !== SW.OK) throw statusWordError(READ_BALANCE_SW, inner.sw);
    try {
      return parseBalance(inner.data);
    } catch (e) {
      throw toTerminalError(e, "READ BALANCE");
    }
  }

  /** Forget the session keys. */
  close(): void {
    this.#channel?.close();
  }

  #requireCard(): AuthenticatedCard {
    if (!this.#card || !this.#channel?.open) {
      throw new TerminalError("TERM_ERR_PROTOCOL", "no authenticated session with the card");
    }
    return this.#card;
  }

  #parseRecord(data: Uint8Array, context: string): SignedRecord {
    try {
      return parseSignedRecord(data);
    } catch (e) {
      throw toTerminalError(e, context);
    }
  }

  /** A record is stored only when every field is what this terminal asked for, and the card signed it. */
  #checkRecord(
    signed: SignedRecord,
    card: AuthenticatedCard,
    expected: { amount: number; currency: number; terminalSeq: number; time: number; binding: Uint8Array },
  ): void {
    if (!verifyCardRecord(card.certificate.publicKey, signed.bytes, signed.signature)) {
      throw new TerminalError(
        "TERM_ERR_BAD_SIGNATURE",
        "the wallet's signature on the debit record does not verify",
      );
    }
    const r = signed.record;
    const mismatches: string[] = [];
    if (r.type !== RECORD_TYPE.DEBIT) mismatches.push("type");
    if (r.walletId !== card.walletId) mismatches.push("walletId");
    if (r.terminalId !== this.#identity.certificate.attributes.terminalId) mismatches.push("terminalId");
    if (r.terminalSeq !== expected.terminalSeq) mismatches.push("terminalSeq");
    if (r.amount !== expected.amount) mismatches.push("amount");
    if (r.currency !== expected.currency) mismatches.push("currency");
    if (r.time !== expected.time) mismatches.push("time");
    if (!constantTimeEqual(r.binding, expected.binding)) mismatches.push("binding");
    if (mismatches.length > 0) {
      throw new TerminalError(
        "TERM_ERR_RECORD_MISMATCH",
        `the debit record does not match this payment (${mismatches.join(", ")})`,
        { details: { fields: mismatches } },
      );
    }
  }
}

export const isBlocked = (fci: Fci): boolean => fci.state === WALLET_STATE.BLOCKED;
