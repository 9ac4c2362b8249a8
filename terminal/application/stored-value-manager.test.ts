/**
 * The register's stored-value operations (StoredValueManager) when a load is cut off: a real
 * software card that leaves the field after it committed the LOAD, the real wallet platform over
 * loopback HTTP, the terminal's stores in memory. The operation is in_doubt and says so; the
 * wallet's next presentation settles it and the status follows. After a crash, what was running
 * ends by what reached the card.
 */
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PlatformStore } from "../../acquirer-stub/platform/store/platform-store.js";
import { issueWallet, walletView } from "../../acquirer-stub/platform/wallets.js";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../../acquirer-stub/testing.js";
import { silentLogger } from "../../protocol/logger.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { type FixtureCard, fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { STORE_KINDS, type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { AcquirerClient } from "../adapters/http/acquirer-client.js";
import { PlatformClient } from "../adapters/http/platform-client.js";
import { VirtualCardSource } from "../adapters/virtual/virtual-card-source.js";
import { PaymentManager } from "./payment-manager.js";
import type { LoadDeps } from "./run-load.js";
import { runPayment } from "./run-payment.js";
import { StoredValueManager } from "./stored-value-manager.js";

const WALLET = "W-ALICE-0001";
const EUR = 978;
const world = frozenClock(TEST_NOW);

let t: TestTerminal;
let acquirer: TestAcquirer;
let platform: PlatformStore;
let http: AcquirerClient;
let card: FixtureCard;
let online: LoadDeps;
let payments: PaymentManager;

function manager(cardSource = new VirtualCardSource(card.transport)): StoredValueManager {
  return new StoredValueManager({
    operations: t.stores.ecrStoredValues,
    slot: payments,
    cardSource,
    card: { identity: t.identity, trust: t.trust, logger: silentLogger(), clock: world.seconds },
    online,
    loads: t.stores.loads,
    cardWaitMs: 5_000,
    logger: silentLogger(),
  });
}

beforeEach(async () => {
  t = testTerminal({ clock: world, store: "memory" });
  acquirer = await testAcquirer({ clock: world.date });
  platform = PlatformStore.of(acquirer.store);
  card = fixtureCard({ balance: 5_000 });
  await issueWallet(
    platform,
    {
      walletId: WALLET,
      currency: EUR,
      opening: 5_000,
      boundAccount: null,
      balanceLimit: 20_000,
      singleLimit: 2_000,
      autoLoadThreshold: 0,
      autoLoadAmount: 0,
    },
    world.seconds(),
  );
  await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = acquirer.app.server.address() as AddressInfo;
  http = new AcquirerClient({
    baseUrl: `http://127.0.0.1:${port}`,
    retries: 1,
    baseDelayMs: 5,
    logger: silentLogger(),
  });
  const pki = loadFixturePki();
  online = {
    loads: t.stores.loads,
    platform: new PlatformClient(http, {
      privateKey: t.identity.privateKey,
      chain: [t.identity.certificate.der, ...pki.intermediates("terminals/term-0001").map((c) => c.der)],
    }),
    identity: t.identity,
    trust: t.trust,
    logger: silentLogger(),
    clock: world.seconds,
  };
  payments = new PaymentManager({
    payments: t.ecrPayments,
    records: t.store,
    cardSource: new VirtualCardSource(card.transport),
    pay: (transport, request) => runPayment(transport, t.deps, request),
    cardWaitMs: 5_000,
    logger: silentLogger(),
  });
});
afterEach(async () => {
  await payments.shutdown();
  http.close();
  await acquirer.close();
  t.cleanup();
});

const cashLoad = { operation: "load", amount: 1_000, currency: EUR, source: "cash", teller: "T01" } as const;

