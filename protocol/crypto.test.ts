import { execFileSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { codeOf } from "../test-support/errors.js";
import { fromHex, hex, utf8 } from "./bytes.js";
import {
  aesGcmOpen,
  aesGcmSeal,
  checkPublicPoint,
  decryptPrivateKeyPem,
  derToRaw,
  ecdh,
  ecdsaSign,
  ecdsaVerify,
  encryptPrivateKeyPem,
  ephemeralEcdh,
  generateP256KeyPair,
  hkdfSha256,
  nobleP256,
  normalizeLowS,
  privateKeyFromScalar,
  privateKeyScalar,
  publicKeyFromDer,
  publicKeyFromRaw,
  rawPublicKey,
  rawToDer,
  sha256,
  systemRandom,
} from "./crypto.js";
import { ProtocolError } from "./errors.js";

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function sOf(raw: Uint8Array): bigint {
  return BigInt(`0x${hex(raw.subarray(32))}`);
}

/** The same signature with s' = n − s (valid, but high-S when s was low and vice versa). */
function flipS(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(raw);
  out.set(fromHex((N - sOf(raw)).toString(16).padStart(64, "0")), 32);
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), "tapwallet-crypto-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const message = utf8("debit 1250 TWD at T-0001 seq 42");

describe("sha256 and hkdfSha256", () => {
  it("hashes the concatenation of its parts", () => {
    expect(hex(sha256(utf8("a"), utf8("bc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("matches RFC 5869 test case 1", () => {
    const okm = hkdfSha256(
      fromHex("0b".repeat(22)),
      fromHex("000102030405060708090a0b0c"),
      fromHex("f0f1f2f3f4f5f6f7f8f9"),
      42,
    );
    expect(hex(okm)).toBe(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
  });

  it("refuses an output length HKDF cannot produce", () => {
    expect(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), 255 * 32 + 1)).toThrow(
      RangeError,
    );
  });

  it("systemRandom returns the requested number of fresh bytes", () => {
    const a = systemRandom(16);
    expect(a.length).toBe(16);
    expect(hex(a)).not.toBe(hex(systemRandom(16)));
  });
});

describe("P-256 keys", () => {
  it("round-trips a public key through its 65-byte uncompressed form", () => {
    const { publicKey } = generateP256KeyPair();
    const raw = rawPublicKey(publicKey);
    expect(raw.length).toBe(65);
    expect(raw[0]).toBe(0x04);
    const again = publicKeyFromRaw(raw);
    expect(hex(rawPublicKey(again))).toBe(hex(raw));
    expect(rawPublicKey(publicKey)).toBe(raw); // memoised: same bytes object
  });

  it("rejects a point that is not on the curve, a compressed point and a wrong length", () => {
    const raw = new Uint8Array(rawPublicKey(generateP256KeyPair().publicKey));
    raw[64]! ^= 0x01;
    expect(codeOf(() => publicKeyFromRaw(raw))).toBe("PROTO_ERR_KEY");
    expect(codeOf(() => publicKeyFromRaw(raw.subarray(0, 33)))).toBe("PROTO_ERR_KEY");
    expect(codeOf(() => publicKeyFromRaw(new Uint8Array(64)))).toBe("PROTO_ERR_KEY");
  });

  it("reads SPKI DER only for P-256", () => {
    const p256 = generateP256KeyPair().publicKey.export({ format: "der", type: "spki" });
    expect(publicKeyFromDer(new Uint8Array(p256)).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({
      format: "der",
      type: "spki",
    });
    expect(codeOf(() => publicKeyFromDer(new Uint8Array(p384)))).toBe("PROTO_ERR_KEY");
    expect(codeOf(() => publicKeyFromDer(utf8("not a key")))).toBe("PROTO_ERR_KEY");
  });

  it("round-trips the private scalar and agrees with noble on the public key", () => {
    const { privateKey, publicKey } = generateP256KeyPair();
    const d = privateKeyScalar(privateKey);
    expect(d.length).toBe(32);
    const again = privateKeyFromScalar(d);
    expect(hex(rawPublicKey(createPublicKey(again)))).toBe(hex(rawPublicKey(publicKey)));
    expect(codeOf(() => privateKeyFromScalar(new Uint8Array(32)))).toBe("PROTO_ERR_KEY");
    expect(codeOf(() => privateKeyFromScalar(fromHex(N.toString(16))))).toBe("PROTO_ERR_KEY");
  });

  it("refuses a key of the wrong kind instead of signing with it", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
    expect(codeOf(() => ecdsaSign(rsa, message))).toBe("PROTO_ERR_KEY");
    expect(codeOf(() => ecdsaSign(generateP256KeyPair().publicKey, message))).toBe("PROTO_ERR_KEY");
  });
});

describe("ECDSA P-256 interop", () => {
  const { privateKey, publicKey } = generateP256KeyPair();
  const raw = rawPublicKey(publicKey);

  it("signs 64-byte low-S signatures that node and noble both verify", () => {
    for (let i = 0; i < 20; i++) {
      const sig = ecdsaSign(privateKey, message);
      expect(sig.length).toBe(64);
      expect(sOf(sig) <= N / 2n).toBe(true);
      expect(ecdsaVerify(publicKey, message, sig)).toBe(true);
      expect(nobleP256.verify(raw, message, sig)).toBe(true);
    }
  });

  it("verifies node:crypto DER and ieee-p1363 signatures, high-S included, with both libraries", () => {
    let sawHighS = false;
    for (let i = 0; i < 16; i++) {
      const p1363 = new Uint8Array(
        nodeSign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" }),
      );
      const der = new Uint8Array(nodeSign("sha256", message, privateKey));
      if (sOf(p1363) > N / 2n) sawHighS = true;
      for (const sig of [p1363, der, flipS(p1363), rawToDer(flipS(p1363))]) {
        expect(ecdsaVerify(publicKey, message, sig)).toBe(true);
        expect(nobleP256.verify(raw, message, sig)).toBe(true);
      }
    }
    // 16 signatures all low-S happens with probability 2^-16: the high-S branch was exercised.
    expect(sawHighS).toBe(true);
  });

  it("verifies noble's signatures, and a high-S form of them, with node:crypto", () => {
    const keys = nobleP256.generate();
    const key = publicKeyFromRaw(keys.publicKey);
    const sig = nobleP256.sign(keys.secretKey, message);
    expect(sig.length).toBe(64);
    const high = flipS(sig);
    expect(sOf(high) > N / 2n).toBe(true);
    for (const s of [sig, high, rawToDer(sig)]) {
      expect(ecdsaVerify(key, message, s)).toBe(true);
      expect(nobleP256.verify(keys.publicKey, message, s)).toBe(true);
    }
  });

  it("verifies signatures made by the openssl CLI (DER)", () => {
    const keyFile = join(tmp, "key.pem");
    const msgFile = join(tmp, "msg.bin");
    const sigFile = join(tmp, "sig.der");
    writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }) as string, { mode: 0o600 });
    writeFileSync(msgFile, message);
    for (let i = 0; i < 8; i++) {
      execFileSync("openssl", ["dgst", "-sha256", "-sign", keyFile, "-out", sigFile, msgFile]);
      const der = new Uint8Array(readFileSync(sigFile));
      const asRaw = derToRaw(der);
      expect(ecdsaVerify(publicKey, message, der)).toBe(true);
      expect(nobleP256.verify(raw, message, der)).toBe(true);
      expect(ecdsaVerify(publicKey, message, asRaw)).toBe(true);
      expect(nobleP256.verify(raw, message, asRaw)).toBe(true);
      // whichever half S fell in, the other form must verify too
      expect(ecdsaVerify(publicKey, message, flipS(asRaw))).toBe(true);
      expect(nobleP256.verify(raw, message, flipS(asRaw))).toBe(true);
    }
  });

  it("answers false, never throws, for wrong, short, long and garbage signatures", () => {
    const sig = ecdsaSign(privateKey, message);
    const tampered = new Uint8Array(sig);
    tampered[10]! ^= 0x40;
    const other = generateP256KeyPair().publicKey;
    const cases: Uint8Array[] = [
      tampered,
      sig.subarray(0, 63),
      new Uint8Array([...sig, 0]),
      new Uint8Array(0),
      new Uint8Array(64),
      new Uint8Array(64).fill(0xff),
      utf8("0".repeat(70)),
      Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01),
      Uint8Array.of(0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00),
    ];
    for (const bad of cases) {
      expect(ecdsaVerify(publicKey, message, bad)).toBe(false);
      expect(nobleP256.verify(raw, message, bad)).toBe(false);
    }
    expect(ecdsaVerify(other, message, sig)).toBe(false);
    expect(ecdsaVerify(publicKey, utf8("another message"), sig)).toBe(false);
    const rsaPublic = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey;
    expect(ecdsaVerify(rsaPublic, message, sig)).toBe(false);
  });
});

