/**
 * Acquirer benchmarks.
 * - acquirer.verify: one batch of 10,000 records through the domain checks and the database write
 *   (BatchProcessor.submit, one core, WAL + synchronous=FULL) — records/s, and the batch time.
 * - acquirer.verify.http: the same through fastify on loopback (JSON parse, schema validation,
 *   AcquirerClient serialisation) in one process.
 * - acquirer.sig.node / acquirer.sig.noble: the two ECDSA P-256 verifications every record needs
 *   (card signature, terminal signature), node:crypto with cached KeyObjects against @noble/curves.
 * - upload.100k: 100,000 records uploaded by AcquirerClient as 10 batches of 10,000 to a real
 *   server on loopback (same process) and settled: records/s and total ms.
 * Records come from 200 synthetic wallets (distinct certificates, each chain verified once).
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchProcessor } from "../../acquirer-stub/application/batches.js";
import { AcquirerStore } from "../../acquirer-stub/db/store.js";
import { checkRecord, recordCheckContext } from "../../acquirer-stub/domain/verify.js";
import { TEST_NOW, testAcquirer, testPki } from "../../acquirer-stub/testing.js";
import { ecdsaVerify, nobleP256, rawPublicKey } from "../../protocol/crypto.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import { CHAIN_STATUS, cardRecordMessage, terminalRecordMessage } from "../../protocol/wallet/records.js";
import { AcquirerClient } from "../../terminal/adapters/http/acquirer-client.js";
import { type Card, type CardState, syntheticCards, TerminalSim } from "../../test-support/batch-builder.js";

type TerminalSimWallets = Map<string, CardState>;

import { type BenchSuite, type Metric, measure, percentile } from "./harness.js";

const BATCH = 10_000;
const WALLETS = 200;

/** `batches` batches of `size` debits spread over `cards`, continuing `sim`'s chain. */
function buildBatches(cards: Card[], batches: number, size: number, sim: TerminalSim): BatchUpload[] {
  const out: BatchUpload[] = [];
  for (let b = 0; b < batches; b++) {
    sim.debits(size, (i) => ({
      card: cards[(b * size + i) % cards.length]!,
      amount: 100 + ((b * size + i) % 900),
    }));
    out.push(sim.closeBatch());
  }
  return out;
}

function settledCount(store: AcquirerStore): number {
  return (
    store.db.prepare("SELECT COUNT(*) AS n FROM records WHERE status = 'accepted'").get() as { n: number }
  ).n;
}

