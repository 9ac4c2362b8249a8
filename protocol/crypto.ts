/**
 * Thin wrappers over audited libraries: no primitive is implemented here.
 *
 * - node:crypto (OpenSSL) on every hot path: signatures, ECDH, AES-GCM, hashing. With cached
 *   `KeyObject`s it is 20–34× faster than pure JS on this hardware (notes/crypto-and-storage-facts.md).
 * - @noble/curves (`nobleP256`) where portability matters more than speed: the same operations on raw
 *   bytes, for a wallet that must also run in a browser or phone runtime, and for benchmarks.
 *
 * Wire formats: public keys are 65-byte uncompressed SEC1 points (04 || X(32) || Y(32)); signatures
 * are 64-byte r(32) || s(32) with S normalised to the low half of the group order (so noble's strict
 * verifiers accept them), SHA-256 over the message.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  ECDH,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  randomBytes,
} from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { asBuffer, concat } from "./bytes.js";
import { ProtocolError } from "./errors.js";

/** Randomness is injected so that a recorded transcript replays byte-exact. */
export type RandomSource = (length: number) => Uint8Array;

/** node:crypto randomBytes (the OS CSPRNG). */
export const systemRandom: RandomSource = (length) => new Uint8Array(randomBytes(length));

/** SHA-256 over the concatenation of `parts` (node:crypto: native and streaming, no copy). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** RFC 5869 HKDF with SHA-256 (node:crypto hkdfSync). At most 255 × 32 bytes of output. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32)
    throw new RangeError(`HKDF-SHA256 output length must be 1..8160 bytes, got ${length}`);
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
}

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

// P-256 group order n, for low-S normalisation and range checks on r and s.
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_N = P256_N >> 1n;

// SubjectPublicKeyInfo prefix for an uncompressed P-256 point:
// SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID prime256v1 }, BIT STRING (0 unused bits) 04||X||Y }
const P256_SPKI_PREFIX = Uint8Array.from(
  Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"),
);

/** A fresh P-256 key pair (node:crypto: ~19× faster than noble's keygen). */
export function generateP256KeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, publicKey };
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
}

// Keys already checked to be P-256: the check costs a call into OpenSSL, the hot path pays it once.
const checkedKeys = { private: new WeakSet<KeyObject>(), public: new WeakSet<KeyObject>() };

function requireP256(key: KeyObject, kind: "private" | "public"): void {
  if (checkedKeys[kind].has(key)) return;
  if (key.type !== kind || !isP256(key))
    throw new ProtocolError("PROTO_ERR_KEY", `expected a P-256 ${kind} key`, {
      details: { type: key.type, keyType: key.asymmetricKeyType },
    });
  checkedKeys[kind].add(key);
}

const rawPublicKeys = new WeakMap<KeyObject, Uint8Array>();

/**
 * The 65-byte uncompressed SEC1 encoding of a P-256 public key (node:crypto SPKI export; the point is
 * the last 65 bytes of the fixed-layout SPKI). Memoised per KeyObject: certificates and transcripts
 * ask for the same key many times.
 */
export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const cached = rawPublicKeys.get(publicKey);
  if (cached) return cached;
  requireP256(publicKey, "public");
  const spki = publicKey.export({ format: "der", type: "spki" });
  if (spki.length !== P256_SPKI_PREFIX.length + 65)
    throw new ProtocolError("PROTO_ERR_KEY", "P-256 public key export has an unexpected layout");
  const raw = new Uint8Array(spki.subarray(P256_SPKI_PREFIX.length));
  rawPublicKeys.set(publicKey, raw);
  return raw;
}

/**
 * A P-256 public KeyObject from a 65-byte uncompressed point (node:crypto: OpenSSL decodes the point
 * and rejects one that is not on the curve). Compressed points are refused: the wire format is fixed.
 */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 65 || raw[0] !== 0x04)
    throw new ProtocolError("PROTO_ERR_KEY", "public key must be a 65-byte uncompressed P-256 point", {
      details: { length: raw.length },
    });
  let key: KeyObject;
  try {
    key = createPublicKey({ key: asBuffer(concat(P256_SPKI_PREFIX, raw)), format: "der", type: "spki" });
  } catch (cause) {
    throw new ProtocolError("PROTO_ERR_KEY", "public key is not a point on P-256", { cause });
  }
  rawPublicKeys.set(key, new Uint8Array(raw));
  checkedKeys.public.add(key);
  return key;
}

