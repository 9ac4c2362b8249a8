import { describe, expect, it } from "vitest";
import { encodeCommand } from "../protocol/apdu.js";
import { hex } from "../protocol/bytes.js";
import { ProtocolError } from "../protocol/errors.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { SW } from "../protocol/sw.js";
import { transmit } from "../protocol/transmit.js";
import { encodeDebit, getCertificateCommand, selectCommand } from "../protocol/wallet/messages.js";
import { verifyCardRecord } from "../protocol/wallet/records.js";
import { fixtureCard, seededRandom } from "../test-support/card-fixture.js";
import { TerminalCheckError, TerminalScript } from "../test-support/terminal-script.js";
import { WalletApplet } from "./applet/applet.js";
import { COMMANDS } from "./applet/commands.js";
import { debitCommand } from "./applet/handlers/debit.js";
import { MemoryCardStateStore } from "./applet/state.js";
import { CERTIFICATE_FAULT_FIXTURES, type CertificateFault, corrupt } from "./faults.js";
import { InProcessTransport } from "./inprocess.js";
import { fixtureCardState } from "./personalize.js";

const EUR = 978;
const pki = loadFixturePki();

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("faults › tearAfterDebitCommit", () => {
  it("commits the debit, then the card leaves the field instead of answering; the log recovers it", async () => {
    const { applet, transport } = fixtureCard({}, { faults: { tearAfterDebitCommit: true } });
    const t = new TerminalScript(transport);
    await t.authenticate();
    const e = await rejection(t.debit({ amount: 300, currency: EUR, terminalSeq: 9 }));
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe("PROTO_ERR_TRANSPORT_CLOSED");
    expect(transport.present).toBe(false);
    expect(applet.state).toMatchObject({ balance: 4_700, counter: 1 });
    expect(applet.state.log.at(-1)).toMatchObject({ terminalSeq: 9, amount: 300 });
    await expect(t.select()).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_CLOSED" });

    // Next tap: the terminal finds what the card committed.
    applet.faults = {};
    transport.insert();
    const next = new TerminalScript(transport);
    await next.authenticate();
    const recovered = await next.logBySeq(9);
    expect(recovered.sw).toBe(SW.OK);
    expect(recovered.record!.record).toMatchObject({ amount: 300, terminalSeq: 9, cardCounter: 1 });
    expect(
      verifyCardRecord(
        pki.cert("cards/alice").publicKey,
        recovered.record!.bytes,
        recovered.record!.signature,
      ),
    ).toBe(true);
  });
});

describe("faults › delayMs", () => {
  it("answers every APDU that many milliseconds late", async () => {
    const { transport } = fixtureCard({}, { faults: { delayMs: 60 } });
    const start = performance.now();
    const r = await transport.exchange(encodeCommand(selectCommand()));
    expect(performance.now() - start).toBeGreaterThanOrEqual(55);
    expect(hex(r.subarray(-2))).toBe("9000");
  });

  it("fails an answer when the card is removed while it is late", async () => {
    const { transport } = fixtureCard({}, { faults: { delayMs: 200 } });
    const pending = transport.exchange(encodeCommand(selectCommand()));
    setTimeout(() => transport.remove(), 20);
    await expect(pending).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_CLOSED" });
  });
});

describe("faults › corruptSignature", () => {
  it("record: the DEBIT answer carries a signature that does not verify; the log keeps the good one", async () => {
    const { applet, transport } = fixtureCard({}, { faults: { corruptSignature: true } });
    const t = new TerminalScript(transport);
    await t.authenticate();
    const e = await rejection(t.debit({ amount: 100, currency: EUR, terminalSeq: 1 }));
    expect(e).toBeInstanceOf(TerminalCheckError);
    expect((e as TerminalCheckError).check).toBe("record-signature");
    expect(applet.state.balance).toBe(4_900);
    const logged = await t.logBySeq(1);
    expect(
      verifyCardRecord(pki.cert("cards/alice").publicKey, logged.record!.bytes, logged.record!.signature),
    ).toBe(true);
  });

  it("auth: the INITIATE AUTHENTICATE signature does not verify", async () => {
    const { transport } = fixtureCard({}, { faults: { corruptSignature: "auth" } });
    const t = new TerminalScript(transport);
    await t.select();
    const e = await rejection(t.initiate());
    expect((e as TerminalCheckError).check).toBe("card-signature");
  });

  it("flips exactly one bit", () => {
    const sig = new Uint8Array(64).fill(0x55);
    const bad = corrupt(sig);
    expect(bad.length).toBe(64);
    expect(bad.reduce((n, b, i) => n + (b === sig[i] ? 0 : 1), 0)).toBe(1);
  });
});

