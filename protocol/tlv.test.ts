import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf } from "../test-support/errors.js";
import { concat, fromHex, hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import {
  decodeOne,
  decodeTlvs,
  encodeLength,
  encodeTag,
  findAllTags,
  findTag,
  formatTag,
  isConstructedTag,
  MAX_TLV_DEPTH,
  MAX_TLV_DEPTH_LIMIT,
  requireTag,
  type Tlv,
  tlv,
  tlvConstructed,
} from "./tlv.js";

/** Encode a decoded tree again; DER-minimal input must come back byte for byte. */
function reencode(t: Tlv): Uint8Array {
  return t.children ? tlvConstructed(t.tag, ...t.children.map(reencode)) : tlv(t.tag, t.value);
}

/** mulberry32: a small seeded PRNG so a fuzz failure reproduces from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let certDir: string;
let certDer: Uint8Array;

beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), "tapwallet-tlv-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(certDir, "key.pem"),
      "-subj",
      "/C=DE/O=tapwallet test/CN=tlv test card",
      "-days",
      "30",
      "-addext",
      "keyUsage=critical,digitalSignature",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-outform",
      "DER",
      "-out",
      join(certDir, "cert.der"),
    ],
    { stdio: "pipe" },
  );
  certDer = new Uint8Array(readFileSync(join(certDir, "cert.der")));
});

afterAll(() => {
  rmSync(certDir, { recursive: true, force: true });
});

describe("encodeLength", () => {
  it.each([
    [0, "00"],
    [1, "01"],
    [0x7f, "7f"],
    [0x80, "8180"],
    [0xff, "81ff"],
    [0x100, "820100"],
    [255, "81ff"],
    [256, "820100"],
    [65535, "82ffff"],
    [65536, "83010000"],
    [0xffffff, "83ffffff"],
  ])("writes %i in the minimal form %s", (length, wire) => {
    expect(hex(encodeLength(length))).toBe(wire);
  });

  it.each([-1, 1.5, 0x1000000, Number.NaN])("refuses %s with PROTO_ERR_TLV_LENGTH", (length) => {
    expect(codeOf(() => encodeLength(length))).toBe("PROTO_ERR_TLV_LENGTH");
  });
});

describe("encodeTag", () => {
  it.each([
    [0x84, "84"],
    [0x6f, "6f"],
    [0x00, "00"],
    [0x9f02, "9f02"],
    [0x5f2a, "5f2a"],
    [0xbf0c, "bf0c"],
    [0xdf8101, "df8101"],
    [0x9f8101, "9f8101"],
  ])("writes tag %s as %s", (tag, wire) => {
    expect(hex(encodeTag(tag))).toBe(wire);
  });

  it.each([
    ["0x1F (announces more tag bytes)", 0x1f],
    ["0x9F82 (second byte announces a third)", 0x9f82],
    ["0x8402 (first byte does not announce a second)", 0x8402],
    ["0xDF0101 (middle byte does not announce the last)", 0xdf0101],
    ["0xDF8181 (last byte announces a fourth)", 0xdf8181],
    ["0x1000000 (4 bytes)", 0x1000000],
    ["-1", -1],
  ])("refuses %s with PROTO_ERR_TLV_TAG", (_name, tag) => {
    expect(codeOf(() => encodeTag(tag))).toBe("PROTO_ERR_TLV_TAG");
  });

  it("tells constructed tags by bit 0x20 of their first byte", () => {
    expect(isConstructedTag(0x6f)).toBe(true);
    expect(isConstructedTag(0xbf0c)).toBe(true);
    expect(isConstructedTag(0xff8101)).toBe(true);
    expect(isConstructedTag(0x84)).toBe(false);
    expect(isConstructedTag(0x9f02)).toBe(false);
    expect(isConstructedTag(0xdf8101)).toBe(false);
  });

  it("formats tags as even-length upper-case hex for messages", () => {
    expect(formatTag(0x84)).toBe("84");
    expect(formatTag(0x9f02)).toBe("9F02");
    expect(formatTag(0x0a)).toBe("0A");
  });
});

describe("tlv / decodeOne round trip", () => {
  const lengths = [0, 1, 0x7f, 0x80, 0xff, 0x100, 255, 256, 65535, 65536];
  const tags = [0x84, 0x9f02, 0xdf8101];
  for (const tag of tags) {
    it.each(lengths)(
      `tag ${formatTag(tag)} with a %i-byte value decodes to the same tag and value`,
      (length) => {
        const value = new Uint8Array(length).map((_, i) => (i * 7 + 3) & 0xff);
        const wire = tlv(tag, value);
        expect(hex(wire.subarray(0, encodeTag(tag).length))).toBe(hex(encodeTag(tag)));
        const decoded = decodeOne(wire);
        expect(decoded.tag).toBe(tag);
        expect(decoded.constructed).toBe(false);
        expect(decoded.children).toBeUndefined();
        expect(decoded.value.length).toBe(length);
        expect(Buffer.compare(decoded.value, value)).toBe(0);
        expect(hex(reencode(decoded))).toBe(hex(wire));
      },
    );
  }

  it("returns values as views of the input, without copying", () => {
    const wire = tlv(0x9f02, fromHex("000000000450"));
    const decoded = decodeOne(wire);
    expect(decoded.value.buffer).toBe(wire.buffer);
    expect(decoded.value.byteOffset).toBe(wire.byteOffset + 3);
  });

  it("writes an EMV amount exactly", () => {
    expect(hex(tlv(0x9f02, fromHex("000000000450")))).toBe("9f0206000000000450");
  });
});

describe("decodeTlvs on nested templates", () => {
  // FCI: 6F [ 84 AID, A5 [ 50 label, 9F38 PDOL, BF0C [ 9F4D ] ] ]
  const fci = tlvConstructed(
    0x6f,
    tlv(0x84, fromHex("f054415057414c01")),
    tlvConstructed(
      0xa5,
      tlv(0x50, new TextEncoder().encode("tapwallet")),
      tlv(0x9f38, fromHex("9f0206")),
      tlvConstructed(0xbf0c, tlv(0x9f4d, fromHex("0b0a"))),
    ),
  );

  it("decodes constructed TLVs into children, in order", () => {
    const [root] = decodeTlvs(fci);
    expect(root!.tag).toBe(0x6f);
    expect(root!.constructed).toBe(true);
    expect(root!.children!.map((c) => c.tag)).toEqual([0x84, 0xa5]);
    const a5 = root!.children![1]!;
    expect(a5.children!.map((c) => c.tag)).toEqual([0x50, 0x9f38, 0xbf0c]);
    expect(hex(a5.children![2]!.children![0]!.value)).toBe("0b0a");
  });

  it("decodes a sequence of several top-level TLVs", () => {
    const list = decodeTlvs(concat(tlv(0x9f02, fromHex("000000000450")), tlv(0x5f2a, fromHex("0978")), fci));
    expect(list.map((t) => t.tag)).toEqual([0x9f02, 0x5f2a, 0x6f]);
  });

  it("decodes an empty buffer to no TLVs and an empty constructed TLV to no children", () => {
    expect(decodeTlvs(new Uint8Array(0))).toEqual([]);
    expect(decodeOne(fromHex("7000")).children).toEqual([]);
  });

  it("finds a tag at the top level only, unless asked to search recursively", () => {
    const list = decodeTlvs(fci);
    expect(findTag(list, 0x6f)?.tag).toBe(0x6f);
    expect(findTag(list, 0x84)).toBeUndefined();
    expect(hex(findTag(list, 0x84, { recursive: true })!.value)).toBe("f054415057414c01");
    expect(hex(findTag(list, 0x9f4d, { recursive: true })!.value)).toBe("0b0a");
    expect(findTag(list, 0x9f4e, { recursive: true })).toBeUndefined();
  });

  it("finds every occurrence of a tag in document order", () => {
    const list = decodeTlvs(
      concat(tlv(0x84, fromHex("01")), tlv(0x85, fromHex("02")), tlv(0x84, fromHex("03"))),
    );
    expect(findAllTags(list, 0x84).map((t) => hex(t.value))).toEqual(["01", "03"]);
    expect(findAllTags(decodeTlvs(fci), 0x9f4d)).toEqual([]);
    expect(findAllTags(decodeTlvs(fci), 0x9f4d, { recursive: true })).toHaveLength(1);
  });

  it("refuses to build a constructed TLV with a primitive tag", () => {
    expect(codeOf(() => tlvConstructed(0x84, tlv(0x50, fromHex("01"))))).toBe("PROTO_ERR_TLV_TAG");
  });
});

describe("requireTag", () => {
  const list = decodeTlvs(concat(tlv(0x9f02, fromHex("000000000450")), tlv(0x5f2a, fromHex("0978"))));

  it("returns the value of a present tag", () => {
    expect(hex(requireTag(list, 0x9f02, { length: 6 }))).toBe("000000000450");
    expect(hex(requireTag(list, 0x5f2a, { minLength: 1, maxLength: 2 }))).toBe("0978");
  });

  it("reports a missing tag with PROTO_ERR_TLV_MISSING naming it", () => {
    expect(() => requireTag(list, 0x9f03)).toThrow(/9F03/);
    expect(codeOf(() => requireTag(list, 0x9f03))).toBe("PROTO_ERR_TLV_MISSING");
  });

  it.each([[{ length: 5 }], [{ minLength: 7 }], [{ maxLength: 5 }]])(
    "reports a value length outside %o with PROTO_ERR_TLV_VALUE",
    (bounds) => {
      expect(codeOf(() => requireTag(list, 0x9f02, bounds))).toBe("PROTO_ERR_TLV_VALUE");
    },
  );

  it("refuses a tag that appears twice, so no two readers can pick different copies", () => {
    const twice = decodeTlvs(
      concat(tlv(0x9f02, fromHex("000000000450")), tlv(0x9f02, fromHex("000000999999"))),
    );
    expect(codeOf(() => requireTag(twice, 0x9f02))).toBe("PROTO_ERR_TLV_VALUE");
  });
});

describe("decoding hostile bytes", () => {
  it.each([
    ["an empty buffer (decodeOne)", "", "PROTO_ERR_TLV_TRUNCATED"],
    ["a lone first tag byte announcing more", "9f", "PROTO_ERR_TLV_TRUNCATED"],
    ["a tag without length", "84", "PROTO_ERR_TLV_TRUNCATED"],
    ["a 3-byte tag without length", "df8101", "PROTO_ERR_TLV_TRUNCATED"],
    ["a value shorter than its length", "8402aa", "PROTO_ERR_TLV_TRUNCATED"],
    ["a long length cut short", "848201", "PROTO_ERR_TLV_TRUNCATED"],
    ["a length past the end (16 MB announced)", "8483ffffff00", "PROTO_ERR_TLV_TRUNCATED"],
    ["a child running past its parent", "70038402aabb", "PROTO_ERR_TLV_TRUNCATED"],
    ["indefinite length 80", "708000000000", "PROTO_ERR_TLV_LENGTH"],
    ["a 4-byte length (84 ...)", "848400000001aa", "PROTO_ERR_TLV_LENGTH"],
    ["a 5-byte length field (85 ...)", "84850000000001aa", "PROTO_ERR_TLV_LENGTH"],
    ["length byte FF", "84ff", "PROTO_ERR_TLV_LENGTH"],
    ["81 with a length below 0x80", "848101aa", "PROTO_ERR_TLV_LENGTH"],
    ["82 with a length below 0x100", "848200ff", "PROTO_ERR_TLV_LENGTH"],
    ["83 with a length below 0x10000", "848300ffff", "PROTO_ERR_TLV_LENGTH"],
    ["a 4-byte tag", "1f81810100", "PROTO_ERR_TLV_TAG"],
    ["a 5-byte tag", "ff8181818100", "PROTO_ERR_TLV_TAG"],
    ["trailing garbage after one TLV", "8401aa00", "PROTO_ERR_TLV_TRAILING"],
  ])("refuses %s", (_name, wire, code) => {
    expect(codeOf(() => decodeOne(fromHex(wire)))).toBe(code);
  });

  it("reads what follows a complete TLV in decodeTlvs as the next TLV", () => {
    expect(codeOf(() => decodeTlvs(fromHex("8401aa00")))).toBe("PROTO_ERR_TLV_TRUNCATED");
    expect(codeOf(() => decodeTlvs(fromHex("8401aa84")))).toBe("PROTO_ERR_TLV_TRUNCATED");
  });

  it("names the offset of the problem in the message and details", () => {
    try {
      decodeTlvs(fromHex("8401aa9f0203aabb"));
      expect.unreachable();
    } catch (e) {
      expect((e as ProtocolError).details).toMatchObject({ offset: 3 });
      expect((e as ProtocolError).message).toMatch(/9F02 at offset 3/);
    }
  });

  function nested(levels: number): Uint8Array {
    let inner = tlv(0x84, fromHex("01"));
    for (let i = 1; i < levels; i++) inner = tlvConstructed(0x70, inner);
    return inner;
  }

  it(`accepts nesting up to MAX_TLV_DEPTH (${MAX_TLV_DEPTH}) levels and refuses one more`, () => {
    expect(decodeOne(nested(MAX_TLV_DEPTH)).tag).toBe(0x70);
    expect(codeOf(() => decodeOne(nested(MAX_TLV_DEPTH + 1)))).toBe("PROTO_ERR_TLV_DEPTH");
    expect(codeOf(() => decodeTlvs(nested(MAX_TLV_DEPTH + 1)))).toBe("PROTO_ERR_TLV_DEPTH");
  });

  it("lets the caller choose maxDepth", () => {
    expect(decodeOne(nested(10), { maxDepth: 10 }).tag).toBe(0x70);
    expect(codeOf(() => decodeOne(nested(3), { maxDepth: 2 }))).toBe("PROTO_ERR_TLV_DEPTH");
  });

  it("refuses a 2,000-level nesting bomb with PROTO_ERR_TLV_DEPTH, whatever maxDepth the caller allows", () => {
    const bomb = nested(2_000);
    expect(codeOf(() => decodeOne(bomb))).toBe("PROTO_ERR_TLV_DEPTH");
    expect(codeOf(() => decodeOne(bomb, { maxDepth: MAX_TLV_DEPTH_LIMIT }))).toBe("PROTO_ERR_TLV_DEPTH");
  });

  it("treats an invalid maxDepth as a programming error", () => {
    expect(() => decodeTlvs(new Uint8Array(0), { maxDepth: 0 })).toThrow(RangeError);
    expect(() => decodeTlvs(new Uint8Array(0), { maxDepth: 1e6 })).toThrow(RangeError);
  });
});

describe("decoding a DER X.509 certificate", () => {
  it("walks an openssl P-256 certificate and finds its extensions [3]", () => {
    const list = decodeTlvs(certDer, { maxDepth: 10 });
    expect(list).toHaveLength(1);
    const cert = list[0]!;
    expect(cert.tag).toBe(0x30);
    expect(certDer[1]).toBe(0x82); // long-form length: the certificate is > 255 bytes
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
    expect(cert.children!.map((c) => c.tag)).toEqual([0x30, 0x30, 0x03]);
    const tbs = cert.children![0]!;
    // TBSCertificate ::= SEQUENCE { [0] version, serial, signature, issuer, validity, subject, spki, ..., [3] extensions }
    expect(tbs.children![0]!.tag).toBe(0xa0);
    expect(hex(tbs.children![0]!.children![0]!.value)).toBe("02"); // v3
    const extensions = findTag(tbs.children!, 0xa3);
    expect(extensions).toBeDefined();
    const oids = extensions!.children![0]!.children!.map((ext) => hex(ext.children![0]!.value));
    expect(oids).toContain("551d0f"); // keyUsage 2.5.29.15
    expect(oids).toContain("551d13"); // basicConstraints 2.5.29.19
    // keyUsage is critical: Extension ::= SEQUENCE { extnID, critical BOOLEAN, extnValue OCTET STRING }
    const keyUsage = extensions!.children![0]!.children!.find(
      (ext) => hex(ext.children![0]!.value) === "551d0f",
    )!;
    expect(keyUsage.children!.map((c) => c.tag)).toEqual([0x06, 0x01, 0x04]);
  });

  it("agrees with OpenSSL's parser on the serial number and public key", () => {
    const x509 = new X509Certificate(certDer);
    const tbs = decodeOne(certDer, { maxDepth: 10 }).children![0]!;
    const serial = tbs.children![1]!;
    expect(serial.tag).toBe(0x02);
    expect(hex(serial.value).replace(/^00/, "").toUpperCase()).toBe(x509.serialNumber.replace(/^00/, ""));
    const spki = tbs.children![6]!;
    expect(hex(reencode(spki))).toBe(hex(x509.publicKey.export({ type: "spki", format: "der" })));
  });

  it("re-encodes the decoded tree to the identical DER bytes", () => {
    expect(hex(reencode(decodeOne(certDer, { maxDepth: 10 })))).toBe(hex(certDer));
  });

  it("refuses the certificate cut at every position with a TLV error", () => {
    for (let cut = 0; cut < certDer.length; cut++) {
      const code = codeOf(() => decodeOne(certDer.subarray(0, cut), { maxDepth: 10 }));
      expect(code).toMatch(/^PROTO_ERR_TLV_/);
    }
  });
});

describe("decodeTlvs / decodeOne fuzzing", () => {
  const SEED = Number(process.env.TAPWALLET_FUZZ_SEED ?? 0x7a9ba11e);
  const ITERATIONS = 25_000;

  function corpus(): Uint8Array[] {
    return [
      certDer,
      tlvConstructed(
        0x6f,
        tlv(0x84, fromHex("f054415057414c01")),
        tlvConstructed(0xa5, tlv(0x50, fromHex("41"))),
      ),
      concat(
        tlv(0x9f02, fromHex("000000000450")),
        tlv(0x5f2a, fromHex("0978")),
        tlv(0xdf8101, new Uint8Array(300)),
      ),
      tlvConstructed(0x70, tlvConstructed(0x70, tlvConstructed(0x70, tlv(0x84, new Uint8Array(200))))),
      tlv(0x04, new Uint8Array(0x10000)),
    ];
  }

  function mutate(rand: () => number, seed: Uint8Array): Uint8Array {
    const out = Uint8Array.from(seed);
    const pick = (n: number) => Math.floor(rand() * n);
    const interesting = [0x00, 0x1f, 0x20, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x9f, 0xbf, 0xdf, 0xff];
    switch (pick(6)) {
      case 0: // flip one bit
        if (out.length) out[pick(out.length)]! ^= 1 << pick(8);
        return out;
      case 1: // overwrite a few bytes, often with length/tag-ish values
        for (let i = 0, n = 1 + pick(4); i < n && out.length; i++) {
          out[pick(out.length)] = rand() < 0.6 ? interesting[pick(interesting.length)]! : pick(256);
        }
        return out;
      case 2: // truncate
        return out.subarray(0, pick(out.length + 1));
      case 3: // append garbage
        return concat(
          out,
          Uint8Array.from({ length: 1 + pick(8) }, () => pick(256)),
        );
      case 4: // splice a random window of the input onto itself
        return concat(out.subarray(0, pick(out.length + 1)), out.subarray(pick(out.length + 1)));
      default: // fully random, short
        return Uint8Array.from({ length: pick(48) }, () =>
          rand() < 0.4 ? interesting[pick(interesting.length)]! : pick(256),
        );
    }
  }

  it(`throws only ProtocolError on ${ITERATIONS} random and mutated buffers, and decodes the rest losslessly (seed ${SEED})`, () => {
    const rand = prng(SEED);
    const seeds = corpus();
    const started = performance.now();
    let decoded = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(rand, seeds[Math.floor(rand() * seeds.length)]!);
      for (const decode of [() => decodeTlvs(input), () => decodeOne(input, { maxDepth: 10 })]) {
        let result: Tlv | Tlv[];
        try {
          result = decode();
        } catch (e) {
          if (!(e instanceof ProtocolError) || !e.code.startsWith("PROTO_ERR_TLV_")) {
            throw new Error(`iteration ${i} (seed ${SEED}) input ${hex(input).slice(0, 200)}: ${String(e)}`);
          }
          continue;
        }
        decoded++;
        // Whatever decodes is canonical: encoding it again gives back the input.
        const again = Array.isArray(result) ? concat(...result.map(reencode)) : reencode(result);
        if (hex(again) !== hex(input)) throw new Error(`iteration ${i} (seed ${SEED}) does not round-trip`);
      }
    }
    expect(decoded).toBeGreaterThan(100);
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
