/**
 * The terminal refuses a card whose certificate an acquirer CA signed: only an issuer CA may
 * certify cards (root → issuer CA → card, each step's role in extendedKeyUsage). The card is the
 * attacker here: the holder of an acquirer CA key personalised a "wallet" and taps it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { TrustStore } from "../../protocol/pki.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { codeOf } from "../../test-support/errors.js";
import { type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { runPayment } from "../application/run-payment.js";

const pki = loadFixturePki();
const EUR = 978;
/** The card's state holds its issuer's certificate (base64 DER). */
const b64 = (name: string) => Buffer.from(pki.der(name)).toString("base64");

let t: TestTerminal;
afterEach(() => t.cleanup());

describe("terminal › a card certified by an acquirer CA", () => {
  it("is declined with TERM_ERR_CARD_CERT (role) even by a terminal that knows the acquirer CA; nothing is charged", async () => {
    t = testTerminal({ store: "memory" });
    const card = fixtureCard({ issuerCertificate: b64("acquirer-ca") }, { fixture: "cards/by-acquirer-ca" });
    // A terminal configured with every CA of the scheme: the chain builds, the role refuses it.
    const careless = new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca"), pki.cert("acquirer-ca")]);
    const outcome = await runPayment(
      card.transport,
      { ...t.deps, trust: { ...t.trust, store: careless } },
      { amount: 450, currency: EUR },
    );
    expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_CARD_CERT" });
    // What refused it: the chain builds, the issuing CA's role is wrong.
    expect(
      codeOf(() => careless.verifyChain(pki.cert("cards/by-acquirer-ca"), [], { at: pki.at, role: "card" })),
    ).toBe("PROTO_ERR_CERT_ROLE");
    expect(card.store.load()).toMatchObject({ balance: 5_000, counter: 0 });
    expect(t.store.list()).toEqual([]);
  });

  it("is declined as an unknown issuer by a terminal that knows only its issuer CAs", async () => {
    t = testTerminal({ store: "memory" });
    const card = fixtureCard({ issuerCertificate: b64("acquirer-ca") }, { fixture: "cards/by-acquirer-ca" });
    const outcome = await runPayment(card.transport, t.deps, { amount: 450, currency: EUR });
    expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_UNKNOWN_ISSUER" });
    expect(card.store.load()).toMatchObject({ balance: 5_000, counter: 0 });
  });

  it("declines a card under a CA that carries no role marker", async () => {
    t = testTerminal({ store: "memory" });
    const card = fixtureCard({ issuerCertificate: b64("unmarked-ca") }, { fixture: "cards/by-unmarked-ca" });
    const withUnmarked = new TrustStore(
      [pki.cert("root-ca")],
      [pki.cert("issuer-ca"), pki.cert("unmarked-ca")],
    );
    const outcome = await runPayment(
      card.transport,
      { ...t.deps, trust: { ...t.trust, store: withUnmarked } },
      { amount: 450, currency: EUR },
    );
    expect(outcome).toMatchObject({ status: "declined", code: "TERM_ERR_CARD_CERT" });
    expect(card.store.load()).toMatchObject({ balance: 5_000, counter: 0 });
  });
});
