/**
 * The in-process tap: SELECT to a durably stored, doubly signed record, with the software wallet
 * in the same process (its state file committed with fsync, the terminal's SQLite with
 * synchronous=FULL). Reports the whole tap and its parts:
 * - tap.inprocess: whole tap (card + terminal + both durable commits), ms
 * - tap.inprocess.card: time inside the card (its crypto and its state-file commit), ms per tap
 * - tap.inprocess.store: the terminal's SQLite work (intent + final record), ms per tap
 * - tap.inprocess.terminal: the rest (terminal crypto, codecs, chain verification), ms per tap
 * - tap.inprocess.noble: the whole tap with the card's crypto on @noble/curves
 * - tap.apdus, tap.bytes: per tap (first tap, before the card caches the acquirer CA, and later)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InProcessTransport } from "../../card-emulator/inprocess.js";
import { silentLogger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import { runPayment } from "../../terminal/application/run-payment.js";
import { cardTransport } from "../../terminal/composition/card-transport.js";
import { realClock } from "../../test-support/clock.js";
import { type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { type BenchSuite, type Metric, percentile } from "./harness.js";
import { benchWallet } from "./tap-pcsc.js";

function cardIn(dir: string, crypto: "node" | "noble"): { transport: Transport; cardMs: () => number } {
  const wallet = benchWallet(dir, crypto, crypto);
  return { transport: new InProcessTransport(wallet.card), cardMs: wallet.cardMs };
}

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

async function taps(
  t: TestTerminal,
  card: ReturnType<typeof cardIn>,
  n: number,
  warmup: number,
): Promise<{
  total: number[];
  card: number[];
  store: number[];
  terminal: number[];
  apdus: number[];
  bytes: number[];
}> {
  const out = {
    total: [] as number[],
    card: [] as number[],
    store: [] as number[],
    terminal: [] as number[],
    apdus: [] as number[],
    bytes: [] as number[],
  };
  // The production stack (serialized, per-APDU timeout, tracing, counting) around the connection.
  const link = cardTransport(card.transport, { timeoutMs: 2_000, logger: silentLogger() });
  for (let i = 0; i < warmup + n; i++) {
    card.cardMs();
    const o = await runPayment(link, t.deps, { amount: 100, currency: 978 });
    if (o.status !== "approved")
      throw new Error(`bench tap ${i} not approved: ${o.status} ${"code" in o ? o.code : ""}`);
    const cardMs = card.cardMs();
    out.apdus.push(o.stats.apdus);
    out.bytes.push(o.stats.bytesIn + o.stats.bytesOut);
    if (i < warmup) continue;
    out.total.push(o.stats.totalMs);
    out.card.push(cardMs);
    out.store.push(o.stats.storeMs);
    out.terminal.push(o.stats.totalMs - cardMs - o.stats.storeMs);
  }
  return out;
}

export const suite: BenchSuite = {
  name: "tap",
  order: 10,
  async run(ctx) {
    const metrics: Metric[] = [];
    const dir = mkdtempSync(join(tmpdir(), "tapwallet-bench-tap-"));
    const t = testTerminal({ clock: realClock });
    try {
      const n = Math.max(50, Math.round(1000 * ctx.scale));
      if (ctx.wants("tap.inprocess") || ctx.wants("tap.apdus") || ctx.wants("tap.bytes")) {
        ctx.log(`tap.inprocess: ${n} taps (node:crypto card)`);
        const r = await taps(t, cardIn(dir, "node"), n, 20);
        metrics.push(
          stats("tap.inprocess", r.total),
          stats("tap.inprocess.card", r.card),
          stats("tap.inprocess.store", r.store),
          stats("tap.inprocess.terminal", r.terminal),
        );
        metrics.push({ name: "tap.apdus.first", unit: "apdus", value: r.apdus[0]! });
        metrics.push({ name: "tap.apdus", unit: "apdus", value: r.apdus[r.apdus.length - 1]! });
        metrics.push({ name: "tap.bytes.first", unit: "bytes", value: r.bytes[0]! });
        metrics.push({ name: "tap.bytes", unit: "bytes", value: r.bytes[r.bytes.length - 1]! });
        const bytes = r.bytes[r.bytes.length - 1]!;
        const apdus = r.apdus[r.apdus.length - 1]!;
        // ~85 µs per byte at 106 kbit/s plus ~3 ms per APDU exchange for framing and turnaround.
        ctx.note(
          `tap: ${apdus} APDUs and ${bytes} bytes per tap (first tap ${r.apdus[0]} APDUs, ${r.bytes[0]} bytes); ` +
            `at 106 kbit/s that is ~${Math.round(bytes * 0.085 + apdus * 3)} ms of radio time`,
        );
      }
      if (ctx.wants("tap.inprocess.noble")) {
        const m = Math.max(20, Math.round(200 * ctx.scale));
        ctx.log(`tap.inprocess.noble: ${m} taps (noble card crypto)`);
        // A terminal of its own: the same fixture wallet starts its counter again.
        const t2 = testTerminal({ clock: realClock });
        const r = await taps(t2, cardIn(dir, "noble"), m, 5).finally(() => t2.cleanup());
        metrics.push(stats("tap.inprocess.noble", r.total), stats("tap.inprocess.noble.card", r.card));
      }
      const node = metrics.find((m) => m.name === "tap.inprocess");
      const noble = metrics.find((m) => m.name === "tap.inprocess.noble");
      if (node && noble && "p50" in node && "p50" in noble) {
        ctx.note(
          `tap: noble card crypto makes the in-process tap ${(noble.p50 / node.p50).toFixed(1)}× slower (p50)`,
        );
      }
    } finally {
      t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
    return metrics;
  },
};
