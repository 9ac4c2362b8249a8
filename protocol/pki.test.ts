import { createPublicKey, X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { codeOf, NO_ERROR } from "../test-support/errors.js";
import { hex } from "./bytes.js";
import { generateP256KeyPair, type KeyPair, rawPublicKey } from "./crypto.js";
import type { ProtocolError } from "./errors.js";
import {
  type Certificate,
  certificateFromPem,
  certificateToPem,
  crlFromPem,
  crlToPem,
  type IssueOptions,
  issueCertificate,
  issueCrl,
  MAX_CERT_BYTES,
  normalizeSerial,
  OID_MERCHANT_CATEGORY,
  OID_WALLET_ID,
  parseCertificate,
  parseCrl,
  randomSerial,
  TrustStore,
} from "./pki.js";
import { FIXTURE_TIME, loadFixturePki } from "./pki-fixtures.js";

const pki = loadFixturePki();
const at = FIXTURE_TIME;

/** A deterministic byte stream (xorshift32) for garbage inputs that replay identically. */
function seeded(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  };
}

/** Issue a card under the fixture issuer-ca (or another issuer), with overrides. */
async function cardUnder(
  issuer: { certificate: Uint8Array; privateKey: KeyPair["privateKey"] },
  overrides: Partial<IssueOptions> = {},
  key: KeyPair = generateP256KeyPair(),
): Promise<{ der: Uint8Array; key: KeyPair }> {
  const der = await issueCertificate({
    role: "card",
    subjectCommonName: "W-TEST-0100",
    publicKey: key.publicKey,
    issuer,
    serialNumber: "c100",
    notBefore: new Date("2025-06-01T00:00:00Z"),
    notAfter: new Date("2035-06-01T00:00:00Z"),
    attributes: { walletId: "W-TEST-0100" },
    ...overrides,
  });
  return { der, key };
}

const issuerCa = () => ({ certificate: pki.der("issuer-ca"), privateKey: pki.key("issuer-ca") });

