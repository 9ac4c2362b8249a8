/**
 * A scripted terminal for tests: plays the terminal side of the tapwallet protocol over any
 * Transport with a fixture terminal key and certificate, using the shared builders and parsers of
 * protocol/wallet and protocol/transmit (chaining, 61xx). It is deliberately small and strict — not
 * the terminal engine (terminal/), just enough to drive a card and check what it answers:
 *
 *   const t = new TerminalScript(transport);
 *   await t.authenticate();                       // SELECT → INITIATE (chained) → EXTERNAL
 *   const { sw, record } = await t.debit({ amount: 450, currency: 978, terminalSeq: 1 });
 *
 * Every check the terminal makes on the card (chain to the root, wallet id, transcript signature,
 * record signature and fields) throws a TerminalCheckError naming the check, so fault tests can
 * assert which one fired. Randomness and signatures can be made deterministic (`random`,
 * `signer: "noble"`: RFC 6979) for byte-stable transcripts.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { type CommandApdu, commandApdu, type ResponseApdu } from "../protocol/apdu.js";
import { equalBytes, zeroize } from "../protocol/bytes.js";
import {
  ecdh,
  ecdsaSign,
  ecdsaVerify,
  nobleP256,
  privateKeyFromScalar,
  privateKeyScalar,
  publicKeyFromRaw,
  type RandomSource,
  rawPublicKey,
  systemRandom,
} from "../protocol/crypto.js";
import { ProtocolError } from "../protocol/errors.js";
import { type Certificate, parseCertificate, type TrustStore } from "../protocol/pki.js";
import { FIXTURE_TIME, loadFixturePki } from "../protocol/pki-fixtures.js";
import { StatusWordError, SW } from "../protocol/sw.js";
import { transmit } from "../protocol/transmit.js";
import type { Transport } from "../protocol/transport.js";
import { CLA, INS, LOG_BY_SEQ, LOG_LAST_N, NONCE_LENGTH, RECORD_TYPE } from "../protocol/wallet/constants.js";
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
  parseSignedRecords,
  type SignedRecord,
  selectCommand,
  terminalAuthMessage,
  transcriptHash,
} from "../protocol/wallet/messages.js";
import { verifyCardRecord } from "../protocol/wallet/records.js";
import { deriveSessionKeys, SecureChannel } from "../protocol/wallet/secure-channel.js";
import { WALLET_SW_MEANINGS } from "../protocol/wallet/status-words.js";

/** A check the terminal makes on the card failed. `check` names it; `code` is the PKI code when there is one. */
export class TerminalCheckError extends Error {
  readonly check: string;
  readonly code: string | undefined;
  constructor(check: string, message: string, code?: string) {
    super(`${check}: ${message}`);
    this.name = "TerminalCheckError";
    this.check = check;
    this.code = code;
  }
}

export interface TerminalScriptOptions {
  /** Fixture terminal (fixtures/pki): default "terminals/term-0001". */
  terminal?: string;
  /** Terminal time, unix seconds; default the fixtures' time (2026-01-01T00:00:00Z). */
  time?: number;
  /** Ephemeral key and nonce source; default the system's. */
  random?: RandomSource;
  /** "noble": deterministic (RFC 6979) terminal signatures, for byte-stable transcripts. */
  signer?: "node" | "noble";
  /** Send the acquirer CA certificate: "auto" (default) omits it when the FCI says the card caches it. */
  sendCa?: "auto" | boolean;
  /** What the terminal trusts for cards; default the fixtures' store (root-ca, issuer-ca). */
  trust?: TrustStore;
}

export interface SecureAnswer {
  readonly data: Uint8Array;
  /** The inner status word (or the outer one when the card refused the secure command itself). */
  readonly sw: number;
  /** True when the card answered outside the channel (6982, 6988): the session is over. */
  readonly outer: boolean;
}

export const FIXTURE_UNIX_TIME = Math.floor(FIXTURE_TIME.getTime() / 1000);

