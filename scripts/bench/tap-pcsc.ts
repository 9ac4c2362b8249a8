/**
 * The tap through the real PC/SC stack: posd's PcscService / PcscTransport (nfc-pcsc) → pcscd →
 * vpcd → TCP → VpcdLink → the software wallet (WalletApplet on its fsync'ed state file), beside the
 * same tap in-process, in one run.
 *
 * The card runs in this process (a VpcdLink + WalletApplet, not `card-emulator serve` in a child):
 * it is then the very card implementation `tap.inprocess` uses, so the ratio isolates what the
 * PC/SC path costs; the card's own time is measured per tap (tap.pcsc.card); and the exchange is
 * half-duplex, so a second process would gain no parallelism, only scheduling noise. While the
 * terminal waits for a transmit (a threadpool call), the event loop is free to serve the card.
 *
 * The card stays in the field for every tap (one `card` event); each tap starts from SELECT and is
 * timed by runPayment itself (stats.totalMs: from the transport being ready — the `card` event —
 * to the durably stored, doubly signed record).
 *
 * - tap.pcsc: whole tap through pcscd + vpcd, ms (budget p99 ≤ 15 ms)
 * - tap.pcsc.card: time inside the card per tap, ms
 * - tap.pcsc.inprocess: the same tap in-process, re-measured in this run
 * - tap.pcsc.ratio.p50 / .p99: tap.pcsc ÷ tap.pcsc.inprocess
 * - tap.pcsc.apdus, tap.pcsc.bytes.out, tap.pcsc.bytes.in: per tap
 * - tap.acr122u.air, tap.acr122u.pn532: what the same tap would cost on a real ACR122U (estimates)
 *
 * Without pcscd (or nfc-pcsc) the suite says why and reports nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type VirtualCard, VpcdLink } from "../../card-emulator/adapters/vpcd.js";
import { WalletApplet } from "../../card-emulator/applet/applet.js";
import { FileCardStateStore } from "../../card-emulator/applet/state.js";
import { InProcessTransport } from "../../card-emulator/inprocess.js";
import { fixtureCardState } from "../../card-emulator/personalize.js";
import { silentLogger } from "../../protocol/logger.js";
import type { Transport } from "../../protocol/transport.js";
import type { PcscCardEvent, PcscService } from "../../terminal/adapters/pcsc/service.js";
import { pcscdAccepting } from "../../terminal/adapters/reader/list-readers.js";
import { runPayment } from "../../terminal/application/run-payment.js";
import { cardTransport } from "../../terminal/composition/card-transport.js";
import { realClock } from "../../test-support/clock.js";
import { type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { type BenchContext, type BenchSuite, type Metric, percentile } from "./harness.js";

/** vpcd's readers and the TCP port of each one's card side. */
const VPCD_READERS = [
  { name: "Virtual PCD 00 00", port: 35963 },
  { name: "Virtual PCD 00 01", port: 35964 },
];
/** ISO 14443-A at 106 kbit/s: 9 bits a byte on air (parity) → ~85 µs per byte. */
const AIR_MS_PER_BYTE = 0.085;
/** Frame overhead, frame waiting and turnaround, and the ACR122U's USB/CCID time, per APDU pair. */
const ACR122U_MS_PER_APDU = 3;
/** PN532 reader with a DESFire card, measured per APDU, card time included (shared notes). */
const PN532_MS_PER_APDU = 18.6;

interface Timed {
  transport: Transport;
  /** Card time since the last call, ms. */
  cardMs(): number;
}

