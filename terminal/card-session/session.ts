/**
 * The card session: the middle layer of the terminal (transport → card session → use case). It
 * speaks the tapwallet protocol over any Transport and turns bytes and status words into domain
 * values and typed TerminalErrors. Use cases never see a status word or a TLV.
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
  systemRandom,
} from "../../protocol/crypto.js";
import { isTapwalletError, ProtocolError } from "../../protocol/errors.js";
import { type Certificate, type Crl, parseCertificate, type TrustStore } from "../../protocol/pki.js";
import { SW } from "../../protocol/sw.js";
import { transmit } from "../../protocol/transmit.js";
import type { Transport } from "../../protocol/transport.js";
import {
  CLA,
  INS,
  LOG_BY_SEQ,
  NONCE_LENGTH,
  RECORD_TYPE,
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
  initiateAuthCommand,
  logBySeqData,
  parseBalance,
  parseCardAuth,
  parseFci,
  parseSignedRecord,
  type SignedRecord,
  selectCommand,
  terminalAuthMessage,
  transcriptHash,
} from "../../protocol/wallet/messages.js";
import { verifyCardRecord } from "../../protocol/wallet/records.js";
import { deriveSessionKeys, SecureChannel } from "../../protocol/wallet/secure-channel.js";
import { TerminalError, type TerminalErrorCode } from "../errors.js";

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
  /** Wallet ids and card certificate serials on the acquirer's hotlist. */
  readonly isHotlisted?: (walletId: string, serialNumber: string) => boolean;
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
}

/** Inner status words of DEBIT and their domain meaning. */
const DEBIT_REFUSALS: ReadonlyMap<number, { code: TerminalErrorCode; message: string }> = new Map([
  [WALLET_SW.BLOCKED, { code: "TERM_ERR_CARD_BLOCKED", message: "the wallet is blocked" }],
  [
    WALLET_SW.CURRENCY_MISMATCH,
    { code: "TERM_ERR_CURRENCY_MISMATCH", message: "the wallet holds another currency" },
  ],
  [WALLET_SW.AMOUNT_INVALID, { code: "TERM_ERR_AMOUNT", message: "the card refused the amount" }],
  [
    WALLET_SW.OVER_SINGLE_LIMIT,
    { code: "TERM_ERR_OVER_SINGLE_LIMIT", message: "amount exceeds the wallet's single-spend limit" },
  ],
  [
    WALLET_SW.INSUFFICIENT_FUNDS,
    { code: "TERM_ERR_INSUFFICIENT_FUNDS", message: "insufficient balance on the wallet" },
  ],
  [
    WALLET_SW.POLICY_VALIDITY,
    { code: "TERM_ERR_POLICY", message: "the wallet is outside its validity window" },
  ],
  [
    WALLET_SW.POLICY_CATEGORY,
    { code: "TERM_ERR_POLICY", message: "the wallet does not allow this merchant category" },
  ],
  [WALLET_SW.POLICY_REGION, { code: "TERM_ERR_POLICY", message: "the wallet does not allow this region" }],
  [
    WALLET_SW.DUPLICATE_TERMINAL_SEQ,
    { code: "TERM_ERR_PROTOCOL", message: "the card already debited this terminal seq" },
  ],
]);

/** PROTO_ERR_CERT_* (card chain) → what the cashier is told. */
function cardCertificateError(e: unknown): TerminalError {
  const code = isTapwalletError(e) ? e.code : "";
  const map: Record<string, [TerminalErrorCode, string]> = {
    PROTO_ERR_CERT_ISSUER: [
      "TERM_ERR_UNKNOWN_ISSUER",
      "the wallet's certificate is not from an accepted issuer",
    ],
    PROTO_ERR_CERT_EXPIRED: ["TERM_ERR_CARD_EXPIRED", "the wallet's certificate has expired"],
    PROTO_ERR_CERT_NOT_YET_VALID: ["TERM_ERR_CARD_EXPIRED", "the wallet's certificate is not valid yet"],
    PROTO_ERR_CERT_REVOKED: ["TERM_ERR_CARD_REVOKED", "the wallet's certificate is revoked"],
    PROTO_ERR_CERT_SIGNATURE: [
      "TERM_ERR_BAD_SIGNATURE",
      "the wallet's certificate signature does not verify",
    ],
  };
  const [termCode, message] = map[code] ?? [
    "TERM_ERR_CARD_CERT",
    "the wallet's certificate is not acceptable",
  ];
  return new TerminalError(termCode, message, { cause: e, details: { reason: code || String(e) } });
}