export class TerminalScript {
  readonly transport: Transport;
  readonly time: number;
  readonly terminalId: string;
  readonly certificate: Certificate;
  readonly chain: readonly Certificate[];
  readonly #privateKey: KeyObject;
  readonly #random: RandomSource;
  readonly #signer: "node" | "noble";
  readonly #sendCa: "auto" | boolean;
  readonly #trust: TrustStore;

  fci: Fci | undefined;
  fciBytes: Uint8Array | undefined;
  cardCertificate: Certificate | undefined;
  transcript: Uint8Array | undefined;
  channel: SecureChannel | undefined;
  /** The INITIATE AUTHENTICATE data of the last authentication (for transcript checks). */
  initiateData: Uint8Array | undefined;
  #ephemeral: { privateKey: KeyObject; publicKey: Uint8Array } | undefined;
  #peer: Uint8Array | undefined;
  #keys: { command: Uint8Array; response: Uint8Array } | undefined;

  constructor(transport: Transport, options: TerminalScriptOptions = {}) {
    const pki = loadFixturePki();
    const name = options.terminal ?? "terminals/term-0001";
    this.transport = transport;
    this.time = options.time ?? FIXTURE_UNIX_TIME;
    this.certificate = pki.cert(name);
    this.chain = pki.intermediates(name);
    this.terminalId = this.certificate.attributes.terminalId ?? "";
    this.#privateKey = pki.key(name);
    this.#random = options.random ?? systemRandom;
    this.#signer = options.signer ?? "node";
    this.#sendCa = options.sendCa ?? "auto";
    this.#trust = options.trust ?? pki.trustStore;
  }

  /** Send one command through transmit (chaining out, 61xx in). */
  send(command: CommandApdu): Promise<ResponseApdu> {
    return transmit(this.transport, command);
  }