/** The wallet of tap.inprocess: cards/alice on an fsync'ed state file, with its time measured. */
export function benchWallet(
  dir: string,
  name: string,
  crypto: "node" | "noble" = "node",
): { applet: WalletApplet; cardMs: () => number; card: VirtualCard } {
  const path = join(dir, `${name}.card.json`);
  const store = new FileCardStateStore(path);
  store.commit(
    fixtureCardState("cards/alice", {
      balance: 90_000_000_000,
      limits: {
        singleLimit: 1_000_000,
        balanceLimit: 99_000_000_000,
        autoLoadThreshold: 0,
        autoLoadAmount: 0,
      },
    }),
  );
  const applet = new WalletApplet(store, { crypto });
  let spent = 0;
  const card: VirtualCard = {
    process(apdu) {
      const t0 = performance.now();
      try {
        return applet.process(apdu);
      } finally {
        spent += performance.now() - t0;
      }
    },
    powerOff: () => applet.powerOff(),
    reset: () => applet.reset(),
  };
  return {
    applet,
    card,
    cardMs: () => {
      const s = spent;
      spent = 0;
      return s;
    },
  };
}

interface TapSamples {
  total: number[];
  card: number[];
  apdus: number;
  bytesOut: number;
  bytesIn: number;
}

async function taps(t: TestTerminal, card: Timed, n: number, warmup: number): Promise<TapSamples> {
  const out: TapSamples = { total: [], card: [], apdus: 0, bytesOut: 0, bytesIn: 0 };
  // The production stack (serialized, per-APDU timeout, tracing, counting) around the connection.
  const link = cardTransport(card.transport, { timeoutMs: 2_000, logger: silentLogger() });
  for (let i = 0; i < warmup + n; i++) {
    card.cardMs();
    const o = await runPayment(link, t.deps, { amount: 100, currency: 978 });
    if (o.status !== "approved")
      throw new Error(
        `bench tap ${i} not approved: ${o.status} ${"code" in o ? `${o.code} ${o.message}` : ""}`,
      );
    const cardMs = card.cardMs();
    if (i < warmup) continue;
    out.total.push(o.stats.totalMs);
    out.card.push(cardMs);
    // The last tap's counts: every tap after the first carries the same APDUs (the card caches the CA).
    out.apdus = o.stats.apdus;
    out.bytesOut = o.stats.bytesOut;
    out.bytesIn = o.stats.bytesIn;
  }
  return out;
}

function stats(name: string, samples: number[]): Metric & { p50: number; p99: number } {
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

/** PcscService on the real pcscd, or why not. */
async function openPcsc(): Promise<PcscService | string> {
  if (!(await pcscdAccepting())) {
    return "pcscd is not running (start it with: sudo bash scripts/pcsc-setup.sh start)";
  }
  try {
    const { PcscService } = await import("../../terminal/adapters/pcsc/service.js");
    return await PcscService.open({});
  } catch (e) {
    return (e as Error).message;
  }
}

function nextCard(service: PcscService, reader: string, ms: number): Promise<PcscCardEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      service.off("card", onCard);
      reject(new Error(`no card event on "${reader}" within ${ms} ms`));
    }, ms);
    function onCard(e: PcscCardEvent): void {
      if (e.reader !== reader) return;
      clearTimeout(timer);
      service.off("card", onCard);
      resolve(e);
    }
    service.on("card", onCard);
  });
}