describe("signature encodings", () => {
  const sig = ecdsaSign(generateP256KeyPair().privateKey, message);

  it("converts r||s to DER and back", () => {
    const der = rawToDer(sig);
    expect(der[0]).toBe(0x30);
    expect(hex(derToRaw(der))).toBe(hex(sig));
  });

  it("encodes small and high-bit integers minimally", () => {
    const raw = new Uint8Array(64);
    raw[31] = 1; // r = 1
    raw[32] = 0x80; // s = 0x80 << 248 (needs a 00 pad byte)
    expect(hex(rawToDer(raw))).toBe(`3026020101022100${"80"}${"00".repeat(31)}`);
    expect(hex(derToRaw(rawToDer(raw)))).toBe(hex(raw));
  });

  it("rejects malformed DER with PROTO_ERR_SIGNATURE_FORMAT", () => {
    const der = rawToDer(sig);
    const nonMinimal = Uint8Array.of(0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01);
    const negative = Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01);
    const zero = Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01);
    for (const bad of [
      der.subarray(0, der.length - 1),
      new Uint8Array([...der, 0]),
      nonMinimal,
      negative,
      zero,
    ])
      expect(codeOf(() => derToRaw(bad))).toBe("PROTO_ERR_SIGNATURE_FORMAT");
    expect(codeOf(() => rawToDer(sig.subarray(1)))).toBe("PROTO_ERR_SIGNATURE_FORMAT");
    expect(codeOf(() => rawToDer(new Uint8Array(64)))).toBe("PROTO_ERR_SIGNATURE_FORMAT");
  });

  it("normalises high S to n − s and leaves low S alone", () => {
    const high = flipS(sig);
    expect(hex(normalizeLowS(high))).toBe(hex(sig));
    expect(hex(normalizeLowS(sig))).toBe(hex(sig));
    expect(codeOf(() => normalizeLowS(sig.subarray(2)))).toBe("PROTO_ERR_SIGNATURE_FORMAT");
  });

  it("treats s = n/2 as low and s = n/2 + 1 as high", () => {
    const withS = (s: bigint) => {
      const raw = new Uint8Array(64);
      raw[31] = 1;
      raw.set(fromHex(s.toString(16).padStart(64, "0")), 32);
      return raw;
    };
    const half = N / 2n;
    expect(sOf(normalizeLowS(withS(half)))).toBe(half);
    expect(sOf(normalizeLowS(withS(half + 1n)))).toBe(N - half - 1n);
    expect(sOf(normalizeLowS(withS(N - 1n)))).toBe(1n);
  });
});

