/**
 * CA roles: every certificate of a path carries the extendedKeyUsage purpose of its place
 * (root → issuer CA → card, root → acquirer CA → terminal), so that a bank's key cannot mint
 * terminals and an acquirer's key cannot mint cards, whatever CAs a trust store holds.
 */
import type { KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf, NO_ERROR } from "../test-support/errors.js";
import { generateP256KeyPair } from "./crypto.js";
import type { ProtocolError } from "./errors.js";
import {
  type CertRole,
  type IssueOptions,
  issueCertificate,
  parseCertificate,
  ROLE_OIDS,
  TrustStore,
} from "./pki.js";
import { loadFixturePki } from "./pki-fixtures.js";

const pki = loadFixturePki();
const at = pki.at;
/** Everything known, as a careless store would hold it: both CAs of the scheme. */
const everything = new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca"), pki.cert("acquirer-ca")]);

type Signer = "root-ca" | "issuer-ca" | "acquirer-ca";

const TERMINAL_ATTRIBUTES = {
  terminalId: "T-0900",
  merchantId: "M-0900",
  merchantCategory: "5411",
  region: "TW",
};

/** A certificate issued now by a fixture CA, as that CA's key holder would make it. */
async function mint(signer: Signer, overrides: Partial<IssueOptions> & { role: CertRole }) {
  const key = generateP256KeyPair();
  const der = await issueCertificate({
    subjectCommonName: "minted",
    publicKey: key.publicKey,
    issuer: { certificate: pki.der(signer), privateKey: pki.key(signer) },
    serialNumber: "e001",
    notBefore: new Date("2025-06-01T00:00:00Z"),
    notAfter: new Date("2035-06-01T00:00:00Z"),
    ...(overrides.role === "terminal" ? { attributes: TERMINAL_ATTRIBUTES } : {}),
    ...(overrides.role === "card" ? { attributes: { walletId: "W-MINT-0900" } } : {}),
    ...overrides,
  });
  const cert = parseCertificate(der);
  keys.set(cert, key.privateKey);
  return cert;
}

/** The private keys of the certificates minted here. */
const keys = new WeakMap<object, KeyObject>();
function keyOf(cert: object): KeyObject {
  const key = keys.get(cert);
  if (!key) throw new Error("no key kept for this certificate");
  return key;
}

function refusal(fn: () => unknown): { code: string; details: Record<string, unknown> | undefined } {
  try {
    fn();
  } catch (e) {
    return { code: (e as ProtocolError).code, details: (e as ProtocolError).details };
  }
  return { code: NO_ERROR, details: undefined };
}

describe("certificate roles", () => {
  it("reads each fixture's role from its extendedKeyUsage", () => {
    expect(pki.cert("root-ca").roles).toEqual(["root"]);
    expect(pki.cert("issuer-ca").roles).toEqual(["issuer-ca"]);
    expect(pki.cert("acquirer-ca").roles).toEqual(["acquirer-ca"]);
    expect(pki.cert("cards/alice").roles).toEqual(["card"]);
    expect(pki.cert("terminals/term-0001").roles).toEqual(["terminal"]);
    expect(pki.cert("unmarked-ca").roles).toEqual([]);
    expect(pki.cert("cards/alice").isCa).toBe(false);
  });

  it("marks the roles under the private arc 1.3.6.1.4.1.59999.2", () => {
    expect(ROLE_OIDS).toEqual({
      root: "1.3.6.1.4.1.59999.2.1",
      "issuer-ca": "1.3.6.1.4.1.59999.2.2",
      "acquirer-ca": "1.3.6.1.4.1.59999.2.3",
      card: "1.3.6.1.4.1.59999.2.4",
      terminal: "1.3.6.1.4.1.59999.2.5",
    });
  });

  it("verifies the honest chains role by role", () => {
    expect(everything.verifyChain(pki.cert("cards/alice"), [], { at, role: "card" })).toHaveLength(3);
    expect(
      everything.verifyChain(pki.cert("terminals/term-0001"), [], { at, role: "terminal" }),
    ).toHaveLength(3);
    expect(everything.verifyChain(pki.cert("issuer-ca"), [], { at, role: "issuer-ca" })).toHaveLength(2);
    expect(everything.verifyChain(pki.cert("root-ca"), [], { at, role: "root" })).toHaveLength(1);
  });
});

