/**
 * Secure messaging for every command after mutual authentication: AES-256-GCM with one key per
 * direction and an implicit message counter, so a flipped byte, a replayed APDU or a reordered
 * one fails authentication and kills the session.
 *
 * Command (terminal → card), counter c starting at 0:
 *   header CLA|04, INS, P1, P2 in clear; data = GCM(kCmd, nonce = 01 || 00×7 || c (4), aad = CLA INS P1 P2 || c (4))
 *   over the plaintext command data: ciphertext || tag (16). Le = 00.
 * Response (card → terminal), same c:
 *   data = GCM(kRsp, nonce = 02 || 00×7 || c (4), aad = c (4) || INS) over plaintext response data || SW1 SW2;
 *   outer status word 9000. The inner status word is the real answer.
 * A card that cannot authenticate a command answers plain 6988 and forgets the session.
 */
import { concat, u8, u32be, zeroize } from "../bytes.js";
import { aesGcmOpen, aesGcmSeal, hkdfSha256 } from "../crypto.js";
import { ProtocolError } from "../errors.js";
import { LABEL, MAX_SM_PLAINTEXT, SM_TAG_LENGTH } from "./constants.js";

export interface SessionKeys {
  /** terminal → card */
  readonly command: Uint8Array;
  /** card → terminal */
  readonly response: Uint8Array;
}

/** HKDF-SHA256 over the ECDH secret, salted with the transcript hash: 64 bytes, split per direction. */
export function deriveSessionKeys(sharedSecret: Uint8Array, transcriptHash: Uint8Array): SessionKeys {
  const okm = hkdfSha256(sharedSecret, transcriptHash, new TextEncoder().encode(LABEL.SESSION_KEYS), 64);
  return { command: okm.slice(0, 32), response: okm.slice(32, 64) };
}

const DIR_COMMAND = 0x01;
const DIR_RESPONSE = 0x02;

function nonce(direction: number, counter: number): Uint8Array {
  return concat(u8(direction), new Uint8Array(7), u32be(counter));
}

export interface SecureHeader {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
}

/**
 * One side of a secure channel. Both sides hold one; the counter advances once per command and
 * response pair. After `close()` (or any authentication failure) every call throws.
 */
export class SecureChannel {
  #keys: SessionKeys | undefined;
  #counter = 0;

  constructor(keys: SessionKeys) {
    this.#keys = keys;
  }

  get open(): boolean {
    return this.#keys !== undefined;
  }

  get counter(): number {
    return this.#counter;
  }

  #requireKeys(): SessionKeys {
    if (!this.#keys) throw new ProtocolError("PROTO_ERR_SM_MAC", "secure channel is closed");
    return this.#keys;
  }

  /** Terminal: encrypt the command data for header (CLA must already carry the SM bit). */
  sealCommand(header: SecureHeader, plaintext: Uint8Array): Uint8Array {
    const keys = this.#requireKeys();
    if (plaintext.length > MAX_SM_PLAINTEXT) {
      throw new ProtocolError(
        "PROTO_ERR_APDU_DATA_TOO_LONG",
        `secure command data over ${MAX_SM_PLAINTEXT} bytes`,
      );
    }
    return aesGcmSeal(
      keys.command,
      nonce(DIR_COMMAND, this.#counter),
      plaintext,
      commandAad(header, this.#counter),
    );
  }

  /** Card: authenticate and decrypt command data; any failure closes the channel. */
  openCommand(header: SecureHeader, sealed: Uint8Array): Uint8Array {
    const keys = this.#requireKeys();
    try {
      if (sealed.length < SM_TAG_LENGTH)
        throw new ProtocolError("PROTO_ERR_SM_MAC", "secure command shorter than its tag");
      return aesGcmOpen(
        keys.command,
        nonce(DIR_COMMAND, this.#counter),
        sealed,
        commandAad(header, this.#counter),
      );
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Card: encrypt response data and inner status word, then advance the counter. */
  sealResponse(ins: number, data: Uint8Array, sw: number): Uint8Array {
    const keys = this.#requireKeys();
    const sealed = aesGcmSeal(
      keys.response,
      nonce(DIR_RESPONSE, this.#counter),
      concat(data, Uint8Array.of(sw >> 8, sw & 0xff)),
      responseAad(ins, this.#counter),
    );
    this.#counter++;
    return sealed;
  }

  /** Terminal: authenticate and decrypt a response, then advance the counter. Failure closes the channel. */
  openResponse(ins: number, sealed: Uint8Array): { data: Uint8Array; sw: number } {
    const keys = this.#requireKeys();
    let plain: Uint8Array;
    try {
      plain = aesGcmOpen(
        keys.response,
        nonce(DIR_RESPONSE, this.#counter),
        sealed,
        responseAad(ins, this.#counter),
      );
      if (plain.length < 2)
        throw new ProtocolError("PROTO_ERR_SM_MAC", "secure response without status word");
    } catch (e) {
      this.close();
      throw e;
    }
    this.#counter++;
    const sw = (plain[plain.length - 2]! << 8) | plain[plain.length - 1]!;
    return { data: plain.subarray(0, plain.length - 2), sw };
  }

  /** Forget and zero the keys. */
  close(): void {
    if (this.#keys) zeroize(this.#keys.command, this.#keys.response);
    this.#keys = undefined;
  }
}

function commandAad(h: SecureHeader, counter: number): Uint8Array {
  return concat(Uint8Array.of(h.cla & 0xff, h.ins & 0xff, h.p1 & 0xff, h.p2 & 0xff), u32be(counter));
}

function responseAad(ins: number, counter: number): Uint8Array {
  return concat(u32be(counter), u8(ins));
}