describe("ECDH", () => {
  it("gives both sides the same 32-byte secret, with node and with noble", () => {
    const a = generateP256KeyPair();
    const b = nobleP256.generate();
    const fromNode = ecdh(a.privateKey, publicKeyFromRaw(b.publicKey));
    const fromNoble = nobleP256.ecdh(b.secretKey, rawPublicKey(a.publicKey));
    expect(fromNode.length).toBe(32);
    expect(hex(fromNode)).toBe(hex(fromNoble));
    const c = generateP256KeyPair();
    expect(hex(ecdh(a.privateKey, c.publicKey))).toBe(hex(ecdh(c.privateKey, a.publicKey)));
  });

  it("refuses a peer key on another curve", () => {
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey;
    expect(codeOf(() => ecdh(generateP256KeyPair().privateKey, p384))).toBe("PROTO_ERR_KEY");
  });

  it("agrees on raw points (ephemeralEcdh) with KeyObjects and with noble", () => {
    const eph = ephemeralEcdh();
    const node = generateP256KeyPair();
    const noble = nobleP256.generate();
    expect(hex(eph.agree(rawPublicKey(node.publicKey)))).toBe(
      hex(ecdh(node.privateKey, publicKeyFromRaw(eph.publicKey))),
    );
    expect(hex(eph.agree(noble.publicKey))).toBe(hex(nobleP256.ecdh(noble.secretKey, eph.publicKey)));
  });

  it("derives the same ephemeral key from the same scalar (byte-stable transcripts)", () => {
    const scalar = privateKeyScalar(generateP256KeyPair().privateKey);
    expect(hex(ephemeralEcdh(scalar).publicKey)).toBe(hex(ephemeralEcdh(scalar).publicKey));
    expect(codeOf(() => ephemeralEcdh(new Uint8Array(32)))).toBe("PROTO_ERR_KEY");
  });

  it("refuses a peer point that is not on P-256, or not 65 uncompressed bytes", () => {
    const eph = ephemeralEcdh();
    const off = eph.publicKey.slice();
    off[64] = off[64]! ^ 0x01;
    expect(codeOf(() => eph.agree(off))).toBe("PROTO_ERR_KEY");
    expect(codeOf(() => checkPublicPoint(off))).toBe("PROTO_ERR_KEY");
    expect(codeOf(() => eph.agree(eph.publicKey.subarray(0, 33)))).toBe("PROTO_ERR_KEY");
    expect(() => checkPublicPoint(eph.publicKey)).not.toThrow();
  });
});