describe("faults › certificate", () => {
  const expected: Record<CertificateFault, string> = {
    "unknown-issuer": "PROTO_ERR_CERT_ISSUER",
    expired: "PROTO_ERR_CERT_EXPIRED",
    revoked: "PROTO_ERR_CERT_REVOKED",
  };
  for (const fault of Object.keys(expected) as CertificateFault[]) {
    it(`${fault}: presents ${CERTIFICATE_FAULT_FIXTURES[fault]} (and its wallet id and key); the terminal refuses the chain with ${expected[fault]}`, async () => {
      const { transport } = fixtureCard({}, { faults: { certificate: fault } });
      const fixture = pki.cert(CERTIFICATE_FAULT_FIXTURES[fault]);
      const t = new TerminalScript(transport);
      const fci = await t.select();
      expect(fci.walletId).toBe(fixture.attributes.walletId);
      const cert = await transmit(transport, getCertificateCommand());
      expect(hex(cert.data)).toBe(hex(fixture.der));
      const e = await rejection(t.initiate());
      expect(e).toBeInstanceOf(TerminalCheckError);
      expect((e as TerminalCheckError).check).toBe("card-chain");
      expect((e as TerminalCheckError).code).toBe(expected[fault]);
    });
  }

  it("the card's signature itself is genuine for the presented certificate (only the chain is wrong)", async () => {
    const { transport } = fixtureCard({}, { faults: { certificate: "expired" } });
    // A terminal that trusted the expired card's time would accept it: check at its validity.
    const t = new TerminalScript(transport, {
      time: Date.UTC(2025, 2, 1) / 1000,
      terminal: "terminals/expired",
    });
    await t.select();
    expect((await t.initiate()).sw).toBe(SW.OK);
  });
});

describe("faults › replayDebitAnswer", () => {
  it("answers the previous debit record (an old transcript) and commits nothing; the terminal rejects it", async () => {
    const { applet, transport } = fixtureCard();
    const first = new TerminalScript(transport);
    await first.authenticate();
    const original = await first.debit({ amount: 100, currency: EUR, terminalSeq: 1 });
    expect(original.sw).toBe(SW.OK);
    applet.faults = { replayDebitAnswer: true };
    const t = new TerminalScript(transport);
    await t.authenticate();
    const before = { balance: applet.state.balance, counter: applet.state.counter };
    const sealed = await t.secure(0x54, 0, 0, encodeDebit({ amount: 100, currency: EUR, terminalSeq: 2 }));
    expect(sealed.sw).toBe(SW.OK);
    expect(hex(sealed.data)).toContain(hex(original.record!.bytes));
    expect(() =>
      t.checkRecord(sealed.data, { type: 1, amount: 100, currency: EUR, terminalSeq: 2 }),
    ).toThrowError(/record-mismatch/);
    expect(applet.state).toMatchObject(before);
  });

  it("behaves normally when there is no previous debit to replay", async () => {
    const { applet, transport } = fixtureCard({}, { faults: { replayDebitAnswer: true } });
    const t = new TerminalScript(transport);
    await t.authenticate();
    expect((await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 })).sw).toBe(SW.OK);
    expect(applet.state.counter).toBe(1);
  });
});

describe("faults › silentAfterInitiate", () => {
  it("never answers INITIATE AUTHENTICATE (or anything after) until the card leaves the field", async () => {
    const { transport } = fixtureCard({}, { faults: { silentAfterInitiate: true } });
    const t = new TerminalScript(transport);
    await t.select();
    const pending = t.initiate();
    const outcome = await Promise.race([
      pending.then(() => "answered").catch(() => "failed"),
      new Promise((resolve) => setTimeout(() => resolve("silent"), 150)),
    ]);
    expect(outcome).toBe("silent");
    transport.remove();
    await expect(pending).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_CLOSED" });
    // Back in the field: powered off in between, the card talks again (until the next INITIATE).
    transport.insert();
    expect((await t.select()).walletId).toBe("W-ALICE-0001");
  });
});

describe("FaultyApplet", () => {
  /** A whole tap (authenticate, debit, log) as the exchanged bytes. */
  async function tap(transport: InProcessTransport): Promise<string[]> {
    const lines: string[] = [];
    const recording = {
      exchange: async (c: Uint8Array) => {
        const r = await transport.exchange(c);
        lines.push(`${hex(c)} ${hex(r)}`);
        return r;
      },
    };
    const t = new TerminalScript(recording, { signer: "noble", random: seededRandom(2) });
    await t.authenticate();
    await t.debit({ amount: 100, currency: EUR, terminalSeq: 1 });
    await t.logBySeq(1);
    return lines;
  }

  it("without faults answers byte for byte what the bare applet answers", async () => {
    const options = { crypto: "noble" as const };
    const bare = new WalletApplet(new MemoryCardStateStore(fixtureCardState()), {
      ...options,
      random: seededRandom(1),
    });
    const { transport } = fixtureCard({}, { ...options, random: seededRandom(1) });
    expect(await tap(transport)).toEqual(await tap(new InProcessTransport(bare)));
  });

  it("wraps its own copy of the INS table; the applet's default table is left alone", () => {
    fixtureCard({}, { faults: { tearAfterDebitCommit: true } });
    expect(COMMANDS.get(debitCommand.ins)).toBe(debitCommand);
  });
});
