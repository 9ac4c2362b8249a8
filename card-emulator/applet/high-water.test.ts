/**
 * The card's time high-water mark (issue 11, item 5): it rises only from what a terminal cannot
 * inflate, its certificate's notBefore (signed by the acquirer CA), never from the time the
 * terminal claims. Played through posd's payment use case (runPayment) against the software card,
 * with terminals whose certificates are minted from the test acquirer CA the way `posd init` does.
 *
 * The world is frozen at FIXED_TIME; the attacking terminal's clock is that world's clock moved 60
 * days ahead (that wrong clock is the attack), and everything of that terminal (its store, the
 * time it sends the card) reads it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { generateP256KeyPair } from "../../protocol/crypto.js";
import { issueCertificate, parseCertificate, randomSerial } from "../../protocol/pki.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { runPayment } from "../../terminal/application/run-payment.js";
import type { TerminalIdentity } from "../../terminal/card-session/session.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock, type WorldClock } from "../../test-support/clock.js";
import { FIXED_TIME, type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";

const EUR = 978;
const DAY = 86_400;
const pki = loadFixturePki();
const world = frozenClock(FIXED_TIME * 1000);

/** A terminal certificate from the test acquirer CA, valid [notBefore, notAfter] (unix seconds). */
async function mintTerminal(
  terminalId: string,
  notBefore: number,
  notAfter: number,
): Promise<TerminalIdentity> {
  const keys = generateP256KeyPair();
  const der = await issueCertificate({
    role: "terminal",
    subjectCommonName: terminalId,
    publicKey: keys.publicKey,
    issuer: { certificate: pki.der("acquirer-ca"), privateKey: pki.key("acquirer-ca") },
    serialNumber: randomSerial(),
    notBefore: new Date(notBefore * 1000),
    notAfter: new Date(notAfter * 1000),
    attributes: { terminalId, merchantId: "M-0001", merchantCategory: "5411", region: "TW" },
  });
  return {
    privateKey: keys.privateKey,
    certificate: parseCertificate(der),
    chain: [pki.cert("acquirer-ca")],
  };
}

const terminals: TestTerminal[] = [];
afterEach(() => {
  for (const t of terminals.splice(0)) t.cleanup();
});

/** A posd terminal (memory store) with `identity`, everything of it on `clock`. */
function terminal(identity: TerminalIdentity, clock: WorldClock): TestTerminal {
  const t = testTerminal({ clock, store: "memory" });
  t.deps = { ...t.deps, identity };
  terminals.push(t);
  return t;
}

describe("card time high-water mark › a future-dated tap", () => {
  it("a terminal with a 10-year certificate and a clock 60 days ahead pays 0.01; an honest 30-day terminal still pays afterwards", async () => {
    const card = fixtureCard();
    const ahead = frozenClock((FIXED_TIME + 60 * DAY) * 1000);
    const rogue = terminal(await mintTerminal("T-FAST", FIXED_TIME - 3600, FIXED_TIME + 3650 * DAY), ahead);
    const honest = terminal(await mintTerminal("T-0002", FIXED_TIME - 3600, FIXED_TIME + 30 * DAY), world);

    const attack = await runPayment(card.transport, rogue.deps, { amount: 1, currency: EUR });
    expect(attack.status).toBe("approved");
    // The claimed time is in the record (the acquirer sees it), but the mark did not follow it.
    if (attack.status === "approved") expect(attack.record.terminalTime).toBe(FIXED_TIME + 60 * DAY);
    expect(card.applet.state.highWaterTime).toBe(FIXED_TIME - 3600);

    const after = await runPayment(card.transport, honest.deps, { amount: 450, currency: EUR });
    expect(after).toMatchObject({ status: "approved" });
    expect(card.store.load().balance).toBe(5_000 - 1 - 450);
  });

  it("an honest terminal whose certificate was issued weeks before the attacker's still pays", async () => {
    const card = fixtureCard();
    const ahead = frozenClock((FIXED_TIME + 60 * DAY) * 1000);
    // Certified 25 days ago for 30 days: 5 days left. The attacker's certificate is brand new.
    const honest = terminal(await mintTerminal("T-0002", FIXED_TIME - 25 * DAY, FIXED_TIME + 5 * DAY), world);
    const rogue = terminal(await mintTerminal("T-FAST", FIXED_TIME - 3600, FIXED_TIME + 3650 * DAY), ahead);
    expect(await runPayment(card.transport, rogue.deps, { amount: 1, currency: EUR })).toMatchObject({
      status: "approved",
    });
    expect(await runPayment(card.transport, honest.deps, { amount: 1, currency: EUR })).toMatchObject({
      status: "approved",
    });
  });
});

describe("card time high-water mark › a stolen terminal turns its clock back", () => {
  it("refuses (930B) a terminal whose certificate expired before one the card has since paid at was issued", async () => {
    const card = fixtureCard();
    // Certified 40 days ago for 30 days: expired 10 days ago. Its clock says 20 days ago.
    const stolen = terminal(
      await mintTerminal("T-STOLEN", FIXED_TIME - 40 * DAY, FIXED_TIME - 10 * DAY),
      frozenClock((FIXED_TIME - 20 * DAY) * 1000),
    );
    const honest = terminal(await mintTerminal("T-0002", FIXED_TIME - 3600, FIXED_TIME + 30 * DAY), world);

    // Before the card has met a newer terminal, the stolen one's wrong clock goes unnoticed: the
    // defence is as good as the card's latest terminal certificate.
    expect(await runPayment(card.transport, stolen.deps, { amount: 1, currency: EUR })).toMatchObject({
      status: "approved",
    });
    expect(await runPayment(card.transport, honest.deps, { amount: 1, currency: EUR })).toMatchObject({
      status: "approved",
    });
    const balance = card.store.load().balance;
    const refused = await runPayment(card.transport, stolen.deps, { amount: 1, currency: EUR });
    expect(refused).toMatchObject({ status: "declined", code: "TERM_ERR_TERMINAL_REFUSED" });
    if (refused.status === "declined")
      expect(refused.message).toMatch(/expired before a time the wallet has seen/);
    expect(card.store.load().balance).toBe(balance);
  });

  it("does not raise the mark on a session that changed nothing (a declined debit)", async () => {
    const card = fixtureCard({ balance: 100 });
    const honest = terminal(await mintTerminal("T-0002", FIXED_TIME - 3600, FIXED_TIME + 30 * DAY), world);
    const declined = await runPayment(card.transport, honest.deps, { amount: 450, currency: EUR });
    expect(declined).toMatchObject({ status: "declined", code: "TERM_ERR_INSUFFICIENT_FUNDS" });
    expect(card.applet.state.highWaterTime).toBe(0);
  });
});