/** A P-256 public KeyObject from DER SubjectPublicKeyInfo (node:crypto); any other key → PROTO_ERR_KEY. */
export function publicKeyFromDer(spki: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: asBuffer(spki), format: "der", type: "spki" });
  } catch (cause) {
    throw new ProtocolError("PROTO_ERR_KEY", "public key is not valid DER SubjectPublicKeyInfo", { cause });
  }
  requireP256(key, "public");
  return key;
}

/**
 * ECDSA P-256 / SHA-256 signature as 64-byte r || s with low S (node:crypto, ~20× faster than noble).
 * OpenSSL produces high S about half the time; normalising keeps noble's default verifiers happy.
 */
export function ecdsaSign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  requireP256(privateKey, "private");
  const sig = nodeSign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
  return normalizeLowS(new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength));
}

/**
 * Verify an ECDSA P-256 / SHA-256 signature, 64-byte r || s (high or low S) or DER (node:crypto,
 * ~34× faster than noble). Never throws for bad input: a wrong, truncated or garbage signature, or a
 * key of the wrong type, is simply `false`.
 */
export function ecdsaVerify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (signature.length === 64)
      return nodeVerify("sha256", message, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature);
    // A DER ECDSA-Sig-Value for P-256 is 8..72 bytes and starts with SEQUENCE.
    if (signature.length < 8 || signature.length > 72 || signature[0] !== 0x30) return false;
    return nodeVerify("sha256", message, { key: publicKey, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}

function bytesToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (const byte of b) n = (n << 8n) | BigInt(byte);
  return n;
}

function bigIntTo32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function signatureFormat(message: string, details?: Record<string, unknown>): ProtocolError {
  return new ProtocolError("PROTO_ERR_SIGNATURE_FORMAT", message, details ? { details } : {});
}

function checkScalarRange(value: bigint, name: string): void {
  if (value < 1n || value >= P256_N) throw signatureFormat(`signature ${name} is outside 1..n-1`);
}

/**
 * Strict DER ECDSA-Sig-Value → 64-byte r || s.
 * Layout: 30 len | 02 lenR R (minimal, positive) | 02 lenS S (minimal, positive); nothing after.
 */
export function derToRaw(der: Uint8Array): Uint8Array {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2)
    throw signatureFormat("signature is not a DER SEQUENCE of the right length", { length: der.length });
  let offset = 2;
  const readInteger = (name: string): bigint => {
    if (offset + 2 > der.length || der[offset] !== 0x02) throw signatureFormat(`signature ${name} missing`);
    const len = der[offset + 1]!;
    const start = offset + 2;
    if (len < 1 || len > 33 || start + len > der.length)
      throw signatureFormat(`signature ${name} has a bad length`);
    const body = der.subarray(start, start + len);
    if (body[0]! & 0x80) throw signatureFormat(`signature ${name} is negative`);
    if (len > 1 && body[0] === 0 && !(body[1]! & 0x80))
      throw signatureFormat(`signature ${name} is not minimal`);
    offset = start + len;
    const value = bytesToBigInt(body);
    checkScalarRange(value, name);
    return value;
  };
  const r = readInteger("r");
  const s = readInteger("s");
  if (offset !== der.length) throw signatureFormat("bytes after the DER signature");
  return concat(bigIntTo32(r), bigIntTo32(s));
}

function derInteger(value32: Uint8Array): Uint8Array {
  let i = 0;
  while (i < 31 && value32[i] === 0) i++;
  const body = value32.subarray(i);
  const pad = body[0]! & 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  out.set(body, 2 + pad);
  return out;
}

/** 64-byte r || s → DER ECDSA-Sig-Value (see derToRaw for the layout). */
export function rawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length !== 64) throw signatureFormat("raw signature must be 64 bytes", { length: raw.length });
  const r = raw.subarray(0, 32);
  const s = raw.subarray(32);
  checkScalarRange(bytesToBigInt(r), "r");
  checkScalarRange(bytesToBigInt(s), "s");
  const body = concat(derInteger(r), derInteger(s));
  return concat(Uint8Array.of(0x30, body.length), body);
}

/** r || s with s replaced by n − s when s > n/2 (both verify; low S is the canonical one). */
export function normalizeLowS(raw: Uint8Array): Uint8Array {
  if (raw.length !== 64) throw signatureFormat("raw signature must be 64 bytes", { length: raw.length });
  // Byte comparison first: BigInt arithmetic only for the half of signatures that are high.
  if (!greaterThanHalfN(raw)) return raw;
  return concat(raw.subarray(0, 32), bigIntTo32(P256_N - bytesToBigInt(raw.subarray(32))));
}

const P256_HALF_N_BYTES = bigIntTo32(P256_HALF_N);

function greaterThanHalfN(raw: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) {
    const a = raw[32 + i]!;
    const b = P256_HALF_N_BYTES[i]!;
    if (a !== b) return a > b;
  }
  return false;
}

