/**
 * The daemon (terminal/daemon.ts) in-process, over real loopback HTTP: virtual-card mode, PC/SC mode
 * on fake nfc-pcsc objects whose reader forwards APDUs to a software wallet, the upload and hotlist
 * schedules against the acquirer, and stopping. The real stack (pcscd + vpcd, `posd run` as a
 * process, signals) is in system-tests/daemon*.pcsc.test.ts.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acceptedTotals, type TestAcquirer, testAcquirer } from "../acquirer-stub/testing.js";
import { WalletApplet } from "../card-emulator/applet/applet.js";
import { FileCardStateStore, MemoryCardStateStore } from "../card-emulator/applet/state.js";
import { fixtureCardState } from "../card-emulator/personalize.js";
import { createLogger } from "../protocol/logger.js";
import Database from "../protocol/sqlite.js";
import { realClock } from "../test-support/clock.js";
import { type FakeNfcModule, type FakeNfcReader, fakeNfcModule } from "../test-support/fake-nfc.js";
import type { UploadSummary } from "./application/upload.js";
import { loadConfig } from "./config.js";
import { Daemon, type DaemonOptions } from "./daemon.js";
import type { TerminalError } from "./errors.js";
import { initTerminal } from "./init.js";

const READER = "ACS ACR122U PICC Interface 00 00";

let dir: string;
let logs: Record<string, unknown>[];
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-daemon-"));
  logs = [];
  await initTerminal({
    dataDir: dir,
    terminalId: "T-0001",
    merchantId: "M-0001",
    merchantCategory: "5411",
    region: "TW",
    currency: "EUR",
  });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function logger() {
  const destination = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split("\n")) if (l) logs.push(JSON.parse(l));
      done();
    },
  });
  return createLogger({ name: "posd", level: "info", pretty: false, destination });
}

function config(env: Record<string, string> = {}) {
  return loadConfig({ dataDir: dir, env: { TAPWALLET_ECR_PORT: "0", ...env } });
}

async function start(options: Partial<DaemonOptions> & { env?: Record<string, string> } = {}) {
  const daemon = await Daemon.start({ config: config(options.env), logger: logger(), ...options });
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

function virtualCard(): string {
  const path = join(dir, "alice.card.json");
  FileCardStateStore.create(path, fixtureCardState("cards/alice", { balance: 10_000 }));
  return path;
}

/** A unix socket standing in for pcscd's, and fake nfc-pcsc whose reader talks to a wallet applet. */
async function fakePcsc(options: { delayMs?: number } = {}) {
  const socketPath = join(dir, "pcscd.comm");
  const server: Server = createServer((s) => s.destroy());
  server.listen(socketPath);
  await once(server, "listening");
  cleanups.push(async () => {
    await new Promise((r) => server.close(r));
    try {
      unlinkSync(socketPath);
    } catch {}
  });
  const card = new MemoryCardStateStore(fixtureCardState("cards/alice", { balance: 10_000 }));
  const applet = new WalletApplet(card);
  const module: FakeNfcModule = fakeNfcModule((c) => {
    const reader = c.addReader(READER);
    reader.onTransmit = async (data) => {
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      return Buffer.from(await applet.process(new Uint8Array(data)));
    };
  });
  const reader = (): FakeNfcReader => module.contexts.at(-1)!.readers[0]!;
  return { pcsc: { load: async () => module, socketPath, watchIntervalMs: 30, retryMs: 20 }, reader, card };
}

const logged = (msg: string) => logs.filter((l) => l.msg === msg);

