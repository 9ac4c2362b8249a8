/**
 * An online terminal in front of a real software card and the real wallet platform over loopback
 * HTTP (acquirer-stub's app on the engine under test): Alice's wallet issued with 50.00 EUR, bound
 * to TW-0001 (500.00 EUR) with the auto-load agreement on (threshold 10.00, amount 20.00), the
 * terminal's stores in memory, one frozen clock for all of it.
 */
import type { AddressInfo } from "node:net";
import { PlatformStore } from "../acquirer-stub/platform/store/platform-store.js";
import { issueWallet, openBankAccount } from "../acquirer-stub/platform/wallets.js";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../acquirer-stub/testing.js";
import { silentLogger } from "../protocol/logger.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { AcquirerClient } from "../terminal/adapters/http/acquirer-client.js";
import { PlatformClient } from "../terminal/adapters/http/platform-client.js";
import type { WalletPlatform } from "../terminal/application/ports.js";
import type { LoadDeps } from "../terminal/application/run-load.js";
import { type FixtureCard, fixtureCard } from "./card-fixture.js";
import { frozenClock } from "./clock.js";
import { type TestTerminal, testTerminal } from "./terminal-fixture.js";

export const WALLET = "W-ALICE-0001";
export const EUR = 978;

export interface OnlineWorld {
  readonly clock: ReturnType<typeof frozenClock>;
  readonly t: TestTerminal;
  readonly acquirer: TestAcquirer;
  readonly platformStore: PlatformStore;
  readonly http: AcquirerClient;
  /** The terminal's online deps over `http`, with the terminal's attention list. */
  readonly deps: LoadDeps;
  /** Wallet ids on the terminal's hotlist: push one to hotlist it. */
  readonly hotlisted: string[];
  card: FixtureCard;
  /** The same deps over another platform (a wrapper that cuts a call, say). */
  depsWith(platform: WalletPlatform): LoadDeps;
  close(): Promise<void>;
}

export async function onlineWorld(): Promise<OnlineWorld> {
  const clock = frozenClock(TEST_NOW);
  const hotlisted: string[] = [];
  const t = testTerminal({ clock, store: "memory", hotlist: { wallets: hotlisted } });
  const acquirer = await testAcquirer({ clock: clock.date });
  const platformStore = PlatformStore.of(acquirer.store);
  await openBankAccount(
    platformStore,
    { number: "TW-0001", holder: "Alice", currency: EUR, balance: 50_000 },
    clock.seconds(),
  );
  await issueWallet(
    platformStore,
    {
      walletId: WALLET,
      currency: EUR,
      opening: 5_000,
      boundAccount: "TW-0001",
      balanceLimit: 50_000,
      singleLimit: 3_000,
      // The agreement is on at the platform; a card only auto-loads under its own threshold.
      autoLoadThreshold: 1_000,
      autoLoadAmount: 2_000,
    },
    clock.seconds(),
  );
  await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = acquirer.app.server.address() as AddressInfo;
  const http = new AcquirerClient({
    baseUrl: `http://127.0.0.1:${port}`,
    retries: 1,
    baseDelayMs: 5,
    logger: silentLogger(),
  });
  const pki = loadFixturePki();
  const depsWith = (platform: WalletPlatform): LoadDeps => ({
    loads: t.stores.loads,
    platform,
    identity: t.identity,
    trust: t.trust,
    logger: silentLogger(),
    clock: clock.seconds,
    attention: t.stores.attention,
  });
  const deps = depsWith(
    new PlatformClient(http, {
      privateKey: t.identity.privateKey,
      chain: [t.identity.certificate.der, ...pki.intermediates("terminals/term-0001").map((c) => c.der)],
    }),
  );
  return {
    clock,
    t,
    acquirer,
    platformStore,
    http,
    deps,
    hotlisted,
    card: fixtureCard({ balance: 5_000 }),
    depsWith,
    async close() {
      http.close();
      await acquirer.close();
      t.cleanup();
    },
  };
}