describe("parseCertificate", () => {
  it("reads the fields of a card certificate", () => {
    const alice = pki.cert("cards/alice");
    expect(alice.commonName).toBe("W-ALICE-0001");
    expect(alice.subject).toBe("CN=W-ALICE-0001");
    expect(alice.issuer).toBe("CN=Issuer Bank CA, O=tapwallet TEST");
    expect(alice.serialNumber).toBe("c001");
    expect(alice.isCa).toBe(false);
    expect(alice.pathLength).toBeUndefined();
    expect([...(alice.keyUsage ?? [])].sort()).toEqual(["digitalSignature", "keyAgreement"]);
    expect(alice.attributes).toEqual({ walletId: "W-ALICE-0001" });
    expect(alice.unknownCriticalExtensions).toEqual([]);
    expect(alice.notBefore.toISOString()).toBe("2025-06-01T00:00:00.000Z");
    expect(alice.notAfter.toISOString()).toBe("2035-06-01T00:00:00.000Z");
    expect(alice.fingerprint).toBe(alice.x509.fingerprint256.replaceAll(":", "").toLowerCase());
    expect(hex(rawPublicKey(alice.publicKey))).toBe(
      hex(rawPublicKey(createPublicKey(pki.key("cards/alice")))),
    );
  });

  it("reads CA flags, pathLen and every terminal attribute", () => {
    expect(pki.cert("root-ca").isCa).toBe(true);
    expect(pki.cert("root-ca").pathLength).toBe(1);
    expect(pki.cert("issuer-ca").pathLength).toBe(0);
    expect([...(pki.cert("issuer-ca").keyUsage ?? [])].sort()).toEqual(["cRLSign", "keyCertSign"]);
    expect(pki.cert("terminals/term-0001").attributes).toEqual({
      terminalId: "T-0001",
      merchantId: "M-0001",
      merchantCategory: "5411",
      region: "TW",
    });
    expect(pki.cert("cards/no-key-usage").keyUsage).toBeUndefined();
  });

  it("reads GeneralizedTime (the root's 2050 notAfter) and UTCTime alike", () => {
    expect(pki.cert("root-ca").notAfter.toISOString()).toBe("2050-01-01T00:00:00.000Z");
    expect(pki.cert("root-ca").notBefore.toISOString()).toBe("2025-01-01T00:00:00.000Z");
  });

  it("keeps its own copy of the bytes", () => {
    const bytes = new Uint8Array(pki.der("cards/bob"));
    const cert = parseCertificate(bytes);
    bytes.fill(0);
    expect(cert.commonName).toBe("W-BOB-0002");
    expect(cert.der[0]).toBe(0x30);
  });

  it("round-trips through PEM", () => {
    const pem = certificateToPem(pki.der("cards/alice"));
    expect(pem.startsWith("-----BEGIN CERTIFICATE-----\n")).toBe(true);
    expect(certificateFromPem(pem).fingerprint).toBe(pki.cert("cards/alice").fingerprint);
    expect(codeOf(() => certificateFromPem("no pem here"))).toBe("PROTO_ERR_CERT_PARSE");
  });

  it("rejects a 1 MB blob by size, before parsing anything", () => {
    // Garbage that would be a parse error: getting TOO_LARGE shows the size check came first.
    const blob = seeded(7)(1024 * 1024);
    let caught: unknown;
    try {
      parseCertificate(blob);
    } catch (e) {
      caught = e;
    }
    expect((caught as ProtocolError).code).toBe("PROTO_ERR_CERT_TOO_LARGE");
    expect((caught as ProtocolError).details).toEqual({ length: 1024 * 1024, max: MAX_CERT_BYTES });
    expect(codeOf(() => parseCertificate(new Uint8Array(MAX_CERT_BYTES + 1)))).toBe(
      "PROTO_ERR_CERT_TOO_LARGE",
    );
    expect(codeOf(() => parseCertificate(new Uint8Array(MAX_CERT_BYTES)))).toBe("PROTO_ERR_CERT_PARSE");
  });

  it("rejects every truncation of a valid certificate with PROTO_ERR_CERT_PARSE", () => {
    const der = pki.der("cards/alice");
    for (let n = 0; n < der.length; n++)
      expect(
        codeOf(() => parseCertificate(der.subarray(0, n))),
        `length ${n}`,
      ).toBe("PROTO_ERR_CERT_PARSE");
    expect(codeOf(() => parseCertificate(new Uint8Array([...der, 0])))).toBe("PROTO_ERR_CERT_PARSE");
  });

  it("rejects random garbage with PROTO_ERR_CERT_PARSE, never anything else", () => {
    const random = seeded(2024);
    for (let i = 0; i < 2000; i++) {
      const length = random(2).reduce((a, b) => a * 256 + b) % (MAX_CERT_BYTES + 1);
      const garbage = random(length);
      if (i % 2 === 0 && garbage.length > 4)
        garbage.set([0x30, 0x82, (length - 4) >> 8, (length - 4) & 0xff]);
      expect(codeOf(() => parseCertificate(garbage))).toBe("PROTO_ERR_CERT_PARSE");
    }
  });

  it("never throws anything but a typed error when one byte of a certificate is changed", () => {
    const der = pki.der("terminals/term-0001");
    const allowed = new Set([
      NO_ERROR,
      "PROTO_ERR_CERT_PARSE",
      "PROTO_ERR_CERT_EXTENSION",
      "PROTO_ERR_CERT_ALGORITHM",
    ]);
    for (let i = 0; i < der.length; i++) {
      for (const flip of [0x01, 0x80]) {
        const bad = new Uint8Array(der);
        bad[i]! ^= flip;
        const code = codeOf(() => parseCertificate(bad));
        expect(allowed.has(code), `byte ${i} ^ ${flip}: ${code}`).toBe(true);
      }
    }
  });

  it("rejects a basicConstraints cA that is not DER TRUE (FF), which parsers read differently", async () => {
    const ca = await cardUnder(issuerCa(), {
      role: "issuer-ca",
      subjectCommonName: "Some CA",
      attributes: {},
    });
    const der = new Uint8Array(ca.der);
    expect(parseCertificate(der).isCa).toBe(true);
    // basicConstraints value without pathLen: 30 03 | 01 01 FF (cA)
    const at = hex(der).indexOf("30030101ff") / 2;
    expect(at).toBeGreaterThan(0);
    der[at + 4] = 0x01;
    expect(codeOf(() => parseCertificate(der))).toBe("PROTO_ERR_CERT_EXTENSION");
  });

  it("rejects a malformed attribute and a duplicated extension with PROTO_ERR_CERT_EXTENSION", async () => {
    const utf8 = (s: string) => new Uint8Array([0x0c, s.length, ...Buffer.from(s)]);
    const badMcc = await cardUnder(issuerCa(), {
      extraExtensions: [{ oid: OID_MERCHANT_CATEGORY, critical: false, value: utf8("54x1") }],
    });
    expect(codeOf(() => parseCertificate(badMcc.der))).toBe("PROTO_ERR_CERT_EXTENSION");
    const notUtf8String = await cardUnder(issuerCa(), {
      attributes: {},
      extraExtensions: [{ oid: OID_WALLET_ID, critical: false, value: Uint8Array.of(0x04, 0x01, 0x41) }],
    });
    expect(codeOf(() => parseCertificate(notUtf8String.der))).toBe("PROTO_ERR_CERT_EXTENSION");
    const twice = await cardUnder(issuerCa(), {
      extraExtensions: [{ oid: OID_WALLET_ID, critical: false, value: utf8("W-OTHER-0001") }],
    });
    expect(codeOf(() => parseCertificate(twice.der))).toBe("PROTO_ERR_CERT_EXTENSION");
  });
});