/** ECDH on P-256: the 32-byte x-coordinate of the shared point (node:crypto, ~30× faster than noble). */
/** An ephemeral ECDH key on raw points (one per session). */
export interface EphemeralEcdh {
  /** 65-byte uncompressed point. */
  readonly publicKey: Uint8Array;
  /** The 32-byte shared x-coordinate with a peer's 65-byte point; PROTO_ERR_KEY if it is not on P-256. */
  agree(peerPublicKey: Uint8Array): Uint8Array;
}

/**
 * Ephemeral P-256 ECDH with node:crypto's ECDH object, working on raw points. The hot path of every
 * tap: about 3× faster than KeyObjects (~80 µs against ~250 µs for key generation, the peer key's
 * import and the agreement), because no SPKI has to be built, exported or parsed. OpenSSL still
 * checks that the peer's point is on the curve. `scalar` (32 bytes) fixes the key for byte-stable
 * transcripts; by default it is generated.
 */
export function ephemeralEcdh(scalar?: Uint8Array): EphemeralEcdh {
  const e = createECDH("prime256v1");
  if (scalar) {
    try {
      e.setPrivateKey(asBuffer(scalar));
    } catch (cause) {
      throw new ProtocolError("PROTO_ERR_KEY", "ephemeral scalar is not a valid P-256 private key", {
        cause,
      });
    }
  } else e.generateKeys();
  const publicKey = new Uint8Array(e.getPublicKey());
  return {
    publicKey,
    agree(peerPublicKey: Uint8Array): Uint8Array {
      if (peerPublicKey.length !== 65 || peerPublicKey[0] !== 0x04)
        throw new ProtocolError("PROTO_ERR_KEY", "public key must be a 65-byte uncompressed P-256 point");
      try {
        return new Uint8Array(e.computeSecret(asBuffer(peerPublicKey)));
      } catch (cause) {
        throw new ProtocolError("PROTO_ERR_KEY", "public key is not a point on P-256", { cause });
      }
    },
  };
}

/** Throws PROTO_ERR_KEY unless `raw` is a 65-byte uncompressed point on P-256 (node:crypto). */
export function checkPublicPoint(raw: Uint8Array): void {
  if (raw.length !== 65 || raw[0] !== 0x04)
    throw new ProtocolError("PROTO_ERR_KEY", "public key must be a 65-byte uncompressed P-256 point");
  try {
    ECDH.convertKey(asBuffer(raw), "prime256v1", undefined, undefined, "uncompressed");
  } catch (cause) {
    throw new ProtocolError("PROTO_ERR_KEY", "public key is not a point on P-256", { cause });
  }
}

export function ecdh(privateKey: KeyObject, peerPublicKey: KeyObject): Uint8Array {
  requireP256(privateKey, "private");
  requireP256(peerPublicKey, "public");
  try {
    return new Uint8Array(diffieHellman({ privateKey, publicKey: peerPublicKey }));
  } catch (cause) {
    throw new ProtocolError("PROTO_ERR_KEY", "ECDH failed", { cause });
  }
}

const GCM_TAG = 16;

function gcmAlgorithm(key: Uint8Array, nonce: Uint8Array): "aes-128-gcm" | "aes-256-gcm" {
  // Key and nonce come from our own key schedule, never from the wire: a wrong size is a bug.
  if (nonce.length !== 12) throw new RangeError(`AES-GCM nonce must be 12 bytes, got ${nonce.length}`);
  if (key.length === 16) return "aes-128-gcm";
  if (key.length === 32) return "aes-256-gcm";
  throw new RangeError(`AES-GCM key must be 16 or 32 bytes, got ${key.length}`);
}

/** AES-GCM (node:crypto, AES-NI): returns ciphertext || tag(16). AES-128 or AES-256 by key length. */
export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const cipher = createCipheriv(gcmAlgorithm(key, nonce), key, nonce, { authTagLength: GCM_TAG });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return concat(head, tail, cipher.getAuthTag());
}

/** Inverse of aesGcmSeal. Any failure (too short, wrong tag, wrong AAD or key) → PROTO_ERR_SM_MAC. */
export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const algorithm = gcmAlgorithm(key, nonce);
  if (sealed.length < GCM_TAG)
    throw new ProtocolError("PROTO_ERR_SM_MAC", "sealed message is shorter than its tag", {
      details: { length: sealed.length },
    });
  try {
    const decipher = createDecipheriv(algorithm, key, nonce, { authTagLength: GCM_TAG });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG));
    const head = decipher.update(sealed.subarray(0, sealed.length - GCM_TAG));
    const tail = decipher.final();
    return concat(head, tail);
  } catch (cause) {
    throw new ProtocolError("PROTO_ERR_SM_MAC", "secure messaging tag does not verify", { cause });
  }
}

