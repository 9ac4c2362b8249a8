/**
 * A scripted card for the terminal's hostile-input tests: it speaks just enough of the protocol
 * (SELECT, INITIATE / EXTERNAL AUTHENTICATE, GET RESPONSE, DEBIT, GET TRANSACTION LOG, READ BALANCE) with a
 * real card key, so a terminal gets through authentication and secure messaging, and then lies
 * where a test tells it to: malformed TLV, oversized certificates, signatures of the wrong length,
 * status words out of order, a record for another amount or seq — each properly sealed, so the
 * terminal's own checks (not the MAC) must catch it.
 */
import type { KeyObject } from "node:crypto";
import { decodeCommand, encodeResponse } from "../protocol/apdu.js";
import { concat, u16be } from "../protocol/bytes.js";
import {
  ecdh,
  ecdsaSign,
  generateP256KeyPair,
  publicKeyFromRaw,
  rawPublicKey,
  systemRandom,
} from "../protocol/crypto.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { tlv } from "../protocol/tlv.js";
import type { Transport } from "../protocol/transport.js";
import {
  CAPABILITY,
  CLA_SM_BIT,
  INS,
  PROTOCOL_VERSION,
  RECORD_TYPE,
  TAG,
  WALLET_STATE,
} from "../protocol/wallet/constants.js";
import {
  cardAuthMessage,
  encodeBalance,
  encodeCardAuth,
  encodeFci,
  encodeSignedRecord,
  parseDebit,
  parseInitiateAuth,
  transcriptHash,
} from "../protocol/wallet/messages.js";
import { encodeRecord, signCardRecord, type WalletRecord } from "../protocol/wallet/records.js";
import { deriveSessionKeys, SecureChannel } from "../protocol/wallet/secure-channel.js";

export interface HostileOptions {
  walletId?: string;
  /** Fixture card whose key and certificate the card uses (default cards/alice). */
  fixture?: string;
  fci?: (fci: Uint8Array) => Uint8Array;
  /** Replace the certificate sent in the authentication answer (e.g. 10 kB of junk). */
  certificate?: Uint8Array;
  /** Mutate the whole authentication answer (signature included). */
  authAnswer?: (data: Uint8Array) => Uint8Array;
  /** Lie in the debit record; it is then signed with the real card key. */
  debitRecord?: (r: WalletRecord) => WalletRecord;
  /** Mutate the record's signature (e.g. wrong length). */
  debitSignature?: (sig: Uint8Array) => Uint8Array;
  /** Replace the plaintext DEBIT answer entirely (sealed under SM). */
  debitAnswer?: (plain: Uint8Array) => Uint8Array;
  /** Answer this status word for this INS (plain for SELECT/auth, inner for secure commands). */
  sw?: Partial<Record<number, number>>;
}

export class HostileCard implements Transport {
  readonly #o: HostileOptions;
  readonly #key: KeyObject;
  readonly #cert: Uint8Array;
  #fciBytes: Uint8Array = new Uint8Array(0);
  #chain: Uint8Array[] = [];
  #pending: Uint8Array | undefined;
  #auth: { h: Uint8Array; shared: Uint8Array; time: number } | undefined;
  #channel: SecureChannel | undefined;
  #counter = 1;
  #balance = 100_000;
  readonly log: number[] = [];

  constructor(options: HostileOptions = {}) {
    this.#o = options;
    const pki = loadFixturePki();
    const name = options.fixture ?? "cards/alice";
    this.#key = pki.key(name);
    this.#cert = pki.der(name);
  }

  get walletId(): string {
    return this.#o.walletId ?? loadFixturePki().cert(this.#o.fixture ?? "cards/alice").attributes.walletId!;
  }