describe("TrustStore.verifyChain refuses a role out of place (PROTO_ERR_CERT_ROLE)", () => {
  it("refuses a terminal that the bank's issuer CA minted, even presented with that CA", async () => {
    const terminal = await mint("issuer-ca", { role: "terminal" });
    // What a card holds: its root, and the CA the terminal presents.
    const card = new TrustStore([pki.cert("root-ca")]);
    const r = refusal(() => card.verifyChain(terminal, [pki.cert("issuer-ca")], { at, role: "terminal" }));
    expect(r.code).toBe("PROTO_ERR_CERT_ROLE");
    expect(r.details).toMatchObject({ required: "acquirer-ca", roles: ["issuer-ca"] });
    expect(codeOf(() => everything.verifyChain(terminal, [], { at, role: "terminal" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
  });

  it("refuses a card that the acquirer CA minted, even where the acquirer CA is known", async () => {
    const card = await mint("acquirer-ca", { role: "card" });
    const r = refusal(() => everything.verifyChain(card, [], { at, role: "card" }));
    expect(r.code).toBe("PROTO_ERR_CERT_ROLE");
    expect(r.details).toMatchObject({ required: "issuer-ca", roles: ["acquirer-ca"] });
  });

  it("refuses a leaf without a role marker, and a leaf marked with the other leaf's role", async () => {
    const unmarked = await mint("issuer-ca", { role: "card", extendedKeyUsage: "none" });
    expect(codeOf(() => everything.verifyChain(unmarked, [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
    const asTerminal = await mint("issuer-ca", { role: "card", extendedKeyUsage: [ROLE_OIDS.terminal] });
    expect(codeOf(() => everything.verifyChain(asTerminal, [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
  });

  it("refuses a card under a CA without a role marker (fixture unmarked-ca)", () => {
    const name = "cards/by-unmarked-ca";
    const r = refusal(() =>
      pki.trustStore.verifyChain(pki.cert(name), pki.intermediates(name), { at, role: "card" }),
    );
    expect(r).toEqual({
      code: "PROTO_ERR_CERT_ROLE",
      details: expect.objectContaining({
        subject: pki.cert("unmarked-ca").subject,
        required: "issuer-ca",
        roles: [],
      }),
    });
  });

  it("refuses a CA that claims both CA roles: the scheme gives one role per key", async () => {
    const both = await mint("root-ca", {
      role: "issuer-ca",
      subjectCommonName: "Both Roles CA",
      pathLength: 0,
      extendedKeyUsage: [ROLE_OIDS["issuer-ca"], ROLE_OIDS["acquirer-ca"]],
    });
    expect(both.roles).toEqual(["issuer-ca", "acquirer-ca"]);
    const underIt = parseCertificate(
      await issueCertificate({
        role: "terminal",
        subjectCommonName: "T-0901",
        publicKey: generateP256KeyPair().publicKey,
        issuer: { certificate: both.der, privateKey: keyOf(both) },
        serialNumber: "e002",
        notBefore: new Date("2025-06-01T00:00:00Z"),
        notAfter: new Date("2035-06-01T00:00:00Z"),
        attributes: TERMINAL_ATTRIBUTES,
      }),
    );
    expect(codeOf(() => everything.verifyChain(underIt, [both], { at, role: "terminal" }))).toBe(
      "PROTO_ERR_CERT_ROLE",
    );
  });

  it("refuses a card that the scheme root signed directly (no issuer CA between)", async () => {
    const card = await mint("root-ca", { role: "card" });
    expect(codeOf(() => everything.verifyChain(card, [], { at, role: "card" }))).toBe("PROTO_ERR_CERT_ROLE");
  });

  it("refuses a chain whose trust anchor carries no scheme-root role", async () => {
    const { publicKey, privateKey } = generateP256KeyPair();
    const anchorDer = await issueCertificate({
      role: "root",
      subjectCommonName: "Unmarked Root",
      publicKey,
      issuer: { selfSigned: true, privateKey },
      serialNumber: "e003",
      notBefore: new Date("2025-01-01T00:00:00Z"),
      notAfter: new Date("2050-01-01T00:00:00Z"),
      pathLength: 1,
      extendedKeyUsage: "none",
    });
    const ca = await issueCertificate({
      role: "issuer-ca",
      subjectCommonName: "Under Unmarked Root",
      publicKey: generateP256KeyPair().publicKey,
      issuer: { certificate: anchorDer, privateKey },
      serialNumber: "e004",
      notBefore: new Date("2025-01-01T00:00:00Z"),
      notAfter: new Date("2045-01-01T00:00:00Z"),
      pathLength: 0,
    });
    const store = new TrustStore([parseCertificate(anchorDer)]);
    const r = refusal(() => store.verifyChain(parseCertificate(ca), [], { at, role: "issuer-ca" }));
    expect(r.code).toBe("PROTO_ERR_CERT_ROLE");
    expect(r.details).toMatchObject({ required: "root", roles: [] });
  });

  it("gives the older codes first: a role check never hides an expired or unsigned chain", () => {
    expect(
      codeOf(() => pki.trustStore.verifyChain(pki.cert("terminals/expired"), [], { at, role: "terminal" })),
    ).toBe("PROTO_ERR_CERT_EXPIRED");
    expect(codeOf(() => pki.trustStore.verifyChain(pki.cert("cards/rogue"), [], { at, role: "card" }))).toBe(
      "PROTO_ERR_CERT_ISSUER",
    );
  });
});
