/**
 * The card refuses a terminal whose certificate the bank's issuer CA signed: only an acquirer CA
 * may certify terminals (root → acquirer CA → terminal, each step's role in extendedKeyUsage).
 * Played the way the attacker would: the holder of an issuer CA key makes a "terminal" and taps.
 */
import { describe, expect, it } from "vitest";
import { generateP256KeyPair } from "../../protocol/crypto.js";
import { silentLogger } from "../../protocol/logger.js";
import { issueCertificate, parseCertificate } from "../../protocol/pki.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { WALLET_SW } from "../../protocol/wallet/constants.js";
import { caId } from "../../protocol/wallet/messages.js";
import { runPayment } from "../../terminal/application/run-payment.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { FIXED_TIME, testIdentity, testTerminal } from "../../test-support/terminal-fixture.js";
import { TerminalScript } from "../../test-support/terminal-script.js";
import { CardCertificates } from "./certificates.js";

const pki = loadFixturePki();
const EUR = 978;
const b64 = (der: Uint8Array) => Buffer.from(der).toString("base64");

describe("card › a terminal certified by an issuer CA", () => {
  it("is refused at INITIATE AUTHENTICATE (930A): no session, no debit, nothing cached", async () => {
    const { transport, store } = fixtureCard();
    const before = structuredClone(store.load());
    const rogue = new TerminalScript(transport, { terminal: "terminals/by-issuer-ca" });
    expect(rogue.chain.map((c) => c.commonName)).toEqual(["Issuer Bank CA"]);
    await rogue.select();
    expect((await rogue.initiate()).sw).toBe(WALLET_SW.TERMINAL_REFUSED);
    expect(store.load()).toEqual(before);
    expect(store.load().cachedCas).toEqual([]);
    // The honest terminal right after still pays.
    const honest = new TerminalScript(transport);
    await honest.authenticate();
    expect((await honest.debit({ amount: 450, currency: EUR, terminalSeq: 1 })).sw).toBe(0x9000);
  });

  it("is refused when the bank mints it on the spot with a short validity, as an attacker would", async () => {
    const { transport, store } = fixtureCard();
    const keys = generateP256KeyPair();
    const minted = await issueCertificate({
      role: "terminal",
      subjectCommonName: "T-0667",
      publicKey: keys.publicKey,
      issuer: { certificate: pki.der("issuer-ca"), privateKey: pki.key("issuer-ca") },
      serialNumber: "e667",
      // Around the test terminal's frozen clock, like posd init's 30-day certificates.
      notBefore: new Date((FIXED_TIME - 3600) * 1000),
      notAfter: new Date((FIXED_TIME + 30 * 86_400) * 1000),
      attributes: { terminalId: "T-0667", merchantId: "M-0667", merchantCategory: "5411", region: "TW" },
    });
    const outcome = await runPayment(
      transport,
      {
        ...testTerminal({ store: "memory" }).deps,
        identity: {
          privateKey: keys.privateKey,
          certificate: parseCertificate(minted),
          chain: [pki.cert("issuer-ca")],
        },
      },
      { amount: 450, currency: EUR },
    );
    expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_TERMINAL_REFUSED" });
    expect(store.load()).toMatchObject({ balance: 5_000, counter: 0, cachedCas: [] });
  });

  it("is refused through posd's engine with the fixture terminal by-issuer-ca: the wallet keeps its money", async () => {
    const { transport, store } = fixtureCard();
    const t = testTerminal({ store: "memory" });
    try {
      const outcome = await runPayment(
        transport,
        { ...t.deps, identity: testIdentity("terminals/by-issuer-ca") },
        { amount: 450, currency: EUR },
      );
      expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_TERMINAL_REFUSED" });
      expect(store.load()).toMatchObject({ balance: 5_000, counter: 0 });
      expect(t.store.list()).toEqual([]);
    } finally {
      t.cleanup();
    }
  });

  it("is refused even by a card that cached the issuer CA before roles were checked", async () => {
    // A state file from an older card where a rogue terminal planted issuer-ca in the CA cache.
    const { transport } = fixtureCard({ cachedCas: [b64(pki.der("issuer-ca"))] });
    const rogue = new TerminalScript(transport, { terminal: "terminals/by-issuer-ca", sendCa: false });
    const fci = await rogue.select();
    expect(fci.cachedCaIds.map((id) => Buffer.from(id).toString("hex"))).toEqual([
      Buffer.from(caId(pki.der("issuer-ca"))).toString("hex"),
    ]);
    expect((await rogue.initiate()).sw).toBe(WALLET_SW.TERMINAL_REFUSED);
  });
});

describe("CardCertificates.trustStore", () => {
  it("keeps only acquirer CAs from the cache", () => {
    const certs = new CardCertificates(pki.cert("root-ca"), silentLogger());
    const store = certs.trustStore([b64(pki.der("issuer-ca")), b64(pki.der("acquirer-ca"))]);
    const at = pki.at;
    // term-0001 chains through the cached acquirer CA without presenting it.
    expect(store.verifyChain(pki.cert("terminals/term-0001"), [], { at, role: "terminal" })).toHaveLength(3);
    // Nothing under the issuer CA chains from the cache at all.
    expect(() => store.verifyChain(pki.cert("terminals/by-issuer-ca"), [], { at, role: "terminal" })).toThrow(
      expect.objectContaining({ code: "PROTO_ERR_CERT_ISSUER" }),
    );
  });
});