  async exchange(bytes: Uint8Array): Promise<Uint8Array> {
    const c = decodeCommand(bytes);
    this.log.push(c.ins);
    const override = this.#o.sw?.[c.ins];
    if (c.ins === INS.GET_RESPONSE) {
      const rest = this.#pending ?? new Uint8Array(0);
      return this.#long(rest);
    }
    if (c.ins === INS.SELECT) {
      if (override !== undefined) return encodeResponse(new Uint8Array(0), override);
      const fci = encodeFci({
        version: PROTOCOL_VERSION,
        walletId: this.walletId,
        capabilities: CAPABILITY.DEBIT | CAPABILITY.TRANSACTION_LOG,
        currency: 978,
        state: WALLET_STATE.ACTIVE,
        cachedCaIds: [],
      });
      this.#fciBytes = this.#o.fci ? this.#o.fci(fci) : fci;
      return encodeResponse(this.#fciBytes, 0x9000);
    }
    if (c.ins === INS.INITIATE_AUTH) {
      this.#chain.push(c.data);
      if (c.cla & 0x10) return encodeResponse(new Uint8Array(0), 0x9000);
      const initData = concat(...this.#chain);
      this.#chain = [];
      if (override !== undefined) return encodeResponse(new Uint8Array(0), override);
      const init = parseInitiateAuth(initData);
      const eph = generateP256KeyPair();
      const part = encodeCardAuth({
        certificate: this.#o.certificate ?? this.#cert,
        ephemeralKey: rawPublicKey(eph.publicKey),
        nonce: systemRandom(16),
      });
      const h = transcriptHash(this.#fciBytes, initData, part);
      const answer = concat(part, tlv(TAG.SIGNATURE, ecdsaSign(this.#key, cardAuthMessage(h))));
      this.#auth = { h, shared: ecdh(eph.privateKey, publicKeyFromRaw(init.ephemeralKey)), time: init.time };
      return this.#long(this.#o.authAnswer ? this.#o.authAnswer(answer) : answer);
    }
    if (c.ins === INS.EXTERNAL_AUTH) {
      if (override !== undefined) return encodeResponse(new Uint8Array(0), override);
      this.#channel = new SecureChannel(deriveSessionKeys(this.#auth!.shared, this.#auth!.h));
      return encodeResponse(new Uint8Array(0), 0x9000);
    }
    if (c.cla & CLA_SM_BIT && this.#channel) {
      const plain = this.#channel.openCommand({ cla: c.cla, ins: c.ins, p1: c.p1, p2: c.p2 }, c.data);
      let data: Uint8Array = new Uint8Array(0);
      let sw = override ?? 0x9000;
      if (override === undefined && c.ins === INS.DEBIT) {
        const d = parseDebit(plain);
        this.#balance -= d.amount;
        let record: WalletRecord = {
          type: RECORD_TYPE.DEBIT,
          walletId: this.walletId,
          cardCounter: this.#counter++,
          amount: d.amount,
          currency: d.currency,
          balanceAfter: this.#balance,
          terminalId: "T-0001",
          terminalSeq: d.terminalSeq,
          time: this.#auth!.time,
          binding: this.#auth!.h,
        };
        if (this.#o.debitRecord) record = this.#o.debitRecord(record);
        const bytes = encodeRecord(record);
        const sig = signCardRecord(this.#key, bytes);
        data = encodeSignedRecord(bytes, this.#o.debitSignature ? this.#o.debitSignature(sig) : sig);
        if (this.#o.debitAnswer) data = this.#o.debitAnswer(data);
      } else if (override === undefined && c.ins === INS.GET_TRANSACTION_LOG) {
        sw = 0x6a83;
      } else if (override === undefined && c.ins === INS.READ_BALANCE) {
        data = encodeBalance({
          balance: this.#balance,
          currency: 978,
          counter: this.#counter - 1,
          state: WALLET_STATE.ACTIVE,
          singleLimit: 0,
          balanceLimit: 0,
          autoLoadThreshold: 0,
          autoLoadAmount: 0,
        });
      }
      return this.#long(this.#channel.sealResponse(c.ins, data, sw));
    }
    return encodeResponse(new Uint8Array(0), 0x6d00);
  }

  #long(data: Uint8Array): Uint8Array {
    if (data.length <= 256) {
      this.#pending = undefined;
      return encodeResponse(data, 0x9000);
    }
    this.#pending = data.subarray(256);
    const rest = Math.min(this.#pending.length, 256);
    return concat(data.subarray(0, 256), u16be(0x6100 | (rest & 0xff)));
  }
}
