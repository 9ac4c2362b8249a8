/**
 * The issuer's signature on online commands: the platform signs LOAD, LOAD REVERSAL, UPDATE
 * PARAMETERS, BLOCK and UNBLOCK with the
 * issuer CA key (the key whose certificate the cards trust for issuer commands) over the card's
 * challenge, exactly as the card checks it (protocol/wallet/messages.ts):
 *
 *   data = DF40 payload | DF13 ECDSA(issuer key, "TAPWALLET/1 ISSUER COMMAND" || INS
 *          || len(wallet id) || wallet id || challenge (16) || payload)
 *
 * and keeps SHA-256 of that message: the card puts it in its record as the binding, which is how
 * the platform knows a forwarded record answers this command and no other.
 */
import type { KeyObject } from "node:crypto";
import { fromHex, hex } from "../../protocol/bytes.js";
import { ecdsaSign, sha256 } from "../../protocol/crypto.js";
import { INS } from "../../protocol/wallet/constants.js";
import {
  encodeBlockPayload,
  encodeIssuerCommand,
  encodeLoadPayload,
  encodeParametersPayload,
  encodeReversalPayload,
  issuerCommandMessage,
  type ParametersPayload,
} from "../../protocol/wallet/messages.js";

export interface SignedCommand {
  /** The command data, hex: what the terminal relays to the card. */
  readonly command: string;
  /** SHA-256 of the signed message: the binding the card's record will carry. */
  readonly binding: Uint8Array;
}

export class IssuerSigner {
  readonly #key: KeyObject;

  constructor(issuerKey: KeyObject) {
    this.#key = issuerKey;
  }

  #sign(ins: number, walletId: string, challengeHex: string, payload: Uint8Array): SignedCommand {
    const message = issuerCommandMessage(ins, walletId, fromHex(challengeHex), payload);
    const signature = ecdsaSign(this.#key, message);
    return { command: hex(encodeIssuerCommand(payload, signature)), binding: sha256(message) };
  }

  load(
    walletId: string,
    challengeHex: string,
    p: { amount: number; currency: number; loadId: string; time: number },
  ): SignedCommand {
    const payload = encodeLoadPayload({
      amount: p.amount,
      currency: p.currency,
      loadId: fromHex(p.loadId),
      time: p.time,
    });
    return this.#sign(INS.LOAD, walletId, challengeHex, payload);
  }

  reversal(walletId: string, challengeHex: string, p: { loadId: string; time: number }): SignedCommand {
    const payload = encodeReversalPayload({ loadId: fromHex(p.loadId), time: p.time });
    return this.#sign(INS.LOAD_REVERSAL, walletId, challengeHex, payload);
  }

  parameters(walletId: string, challengeHex: string, p: ParametersPayload): SignedCommand {
    return this.#sign(INS.UPDATE_PARAMETERS, walletId, challengeHex, encodeParametersPayload(p));
  }

  block(walletId: string, challengeHex: string, p: { reason: number; time: number }): SignedCommand {
    return this.#sign(INS.BLOCK, walletId, challengeHex, encodeBlockPayload(p));
  }

  unblock(walletId: string, challengeHex: string, p: { reason: number; time: number }): SignedCommand {
    return this.#sign(INS.UNBLOCK, walletId, challengeHex, encodeBlockPayload(p));
  }
}
