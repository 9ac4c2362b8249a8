/**
 * Fetching the platform's attention list (attention-sync.ts) from a real acquirer over loopback
 * HTTP: one with the wallet platform, and one without it (no issuer key), where the terminal's
 * payments simply stay offline.
 */
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { setParameters } from "../../acquirer-stub/platform/commands.js";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../../acquirer-stub/testing.js";
import { silentLogger } from "../../protocol/logger.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { frozenClock } from "../../test-support/clock.js";
import { onlineWorld, WALLET } from "../../test-support/online-world.js";
import { testTerminal } from "../../test-support/terminal-fixture.js";
import { AcquirerClient } from "../adapters/http/acquirer-client.js";
import { PlatformClient } from "../adapters/http/platform-client.js";
import { syncAttention } from "./attention-sync.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("posd sync's attention list", () => {
  it("replaces the stored list with the platform's, dated by the platform", async () => {
    const w = await onlineWorld();
    cleanups.push(() => w.close());
    await setParameters(w.platformStore, WALLET, { singleLimit: 1_500 }, w.clock.seconds());
    w.t.stores.attention.replace(["W-GONE-0009"], 1);
    expect(await syncAttention(w.t.stores.attention, w.deps, silentLogger())).toEqual({
      wallets: 1,
      truncated: false,
      asOf: w.clock.seconds(),
    });
    expect(w.t.stores.attention.has(WALLET)).toBe(true);
    expect(w.t.stores.attention.has("W-GONE-0009")).toBe(false);
  });

  it("from an acquirer without the wallet platform: an empty list, not an error", async () => {
    const clock = frozenClock(TEST_NOW);
    const acq: TestAcquirer = await testAcquirer({ clock: clock.date, issuerKey: undefined });
    cleanups.push(() => acq.close());
    await acq.app.listen({ port: 0, host: "127.0.0.1" });
    const http = new AcquirerClient({
      baseUrl: `http://127.0.0.1:${(acq.app.server.address() as AddressInfo).port}`,
      retries: 0,
      logger: silentLogger(),
    });
    cleanups.push(() => http.close());
    const t = testTerminal({ clock, store: "memory" });
    cleanups.push(() => t.cleanup());
    const pki = loadFixturePki();
    const platform = new PlatformClient(http, {
      privateKey: t.identity.privateKey,
      chain: [t.identity.certificate.der, ...pki.intermediates("terminals/term-0001").map((c) => c.der)],
    });
    t.stores.attention.replace([WALLET], 1);
    const r = await syncAttention(t.stores.attention, { platform, clock: clock.seconds }, silentLogger());
    expect(r).toEqual({ noPlatform: true, wallets: 0, truncated: false, asOf: clock.seconds() });
    expect(t.stores.attention.has(WALLET)).toBe(false);
  });
});