describe("issueCertificate", () => {
  it("makes a card leaf that stays within two short APDUs", () => {
    expect(pki.cert("cards/alice").der.length).toBeLessThanOrEqual(510);
  });

  it("refuses an issuer key that does not match the issuer certificate", async () => {
    await expect(
      cardUnder({ certificate: pki.der("issuer-ca"), privateKey: pki.key("acquirer-ca") }),
    ).rejects.toMatchObject({ code: "PROTO_ERR_KEY" });
  });

  it("refuses bad attribute values, serials and dates as programming errors", async () => {
    await expect(cardUnder(issuerCa(), { attributes: { merchantCategory: "541" } })).rejects.toThrow(
      RangeError,
    );
    await expect(cardUnder(issuerCa(), { attributes: { region: "taiwan" } })).rejects.toThrow(RangeError);
    await expect(cardUnder(issuerCa(), { attributes: { walletId: "W\n1" } })).rejects.toThrow(RangeError);
    await expect(cardUnder(issuerCa(), { serialNumber: "00" })).rejects.toThrow(RangeError);
    await expect(cardUnder(issuerCa(), { serialNumber: "xyz" })).rejects.toThrow(RangeError);
    await expect(
      cardUnder(issuerCa(), { notBefore: new Date("2030-01-01"), notAfter: new Date("2029-01-01") }),
    ).rejects.toThrow(RangeError);
  });

  it("normalises serials with a high bit (sign byte) and leading zeros", async () => {
    const { der } = await cardUnder(issuerCa(), { serialNumber: "00ff01" });
    expect(parseCertificate(der).serialNumber).toBe("ff01");
    expect(normalizeSerial("000A")).toBe("a");
  });

  it("makes random serials of 16 bytes, positive", () => {
    for (let i = 0; i < 50; i++) {
      const s = randomSerial();
      expect(s).toMatch(/^[4-7][0-9a-f]{31}$/);
    }
  });
});

