/**
 * The card's own time per command, in-process: SELECT, INITIATE AUTHENTICATE (all chained parts and
 * GET RESPONSEs), EXTERNAL AUTHENTICATE and DEBIT, with the card's crypto on node:crypto and on
 * @noble/curves; DEBIT also with the durable file store (fsync); and a whole in-process tap (card and
 * terminal, the terminal always on node:crypto). Metric names: card.select, card.initiate.node,
 * card.initiate.noble, card.external.node, …, card.debit.file.node, card.tap.node, card.tap.noble.
 *
 * The terminal side below is the least that drives the card (no checks of what it answers): it is
 * not the terminal engine, and it is not timed in the per-command metrics.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WalletApplet } from "../../card-emulator/applet/applet.js";
import type { CryptoChoice } from "../../card-emulator/applet/card-crypto.js";
import {
  type CardStateStore,
  FileCardStateStore,
  MemoryCardStateStore,
} from "../../card-emulator/applet/state.js";
import { fixtureCardState } from "../../card-emulator/personalize.js";
import { chainCommand, decodeResponse, encodeCommand } from "../../protocol/apdu.js";
import { concat } from "../../protocol/bytes.js";
import {
  ecdh,
  ecdsaSign,
  generateP256KeyPair,
  publicKeyFromRaw,
  rawPublicKey,
  systemRandom,
} from "../../protocol/crypto.js";
import { FIXTURE_TIME, loadFixturePki } from "../../protocol/pki-fixtures.js";
import { getResponseCommand } from "../../protocol/transmit.js";
import { CLA, INS } from "../../protocol/wallet/constants.js";
import {
  encodeDebit,
  encodeInitiateAuth,
  externalAuthCommand,
  initiateAuthCommand,
  parseCardAuth,
  selectCommand,
  terminalAuthMessage,
  transcriptHash,
} from "../../protocol/wallet/messages.js";
import { deriveSessionKeys, SecureChannel } from "../../protocol/wallet/secure-channel.js";
import { type BenchSuite, latencyMetric, type Metric, percentile } from "./harness.js";

type Phase = "select" | "initiate" | "external" | "debit";
const PHASES: readonly Phase[] = ["select", "initiate", "external", "debit"];

interface TapTimes {
  /** Card time per phase (sum of its process() calls), ms. */
  card: Record<Phase, number>;
  /** Whole tap, terminal and card, ms. */
  total: number;
}

function sw(response: Uint8Array): number {
  return (response[response.length - 2]! << 8) | response[response.length - 1]!;
}

/** A minimal terminal that taps `applet` once and reports the card's time per phase. */
function tapper(applet: WalletApplet) {
  const pki = loadFixturePki();
  const terminalKey = pki.key("terminals/term-0001");
  const certificates = [pki.der("terminals/term-0001"), pki.der("acquirer-ca")];
  const time = Math.floor(FIXTURE_TIME.getTime() / 1000);
  let seq = 0;
  return (): TapTimes => {
    const card: Record<Phase, number> = { select: 0, initiate: 0, external: 0, debit: 0 };
    const send = (phase: Phase, command: Uint8Array): Uint8Array => {
      const t0 = process.hrtime.bigint();
      const r = applet.process(command);
      card[phase] += Number(process.hrtime.bigint() - t0) / 1e6;
      return r;
    };
    /** One command with chaining out and 61xx in. */
    const transmit = (phase: Phase, parts: Uint8Array[]): { data: Uint8Array; sw: number } => {
      let r: Uint8Array = new Uint8Array(0);
      for (const part of parts) r = send(phase, part);
      const chunks: Uint8Array[] = [];
      while (r[r.length - 2] === 0x61) {
        chunks.push(r.subarray(0, -2));
        r = send(phase, encodeCommand(getResponseCommand(r[r.length - 1] || 256)));
      }
      chunks.push(r.subarray(0, -2));
      return { data: concat(...chunks), sw: sw(r) };
    };
    const start = process.hrtime.bigint();
    const fci = transmit("select", [encodeCommand(selectCommand())]);
    const ephemeral = generateP256KeyPair();
    const init = encodeInitiateAuth({
      certificates,
      ephemeralKey: rawPublicKey(ephemeral.publicKey),
      nonce: systemRandom(16),
      time,
    });
    const answer = transmit("initiate", chainCommand(initiateAuthCommand(init)).map(encodeCommand));
    if (answer.sw !== 0x9000) throw new Error(`INITIATE AUTHENTICATE answered ${answer.sw.toString(16)}`);
    const cardAuth = parseCardAuth(answer.data);
    const h = transcriptHash(fci.data, init, cardAuth.signedPart);
    const ext = transmit("external", [
      encodeCommand(externalAuthCommand(ecdsaSign(terminalKey, terminalAuthMessage(h)))),
    ]);
    if (ext.sw !== 0x9000) throw new Error(`EXTERNAL AUTHENTICATE answered ${ext.sw.toString(16)}`);
    const channel = new SecureChannel(
      deriveSessionKeys(ecdh(ephemeral.privateKey, publicKeyFromRaw(cardAuth.ephemeralKey)), h),
    );
    const header = { cla: CLA.SECURE, ins: INS.DEBIT, p1: 0, p2: 0 };
    const sealed = channel.sealCommand(header, encodeDebit({ amount: 1, currency: 978, terminalSeq: ++seq }));
    const debit = decodeResponse(send("debit", encodeCommand({ ...header, data: sealed, ne: 256 })));
    if (channel.openResponse(INS.DEBIT, debit.data).sw !== 0x9000) throw new Error("DEBIT refused");
    return { card, total: Number(process.hrtime.bigint() - start) / 1e6 };
  };
}