describe("posd run (Daemon)", () => {
  it("virtual-card mode: takes a payment over loopback HTTP and logs the address and the outcome", async () => {
    const daemon = await start({ virtualCard: virtualCard() });
    expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await api(daemon, "POST", "/v1/payments?wait=10", {
      serviceId: "S-1",
      amount: 450,
      currency: "EUR",
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ state: "approved", seq: 1, outcome: { walletId: "W-ALICE-0001" } });
    expect(logged("ECR API listening")[0]).toMatchObject({ url: daemon.url, mode: "virtual" });
    expect(logged("payment approved")[0]).toMatchObject({ serviceId: "S-1", seq: 1, amount: 450 });
    const status = await api(daemon, "GET", "/v1/status");
    expect(status.body).toMatchObject({ terminalId: "T-0001", mode: "virtual", busy: false, pending: 0 });
  });

  it("PC/SC mode: the reader found, a payment waits for the tap, then the ACR122U gets its green LED", async () => {
    const f = await fakePcsc();
    const daemon = await start({ reader: "ACR122", pcsc: f.pcsc });
    expect(logged("reader found")[0]).toMatchObject({ reader: READER });
    const created = await api(daemon, "POST", "/v1/payments", {
      serviceId: "S-1",
      amount: 250,
      currency: "EUR",
    });
    expect(created.body.state).toBe("waiting_for_card");
    expect((await api(daemon, "GET", "/v1/status")).body.reader).toMatchObject({
      query: "ACR122",
      name: READER,
      connected: true,
      cardPresent: false,
    });
    f.reader().insert();
    const done = await api(daemon, "GET", "/v1/payments/S-1?wait=10");
    expect(done.body).toMatchObject({ state: "approved", outcome: { record: { amount: 250 } } });
    expect(f.card.load()).toMatchObject({ balance: 9_750, counter: 1 });
    // Green LED and one beep: the pseudo-APDU FF 00 40 AE … through SCardControl.
    expect(f.reader().controls.map((c) => c.data.subarray(0, 4).toString("hex"))).toEqual(["ff0040ae"]);
  });

  it("stop() aborts a payment still waiting for a card and closes the database", async () => {
    const f = await fakePcsc();
    const daemon = await start({ reader: READER, pcsc: f.pcsc });
    await api(daemon, "POST", "/v1/payments", { serviceId: "S-1", amount: 100, currency: "EUR" });
    await daemon.stop("SIGTERM");
    expect(logged("stopping")[0]).toMatchObject({ reason: "SIGTERM", payment: { serviceId: "S-1" } });
    expect(logged("stopped; database closed")).toHaveLength(1);
    await expect(fetch(`${daemon.url}/v1/status`)).rejects.toThrow();
    const db = new Database(join(dir, "records.sqlite"), { readonly: true });
    expect(db.prepare("SELECT state FROM ecr_payments WHERE service_id = 'S-1'").get()).toEqual({
      state: "aborted",
    });
    db.close();
    f.reader().insert(); // a card now charges nothing
    expect(f.card.load().counter).toBe(0);
  });

  it("stop() lets a payment in progress finish before it closes anything", async () => {
    const f = await fakePcsc({ delayMs: 40 });
    const daemon = await start({ reader: READER, pcsc: f.pcsc });
    f.reader().insert();
    const inProgress = new Promise<void>((resolve) =>
      daemon.manager.on("change", (_id: string, state: string) => {
        if (state === "in_progress") resolve();
      }),
    );
    await api(daemon, "POST", "/v1/payments", { serviceId: "S-1", amount: 100, currency: "EUR" });
    await inProgress;
    expect(daemon.manager.get("S-1")!.state).toBe("in_progress");
    await daemon.stop("SIGTERM");
    expect(f.card.load()).toMatchObject({ balance: 9_900, counter: 1 });
    const db = new Database(join(dir, "records.sqlite"), { readonly: true });
    expect(db.prepare("SELECT state, seq FROM ecr_payments").all()).toEqual([{ state: "approved", seq: 1 }]);
    expect(db.prepare("SELECT status FROM transactions").all()).toEqual([{ status: "complete" }]);
    db.close();
  });

  it("refuses a new payment once stopping: the register gets a clear answer, nothing is charged", async () => {
    const daemon = await start({ virtualCard: virtualCard() });
    const stopping = daemon.stop("SIGTERM");
    await expect(
      api(daemon, "POST", "/v1/payments", { serviceId: "S-9", amount: 100, currency: "EUR" }),
    ).rejects.toThrow(); // the listener is closed
    await stopping;
  });

  it("refuses to start when the ECR port is taken, with one clear error", async () => {
    const blocker = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as AddressInfo).port;
    await expect(
      Daemon.start({
        config: config({ TAPWALLET_ECR_PORT: String(port) }),
        logger: logger(),
        virtualCard: virtualCard(),
      }),
    ).rejects.toMatchObject({
      code: "TERM_ERR_ECR_LISTEN",
      message: expect.stringContaining(`127.0.0.1:${port}`),
    });
  });

  it("needs a reader name in PC/SC mode", async () => {
    await expect(Daemon.start({ config: config(), logger: logger() })).rejects.toMatchObject({
      code: "TERM_ERR_USAGE",
    });
  });
});

