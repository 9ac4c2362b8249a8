/**
 * Playing the issuer (for tests and tools): build the issuer-signed online commands — LOAD, LOAD
 * REVERSAL, UPDATE PARAMETERS, BLOCK, UNBLOCK — for a wallet, over the challenge the card answered to
 * GET CHALLENGE, signed with the issuer CA's private key. A real issuer does this in its back office;
 * the terminal only relays the bytes.
 *
 * Each builder returns the plain command (CLA 80). Inside a terminal session the terminal sends the
 * same data sealed with CLA 84 (SecureChannel.sealCommand).
 */
import type { KeyObject } from "node:crypto";
import { type CommandApdu, commandApdu } from "../protocol/apdu.js";
import { ecdsaSign } from "../protocol/crypto.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { CLA, INS } from "../protocol/wallet/constants.js";
import {
  type BlockPayload,
  encodeBlockPayload,
  encodeIssuerCommand,
  encodeLoadPayload,
  encodeParametersPayload,
  encodeReversalPayload,
  issuerCommandMessage,
  type LoadPayload,
  type ParametersPayload,
  type ReversalPayload,
} from "../protocol/wallet/messages.js";

export interface IssuerTarget {
  readonly walletId: string;
  /** The 16 bytes the card answered to GET CHALLENGE. */
  readonly challenge: Uint8Array;
  /** The issuer CA's private key (the CA that issued the card's certificate). */
  readonly issuerKey: KeyObject;
}

/** DF40 payload | DF13 signature over "TAPWALLET/1 ISSUER COMMAND" || INS || len(id) || id || challenge || payload. */
export function signIssuerCommand(ins: number, target: IssuerTarget, payload: Uint8Array): Uint8Array {
  const message = issuerCommandMessage(ins, target.walletId, target.challenge, payload);
  return encodeIssuerCommand(payload, ecdsaSign(target.issuerKey, message));
}

function command(ins: number, data: Uint8Array): CommandApdu {
  return commandApdu({ cla: CLA.PROPRIETARY, ins, data, ne: 256 });
}

export function issuerLoad(target: IssuerTarget, load: LoadPayload): CommandApdu {
  return command(INS.LOAD, signIssuerCommand(INS.LOAD, target, encodeLoadPayload(load)));
}

export function issuerLoadReversal(target: IssuerTarget, reversal: ReversalPayload): CommandApdu {
  return command(
    INS.LOAD_REVERSAL,
    signIssuerCommand(INS.LOAD_REVERSAL, target, encodeReversalPayload(reversal)),
  );
}

export function issuerUpdateParameters(target: IssuerTarget, parameters: ParametersPayload): CommandApdu {
  return command(
    INS.UPDATE_PARAMETERS,
    signIssuerCommand(INS.UPDATE_PARAMETERS, target, encodeParametersPayload(parameters)),
  );
}

export function issuerBlock(target: IssuerTarget, block: BlockPayload): CommandApdu {
  return command(INS.BLOCK, signIssuerCommand(INS.BLOCK, target, encodeBlockPayload(block)));
}

export function issuerUnblock(target: IssuerTarget, unblock: BlockPayload): CommandApdu {
  return command(INS.UNBLOCK, signIssuerCommand(INS.UNBLOCK, target, encodeBlockPayload(unblock)));
}

/** The test PKI's issuer CA key (fixtures/pki/issuer-ca): public, for tests and demos only. */
export function fixtureIssuerKey(): KeyObject {
  return loadFixturePki().key("issuer-ca");
}