async function run(ctx: BenchContext): Promise<Metric[]> {
  const opened = await openPcsc();
  if (typeof opened === "string") {
    ctx.log(`tap.pcsc: skipped — ${opened}`);
    ctx.note(`tap.pcsc: not measured — ${opened}`);
    return [];
  }
  const service = opened;
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-bench-pcsc-"));
  const viaPcsc = testTerminal({ clock: realClock });
  const inProcess = testTerminal({ clock: realClock });
  let link: VpcdLink | undefined;
  try {
    await service.waitForReader(VPCD_READERS[0]!.name, 3_000).catch(() => undefined);
    const listed = service.readers();
    const free = VPCD_READERS.find((v) => listed.some((r) => r.name === v.name && !r.cardPresent));
    if (!free) {
      const why = `no empty vpcd reader (pcscd lists: ${listed.map((r) => `${r.name}${r.cardPresent ? " [card]" : ""}`).join(", ") || "none"})`;
      ctx.log(`tap.pcsc: skipped — ${why}`);
      ctx.note(`tap.pcsc: not measured — ${why}`);
      return [];
    }
    const n = Math.max(300, Math.round(300 * ctx.scale));
    const warmup = 20;

    const pcscCard = benchWallet(dir, "pcsc");
    link = new VpcdLink(pcscCard.card, { host: "127.0.0.1", port: free.port });
    const arrived = nextCard(service, free.name, 5_000);
    const t0 = performance.now();
    link.start();
    const event = await arrived;
    const insertMs = performance.now() - t0;
    ctx.log(
      `tap.pcsc: ${n} taps through pcscd + vpcd on "${free.name}" (card inserted → card event ${insertMs.toFixed(0)} ms)`,
    );
    const pcsc = await taps(viaPcsc, { transport: event.transport, cardMs: pcscCard.cardMs }, n, warmup);

    ctx.log(`tap.pcsc.inprocess: ${n} taps in-process (the same card)`);
    const local = benchWallet(dir, "inprocess");
    const inproc = await taps(
      inProcess,
      { transport: new InProcessTransport(local.card), cardMs: local.cardMs },
      n,
      warmup,
    );

    const tap = stats("tap.pcsc", pcsc.total);
    const base = stats("tap.pcsc.inprocess", inproc.total);
    const bytes = pcsc.bytesOut + pcsc.bytesIn;
    const air = bytes * AIR_MS_PER_BYTE + pcsc.apdus * ACR122U_MS_PER_APDU;
    const pn532 = pcsc.apdus * PN532_MS_PER_APDU;
    const metrics: Metric[] = [
      tap,
      stats("tap.pcsc.card", pcsc.card),
      base,
      { name: "tap.pcsc.ratio.p50", unit: "ratio", value: tap.p50 / base.p50 },
      { name: "tap.pcsc.ratio.p99", unit: "ratio", value: tap.p99 / base.p99 },
      { name: "tap.pcsc.apdus", unit: "apdus", value: pcsc.apdus },
      { name: "tap.pcsc.bytes.out", unit: "bytes", value: pcsc.bytesOut },
      { name: "tap.pcsc.bytes.in", unit: "bytes", value: pcsc.bytesIn },
      { name: "tap.acr122u.air", unit: "ms", value: air },
      { name: "tap.acr122u.pn532", unit: "ms", value: pn532 },
    ];
    // What the PC/SC path adds per APDU: the tap's time outside the card, minus the same in-process.
    const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 0.5);
    const perApdu = (tap.p50 - median(pcsc.card) - (base.p50 - median(inproc.card))) / pcsc.apdus;
    ctx.note(
      `tap.pcsc: p99 ${tap.p99.toFixed(2)} ms through pcscd + vpcd (budget 15 ms: ${tap.p99 <= 15 ? "met" : "MISSED"}), ` +
        `${(tap.p50 / base.p50).toFixed(1)}× the in-process tap at p50 (${(tap.p99 / base.p99).toFixed(1)}× at p99); ` +
        `~${perApdu.toFixed(2)} ms per APDU for the PC/SC path; card inserted → card event ${insertMs.toFixed(0)} ms (not part of a tap)`,
    );
    ctx.note(
      `tap.pcsc: ${pcsc.apdus} APDUs, ${pcsc.bytesOut} bytes out + ${pcsc.bytesIn} bytes in per tap; on a real ACR122U at 106 kbit/s ` +
        `~${air.toFixed(0)} ms on the link (${bytes} B × 85 µs + ${pcsc.apdus} × ${ACR122U_MS_PER_APDU} ms per APDU, card and terminal time not included), ` +
        `or ~${pn532.toFixed(0)} ms at the ${PN532_MS_PER_APDU} ms per APDU measured for a PN532 with a DESFire card (card time included)`,
    );
    return metrics;
  } finally {
    await link?.stop();
    await service.close();
    viaPcsc.cleanup();
    inProcess.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: "tap.pcsc",
  prefixes: ["tap.pcsc", "tap.acr122u"],
  run,
};