function cardState() {
  return fixtureCardState("cards/alice", {
    balance: 900_000_000,
    limits: { singleLimit: 100_000, balanceLimit: 999_999_999, autoLoadThreshold: 0, autoLoadAmount: 0 },
  });
}

function run(store: CardStateStore, crypto: CryptoChoice, n: number): TapTimes[] {
  const tap = tapper(new WalletApplet(store, { crypto }));
  for (let i = 0; i < Math.max(5, n / 10); i++) tap();
  const out: TapTimes[] = [];
  for (let i = 0; i < n; i++) out.push(tap());
  return out;
}

function metric(name: string, samples: number[]): Metric {
  const sorted = Float64Array.from(samples).sort();
  return latencyMetric(name, {
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    mean: 0,
    opsPerSecond: 0,
  });
}

export const suite: BenchSuite = {
  name: "card",
  async run(ctx) {
    const metrics: Metric[] = [];
    const counts: Record<CryptoChoice, number> = { node: 2_000, noble: 150 };
    const medians: Record<string, number> = {};
    for (const crypto of ["node", "noble"] as const) {
      if (
        !ctx.wants(`card.${crypto}`) &&
        !PHASES.some((p) => ctx.wants(`card.${p}`)) &&
        !ctx.wants("card.tap")
      )
        continue;
      const n = Math.max(20, Math.round(counts[crypto] * ctx.scale));
      ctx.log(`  card taps, ${crypto} (n=${n}, memory store)`);
      const taps = run(new MemoryCardStateStore(cardState()), crypto, n);
      for (const phase of PHASES) {
        // SELECT involves no crypto: one metric, from the node run.
        if (phase === "select" && crypto === "noble") continue;
        const name = phase === "select" ? "card.select" : `card.${phase}.${crypto}`;
        const m = metric(
          name,
          taps.map((t) => t.card[phase]),
        );
        metrics.push(m);
        if ("p50" in m) medians[name] = m.p50;
      }
      const cardTotal = metric(
        `card.all.${crypto}`,
        taps.map((t) => PHASES.reduce((sum, p) => sum + t.card[p], 0)),
      );
      metrics.push(
        cardTotal,
        metric(
          `card.tap.${crypto}`,
          taps.map((t) => t.total),
        ),
      );
    }
    if (ctx.wants("card.debit.file")) {
      const dir = mkdtempSync(join(tmpdir(), "tapwallet-bench-card-"));
      try {
        const path = join(dir, "card.json");
        const n = Math.max(20, Math.round(500 * ctx.scale));
        ctx.log(`  card taps, node (n=${n}, file store: temp + fsync + rename + fsync dir)`);
        const taps = run(FileCardStateStore.create(path, cardState()), "node", n);
        metrics.push(
          metric(
            "card.debit.file.node",
            taps.map((t) => t.card.debit),
          ),
          metric(
            "card.tap.file.node",
            taps.map((t) => t.total),
          ),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const ratio = (a: string, b: string) =>
      medians[a] && medians[b] ? `${(medians[b]! / medians[a]!).toFixed(1)}×` : "?";
    ctx.note(
      `card: noble / node per command (p50): INITIATE ${ratio("card.initiate.node", "card.initiate.noble")}, ` +
        `EXTERNAL ${ratio("card.external.node", "card.external.noble")}, DEBIT ${ratio("card.debit.node", "card.debit.noble")}; ` +
        "card.all.* = the card's time for a whole tap, card.tap.* = card and terminal together.",
    );
    return metrics;
  },
};
