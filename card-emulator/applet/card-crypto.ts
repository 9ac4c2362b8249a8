/**
 * The card's own public-key operations behind one small interface with two implementations:
 * node:crypto (OpenSSL, cached KeyObjects: the default, ~20–30× faster) and @noble/curves (pure JS,
 * what a browser or phone-runtime wallet would use). `npm run bench` (scripts/bench/card.ts)
 * measures both. Certificate chains are verified by TrustStore (node:crypto) in either case.
 *
 * Ephemeral keys: the 32-byte scalar is derived from 48 bytes of the injected RandomSource (noble's
 * hash-to-field reduction, always a valid scalar), so a fixed random source gives a byte-stable
 * transcript with either implementation. With the system random source the node implementation
 * lets OpenSSL generate the key (cheaper), on raw points through node's ECDH object.
 */
import type { KeyObject } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { zeroize } from "../../protocol/bytes.js";
import {
  checkPublicPoint,
  type EphemeralEcdh,
  ecdsaSign,
  ecdsaVerify,
  ephemeralEcdh,
  nobleP256,
  privateKeyScalar,
  type RandomSource,
  rawPublicKey,
  systemRandom,
} from "../../protocol/crypto.js";
import { ProtocolError } from "../../protocol/errors.js";
import type { Certificate } from "../../protocol/pki.js";

export type CryptoChoice = "node" | "noble";
/** What the benchmarks measured as faster for the in-process tap budget (see README, bench card.*). */
export const DEFAULT_CRYPTO: CryptoChoice = "node";

/** A peer's ephemeral public key, checked to be on the curve when it was imported. */
export interface PeerKey {
  readonly raw: Uint8Array;
}

export interface EphemeralKey {
  /** 65-byte uncompressed point. */
  readonly publicKey: Uint8Array;
  /** ECDH x-coordinate (32 bytes) with the peer's key; the caller zeroises it after use. */
  agree(peer: PeerKey): Uint8Array;
  /** Forget the private part. */
  destroy(): void;
}

export interface CardCrypto {
  readonly name: CryptoChoice;
  /** ECDSA P-256 / SHA-256 with the card's key: 64-byte r‖s, low S. */
  sign(message: Uint8Array): Uint8Array;
  /** Verify a signature (64-byte r‖s) with a certificate's key; never throws. */
  verify(certificate: Certificate, message: Uint8Array, signature: Uint8Array): boolean;
  /** Import a peer ephemeral key; PROTO_ERR_KEY when it is not a P-256 point. */
  importPeerKey(raw: Uint8Array): PeerKey;
  ephemeral(): EphemeralKey;
}

function scalarFrom(random: RandomSource): Uint8Array {
  return p256.utils.randomSecretKey(random(48));
}

class NodeCardCrypto implements CardCrypto {
  readonly name = "node" as const;
  readonly #key: KeyObject;
  readonly #random: RandomSource;

  constructor(privateKey: KeyObject, random: RandomSource) {
    this.#key = privateKey;
    this.#random = random;
  }

  sign(message: Uint8Array): Uint8Array {
    return ecdsaSign(this.#key, message);
  }

  verify(certificate: Certificate, message: Uint8Array, signature: Uint8Array): boolean {
    return signature.length === 64 && ecdsaVerify(certificate.publicKey, message, signature);
  }

  importPeerKey(raw: Uint8Array): PeerKey {
    checkPublicPoint(raw);
    return { raw: raw.slice() };
  }

  ephemeral(): EphemeralKey {
    // node:crypto's ECDH object on raw points: ~3× faster than KeyObjects for a session key.
    let scalar: Uint8Array | undefined;
    if (this.#random !== systemRandom) scalar = scalarFrom(this.#random);
    let key: EphemeralEcdh | undefined = ephemeralEcdh(scalar);
    if (scalar) zeroize(scalar);
    return {
      publicKey: key.publicKey,
      agree(peer: PeerKey): Uint8Array {
        if (!key) throw new ProtocolError("PROTO_ERR_KEY", "ephemeral key already destroyed");
        return key.agree(peer.raw);
      },
      destroy(): void {
        key = undefined;
      },
    };
  }
}

class NobleCardCrypto implements CardCrypto {
  readonly name = "noble" as const;
  readonly #secret: Uint8Array;
  readonly #random: RandomSource;
  readonly #rawKeys = new WeakMap<Certificate, Uint8Array>();

  constructor(privateKey: KeyObject, random: RandomSource) {
    this.#secret = privateKeyScalar(privateKey);
    this.#random = random;
  }

  sign(message: Uint8Array): Uint8Array {
    return nobleP256.sign(this.#secret, message);
  }

  verify(certificate: Certificate, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== 64) return false;
    let raw = this.#rawKeys.get(certificate);
    if (!raw) {
      raw = rawPublicKey(certificate.publicKey);
      this.#rawKeys.set(certificate, raw);
    }
    return nobleP256.verify(raw, message, signature);
  }

  importPeerKey(raw: Uint8Array): PeerKey {
    if (raw.length !== 65 || raw[0] !== 0x04 || !p256.utils.isValidPublicKey(raw, false))
      throw new ProtocolError("PROTO_ERR_KEY", "public key is not a point on P-256");
    return { raw: raw.slice() };
  }

  ephemeral(): EphemeralKey {
    let secret: Uint8Array | undefined = scalarFrom(this.#random);
    const publicKey = p256.getPublicKey(secret, false);
    return {
      publicKey,
      agree(peer: PeerKey): Uint8Array {
        if (!secret) throw new ProtocolError("PROTO_ERR_KEY", "ephemeral key already destroyed");
        return nobleP256.ecdh(secret, peer.raw);
      },
      destroy(): void {
        if (secret) zeroize(secret);
        secret = undefined;
      },
    };
  }
}

/** The card crypto for a decrypted card key. */
export function createCardCrypto(
  choice: CryptoChoice,
  privateKey: KeyObject,
  random: RandomSource = systemRandom,
): CardCrypto {
  return choice === "noble"
    ? new NobleCardCrypto(privateKey, random)
    : new NodeCardCrypto(privateKey, random);
}