  #sign(message: Uint8Array): Uint8Array {
    return this.#signer === "noble"
      ? nobleP256.sign(privateKeyScalar(this.#privateKey), message)
      : ecdsaSign(this.#privateKey, message);
  }

  async select(): Promise<Fci> {
    this.close();
    const r = await this.send(selectCommand());
    if (r.sw !== SW.OK) throw new StatusWordError(r.sw, "SELECT", { meanings: WALLET_SW_MEANINGS });
    this.fciBytes = r.data.slice();
    this.fci = parseFci(this.fciBytes);
    return this.fci;
  }

  /** INITIATE AUTHENTICATE: chained command, verifies the card's chain, wallet id and signature. */
  async initiate(): Promise<ResponseApdu> {
    if (!this.fci || !this.fciBytes) throw new Error("SELECT first");
    const d = p256.utils.randomSecretKey(this.#random(48));
    const privateKey = privateKeyFromScalar(d);
    zeroize(d);
    this.#ephemeral = { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
    const cached = this.fci.cachedCaIds;
    const cas = this.chain.filter((ca) =>
      this.#sendCa === "auto" ? !cached.some((id) => equalBytes(id, caId(ca.der))) : this.#sendCa,
    );
    const data = encodeInitiateAuth({
      certificates: [this.certificate.der, ...cas.map((c) => c.der)],
      ephemeralKey: this.#ephemeral.publicKey,
      nonce: this.#random(NONCE_LENGTH).slice(),
      time: this.time,
    });
    this.initiateData = data;
    const r = await this.send(initiateAuthCommand(data));
    if (r.sw !== SW.OK) return r;
    let card: ReturnType<typeof parseCardAuth>;
    try {
      card = parseCardAuth(r.data);
    } catch (e) {
      throw new TerminalCheckError("card-answer", (e as Error).message);
    }
    let certificate: Certificate;
    try {
      certificate = parseCertificate(card.certificate);
      this.#trust.verifyChain(certificate, [], {
        at: new Date(this.time * 1000),
        role: "card",
        crls: loadFixturePki().crls,
      });
    } catch (e) {
      const code = e instanceof ProtocolError ? e.code : undefined;
      throw new TerminalCheckError("card-chain", (e as Error).message, code);
    }
    if (certificate.attributes.walletId !== this.fci.walletId)
      throw new TerminalCheckError("card-wallet-id", "certificate names another wallet than the FCI");
    const transcript = transcriptHash(this.fciBytes, data, card.signedPart);
    if (!ecdsaVerify(certificate.publicKey, cardAuthMessage(transcript), card.signature))
      throw new TerminalCheckError("card-signature", "card signature over the transcript does not verify");
    this.cardCertificate = certificate;
    this.transcript = transcript;
    this.#peer = card.ephemeralKey;
    return r;
  }

  /** Copies of this session's keys (test support only: the worked example prints them). */
  get sessionKeys(): { command: Uint8Array; response: Uint8Array } | undefined {
    return this.#keys && { command: this.#keys.command.slice(), response: this.#keys.response.slice() };
  }

  /**
   * A second channel with this session's keys, at counter 0 (tests that forge replayed or reordered
   * secure APDUs). Only test support keeps session keys around.
   */
  cloneChannel(): SecureChannel {
    if (!this.#keys) throw new Error("no session");
    return new SecureChannel({ command: this.#keys.command.slice(), response: this.#keys.response.slice() });
  }

  /** EXTERNAL AUTHENTICATE; on 9000 the secure channel opens. */
  async externalAuthenticate(signatureOverride?: Uint8Array): Promise<ResponseApdu> {
    if (!this.transcript || !this.#ephemeral || !this.#peer) throw new Error("INITIATE first");
    const signature = signatureOverride ?? this.#sign(terminalAuthMessage(this.transcript));
    const r = await this.send(externalAuthCommand(signature));
    if (r.sw === SW.OK) {
      const shared =
        this.#signer === "noble"
          ? nobleP256.ecdh(privateKeyScalar(this.#ephemeral.privateKey), this.#peer)
          : ecdh(this.#ephemeral.privateKey, publicKeyFromRaw(this.#peer));
      const keys = deriveSessionKeys(shared, this.transcript);
      this.#keys = { command: keys.command.slice(), response: keys.response.slice() };
      this.channel = new SecureChannel(keys);
      zeroize(shared);
    }
    return r;
  }

  /** SELECT → INITIATE → EXTERNAL; throws when any step does not answer 9000. */
  async authenticate(): Promise<void> {
    await this.select();
    const init = await this.initiate();
    if (init.sw !== SW.OK)
      throw new StatusWordError(init.sw, "INITIATE AUTHENTICATE", { meanings: WALLET_SW_MEANINGS });
    const ext = await this.externalAuthenticate();
    if (ext.sw !== SW.OK)
      throw new StatusWordError(ext.sw, "EXTERNAL AUTHENTICATE", { meanings: WALLET_SW_MEANINGS });
  }

  /** The sealed form of a secure command (for tests that tamper with it before sending). */
  seal(ins: number, p1: number, p2: number, plaintext: Uint8Array): CommandApdu {
    if (!this.channel) throw new Error("no secure channel");
    const header = { cla: CLA.SECURE, ins, p1, p2 };
    return commandApdu({ ...header, data: this.channel.sealCommand(header, plaintext), ne: 256 });
  }

  /** Open a card answer to a sealed command. */
  open(ins: number, r: ResponseApdu): SecureAnswer {
    if (!this.channel) throw new Error("no secure channel");
    if (r.sw !== SW.OK) {
      this.channel.close();
      return { data: r.data, sw: r.sw, outer: true };
    }
    const inner = this.channel.openResponse(ins, r.data);
    return { data: inner.data, sw: inner.sw, outer: false };
  }

  /** A command through the secure channel: sealed, sent, answer opened. */
  async secure(ins: number, p1: number, p2: number, plaintext: Uint8Array): Promise<SecureAnswer> {
    const command = this.seal(ins, p1, p2, plaintext);
    return this.open(ins, await this.send(command));
  }

  /** DEBIT; a 9000 answer is checked like a terminal would (signature and every field). */
  async debit(d: { amount: number; currency: number; terminalSeq: number }): Promise<{
    sw: number;
    record?: SignedRecord;
    outer: boolean;
  }> {
    const a = await this.secure(INS.DEBIT, 0, 0, encodeDebit(d));
    if (a.sw !== SW.OK || a.outer) return { sw: a.sw, outer: a.outer };
    const record = this.checkRecord(a.data, {
      type: RECORD_TYPE.DEBIT,
      amount: d.amount,
      currency: d.currency,
      terminalSeq: d.terminalSeq,
    });
    return { sw: a.sw, record, outer: false };
  }

  /** Parse and verify a signed debit record against this session. */
  checkRecord(
    data: Uint8Array,
    expect: { type: number; amount: number; currency: number; terminalSeq: number; binding?: Uint8Array },
  ): SignedRecord {
    let signed: SignedRecord;
    try {
      signed = parseSignedRecord(data);
    } catch (e) {
      throw new TerminalCheckError("record-format", (e as Error).message);
    }
    if (!this.cardCertificate) throw new Error("no authenticated card");
    if (!verifyCardRecord(this.cardCertificate.publicKey, signed.bytes, signed.signature))
      throw new TerminalCheckError("record-signature", "card signature on the record does not verify");
    const r = signed.record;
    const binding = expect.binding ?? this.transcript!;
    const mismatch =
      r.type !== expect.type
        ? "type"
        : r.walletId !== this.cardCertificate.attributes.walletId
          ? "wallet id"
          : r.amount !== expect.amount
            ? "amount"
            : r.currency !== expect.currency
              ? "currency"
              : r.terminalId !== this.terminalId
                ? "terminal id"
                : r.terminalSeq !== expect.terminalSeq
                  ? "terminal seq"
                  : r.time !== this.time
                    ? "time"
                    : !equalBytes(r.binding, binding)
                      ? "binding"
                      : undefined;
    if (mismatch) throw new TerminalCheckError("record-mismatch", `record ${mismatch} is not what was asked`);
    return signed;
  }

  /** GET TRANSACTION LOG by terminal seq: the signed record, or undefined on inner 6A83. */
  async logBySeq(seq: number): Promise<{ sw: number; record?: SignedRecord }> {
    const a = await this.secure(INS.GET_TRANSACTION_LOG, LOG_BY_SEQ, 0, logBySeqData(seq));
    if (a.sw !== SW.OK) return { sw: a.sw };
    return { sw: a.sw, record: parseSignedRecord(a.data) };
  }

  async logLastN(n: number): Promise<{ sw: number; records: SignedRecord[] }> {
    const a = await this.secure(INS.GET_TRANSACTION_LOG, LOG_LAST_N, n, new Uint8Array(0));
    if (a.sw !== SW.OK) return { sw: a.sw, records: [] };
    return { sw: a.sw, records: parseSignedRecords(a.data) };
  }

  async readBalance(): Promise<BalanceInfo> {
    const a = await this.secure(INS.READ_BALANCE, 0, 0, new Uint8Array(0));
    if (a.sw !== SW.OK) throw new StatusWordError(a.sw, "READ BALANCE", { meanings: WALLET_SW_MEANINGS });
    return parseBalance(a.data);
  }

  /** Forget the session (the card forgets it on its side at the next SELECT or failure). */
  close(): void {
    this.channel?.close();
    this.channel = undefined;
    this.transcript = undefined;
    this.cardCertificate = undefined;
    this.#peer = undefined;
    this.#ephemeral = undefined;
    this.#keys = undefined;
  }
}

export interface TapOptions extends TerminalScriptOptions {
  amount: number;
  currency: number;
  terminalSeq: number;
}

/** One whole tap: SELECT → INITIATE → EXTERNAL → DEBIT; returns the DEBIT's inner SW and record. */
export async function runTap(
  transport: Transport,
  options: TapOptions,
): Promise<{ sw: number; record?: SignedRecord; script: TerminalScript }> {
  const script = new TerminalScript(transport, options);
  await script.authenticate();
  const r = await script.debit(options);
  return { ...r, script };
}
