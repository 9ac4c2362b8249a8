import { describe, expect, it } from "vitest";
import { parseCertificate } from "../protocol/pki.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { SW } from "../protocol/sw.js";
import { TerminalScript } from "../test-support/terminal-script.js";
import { WalletApplet } from "./applet/applet.js";
import { MemoryCardStateStore } from "./applet/state.js";
import type { CardError } from "./errors.js";
import { InProcessTransport } from "./inprocess.js";
import { personalize } from "./personalize.js";

const pki = loadFixturePki();
const der = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as CardError).code;
  }
  return undefined;
}

describe("personalize", () => {
  it("makes a card the test PKI's issuer certifies, that a terminal accepts and debits", async () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const state = await personalize({ walletId: "W-NEW-0042", currency: 978, balance: 5_000, now });
    expect(state).toMatchObject({
      walletId: "W-NEW-0042",
      balance: 5_000,
      counter: 0,
      blocked: false,
      log: [],
    });
    expect(state.limits).toEqual({
      singleLimit: 100_000,
      balanceLimit: 100_000,
      autoLoadThreshold: 0,
      autoLoadAmount: 0,
    });
    const cert = parseCertificate(der(state.certificate));
    expect(cert.attributes.walletId).toBe("W-NEW-0042");
    pki.trustStore.verifyChain(cert, [], { at: now, role: "card" });
    // Three years by default.
    expect(cert.notAfter.getTime() - now.getTime()).toBeGreaterThan(3 * 365 * 86_400_000);
    expect(cert.notAfter.getTime() - now.getTime()).toBeLessThan(3 * 366 * 86_400_000);
    expect(state.rootCertificate).toBe(Buffer.from(pki.der("root-ca")).toString("base64"));

    const t = new TerminalScript(new InProcessTransport(new WalletApplet(new MemoryCardStateStore(state))));
    await t.authenticate();
    expect((await t.debit({ amount: 999, currency: 978, terminalSeq: 1 })).sw).toBe(SW.OK);
  });

  it("takes limits and policy, and the policy window as the certificate's validity", async () => {
    const validFrom = Date.UTC(2025, 6, 1) / 1000;
    const validTo = Date.UTC(2027, 0, 1) / 1000;
    const state = await personalize({
      walletId: "W-POLICY-1",
      currency: 392,
      balance: 3_000,
      limits: { singleLimit: 1_000, balanceLimit: 10_000, autoLoadThreshold: 500, autoLoadAmount: 2_000 },
      policy: { validFrom, validTo, regions: ["JP"], categories: ["5411", "5812"] },
    });
    expect(state.policy).toEqual({ validFrom, validTo, regions: ["JP"], categories: ["5411", "5812"] });
    const cert = parseCertificate(der(state.certificate));
    expect(cert.notBefore.getTime()).toBe(validFrom * 1000);
    expect(cert.notAfter.getTime()).toBe(validTo * 1000);
  });

  it("uses a given issuer CA and root", async () => {
    const state = await personalize({
      walletId: "W-CUSTOM-1",
      currency: 978,
      balance: 0,
      issuer: { certificate: pki.der("issuer-ca"), privateKey: pki.key("issuer-ca") },
      root: pki.der("root-ca"),
    });
    expect(parseCertificate(der(state.certificate)).issuer).toBe(pki.cert("issuer-ca").subject);
  });

  const refused: [string, Parameters<typeof personalize>[0]][] = [
    ["a malformed wallet id", { walletId: "not ok!", currency: 978, balance: 0 }],
    ["an unknown currency", { walletId: "W-1", currency: 1, balance: 0 }],
    ["a fractional balance", { walletId: "W-1", currency: 978, balance: 1.5 }],
    [
      "a balance above the balance limit",
      { walletId: "W-1", currency: 978, balance: 500, limits: { balanceLimit: 100 } },
    ],
    [
      "an issuer key that does not match its certificate",
      {
        walletId: "W-1",
        currency: 978,
        balance: 0,
        issuer: { certificate: pki.der("issuer-ca"), privateKey: pki.key("acquirer-ca") },
        root: pki.der("root-ca"),
      },
    ],
    [
      "an issuer that the root did not sign",
      {
        walletId: "W-1",
        currency: 978,
        balance: 0,
        issuer: { certificate: pki.der("rogue-issuer-ca"), privateKey: pki.key("rogue-issuer-ca") },
        root: pki.der("root-ca"),
      },
    ],
    [
      "a leaf as the issuer",
      {
        walletId: "W-1",
        currency: 978,
        balance: 0,
        issuer: { certificate: pki.der("cards/alice"), privateKey: pki.key("cards/alice") },
        root: pki.der("root-ca"),
      },
    ],
  ];
  for (const [what, options] of refused) {
    it(`refuses ${what} with CARD_ERR_PERSONALIZE`, async () => {
      expect(await codeOf(personalize(options))).toBe("CARD_ERR_PERSONALIZE");
    });
  }
});