/** The 32-byte private scalar d (node:crypto JWK export), for noble interop and tests. */
export function privateKeyScalar(privateKey: KeyObject): Uint8Array {
  requireP256(privateKey, "private");
  const jwk = privateKey.export({ format: "jwk" });
  if (typeof jwk.d !== "string") throw new ProtocolError("PROTO_ERR_KEY", "private key has no scalar");
  const d = Buffer.from(jwk.d, "base64url");
  const out = new Uint8Array(32);
  out.set(d, 32 - d.length);
  return out;
}

/**
 * A P-256 private KeyObject from the 32-byte scalar d (node:crypto, from a SEC1 ECPrivateKey without
 * the optional public key: OpenSSL derives it).
 * Layout: 30 31 | 02 01 01 | 04 20 d(32) | A0 0A 06 08 <prime256v1>
 */
export function privateKeyFromScalar(d: Uint8Array): KeyObject {
  if (d.length !== 32) throw new ProtocolError("PROTO_ERR_KEY", "P-256 private scalar must be 32 bytes");
  const value = bytesToBigInt(d);
  if (value < 1n || value >= P256_N)
    throw new ProtocolError("PROTO_ERR_KEY", "P-256 private scalar out of range");
  const sec1 = concat(
    Uint8Array.from([0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20]),
    d,
    Uint8Array.from(Buffer.from("a00a06082a8648ce3d030107", "hex")),
  );
  try {
    const key = createPrivateKey({ key: asBuffer(sec1), format: "der", type: "sec1" });
    checkedKeys.private.add(key);
    return key;
  } catch (cause) {
    throw new ProtocolError("PROTO_ERR_KEY", "P-256 private scalar rejected", { cause });
  }
}

/**
 * Encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY"): node:crypto with OpenSSL's PBES2
 * (PBKDF2-HMAC-SHA256 + AES-256-CBC), readable by `openssl pkey -passin`.
 */
export function encryptPrivateKeyPem(privateKey: KeyObject, passphrase: string): string {
  requireP256(privateKey, "private");
  if (passphrase.length === 0) throw new RangeError("an empty passphrase would not protect the key");
  return privateKey.export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase }) as string;
}

/**
 * Decrypt an encrypted PKCS#8 PEM (node:crypto). A wrong passphrase or a damaged file →
 * PROTO_ERR_KEY_PASSPHRASE; an unencrypted PEM or a non-P-256 key → PROTO_ERR_KEY. Messages never
 * contain the passphrase.
 */
export function decryptPrivateKeyPem(pem: string, passphrase: string): KeyObject {
  // Keys at rest must be encrypted: refuse a plain PEM rather than silently ignoring the passphrase.
  if (!pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
    throw new ProtocolError(
      "PROTO_ERR_KEY",
      "expected an encrypted PKCS#8 PEM (BEGIN ENCRYPTED PRIVATE KEY)",
    );
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem", passphrase });
  } catch (cause) {
    // OpenSSL's message does not echo the passphrase, but keep only its text, not the error object
    // (whose stack may be logged wholesale).
    const reason = cause instanceof Error ? cause.message : "unknown";
    throw new ProtocolError("PROTO_ERR_KEY_PASSPHRASE", "private key cannot be decrypted", {
      details: { reason },
    });
  }
  requireP256(key, "private");
  return key;
}

/**
 * @noble/curves P-256 on raw bytes: pure JS, runs unchanged in a browser or a phone runtime (a
 * wallet), ~20–34× slower than node:crypto. Same wire formats as above.
 */
export const nobleP256 = {
  generate(): { secretKey: Uint8Array; publicKey: Uint8Array } {
    const secretKey = p256.utils.randomSecretKey();
    return { secretKey, publicKey: p256.getPublicKey(secretKey, false) };
  },
  /** 64-byte r || s, low S, SHA-256 prehash, RFC 6979 deterministic k. */
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
    return p256.sign(message, secretKey, { prehash: true, lowS: true, format: "compact" });
  },
  /** Accepts 64-byte r || s (high or low S: `lowS: false`, so OpenSSL's signatures verify) and DER. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    try {
      const format = signature.length === 64 ? "compact" : "der";
      return p256.verify(signature, message, publicKey, { prehash: true, lowS: false, format });
    } catch {
      return false;
    }
  },
  /** The 32-byte x-coordinate of the shared point. */
  ecdh(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
    return p256.getSharedSecret(secretKey, peerPublicKey, true).slice(1);
  },
};