/** Transport and codec failures → the typed outcome of a tap. TerminalErrors pass through. */
export function toTerminalError(e: unknown, context: string): TerminalError {
  if (e instanceof TerminalError) return e;
  if (e instanceof ProtocolError) {
    switch (e.code) {
      case "PROTO_ERR_TRANSPORT_CLOSED":
      case "PROTO_ERR_RESPONSE_TOO_SHORT":
        return new TerminalError("TERM_ERR_CARD_REMOVED", `the card left the field (${context})`, {
          cause: e,
        });
      case "PROTO_ERR_TRANSPORT_TIMEOUT":
        return new TerminalError("TERM_ERR_TIMEOUT", `the card did not answer in time (${context})`, {
          cause: e,
        });
      case "PROTO_ERR_TRANSPORT_BUSY":
        return new TerminalError("TERM_ERR_READER", `the reader is busy (${context})`, { cause: e });
      case "PROTO_ERR_SM_MAC":
        return new TerminalError(
          "TERM_ERR_PROTOCOL",
          `secure messaging failed (${context}): answer tampered or replayed`,
          {
            cause: e,
          },
        );
      default:
        return new TerminalError(
          "TERM_ERR_PROTOCOL",
          `the card's answer is malformed (${context}): ${e.message}`,
          {
            cause: e,
            details: { reason: e.code },
          },
        );
    }
  }
  return new TerminalError("TERM_ERR_READER", `${context}: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
  });
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
  /** APDUs and bytes of this session, for the bench and the logs. */
  readonly stats = { apdus: 0, bytesOut: 0, bytesIn: 0 };

  constructor(transport: Transport, options: CardSessionOptions) {
    const stats = this.stats;
    this.#transport = {
      async exchange(command) {
        stats.apdus++;
        stats.bytesOut += command.length;
        const response = await transport.exchange(command);
        stats.bytesIn += response.length;
        return response;
      },
    };
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
    if (r.sw !== SW.OK) {
      throw new TerminalError(
        "TERM_ERR_NOT_TAPWALLET",
        "not a tapwallet card (the application is not on it)",
        {
          details: { sw: r.sw.toString(16).padStart(4, "0") },
        },
      );
    }
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
  async authenticate(): Promise<AuthenticatedCard> {
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
    if (r.sw === WALLET_SW.TERMINAL_REFUSED || r.sw === WALLET_SW.TERMINAL_CLOCK) {
      throw new TerminalError("TERM_ERR_TERMINAL_REFUSED", "the wallet refused this terminal's certificate", {
        details: { sw: r.sw.toString(16) },
      });
    }
    if (r.sw === WALLET_SW.BLOCKED) throw new TerminalError("TERM_ERR_CARD_BLOCKED", "the wallet is blocked");
    if (r.sw !== SW.OK) throw this.#unexpected("INITIATE AUTHENTICATE", r.sw);

    let answer: ReturnType<typeof parseCardAuth>;
    let certificate: Certificate;
    try {
      answer = parseCardAuth(r.data);
      certificate = parseCertificate(answer.certificate);
    } catch (e) {
      throw toTerminalError(e, "card certificate");
    }
    try {
      this.#trust.store.verifyChain(certificate, [], {
        at: new Date(terminalTime * 1000),
        role: "card",
        crls: this.#trust.crls,
      });
    } catch (e) {
      throw cardCertificateError(e);
    }
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
    if (this.#trust.isHotlisted?.(walletId, certificate.serialNumber)) {
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
    if (ext.sw !== SW.OK) {
      throw new TerminalError(
        "TERM_ERR_TERMINAL_REFUSED",
        "the wallet refused the terminal's authentication",
        {
          details: { sw: ext.sw.toString(16) },
        },
      );
    }
    this.#channel = new SecureChannel(deriveSessionKeys(shared, h));
    shared.fill(0);
    this.#card = { fci, walletId, certificate, transcriptHash: h, terminalTime };
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
      throw new TerminalError("TERM_ERR_PROTOCOL", `${context}: the card dropped the secure session`, {
        details: { sw: outer.sw.toString(16) },
      });
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
    if (inner.sw !== SW.OK) {
      // The card answers a refusal only before it commits (docs/protocol.md): the caller may void.
      // 930C means it already holds a debit for this seq: never void that one.
      const refusal = DEBIT_REFUSALS.get(inner.sw);
      const cardRefused = inner.sw !== WALLET_SW.DUPLICATE_TERMINAL_SEQ;
      const sw = inner.sw.toString(16).padStart(4, "0");
      if (refusal) throw new TerminalError(refusal.code, refusal.message, { details: { sw, cardRefused } });
      throw new TerminalError("TERM_ERR_PROTOCOL", `DEBIT: unexpected status word ${sw}`, {
        details: { sw, cardRefused },
      });
    }
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
   * GET TRANSACTION LOG for one of this terminal's seqs: the verified record if the card committed
   * it, undefined if the card proves it has none (inner 6A83).
   */
  async recover(intent: {
    terminalSeq: number;
    amount: number;
    currency: number;
    terminalTime: number;
    transcriptHash: Uint8Array;
  }): Promise<SignedRecord | undefined> {
    const card = this.#requireCard();
    const inner = await this.#secure(
      "GET TRANSACTION LOG",
      INS.GET_TRANSACTION_LOG,
      LOG_BY_SEQ,
      0,
      logBySeqData(intent.terminalSeq),
    );
    if (inner.sw === SW.RECORD_NOT_FOUND) return undefined;
    if (inner.sw !== SW.OK) throw this.#unexpected("GET TRANSACTION LOG", inner.sw);
    const signed = this.#parseRecord(inner.data, "GET TRANSACTION LOG");
    this.#checkRecord(signed, card, {
      amount: intent.amount,
      currency: intent.currency,
      terminalSeq: intent.terminalSeq,
      time: intent.terminalTime,
      binding: intent.transcriptHash,
    });
    return signed;
  }

  async readBalance(): Promise<BalanceInfo> {
    this.#requireCard();
    const inner = await this.#secure("READ BALANCE", INS.READ_BALANCE, 0, 0, new Uint8Array(0));
    if (inner.sw !== SW.OK) throw this.#unexpected("READ BALANCE", inner.sw);
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

  #unexpected(context: string, sw: number): TerminalError {
    return new TerminalError(
      "TERM_ERR_PROTOCOL",
      `${context}: unexpected status word ${sw.toString(16).padStart(4, "0")}`,
      {
        details: { sw: sw.toString(16).padStart(4, "0") },
      },
    );
  }
}

export const isBlocked = (fci: Fci): boolean => fci.state === WALLET_STATE.BLOCKED;
