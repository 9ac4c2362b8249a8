/**
 * Issue 11, item 3: a torn debit that the card did commit must not be voided once it has left the
 * card's 32-entry log. The attacker's path: tear an 8.00 debit after the card committed, make 32
 * payments at another terminal, then tap at this one. The terminal (a real SQLite file) must keep
 * the intent, mark it unresolved and send it with the next upload to the acquirer (over loopback
 * HTTP), where an operator sees it; while a tear the card never committed is still voided as long
 * as the log covers it.
 */
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../../acquirer-stub/testing.js";
import { ProtocolError } from "../../protocol/errors.js";
import { silentLogger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import { INS } from "../../protocol/wallet/constants.js";
import { type FixtureCard, fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { type TestTerminal, testIdentity, testTerminal } from "../../test-support/terminal-fixture.js";
import { AcquirerClient } from "../adapters/http/acquirer-client.js";
import { judgeNotInLog } from "../domain/torn.js";
import { runPayment } from "./run-payment.js";
import { uploadBatches } from "./upload.js";

const world = frozenClock(TEST_NOW);
let here: TestTerminal;
let elsewhere: TestTerminal;
let acquirer: TestAcquirer;
let client: AcquirerClient;

beforeEach(async () => {
  here = testTerminal({ clock: world, store: "sqlite" });
  elsewhere = testTerminal({ clock: world, store: "memory" });
  elsewhere.deps = { ...elsewhere.deps, identity: testIdentity("terminals/term-0002") };
  acquirer = await testAcquirer({ clock: world.date });
  await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = acquirer.app.server.address() as AddressInfo;
  client = new AcquirerClient({
    baseUrl: `http://127.0.0.1:${port}`,
    retries: 1,
    baseDelayMs: 10,
    logger: silentLogger(),
  });
});
afterEach(async () => {
  client.close();
  await acquirer.close();
  here.cleanup();
  elsewhere.cleanup();
});

const pay = (t: TestTerminal, transport: Transport, amount: number) =>
  runPayment(transport, t.deps, { amount, currency: 978 });

async function payElsewhere(card: FixtureCard, n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    expect(await pay(elsewhere, card.transport, 10)).toMatchObject({ status: "approved" });
}

/** The card leaves the field as DEBIT goes out: the card never sees it. */
function tearBeforeDebit(inner: Transport): Transport {
  return {
    async exchange(command) {
      if (command[1] === INS.DEBIT) throw new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "card removed");
      return inner.exchange(command);
    },
  };
}

const upload = () =>
  uploadBatches(
    {
      batches: here.batches,
      identity: here.identity,
      terminalId: "T-0001",
      merchantId: "M-0001",
      logger: silentLogger(),
    },
    client,
    { maxRecords: 100 },
  );

describe("a torn debit the card committed, pushed out of its 32-entry log", () => {
  it("is not voided: it stays pending as unresolved and the acquirer receives it with the next upload", async () => {
    const card = fixtureCard({ balance: 100_000 }, { faults: { tearAfterDebitCommit: true } });
    const torn = await pay(here, card.transport, 800);
    expect(torn).toMatchObject({ status: "torn", seq: 1 });
    expect(card.store.load().counter).toBe(1); // the card committed 8.00
    card.applet.faults = {};
    card.transport.insert(); // the phone comes back into the field
    await payElsewhere(card, 32);

    const next = await pay(here, card.transport, 150);
    expect(next.status).toBe("approved");
    expect(next.recovered).toEqual([
      {
        seq: 1,
        amount: 800,
        outcome: "unresolved",
        reason: expect.stringContaining("not in the card's log, which starts at counter 2"),
      },
    ]);
    const stored = here.store.get(1)!;
    expect(stored.status).toBe("pending");
    expect(stored.cardCounterSeen).toBe(0);
    expect(stored.unresolvedReason).toMatch(/starts at counter 2/);

    // The next tap does not ask the card again (each ask costs an APDU and can never succeed now).
    const again = await pay(here, card.transport, 50);
    expect(again).toMatchObject({ status: "approved", recovered: [] });

    const summary = await upload();
    expect(summary).toMatchObject({ batches: 1, records: 2, accepted: 2, rejected: 0 });
    expect(await acquirer.store.unresolvedIntents()).toEqual([
      expect.objectContaining({
        terminalId: "T-0001",
        seq: 1,
        walletId: "W-ALICE-0001",
        amount: 800,
        currency: 978,
        cardCounterSeen: 0,
        status: "open",
      }),
    ]);
    // It travels once: a later batch does not carry it again.
    await pay(here, card.transport, 20);
    await upload();
    expect(await acquirer.store.unresolvedIntents()).toHaveLength(1);
    expect(here.store.get(1)!.status).toBe("pending");
  });

  it("is recovered as charged while the log still holds it (31 payments elsewhere)", async () => {
    const card = fixtureCard({ balance: 100_000 }, { faults: { tearAfterDebitCommit: true } });
    expect(await pay(here, card.transport, 800)).toMatchObject({ status: "torn" });
    card.applet.faults = {};
    card.transport.insert();
    await payElsewhere(card, 31);
    const next = await pay(here, card.transport, 150);
    expect(next.recovered).toEqual([{ seq: 1, amount: 800, outcome: "complete" }]);
  });
});

describe("a torn debit the card never committed", () => {
  it("is voided when the card's log still covers the counter seen (32 payments elsewhere)", async () => {
    const card = fixtureCard({ balance: 100_000 });
    await payElsewhere(card, 3); // counter 3 when the tear happens here
    expect(await pay(here, tearBeforeDebit(card.transport), 800)).toMatchObject({ status: "torn" });
    expect(here.store.get(1)!.cardCounterSeen).toBe(3);
    await payElsewhere(card, 32); // the log holds counters 4…35: 4 would have been the torn debit
    const next = await pay(here, card.transport, 150);
    expect(next.recovered).toEqual([{ seq: 1, amount: 800, outcome: "voided" }]);
    expect(here.store.get(1)).toMatchObject({
      status: "voided",
      resolution: expect.stringContaining("covers counters from 4"),
    });
  });

  it("stays unresolved once the log has moved past the counter seen (33 payments elsewhere)", async () => {
    const card = fixtureCard({ balance: 100_000 });
    expect(await pay(here, tearBeforeDebit(card.transport), 800)).toMatchObject({ status: "torn" });
    await payElsewhere(card, 33);
    const next = await pay(here, card.transport, 150);
    expect(next.recovered).toMatchObject([{ seq: 1, outcome: "unresolved" }]);
  });
});

describe("the rule for a card of protocol version 1 (no log start in its 6A83 answer)", () => {
  it("counts 6A83 as proof only while the card's counter is within 32 of the counter seen", () => {
    expect(judgeNotInLog({ counterSeen: 10, currentCounter: 42 })).toMatchObject({ proven: true });
    expect(judgeNotInLog({ counterSeen: 10, currentCounter: 43 })).toMatchObject({ proven: false });
    expect(judgeNotInLog({ counterSeen: 10, currentCounter: 10 })).toMatchObject({ proven: true });
    // A card whose counter went backwards (a restored state file) proves nothing.
    expect(judgeNotInLog({ counterSeen: 10, currentCounter: 9 })).toMatchObject({ proven: false });
    // Neither the log's start nor the counter: no proof.
    expect(judgeNotInLog({ counterSeen: 10 })).toMatchObject({ proven: false });
    expect(judgeNotInLog({ counterSeen: undefined, logFrom: 1 })).toMatchObject({ proven: false });
  });

  it("a card that says where its log starts: proof exactly when it reaches back to counter seen + 1", () => {
    expect(judgeNotInLog({ counterSeen: 3, logFrom: 4 })).toMatchObject({ proven: true });
    expect(judgeNotInLog({ counterSeen: 3, logFrom: 5 })).toMatchObject({ proven: false });
    expect(judgeNotInLog({ counterSeen: 0, logFrom: 1 })).toMatchObject({ proven: true });
  });
});