describe("stored value (StoredValueManager) at the reader", () => {
  it("gives the reader's approved feedback for a load done, and the declined one for a load refused", async () => {
    const source = new VirtualCardSource(card.transport);
    const sv = manager(source);
    sv.start({ serviceId: "SV-OK", terms: cashLoad });
    expect(await sv.waitFinal("SV-OK", 10_000)).toMatchObject({ state: "done" });
    // Over the wallet's 200.00 balance limit: the platform refuses it.
    sv.start({ serviceId: "SV-NO", terms: { ...cashLoad, amount: 50_000 } });
    expect(await sv.waitFinal("SV-NO", 10_000)).toMatchObject({ state: "declined" });
    expect(source.finished).toEqual([{ status: "approved" }, { status: "declined" }]);
  });
});

describe("stored value (StoredValueManager) when a load is cut off", () => {
  it("a card torn after it committed the LOAD leaves the operation in doubt; the next presentation settles it and the status follows", async () => {
    const sv = manager();
    card.applet.faults = { tearAfterOnlineCommit: true };
    sv.start({ serviceId: "SV-1", terms: cashLoad });
    const cut = await sv.waitFinal("SV-1", 10_000);
    expect(cut).toMatchObject({
      state: "in_doubt",
      loadId: expect.stringMatching(/^[0-9a-f]{16}$/),
      outcome: { status: "in_doubt", code: "TERM_ERR_LOAD_IN_DOUBT" },
    });
    expect(String(cut?.outcome?.message)).toContain("present the card again at an online terminal");

    // The wallet presented again (a balance inquiry) settles the load: the card gives it back.
    card.applet.faults = {};
    card.transport.insert();
    sv.start({ serviceId: "SV-B", terms: { operation: "balance" } });
    expect(await sv.waitFinal("SV-B", 10_000)).toMatchObject({
      state: "done",
      outcome: {
        balance: 5_000,
        settled: [{ loadId: cut?.loadId, outcome: "reversed" }],
        platform: { offlineBalance: 5_000 },
      },
    });
    expect(sv.get("SV-1")).toMatchObject({
      state: "declined",
      outcome: { status: "declined", settledAs: "reversed" },
    });
    expect(card.applet.state.balance).toBe(5_000);
    expect((await walletView(platform, WALLET)).accounts.offline).toBe(5_000);
  });

  it.each(STORE_KINDS)(
    "after a crash (%s store): a load whose load row was written is in doubt, one waiting for the card aborted, anything else an error",
    async (kind) => {
      t.cleanup();
      t = testTerminal({ clock: world, store: kind });
      online = { ...online, loads: t.stores.loads };
      const store = t.stores.ecrStoredValues;
      store.create({ serviceId: "SV-W", requestHash: "h", terms: { operation: "balance" } });
      store.create({ serviceId: "SV-L", requestHash: "h", terms: cashLoad });
      store.update("SV-L", "in_progress", { loadId: "00112233445566ff" });
      t.stores.loads.begin({
        loadId: "00112233445566ff",
        walletId: WALLET,
        type: "cash",
        amount: 1_000,
        currency: EUR,
        teller: "T01",
      });
      store.create({ serviceId: "SV-N", requestHash: "h", terms: cashLoad });
      store.update("SV-N", "in_progress");
      store.create({
        serviceId: "SV-R",
        requestHash: "h",
        terms: { operation: "reverse", loadId: "0011223344556677", teller: "T01" },
      });
      store.update("SV-R", "in_progress");

      const sv = manager();
      expect(sv.get("SV-W")?.state).toBe("aborted");
      expect(sv.get("SV-L")).toMatchObject({
        state: "in_doubt",
        outcome: {
          code: "TERM_ERR_LOAD_IN_DOUBT",
          message: expect.stringContaining("next time the wallet is presented"),
        },
      });
      expect(sv.get("SV-N")).toMatchObject({ state: "error", outcome: { code: "TERM_ERR_INTERRUPTED" } });
      expect(sv.get("SV-R")).toMatchObject({ state: "error", outcome: { code: "TERM_ERR_SV_INTERRUPTED" } });
    },
  );
});
