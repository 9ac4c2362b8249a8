/**
 * The in-process load: the software wallet in this process (its state file committed with fsync),
 * the terminal's use case (its SQLite with synchronous=FULL), and the wallet platform over
 * loopback HTTP (acquirer-stub's app on a SQLite file): authenticate, READ BALANCE, present the
 * wallet, GET CHALLENGE, the platform signs LOAD, the card commits, the platform books the record.
 * - load.inprocess: a whole cash load of 1.00, ms
 * - load.tap.inprocess: a whole tap of 1.00 on the same card and terminal, measured beside it, ms
 * - load.vs.tap: load.inprocess p50 / load.tap.inprocess p50 (what going online costs a teller)
 * - load.tap.online: the same tap at an online terminal (the platform wired in for auto-load),
 *   the card above its threshold, so only the extra READ BALANCE runs; and its ratio to the tap
 * - load.apdus, load.bytes: per load
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PlatformStore } from "../../acquirer-stub/platform/store/platform-store.js";
import { issueWallet } from "../../acquirer-stub/platform/wallets.js";
import { testAcquirer } from "../../acquirer-stub/testing.js";
import { InProcessTransport } from "../../card-emulator/inprocess.js";
import { silentLogger } from "../../protocol/logger.js";
import { AcquirerClient } from "../../terminal/adapters/http/acquirer-client.js";
import { PlatformClient } from "../../terminal/adapters/http/platform-client.js";
import { runLoad } from "../../terminal/application/run-load.js";
import { runPayment } from "../../terminal/application/run-payment.js";
import { cardTransport } from "../../terminal/composition/card-transport.js";
import { realClock } from "../../test-support/clock.js";
import { testTerminal } from "../../test-support/terminal-fixture.js";
import { type BenchSuite, type Metric, percentile } from "./harness.js";
import { benchWallet } from "./tap-pcsc.js";

function stats(name: string, samples: number[]): Metric {
  const sorted = Float64Array.from(samples).sort();
  return {
    name,
    unit: "ms",
    n: samples.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
  };
}

export const suite: BenchSuite = {
  name: "load",
  order: 12,
  async run(ctx) {
    if (!ctx.wants("load")) return [];
    const dir = mkdtempSync(join(tmpdir(), "tapwallet-bench-load-"));
    // One world on the real clock: the terminal, the card session and the platform.
    const t = testTerminal({ clock: realClock });
    const acquirer = await testAcquirer({ clock: realClock.date });
    let http: AcquirerClient | undefined;
    try {
      const wallet = benchWallet(dir, "load-wallet");
      const state = wallet.applet.state;
      await issueWallet(
        PlatformStore.of(acquirer.store),
        {
          walletId: "W-ALICE-0001",
          currency: 978,
          opening: state.balance,
          boundAccount: null,
          balanceLimit: state.limits.balanceLimit,
          singleLimit: state.limits.singleLimit,
          autoLoadThreshold: 0,
          autoLoadAmount: 0,
        },
        realClock.seconds(),
      );
      await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = acquirer.app.server.address() as AddressInfo;
      http = new AcquirerClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0, logger: silentLogger() });
      const deps = {
        loads: t.stores.loads,
        platform: new PlatformClient(http, {
          privateKey: t.identity.privateKey,
          chain: [t.identity.certificate.der, ...t.identity.chain.map((c) => c.der)],
        }),
        identity: t.identity,
        trust: t.trust,
        logger: silentLogger(),
        clock: realClock.seconds,
      };
      const link = cardTransport(new InProcessTransport(wallet.card), {
        timeoutMs: 2_000,
        logger: silentLogger(),
      });
      const n = Math.max(30, Math.round(300 * ctx.scale));
      const warmup = 10;
      ctx.log(
        `load.inprocess: ${n} cash loads, ${n} taps and ${n} online taps, alternating, over loopback HTTP`,
      );
      const loads: number[] = [];
      const taps: number[] = [];
      const onlineTaps: number[] = [];
      const onlineDeps = { ...t.deps, online: deps };
      let apdus = 0;
      let bytes = 0;
      for (let i = 0; i < warmup + n; i++) {
        const o = await runLoad(link, deps, { type: "cash", amount: 100, currency: 978, teller: "T01" });
        if (o.status !== "loaded" || !o.booked)
          throw new Error(`bench load ${i} not loaded: ${o.status} ${"code" in o ? o.code : ""}`);
        const p = await runPayment(link, t.deps, { amount: 100, currency: 978 });
        if (p.status !== "approved") throw new Error(`bench tap ${i} not approved: ${p.status}`);
        const q = await runPayment(link, onlineDeps, { amount: 100, currency: 978 });
        if (q.status !== "approved" || q.autoLoad)
          throw new Error(`bench online tap ${i}: ${q.status}${q.autoLoad ? " (auto-loaded)" : ""}`);
        if (i < warmup) continue;
        loads.push(o.stats.totalMs);
        taps.push(p.stats.totalMs);
        onlineTaps.push(q.stats.totalMs);
        apdus = o.stats.apdus;
        bytes = o.stats.bytesIn + o.stats.bytesOut;
      }
      const load = stats("load.inprocess", loads);
      const tap = stats("load.tap.inprocess", taps);
      const online = stats("load.tap.online", onlineTaps);
      const ratio = "p50" in load && "p50" in tap ? load.p50 / tap.p50 : Number.NaN;
      const onlineRatio = "p50" in online && "p50" in tap ? online.p50 / tap.p50 : Number.NaN;
      ctx.note(
        `load: ${apdus} APDUs and ${bytes} bytes per load; a load takes ${ratio.toFixed(2)}× a tap (p50), ` +
          "the difference being the platform's three signed requests over loopback and its bookings; " +
          `a tap at an online terminal takes ${onlineRatio.toFixed(2)}× an offline one (its extra READ BALANCE)`,
      );
      return [
        load,
        tap,
        { name: "load.vs.tap", unit: "ratio", value: ratio },
        online,
        { name: "load.tap.online.vs.tap", unit: "ratio", value: onlineRatio },
        { name: "load.apdus", unit: "apdus", value: apdus },
        { name: "load.bytes", unit: "bytes", value: bytes },
      ];
    } finally {
      http?.close();
      await acquirer.close();
      t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