describe("AES-GCM", () => {
  it("matches the McGrew–Viega AES-128-GCM test case 2", () => {
    const sealed = aesGcmSeal(new Uint8Array(16), new Uint8Array(12), new Uint8Array(16), new Uint8Array(0));
    expect(hex(sealed)).toBe("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
  });

  it("round-trips with AES-128 and AES-256 keys", () => {
    for (const keyLength of [16, 32]) {
      const key = systemRandom(keyLength);
      const nonce = systemRandom(12);
      const sealed = aesGcmSeal(key, nonce, message, utf8("header"));
      expect(sealed.length).toBe(message.length + 16);
      expect(hex(aesGcmOpen(key, nonce, sealed, utf8("header")))).toBe(hex(message));
    }
  });

  it("fails with PROTO_ERR_SM_MAC on any tampering, wrong AAD, wrong nonce or short input", () => {
    const key = systemRandom(32);
    const nonce = systemRandom(12);
    const aad = utf8("header");
    const sealed = aesGcmSeal(key, nonce, message, aad);
    for (let i = 0; i < sealed.length; i += 7) {
      const bad = new Uint8Array(sealed);
      bad[i]! ^= 0x01;
      expect(codeOf(() => aesGcmOpen(key, nonce, bad, aad))).toBe("PROTO_ERR_SM_MAC");
    }
    expect(codeOf(() => aesGcmOpen(key, nonce, sealed, utf8("other")))).toBe("PROTO_ERR_SM_MAC");
    expect(codeOf(() => aesGcmOpen(key, systemRandom(12), sealed, aad))).toBe("PROTO_ERR_SM_MAC");
    expect(codeOf(() => aesGcmOpen(key, nonce, sealed.subarray(0, 15), aad))).toBe("PROTO_ERR_SM_MAC");
    expect(codeOf(() => aesGcmOpen(systemRandom(32), nonce, sealed, aad))).toBe("PROTO_ERR_SM_MAC");
  });

  it("treats a wrong key or nonce size as a programming error", () => {
    expect(() => aesGcmSeal(new Uint8Array(24), new Uint8Array(12), message, message)).toThrow(RangeError);
    expect(() => aesGcmSeal(new Uint8Array(16), new Uint8Array(16), message, message)).toThrow(RangeError);
  });
});

describe("encrypted private keys", () => {
  const { privateKey, publicKey } = generateP256KeyPair();
  const pem = encryptPrivateKeyPem(privateKey, "correct horse");

  it("writes an encrypted PKCS#8 PEM that decrypts to the same key", () => {
    expect(pem).toContain("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    const again = decryptPrivateKeyPem(pem, "correct horse");
    expect(hex(rawPublicKey(createPublicKey(again)))).toBe(hex(rawPublicKey(publicKey)));
  });

  it("is readable by openssl with the passphrase", () => {
    const file = join(tmp, "enc.pem");
    writeFileSync(file, pem);
    const out = execFileSync("openssl", ["pkey", "-in", file, "-passin", "pass:correct horse", "-pubout"]);
    expect(out.toString()).toBe(publicKey.export({ format: "pem", type: "spki" }));
  });

  it("reports a wrong passphrase or a damaged file as PROTO_ERR_KEY_PASSPHRASE without the passphrase", () => {
    let caught: unknown;
    try {
      decryptPrivateKeyPem(pem, "wrong horse");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
    expect((caught as ProtocolError).code).toBe("PROTO_ERR_KEY_PASSPHRASE");
    expect(JSON.stringify(caught)).not.toContain("wrong horse");
    expect(String((caught as Error).stack)).not.toContain("wrong horse");
    const lines = pem.split("\n");
    lines[3] = lines[3]!.replace(/[A-Za-z]/, (c) => (c === "A" ? "B" : "A"));
    expect(codeOf(() => decryptPrivateKeyPem(lines.join("\n"), "correct horse"))).toBe(
      "PROTO_ERR_KEY_PASSPHRASE",
    );
  });

  it("refuses an unencrypted PEM rather than ignoring the passphrase", () => {
    const plain = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    expect(codeOf(() => decryptPrivateKeyPem(plain, "anything"))).toBe("PROTO_ERR_KEY");
  });
});