describe("posd run: upload and hotlist sync on schedule", () => {
  let acquirer: TestAcquirer;
  let url: string;

  beforeEach(async () => {
    // initTerminal issues the terminal's certificate from the real clock, and the daemon dates its
    // records by it: this acquirer lives in the same world (a frozen one refused the certificate as
    // "not yet valid" from the day its instant fell behind the real clock).
    acquirer = await testAcquirer({ clock: realClock.date });
    await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(acquirer.app.server.address() as AddressInfo).port}`;
    cleanups.push(() => acquirer.close());
  });

  function next<K extends "upload" | "sync">(daemon: Daemon, event: K) {
    return once(daemon, event).then(
      ([r]) => r as K extends "upload" ? UploadSummary | TerminalError : unknown,
    );
  }

  it("syncs the hotlist and uploads at start and then every interval; records settle at the acquirer", async () => {
    const env = {
      TAPWALLET_ACQUIRER_URL: url,
      TAPWALLET_UPLOAD_INTERVAL_SEC: "1",
      TAPWALLET_SYNC_INTERVAL_SEC: "1",
    };
    const daemon = await start({ virtualCard: virtualCard(), env });
    const synced = await next(daemon, "sync");
    expect(synced).toMatchObject({ changed: true });
    await api(daemon, "POST", "/v1/payments?wait=10", { serviceId: "S-1", amount: 450, currency: "EUR" });
    let summary = await next(daemon, "upload");
    while (!("accepted" in summary) || summary.accepted === 0) summary = await next(daemon, "upload");
    expect(summary).toMatchObject({ batches: 1, records: 1, accepted: 1, rejected: 0 });
    expect(await acceptedTotals(acquirer.store)).toEqual({ count: 1, amount: 450 });
    expect(logged("uploaded")[0]).toMatchObject({ records: 1, accepted: 1 });
    expect(logged("hotlist updated")).toEqual([expect.objectContaining({ version: 1 })]);
  });

  /** Alice's wallet issued at the platform (5.00 EUR, bound to TW-0001) and her card file beside it. */
  async function issueAlice() {
    const { issueWallet, openBankAccount, walletView } = await import("../acquirer-stub/platform/wallets.js");
    const { PlatformStore } = await import("../acquirer-stub/platform/store/platform-store.js");
    const platform = PlatformStore.of(acquirer.store);
    const now = Math.floor(Date.now() / 1000);
    await openBankAccount(
      platform,
      { number: "TW-0001", holder: "Alice", currency: 978, balance: 50_000 },
      now,
    );
    await issueWallet(
      platform,
      {
        walletId: "W-ALICE-0001",
        currency: 978,
        opening: 500,
        boundAccount: "TW-0001",
        balanceLimit: 20_000,
        singleLimit: 2_000,
        autoLoadThreshold: 1_000,
        autoLoadAmount: 2_000,
      },
      now,
    );
    const path = join(dir, "alice.card.json");
    FileCardStateStore.create(
      path,
      fixtureCardState("cards/alice", {
        balance: 500,
        limits: { singleLimit: 2_000, balanceLimit: 20_000, autoLoadThreshold: 1_000, autoLoadAmount: 2_000 },
      }),
    );
    return { platform, path, now, view: () => walletView(platform, "W-ALICE-0001") };
  }

  it("the sync also fetches the platform's attention list: a queued set-params reaches the card in the next payment", async () => {
    const alice = await issueAlice();
    const { setParameters } = await import("../acquirer-stub/platform/commands.js");
    // Under no threshold: the card pays 1.00 without needing an auto-load.
    await setParameters(
      alice.platform,
      "W-ALICE-0001",
      { singleLimit: 1_500, autoLoadThreshold: 0 },
      alice.now,
    );
    const env = {
      TAPWALLET_ACQUIRER_URL: url,
      TAPWALLET_UPLOAD_INTERVAL_SEC: "0",
      TAPWALLET_SYNC_INTERVAL_SEC: "1",
    };
    const daemon = await start({ virtualCard: alice.path, env });
    await next(daemon, "sync");
    const paid = await api(daemon, "POST", "/v1/payments?wait=10", {
      serviceId: "S-PARAMS",
      amount: 100,
      currency: "EUR",
    });
    expect(paid.body.state).toBe("approved");
    expect(paid.body.outcome).toMatchObject({
      online: { delivered: [{ kind: "parameters", confirmed: true }] },
    });
    expect(new FileCardStateStore(alice.path).load().limits).toMatchObject({
      singleLimit: 1_500,
      autoLoadThreshold: 0,
    });
    expect((await alice.view()).commands).toMatchObject([{ state: "delivered" }]);
  });

  it("a payment of a card under its auto-load threshold loads the auto-load amount first, from the bound account", async () => {
    const { path, view: aliceView } = await issueAlice();
    const env = {
      TAPWALLET_ACQUIRER_URL: url,
      TAPWALLET_UPLOAD_INTERVAL_SEC: "0",
      TAPWALLET_SYNC_INTERVAL_SEC: "0",
    };
    const daemon = await start({ virtualCard: path, env });
    const paid = await api(daemon, "POST", "/v1/payments?wait=10", {
      serviceId: "S-AUTO",
      amount: 700,
      currency: "EUR",
    });
    expect(paid.body.state).toBe("approved");
    // 5.00 on the card could not pay 7.00: 20.00 came from the bank first.
    expect(new FileCardStateStore(path).load().balance).toBe(500 + 2_000 - 700);
    const view = await aliceView();
    expect(view.loads).toMatchObject([{ type: "auto", amount: 2_000, state: "loaded" }]);
    expect(view.boundAccount).toMatchObject({ balance: 48_000, held: 0 });
  });

  it("an unreachable acquirer is logged and tried again; payments go on", async () => {
    await acquirer.close();
    const env = {
      TAPWALLET_ACQUIRER_URL: url,
      TAPWALLET_ACQUIRER_RETRIES: "0",
      TAPWALLET_UPLOAD_INTERVAL_SEC: "1",
      TAPWALLET_SYNC_INTERVAL_SEC: "0",
    };
    const daemon = await start({ virtualCard: virtualCard(), env });
    const pay = (serviceId: string) =>
      api(daemon, "POST", "/v1/payments?wait=10", { serviceId, amount: 100, currency: "EUR" });
    expect((await pay("S-1")).body.state).toBe("approved");
    const failed = async () => {
      for (;;) {
        const result = await next(daemon, "upload");
        if ("code" in result) return result;
      }
    };
    expect(await failed()).toMatchObject({ code: "TERM_ERR_ACQUIRER_UNREACHABLE" });
    expect(await failed()).toMatchObject({ code: "TERM_ERR_ACQUIRER_UNREACHABLE" });
    expect((await pay("S-2")).body.state).toBe("approved");
    expect(logs.filter((l) => String(l.msg).startsWith("upload failed")).length).toBeGreaterThanOrEqual(2);
  });
});
