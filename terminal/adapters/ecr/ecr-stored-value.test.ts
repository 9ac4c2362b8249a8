/**
 * Stored-value operations on the cash-register API (POST /v1/stored-value, GET …/:serviceId,
 * POST …/abort): the daemon in-process in virtual-card mode over real loopback HTTP, a software
 * wallet in a state file, and the real wallet platform (acquirer-stub's app) on a loopback port.
 * The one card slot shared with payments and the abort rule run on fastify's inject() with a card
 * that is tapped when the test says.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PlatformStore } from "../../../acquirer-stub/platform/store/platform-store.js";
import { moneySnapshot } from "../../../acquirer-stub/platform/testing.js";
import { issueWallet, walletView } from "../../../acquirer-stub/platform/wallets.js";
import { type TestAcquirer, testAcquirer } from "../../../acquirer-stub/testing.js";
import { FileCardStateStore } from "../../../card-emulator/applet/state.js";
import { fixtureCardState } from "../../../card-emulator/personalize.js";
import { silentLogger } from "../../../protocol/logger.js";
import Database from "../../../protocol/sqlite.js";
import { fixtureCard } from "../../../test-support/card-fixture.js";
import { realClock } from "../../../test-support/clock.js";
import { type TestTerminal, testTerminal } from "../../../test-support/terminal-fixture.js";
import { PaymentManager } from "../../application/payment-manager.js";
import { runPayment } from "../../application/run-payment.js";
import { StoredValueManager } from "../../application/stored-value-manager.js";
import { loadConfig } from "../../config.js";
import { Daemon } from "../../daemon.js";
import { initTerminal } from "../../init.js";
import { VirtualCardSource } from "../virtual/virtual-card-source.js";
import { buildEcrApp } from "./ecr-server.js";

const WALLET = "W-ALICE-0001";
const EUR = 978;

let dir: string;
let cardPath: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-sv-"));
  await initTerminal({
    dataDir: dir,
    terminalId: "T-0001",
    merchantId: "M-0001",
    merchantCategory: "5411",
    region: "TW",
    currency: "EUR",
  });
  cardPath = join(dir, "alice.card.json");
  FileCardStateStore.create(cardPath, fixtureCardState("cards/alice", { balance: 10_000 }));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}) {
  const config = loadConfig({
    dataDir: dir,
    env: {
      TAPWALLET_ECR_PORT: "0",
      TAPWALLET_UPLOAD_INTERVAL_SEC: "0",
      TAPWALLET_SYNC_INTERVAL_SEC: "0",
      ...env,
    },
  });
  const daemon = await Daemon.start({ config, logger: silentLogger(), virtualCard: cardPath });
  cleanups.push(() => daemon.stop("test over"));
  return daemon;
}

async function api(daemon: Daemon, method: "GET" | "POST", path: string, body?: unknown) {
  const res = await fetch(`${daemon.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const cardBalance = () => new FileCardStateStore(cardPath).load().balance;

function storedRows(): unknown[] {
  const db = new Database(join(dir, "records.sqlite"), { readonly: true });
  try {
    return db.prepare("SELECT service_id, operation, state FROM ecr_stored_values").all();
  } finally {
    db.close();
  }
}

describe("stored value on the cash-register API, at an online terminal", () => {
  let acquirer: TestAcquirer;
  let platform: PlatformStore;
  let env: Record<string, string>;

  beforeEach(async () => {
    // initTerminal dates the terminal's certificate by the real clock: the platform lives in it too.
    acquirer = await testAcquirer({ clock: realClock.date });
    await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => acquirer.close());
    env = {
      TAPWALLET_ACQUIRER_URL: `http://127.0.0.1:${(acquirer.app.server.address() as AddressInfo).port}`,
    };
    platform = PlatformStore.of(acquirer.store);
    await issueWallet(
      platform,
      {
        walletId: WALLET,
        currency: EUR,
        opening: 10_000,
        boundAccount: null,
        balanceLimit: 20_000,
        singleLimit: 2_000,
        autoLoadThreshold: 0,
        autoLoadAmount: 0,
      },
      Math.floor(Date.now() / 1000),
    );
  });

  const cashLoad = {
    serviceId: "SV-1",
    operation: "load",
    amount: 2_000,
    currency: "EUR",
    source: "cash",
    teller: "T01",
  };

  it("a cash load puts the money on the card, and the wallet's offline account and the teller's drawer move with it", async () => {
    const daemon = await start(env);
    const r = await api(daemon, "POST", "/v1/stored-value?wait=10", cashLoad);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      serviceId: "SV-1",
      operation: "load",
      state: "done",
      amount: 2_000,
      currency: EUR,
      source: "cash",
      teller: "T01",
      loadId: expect.stringMatching(/^[0-9a-f]{16}$/),
      outcome: {
        status: "loaded",
        walletId: WALLET,
        amount: 2_000,
        balanceAfter: 12_000,
        booked: true,
        amountText: "20.00 EUR",
      },
    });
    expect(cardBalance()).toBe(12_000);
    const view = await walletView(platform, WALLET);
    expect(view.accounts.offline).toBe(12_000);
    expect(view.loads).toMatchObject([{ type: "cash", amount: 2_000, state: "loaded", teller: "T01" }]);
    expect((await moneySnapshot(acquirer.store)).balances["drawer:T01"]).toBe(-2_000);
  });

  it("the same serviceId again is answered the same and loads once; other terms are a conflict", async () => {
    const daemon = await start(env);
    const first = await api(daemon, "POST", "/v1/stored-value?wait=10", cashLoad);
    const again = await api(daemon, "POST", "/v1/stored-value?wait=10", cashLoad);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const other = await api(daemon, "POST", "/v1/stored-value", { ...cashLoad, amount: 2_500 });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe("TERM_ERR_ECR_CONFLICT");
    expect(cardBalance()).toBe(12_000);
    expect((await walletView(platform, WALLET)).loads).toHaveLength(1);
  });

  it("answers the status query after a restart of posd", async () => {
    const daemon = await start(env);
    const done = await api(daemon, "POST", "/v1/stored-value?wait=10", cashLoad);
    await daemon.stop("restart");
    const restarted = await start(env);
    const r = await api(restarted, "GET", "/v1/stored-value/SV-1");
    expect(r.status).toBe(200);
    expect(r.body).toEqual(done.body);
    expect((await api(restarted, "GET", "/v1/stored-value/SV-9")).body.code).toBe("TERM_ERR_ECR_NOT_FOUND");
  });

  it("a balance inquiry answers the card's balance and the platform's offline and online accounts", async () => {
    const daemon = await start(env);
    await api(daemon, "POST", "/v1/stored-value?wait=10", cashLoad);
    const r = await api(daemon, "POST", "/v1/stored-value?wait=10", {
      serviceId: "SV-B",
      operation: "balance",
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      operation: "balance",
      state: "done",
      outcome: {
        status: "balance",
        walletId: WALLET,
        balance: 12_000,
        currency: EUR,
        balanceText: "120.00 EUR",
        platform: { status: "active", offlineBalance: 12_000, onlineBalance: 0 },
      },
    });
    expect(cardBalance()).toBe(12_000);
  });

  it("a reverse of a same-day cash load gives it back: off the card, out of the offline account, cash paid out", async () => {
    const daemon = await start(env);
    const loaded = await api(daemon, "POST", "/v1/stored-value?wait=10", cashLoad);
    const loadId = loaded.body.loadId as string;
    const r = await api(daemon, "POST", "/v1/stored-value?wait=10", {
      serviceId: "SV-R",
      operation: "reverse",
      loadId,
      teller: "T01",
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      operation: "reverse",
      state: "done",
      loadId,
      outcome: { status: "reversed", loadId, amount: 2_000, settledAs: "reversed", walletId: WALLET },
    });
    expect(cardBalance()).toBe(10_000);
    expect((await walletView(platform, WALLET)).accounts.offline).toBe(10_000);
    expect((await moneySnapshot(acquirer.store)).balances["drawer:T01"] ?? 0).toBe(0);
  });

  it("a reverse of a load this terminal never made is refused before the card is touched", async () => {
    const daemon = await start(env);
    const r = await api(daemon, "POST", "/v1/stored-value", {
      serviceId: "SV-R",
      operation: "reverse",
      loadId: "0123456789abcdef",
      teller: "T01",
    });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe("TERM_ERR_SV_UNKNOWN_LOAD");
    expect(storedRows()).toEqual([]);
    expect(new FileCardStateStore(cardPath).load().counter).toBe(0);
  });

  it("a load the platform refuses (over the wallet's balance limit) is declined: nothing on the card", async () => {
    const daemon = await start(env);
    const r = await api(daemon, "POST", "/v1/stored-value?wait=10", {
      ...cashLoad,
      serviceId: "SV-BIG",
      amount: 15_000,
    });
    expect(r.body).toMatchObject({
      state: "declined",
      outcome: { status: "declined", code: "TERM_ERR_LOAD_REFUSED" },
    });
    expect(cardBalance()).toBe(10_000);
    expect((await walletView(platform, WALLET)).accounts.offline).toBe(10_000);
  });
});

describe("stored value on the cash-register API, at an offline terminal", () => {
  it("refuses a load and a reverse with TERM_ERR_OFFLINE, charging and storing nothing", async () => {
    const daemon = await start();
    const load = await api(daemon, "POST", "/v1/stored-value?wait=5", {
      serviceId: "SV-1",
      operation: "load",
      amount: 2_000,
      currency: "EUR",
      source: "cash",
      teller: "T01",
    });
    expect(load.status).toBe(409);
    expect(load.body.code).toBe("TERM_ERR_OFFLINE");
    const reverse = await api(daemon, "POST", "/v1/stored-value", {
      serviceId: "SV-2",
      operation: "reverse",
      loadId: "0123456789abcdef",
      teller: "T01",
    });
    expect(reverse.body.code).toBe("TERM_ERR_OFFLINE");
    expect(new FileCardStateStore(cardPath).load()).toMatchObject({ balance: 10_000, counter: 0 });
    expect(storedRows()).toEqual([]);
  });

  it("still answers a balance inquiry, from the card alone", async () => {
    const daemon = await start();
    const r = await api(daemon, "POST", "/v1/stored-value?wait=10", {
      serviceId: "SV-B",
      operation: "balance",
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      state: "done",
      outcome: { status: "balance", walletId: WALLET, balance: 10_000, platform: null },
    });
  });

  it.each([
    ["a load without an amount", { operation: "load", currency: "EUR", source: "cash", teller: "T01" }],
    ["a cash load without a teller", { operation: "load", amount: 100, currency: "EUR", source: "cash" }],
    ["a load without a source", { operation: "load", amount: 100, currency: "EUR" }],
    [
      "a load from another account without its number",
      { operation: "load", amount: 100, currency: "EUR", source: "from-account" },
    ],
    ["a reverse without a loadId", { operation: "reverse", teller: "T01" }],
    ["a reverse without a teller", { operation: "reverse", loadId: "0123456789abcdef" }],
    ["a balance inquiry with an amount", { operation: "balance", amount: 100 }],
    ["an amount as text", { operation: "load", amount: "100", currency: "EUR", source: "account" }],
    ["an unknown operation", { operation: "topup" }],
    ["an extra field", { operation: "balance", note: "hi" }],
    ["an unknown currency", { operation: "load", amount: 100, currency: "XXQ", source: "account" }],
    ["a malformed loadId", { operation: "reverse", loadId: "LOAD-1", teller: "T01" }],
  ])("answers %s with 400 TERM_ERR_ECR_BAD_REQUEST and stores nothing", async (_what, body) => {
    const daemon = await start();
    const r = await api(daemon, "POST", "/v1/stored-value", { serviceId: "SV-X", ...body });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("TERM_ERR_ECR_BAD_REQUEST");
    expect(storedRows()).toEqual([]);
  });
});

describe("stored value and payments share the one card", () => {
  let t: TestTerminal;
  let source: VirtualCardSource;
  let manager: PaymentManager;
  let storedValue: StoredValueManager;
  let app: ReturnType<typeof buildEcrApp>;

  beforeEach(() => {
    t = testTerminal();
    source = new VirtualCardSource(undefined, { alwaysPresent: false });
    manager = new PaymentManager({
      payments: t.ecrPayments,
      records: t.store,
      cardSource: source,
      pay: (transport, request) => runPayment(transport, t.deps, request),
      cardWaitMs: 5_000,
      logger: silentLogger(),
    });
    storedValue = new StoredValueManager({
      operations: t.stores.ecrStoredValues,
      slot: manager,
      cardSource: source,
      card: { identity: t.identity, trust: t.trust, logger: silentLogger() },
      online: undefined,
      loads: t.stores.loads,
      cardWaitMs: 5_000,
      logger: silentLogger(),
    });
    app = buildEcrApp({ manager, stores: t, logger: silentLogger(), status: () => ({}), storedValue });
  });
  afterEach(async () => {
    await manager.shutdown();
    await app.close();
    t.cleanup();
  });

  const post = (url: string, body?: object) =>
    app.inject({ method: "POST", url, ...(body ? { payload: body } : {}) });

  it("is busy for a balance inquiry while a payment waits for the card, and the other way round", async () => {
    await post("/v1/payments", { serviceId: "P-1", amount: 100, currency: "EUR" });
    const busy = await post("/v1/stored-value", { serviceId: "SV-B", operation: "balance" });
    expect(busy.statusCode).toBe(409);
    expect(busy.json().code).toBe("TERM_ERR_ECR_BUSY");
    expect(t.stores.ecrStoredValues.get("SV-B")).toBeUndefined();
    await post("/v1/payments/P-1/abort");

    const waiting = await post("/v1/stored-value", { serviceId: "SV-B", operation: "balance" });
    expect(waiting.json()).toMatchObject({ state: "waiting_for_card" });
    expect((await app.inject({ method: "GET", url: "/v1/status" })).json()).toMatchObject({
      busy: true,
      current: null,
      currentStoredValue: { serviceId: "SV-B" },
    });
    const pay = await post("/v1/payments", { serviceId: "P-2", amount: 100, currency: "EUR" });
    expect(pay.statusCode).toBe(409);
    expect(pay.json().message).toContain("stored-value balance SV-B");
    source.present(fixtureCard({ balance: 3_300 }).transport);
    const done = await app.inject({ method: "GET", url: "/v1/stored-value/SV-B?wait=10" });
    expect(done.json()).toMatchObject({ state: "done", outcome: { balance: 3_300, platform: null } });
  });

  it("aborts an operation that waits for the card; the card tapped afterwards is not read", async () => {
    await post("/v1/stored-value", { serviceId: "SV-B", operation: "balance" });
    const aborted = await post("/v1/stored-value/SV-B/abort");
    expect(aborted.statusCode).toBe(200);
    expect(aborted.json()).toMatchObject({ state: "aborted" });
    const card = fixtureCard({ balance: 3_300 });
    source.present(card.transport);
    expect((await app.inject({ method: "GET", url: "/v1/stored-value/SV-B" })).json().state).toBe("aborted");
    // The slot is free again: a payment takes the card.
    const pay = await post("/v1/payments", { serviceId: "P-1", amount: 100, currency: "EUR" });
    expect(pay.statusCode).toBe(201);
    expect((await post("/v1/stored-value/SV-NONE/abort")).statusCode).toBe(404);
  });
});