describe("TrustStore.verifyChain with the fixture PKI", () => {
  const entries = Object.entries(pki.index.certificates);

  it.each(entries)("%s gives the result recorded in index.json", (name, entry) => {
    const code = codeOf(() =>
      pki.trustStore.verifyChain(pki.cert(name), pki.intermediates(name), {
        at,
        role: entry.expect.role,
        crls: pki.crls,
      }),
    );
    expect(code === NO_ERROR ? "ok" : code).toBe(entry.expect.result);
  });

  it("returns the path leaf-first, ending at the root", () => {
    const path = pki.trustStore.verifyChain(pki.cert("terminals/term-0001"), [], { at, role: "terminal" });
    expect(path.map((c) => c.commonName)).toEqual(["T-0001", "Acquirer CA", "Scheme Root CA"]);
  });

  it("builds the path from presented intermediates when the store knows none", () => {
    const store = new TrustStore([pki.cert("root-ca")]);
    const alice = pki.cert("cards/alice");
    expect(codeOf(() => store.verifyChain(alice, [], { at, role: "card" }))).toBe("PROTO_ERR_CERT_ISSUER");
    expect(store.verifyChain(alice, [pki.cert("issuer-ca")], { at, role: "card" })).toHaveLength(3);
    // Presenting the root too, or unrelated certificates, changes nothing.
    const noisy = [
      pki.cert("acquirer-ca"),
      pki.cert("root-ca"),
      pki.cert("rogue-issuer-ca"),
      pki.cert("issuer-ca"),
    ];
    expect(store.verifyChain(alice, noisy, { at, role: "card" }).map((c) => c.commonName)).toEqual([
      "W-ALICE-0001",
      "Issuer Bank CA",
      "Scheme Root CA",
    ]);
  });

  it("tells the impostor issuer CA (same Name, other key) apart by key", () => {
    const store = new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca")]);
    const rogue = pki.cert("cards/rogue");
    for (const presented of [
      [],
      [pki.cert("rogue-issuer-ca")],
      [pki.cert("rogue-issuer-ca"), pki.cert("rogue-root")],
    ])
      expect(codeOf(() => store.verifyChain(rogue, presented, { at, role: "card" }))).toBe(
        "PROTO_ERR_CERT_ISSUER",
      );
  });

  it("rejects a certificate whose signature was altered (PROTO_ERR_CERT_SIGNATURE)", () => {
    const der = new Uint8Array(pki.der("cards/alice"));
    // Last byte of the signature: inside s, so the DER stays well formed.
    der[der.length - 1]! ^= 0x01;
    const tampered = parseCertificate(der);
    expect(codeOf(() => pki.trustStore.verifyChain(tampered, [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_SIGNATURE",
    );
  });

  it("checks validity at the given time, inclusive at both ends", () => {
    const alice = pki.cert("cards/alice");
    const verifyAt = (when: Date) =>
      codeOf(() => pki.trustStore.verifyChain(alice, [], { at: when, role: "card" }));
    expect(verifyAt(alice.notBefore)).toBe(NO_ERROR);
    expect(verifyAt(alice.notAfter)).toBe(NO_ERROR);
    expect(verifyAt(new Date(alice.notBefore.getTime() - 1))).toBe("PROTO_ERR_CERT_NOT_YET_VALID");
    expect(verifyAt(new Date(alice.notAfter.getTime() + 1))).toBe("PROTO_ERR_CERT_EXPIRED");
    // The CA's window counts too: after issuer-ca expires (2045) even a card valid then is refused.
    expect(verifyAt(new Date("2049-01-01T00:00:00Z"))).toBe("PROTO_ERR_CERT_EXPIRED");
  });

  it("checks the leaf's role attributes and refuses a card where a terminal is expected", () => {
    const alice = pki.cert("cards/alice");
    const term = pki.cert("terminals/term-0001");
    expect(codeOf(() => pki.trustStore.verifyChain(alice, [], { at, role: "terminal" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
    expect(codeOf(() => pki.trustStore.verifyChain(term, [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
    expect(codeOf(() => pki.trustStore.verifyChain(pki.cert("issuer-ca"), [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_KEY_USAGE",
    );
    expect(codeOf(() => pki.trustStore.verifyChain(alice, [], { at, role: "issuer-ca" }))).toBe(
      "PROTO_ERR_CERT_NOT_CA",
    );
  });

  it("applies a CRL only to certificates of its issuer", () => {
    const revoked = pki.cert("cards/revoked");
    const verify = (crls: ReturnType<typeof pki.crl>[]) =>
      codeOf(() => pki.trustStore.verifyChain(revoked, [], { at, role: "card", crls }));
    expect(verify([])).toBe(NO_ERROR);
    expect(verify([pki.crl("crl/issuer-ca-empty")])).toBe(NO_ERROR);
    expect(verify([pki.crl("crl/acquirer-ca")])).toBe(NO_ERROR);
    expect(verify([pki.crl("crl/acquirer-ca"), pki.crl("crl/issuer-ca")])).toBe("PROTO_ERR_CERT_REVOKED");
  });

  it("checks each leaf signature once and caches the CA links", () => {
    const store = new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca")]);
    store.verifyChain(pki.cert("cards/alice"), [], { at, role: "card" });
    const spy = vi.spyOn(X509Certificate.prototype, "verify");
    try {
      store.verifyChain(parseCertificate(pki.der("cards/bob")), [], { at, role: "card" });
      store.verifyChain(parseCertificate(pki.der("cards/alice")), [], { at, role: "card" });
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });

  it("refuses a flood of presented intermediates before looking at them", () => {
    const flood = Array.from({ length: 7 }, () => pki.cert("acquirer-ca"));
    expect(
      codeOf(() => pki.trustStore.verifyChain(pki.cert("cards/alice"), flood, { at, role: "card" })),
    ).toBe("PROTO_ERR_CERT_ISSUER");
  });

  it("refuses a trust anchor that is not a CA", () => {
    expect(codeOf(() => new TrustStore([pki.cert("cards/alice")]))).toBe("PROTO_ERR_CERT_NOT_CA");
  });
});

describe("TrustStore.verifyChain against hostile certificates", () => {
  let subCa: { der: Uint8Array; key: KeyPair };
  let underSubCa: Certificate;
  let nodeTrapIssuer: { der: Uint8Array; key: KeyPair };
  let underNodeTrap: Certificate;
  let noCertSign: { der: Uint8Array; key: KeyPair };
  let underNoCertSign: Certificate;
  let unknownCritical: Certificate;
  let agreementOnly: Certificate;

  beforeAll(async () => {
    // issuer-ca has pathLen 0: a sub-CA under it may exist, but nothing it issues may verify.
    subCa = await cardUnder(issuerCa(), {
      role: "issuer-ca",
      subjectCommonName: "Sub CA",
      attributes: {},
      pathLength: 0,
      notBefore: new Date("2025-01-01T00:00:00Z"),
      notAfter: new Date("2040-01-01T00:00:00Z"),
    });
    underSubCa = parseCertificate(
      (await cardUnder({ certificate: subCa.der, privateKey: subCa.key.privateKey })).der,
    );

    // CA:FALSE and no keyUsage: node's checkIssued() accepts it as an issuer, openssl does not.
    nodeTrapIssuer = await cardUnder(issuerCa(), { keyUsage: "none", subjectCommonName: "W-TRAP-0101" });
    underNodeTrap = parseCertificate(
      (await cardUnder({ certificate: nodeTrapIssuer.der, privateKey: nodeTrapIssuer.key.privateKey })).der,
    );

    // CA:TRUE but keyUsage without keyCertSign.
    noCertSign = await cardUnder(issuerCa(), {
      role: "issuer-ca",
      subjectCommonName: "No CertSign CA",
      attributes: {},
      keyUsage: ["cRLSign", "digitalSignature"],
    });
    underNoCertSign = parseCertificate(
      (await cardUnder({ certificate: noCertSign.der, privateKey: noCertSign.key.privateKey })).der,
    );

    unknownCritical = parseCertificate(
      (
        await cardUnder(issuerCa(), {
          extraExtensions: [
            { oid: "1.3.6.1.4.1.59999.9.9", critical: true, value: Uint8Array.of(0x05, 0x00) },
          ],
        })
      ).der,
    );
    agreementOnly = parseCertificate((await cardUnder(issuerCa(), { keyUsage: ["keyAgreement"] })).der);
  });

  it("refuses a path longer than a CA's pathLenConstraint (PROTO_ERR_CERT_PATH_LENGTH)", () => {
    const sub = parseCertificate(subCa.der);
    // The sub-CA itself chains, but an issuer CA is certified by the root only.
    expect(codeOf(() => pki.trustStore.verifyChain(sub, [], { at, role: "issuer-ca" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
    expect(codeOf(() => pki.trustStore.verifyChain(underSubCa, [sub], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_PATH_LENGTH",
    );
  });

  it("refuses a CA:FALSE issuer without keyUsage, which node's checkIssued accepts (PROTO_ERR_CERT_NOT_CA)", () => {
    const issuer = parseCertificate(nodeTrapIssuer.der);
    expect(underNodeTrap.x509.checkIssued(issuer.x509)).toBe(true);
    expect(underNodeTrap.x509.verify(issuer.publicKey)).toBe(true);
    expect(codeOf(() => pki.trustStore.verifyChain(underNodeTrap, [issuer], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_NOT_CA",
    );
  });

  it("refuses a CA whose keyUsage lacks keyCertSign (PROTO_ERR_CERT_NOT_CA)", () => {
    const issuer = parseCertificate(noCertSign.der);
    expect(codeOf(() => pki.trustStore.verifyChain(underNoCertSign, [issuer], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_NOT_CA",
    );
  });

  it("refuses an unknown critical extension (PROTO_ERR_CERT_EXTENSION) but parses it", () => {
    expect(unknownCritical.unknownCriticalExtensions).toEqual(["1.3.6.1.4.1.59999.9.9"]);
    expect(codeOf(() => pki.trustStore.verifyChain(unknownCritical, [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_EXTENSION",
    );
  });

  it("refuses a leaf whose keyUsage does not allow digitalSignature (PROTO_ERR_CERT_KEY_USAGE)", () => {
    expect(codeOf(() => pki.trustStore.verifyChain(agreementOnly, [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_KEY_USAGE",
    );
  });

  it("refuses a leaf marked CA even when it carries a wallet id (PROTO_ERR_CERT_ROLE)", async () => {
    const { der } = await cardUnder(issuerCa(), {
      caFlag: true,
      keyUsage: ["digitalSignature", "keyCertSign"],
    });
    expect(codeOf(() => pki.trustStore.verifyChain(parseCertificate(der), [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
  });

  it("refuses a terminal without a merchant id (PROTO_ERR_CERT_ROLE)", async () => {
    const { der } = await issueCertificate({
      role: "terminal",
      subjectCommonName: "T-0100",
      publicKey: generateP256KeyPair().publicKey,
      issuer: { certificate: pki.der("acquirer-ca"), privateKey: pki.key("acquirer-ca") },
      serialNumber: "d100",
      notBefore: new Date("2025-06-01T00:00:00Z"),
      notAfter: new Date("2035-06-01T00:00:00Z"),
      attributes: { terminalId: "T-0100" },
    }).then((d) => ({ der: d }));
    expect(
      codeOf(() => pki.trustStore.verifyChain(parseCertificate(der), [], { at, role: "terminal" })),
    ).toBe("PROTO_ERR_CERT_ROLE");
  });
});

describe("CRLs", () => {
  it("reads the fixture CRLs: number, dates and revoked serials", () => {
    const crl = pki.crl("crl/issuer-ca");
    expect(crl.crlNumber).toBe(2);
    expect(crl.thisUpdate.toISOString()).toBe("2025-06-01T00:00:00.000Z");
    expect(crl.nextUpdate?.toISOString()).toBe("2045-01-01T00:00:00.000Z");
    expect([...crl.revokedSerials]).toEqual([pki.cert("cards/revoked").serialNumber]);
    expect(crl.issuerFingerprint).toBe(pki.cert("issuer-ca").fingerprint);
    expect(pki.crl("crl/issuer-ca-empty").revokedSerials.size).toBe(0);
  });

  it("rejects a CRL checked against the wrong CA or with an altered signature", () => {
    const der = pki.crl("crl/issuer-ca").der;
    expect(codeOf(() => parseCrl(der, pki.cert("acquirer-ca")))).toBe("PROTO_ERR_CRL_SIGNATURE");
    expect(codeOf(() => parseCrl(der, pki.cert("rogue-issuer-ca")))).toBe("PROTO_ERR_CRL_SIGNATURE");
    const bad = new Uint8Array(der);
    bad[bad.length - 1]! ^= 0x01;
    expect(codeOf(() => parseCrl(bad, pki.cert("issuer-ca")))).toBe("PROTO_ERR_CRL_SIGNATURE");
    // A revoked serial changed: the signature no longer covers it.
    const edited = new Uint8Array(der);
    const at = hex(edited).indexOf(pki.cert("cards/revoked").serialNumber) / 2;
    edited[at]! ^= 0x01;
    expect(codeOf(() => parseCrl(edited, pki.cert("issuer-ca")))).toBe("PROTO_ERR_CRL_SIGNATURE");
  });

  it("rejects malformed CRLs with PROTO_ERR_CRL_PARSE", () => {
    const der = pki.crl("crl/issuer-ca").der;
    for (let n = 0; n < der.length; n += 5)
      expect(codeOf(() => parseCrl(der.subarray(0, n), pki.cert("issuer-ca")))).toBe("PROTO_ERR_CRL_PARSE");
    expect(codeOf(() => parseCrl(seeded(3)(300), pki.cert("issuer-ca")))).toBe("PROTO_ERR_CRL_PARSE");
  });

  it("issues CRLs with many entries that round-trip, via PEM too", async () => {
    const revoked = Array.from({ length: 300 }, (_, i) => ({
      serialNumber: (0x10000 + i).toString(16),
      revocationDate: new Date("2025-07-01T00:00:00Z"),
      ...(i % 2 ? { reason: "keyCompromise" } : {}),
    }));
    const der = await issueCrl({
      issuer: issuerCa(),
      thisUpdate: new Date("2025-07-01T00:00:00Z"),
      nextUpdate: new Date("2025-07-02T00:00:00Z"),
      crlNumber: 300,
      revoked,
    });
    const pem = crlToPem(der);
    expect(pem.startsWith("-----BEGIN X509 CRL-----\n")).toBe(true);
    const crl = crlFromPem(pem, pki.cert("issuer-ca"));
    expect(crl.crlNumber).toBe(300);
    expect(crl.revokedSerials.size).toBe(300);
    expect(crl.revokedSerials.has("1012b")).toBe(true);
  });
});

describe("loadFixturePki", () => {
  it("gives every private key matching its certificate", () => {
    for (const name of pki.names)
      expect(hex(rawPublicKey(createPublicKey(pki.key(name)))), name).toBe(
        hex(rawPublicKey(pki.cert(name).publicKey)),
      );
  });

  it("describes every file in index.json consistently with the certificates", () => {
    for (const [name, entry] of Object.entries(pki.index.certificates)) {
      const cert = pki.cert(name);
      expect(entry.serialNumber).toBe(cert.serialNumber);
      expect(entry.fingerprint).toBe(cert.fingerprint);
      expect(entry.attributes).toEqual(cert.attributes);
      expect(entry.derBytes).toBe(cert.der.length);
    }
    expect(pki.index.passphrase).toBe("tapwallet-test-only");
  });
});