function tempDb(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "acquirer-bench-"));
  return { path: join(dir, "acquirer.sqlite"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const suite: BenchSuite = {
  name: "acquirer",
  // 100,000 records written: its writeback would slow every later fsync.
  order: 90,
  prefixes: ["acquirer.", "upload."],
  async run(ctx) {
    const metrics: Metric[] = [];
    const size = Math.max(1_000, Math.round(BATCH * ctx.scale));
    ctx.log(`  issuing ${WALLETS} synthetic wallet certificates`);
    const cards = await syntheticCards(ctx.scale < 1 ? 20 : WALLETS);
    const pki = testPki();
    // One set of wallet counters for every simulated terminal: the same wallets tap everywhere.
    const wallets: TerminalSimWallets = new Map();

    if (ctx.wants("acquirer.sig")) {
      const [batch] = buildBatches(cards.slice(0, 1), 1, 1, new TerminalSim({ wallets }));
      const w = batch!.records[0]!;
      const cardRecord = Buffer.from(w.cardRecord, "hex");
      const cardSignature = Buffer.from(w.cardSignature, "hex");
      const terminalSignature = Buffer.from(w.terminalSignature, "hex");
      const cardMessage = cardRecordMessage(cardRecord);
      const terminalMessage = terminalRecordMessage({
        previousHash: Buffer.from(w.previousHash, "hex"),
        terminalSeq: w.seq,
        status: CHAIN_STATUS.COMPLETE,
        cardRecord,
        cardSignature,
      });
      const cardKey = cards[0]!.certificate.publicKey;
      const terminalKey = loadFixturePki().cert("terminals/term-0001").publicKey;
      const rawCard = rawPublicKey(cardKey);
      const rawTerminal = rawPublicKey(terminalKey);
      const sig = async (name: string, n: number, fn: () => boolean) => {
        if (!ctx.wants(name)) return undefined;
        if (!fn()) throw new Error(`${name}: signatures do not verify`);
        const count = Math.max(20, Math.round(n * ctx.scale));
        ctx.log(`  ${name} (n=${count} records)`);
        const m = await measure(fn, { n: count });
        metrics.push({ name, unit: "records/s", value: m.opsPerSecond });
        return m.opsPerSecond;
      };
      const node = await sig(
        "acquirer.sig.node",
        20_000,
        () =>
          ecdsaVerify(cardKey, cardMessage, cardSignature) &&
          ecdsaVerify(terminalKey, terminalMessage, terminalSignature),
      );
      const noble = await sig(
        "acquirer.sig.noble",
        300,
        () =>
          nobleP256.verify(rawCard, cardMessage, cardSignature) &&
          nobleP256.verify(rawTerminal, terminalMessage, terminalSignature),
      );
      if (node && noble)
        ctx.note(
          `acquirer.sig: two P-256 verifications per record — node:crypto ${Math.round(node)}/s, ` +
            `@noble/curves ${Math.round(noble)}/s (node ${(node / noble).toFixed(1)}× faster): the acquirer verifies with node:crypto`,
        );
    }

    if (ctx.wants("acquirer.verify.batch") || ctx.wants("acquirer.verify")) {
      const runs = 3;
      ctx.log(`  building ${runs} batches of ${size} records`);
      const uploads = buildBatches(cards, runs, size, new TerminalSim({ wallets }));
      const db = tempDb();
      const store = AcquirerStore.open(db.path);
      try {
        const processor = new BatchProcessor({
          store,
          trust: pki.trust,
          clock: () => TEST_NOW,
          chunkSize: 1_000_000,
        });
        // Warm the JIT and the card-certificate cache on a separate terminal's small batch.
        const [warm] = buildBatches(
          cards,
          1,
          500,
          new TerminalSim({ terminal: "terminals/term-0002", wallets }),
        );
        await processor.submit(warm!);
        const times: number[] = [];
        const checkTimes: number[] = [];
        for (const u of uploads) {
          // The record checks alone (no database), to split the time.
          const terminal = pki.trust.authenticateTerminal(
            u.terminalCertificates.map((c) => Buffer.from(c, "base64")),
            TEST_NOW,
          );
          const checkCtx = recordCheckContext(u, terminal, pki.trust, TEST_NOW);
          const c0 = performance.now();
          for (let i = 0; i < u.records.length; i++) checkRecord(u.records[i]!, i, checkCtx);
          checkTimes.push(performance.now() - c0);

          const t0 = performance.now();
          const outcome = await processor.submit(u);
          times.push(performance.now() - t0);
          const result = JSON.parse(outcome.body) as { accepted: number };
          if (outcome.httpStatus !== 200 || result.accepted !== u.records.length)
            throw new Error(`acquirer.verify: batch not fully accepted (${outcome.body.slice(0, 200)})`);
        }
        times.sort((a, b) => a - b);
        const median = percentile(times, 0.5);
        metrics.push(
          { name: "acquirer.verify", unit: "records/s", value: (size / median) * 1000 },
          {
            name: "acquirer.verify.batch",
            unit: "ms",
            n: times.length,
            p50: median,
            p95: times.at(-1)!,
            p99: times.at(-1)!,
          },
        );
        checkTimes.sort((a, b) => a - b);
        ctx.note(
          `acquirer.verify: ${size} records in ${median.toFixed(0)} ms per batch, of which the record checks ` +
            `(2 ECDSA verifications, chain hash, decode) ${percentile(checkTimes, 0.5).toFixed(0)} ms; one core, WAL + synchronous=FULL`,
        );
      } finally {
        store.close();
        db.remove();
      }
    }

    if (ctx.wants("acquirer.verify.http") || ctx.wants("upload.100k")) {
      const acq = testAcquirer({ clock: () => TEST_NOW });
      await acq.app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = acq.app.server.address() as AddressInfo;
      const client = new AcquirerClient({
        baseUrl: `http://127.0.0.1:${port}`,
        timeoutMs: 120_000,
        retries: 2,
      });
      try {
        // Warm the server (JIT, card cache) with a small batch; upload.100k continues that chain.
        const uploader = new TerminalSim({ terminal: "terminals/term-0002", wallets });
        const [warm] = buildBatches(cards, 1, 500, uploader);
        await client.uploadBatch(warm!);

        if (ctx.wants("acquirer.verify.http")) {
          const [u] = buildBatches(cards, 1, size, new TerminalSim({ wallets }));
          const t0 = performance.now();
          const result = await client.uploadBatch(u!);
          const ms = performance.now() - t0;
          if (result.accepted !== size) throw new Error("acquirer.verify.http: batch not fully accepted");
          metrics.push({ name: "acquirer.verify.http", unit: "records/s", value: (size / ms) * 1000 });
          ctx.note(
            `acquirer.verify.http: ${size} records (${(Buffer.byteLength(JSON.stringify(u)) / 1e6).toFixed(1)} MB of JSON) in ${ms.toFixed(0)} ms over loopback`,
          );
        }

        if (ctx.wants("upload.100k")) {
          const total = Math.max(10_000, Math.round(100_000 * ctx.scale));
          const batches = Math.ceil(total / size);
          ctx.log(`  building ${total} records in ${batches} batches`);
          const uploads = buildBatches(cards, batches, size, uploader);
          const before = settledCount(acq.store);
          const t0 = performance.now();
          for (const u of uploads) {
            const r = await client.uploadBatch(u);
            if (r.status !== "settled" || r.rejected !== 0)
              throw new Error(`upload.100k: ${JSON.stringify(r).slice(0, 200)}`);
          }
          const ms = performance.now() - t0;
          const settled = settledCount(acq.store) - before;
          if (settled !== total)
            throw new Error(`upload.100k: ${settled} records settled, expected ${total}`);
          metrics.push(
            { name: "upload.100k", unit: "records/s", value: (total / ms) * 1000 },
            { name: "upload.100k.total", unit: "ms", value: ms },
          );
          ctx.note(
            `upload.100k: ${total} records in ${batches} batches uploaded and settled in ${(ms / 1000).toFixed(1)} s ` +
              "(client and server in one process on loopback; budget 30 s)",
          );
        }
      } finally {
        client.close();
        await acq.close();
      }
    }
    return metrics;
  },
};
