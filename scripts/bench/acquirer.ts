/**
 * Acquirer benchmarks.
 * - acquirer.verify: one batch of 10,000 records through the domain checks and the database write
 *   (BatchProcessor.submit, one core, WAL + synchronous=FULL) — records/s, and the batch time.
 * - acquirer.verify.http: the same through fastify on loopback (JSON parse, schema validation,
 *   AcquirerClient serialisation) in one process.
 * - acquirer.sig.node / acquirer.sig.noble: the two ECDSA P-256 verifications every record needs
 *   (card signature, terminal signature), node:crypto with cached KeyObjects against @noble/curves.
 * - acquirer.verify.sqlite / acquirer.verify.postgres: acquirer.verify on a fresh database of each
 *   engine in the same run, with acquirer.verify.checks (the record checks alone on the same
 *   batches: the floor) and each one's ratio to it (goals: SQLite ≥ 0.85× the checks, PostgreSQL ≥
 *   0.6× SQLite per instance). PostgreSQL: TAPWALLET_TEST_POSTGRES, else scripts/postgres-setup.sh
 *   start; without PostgreSQL the postgres metrics are skipped with a note.
 * - upload.1m: records from 50 synthetic terminals (issued by the fixture acquirer CA), all
 *   uploading concurrently, each its batches of 1,000 in order, through 2 spawned
 *   `acquirer-stub serve --db <postgres>` processes over one PostgreSQL database (real clock):
 *   records/s and its ratio to the floor. 100,000 records by default (TAPWALLET_BENCH_UPLOAD_RECORDS
 *   for the full million), at least 50,000.
 * - upload.100k: 100,000 records uploaded by AcquirerClient as 10 batches of 10,000 to a real
 *   server on loopback (same process) and settled: records/s and total ms.
 * Records come from 200 synthetic wallets (distinct certificates, each chain verified once).
 */
import type { AddressInfo } from "node:net";
import { BatchProcessor } from "../../acquirer-stub/application/batches.js";
import { AcquirerStore, type EngineKind } from "../../acquirer-stub/db/store.js";
import { checkRecord, recordCheckContext } from "../../acquirer-stub/domain/verify.js";
import { TEST_NOW, testAcquirer, testDatabase, testPki } from "../../acquirer-stub/testing.js";
import { ecdsaVerify, nobleP256, rawPublicKey } from "../../protocol/crypto.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { BatchUpload } from "../../protocol/wallet/batch.js";
import { CHAIN_STATUS, cardRecordMessage, terminalRecordMessage } from "../../protocol/wallet/records.js";
import { AcquirerClient } from "../../terminal/adapters/http/acquirer-client.js";
import { type Card, type CardState, syntheticCards, TerminalSim } from "../../test-support/batch-builder.js";
import { realClock } from "../../test-support/clock.js";
import { type Instance, spawnInstance, syntheticTerminals } from "../../test-support/fleet.js";

type TerminalSimWallets = Map<string, CardState>;

import { type BenchContext, type BenchSuite, type Metric, measure, percentile } from "./harness.js";
import { benchPostgres } from "./postgres.js";

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

async function settledCount(store: AcquirerStore): Promise<number> {
  const row = await store.db
    .selectFrom("records")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("status", "=", "accepted")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

interface VerifyRun {
  /** BatchProcessor.submit per batch, sorted (ms). */
  times: number[];
  /** The record checks alone on the same batches, sorted (ms). */
  checkTimes: number[];
  setting: string;
}

/** 3 batches of `size` through BatchProcessor.submit on a fresh database of `kind`. */
async function verifyOnEngine(
  ctx: BenchContext,
  kind: EngineKind,
  cards: Card[],
  size: number,
  wallets: TerminalSimWallets,
): Promise<VerifyRun> {
  const runs = 3;
  const pki = testPki();
  ctx.log(`  acquirer.verify.${kind}: building ${runs} batches of ${size} records`);
  const uploads = buildBatches(cards, runs, size, new TerminalSim({ wallets }));
  const database = await testDatabase(kind);
  const store = await AcquirerStore.open(database.target);
  try {
    const processor = new BatchProcessor({
      store,
      trust: pki.trust,
      clock: () => TEST_NOW,
      chunkSize: 1_000_000,
    });
    // Warm the JIT and the card-certificate cache on a separate terminal's small batch.
    const [warm] = buildBatches(cards, 1, 500, new TerminalSim({ terminal: "terminals/term-0002", wallets }));
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
        throw new Error(`acquirer.verify.${kind}: batch not fully accepted (${outcome.body.slice(0, 200)})`);
    }
    times.sort((a, b) => a - b);
    checkTimes.sort((a, b) => a - b);
    return {
      times,
      checkTimes,
      setting:
        kind === "sqlite"
          ? "one core, a fresh SQLite file, WAL + synchronous=FULL"
          : "one core, a fresh PostgreSQL database on loopback (fsync on)",
    };
  } finally {
    await store.close();
    await database.drop();
  }
}

/**
 * Default records of upload.1m at scale 1: 100,000, not a million — on a 2-core machine a million
 * takes ~4 min to build and ~7 min to upload. TAPWALLET_BENCH_UPLOAD_RECORDS=1000000 for the full run.
 */
const UPLOAD_1M_DEFAULT = 100_000;
const UPLOAD_1M_ENV = "TAPWALLET_BENCH_UPLOAD_RECORDS";
const UPLOAD_TERMINALS = 50;
const UPLOAD_INSTANCES = 2;
const UPLOAD_BATCH = 1_000;

/**
 * upload.1m: records from 50 synthetic terminals, uploaded concurrently (each terminal its batches
 * in order) through 2 spawned acquirer instances over one PostgreSQL database, on the real clock.
 */
async function upload1m(ctx: BenchContext, floor: number | undefined, floorName: string): Promise<Metric[]> {
  const override = Number(process.env[UPLOAD_1M_ENV]);
  const total =
    Number.isFinite(override) && override > 0
      ? Math.round(override)
      : Math.max(50_000, Math.round(UPLOAD_1M_DEFAULT * ctx.scale));
  const perTerminal = Math.ceil(total / UPLOAD_TERMINALS);
  const batchSize = Math.min(UPLOAD_BATCH, perTerminal);
  ctx.log(`  upload.1m: issuing ${UPLOAD_TERMINALS} synthetic terminals and ${UPLOAD_TERMINALS * 4} wallets`);
  const { pki, names } = await syntheticTerminals(UPLOAD_TERMINALS);
  // Each terminal its own wallets (4 each): concurrent batches never race on one wallet's counter.
  const cards = await syntheticCards(UPLOAD_TERMINALS * 4);
  const t0build = performance.now();
  ctx.log(
    `  upload.1m: building ${perTerminal * UPLOAD_TERMINALS} records (real clock), batches of ${batchSize}`,
  );
  const perTerminalUploads: BatchUpload[][] = names.map((name, t) => {
    const sim = new TerminalSim({ terminal: name, pki, clock: realClock, wallets: new Map() });
    const mine = cards.filter((_, i) => i % UPLOAD_TERMINALS === t);
    const out: BatchUpload[] = [];
    for (let done = 0; done < perTerminal; done += batchSize) {
      const n = Math.min(batchSize, perTerminal - done);
      sim.debits(n, (i) => ({ card: mine[(done + i) % mine.length]!, amount: 100 + ((done + i) % 900) }));
      out.push(sim.closeBatch());
    }
    return out;
  });
  const records = perTerminal * UPLOAD_TERMINALS;
  const buildMs = performance.now() - t0build;
  const database = await testDatabase("postgres");
  const instances: Instance[] = [];
  const clients: AcquirerClient[] = [];
  try {
    // The first instance migrates the database; the second starts on it.
    instances.push(await spawnInstance(database.target));
    for (let i = 1; i < UPLOAD_INSTANCES; i++) instances.push(await spawnInstance(database.target));
    for (const inst of instances)
      clients.push(new AcquirerClient({ baseUrl: inst.url, timeoutMs: 300_000, retries: 2 }));
    const cpu0 = instances.map((i) => i.cpuSeconds());
    const self0 = process.cpuUsage();
    const latencies: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      perTerminalUploads.map(async (uploads, t) => {
        const client = clients[t % clients.length]!;
        for (const u of uploads) {
          const b0 = performance.now();
          const r = await client.uploadBatch(u);
          latencies.push(performance.now() - b0);
          if (r.status !== "settled" || r.rejected !== 0)
            throw new Error(`upload.1m: ${JSON.stringify(r).slice(0, 300)}`);
        }
      }),
    );
    const ms = performance.now() - t0;
    const serverCpu = instances.map((inst, i) => inst.cpuSeconds() - cpu0[i]!);
    const self = process.cpuUsage(self0);
    const verifier = await AcquirerStore.open(database.target);
    let settled: number;
    try {
      settled = await settledCount(verifier);
    } finally {
      await verifier.close();
    }
    if (settled !== records) throw new Error(`upload.1m: ${settled} records settled, expected ${records}`);
    const rate = (records / ms) * 1000;
    latencies.sort((a, b) => a - b);
    const out: Metric[] = [
      { name: "upload.1m", unit: "records/s", value: rate },
      { name: "upload.1m.total", unit: "s", value: ms / 1000 },
      {
        name: "upload.1m.batch",
        unit: "ms",
        n: latencies.length,
        p50: percentile(latencies, 0.5),
        p95: percentile(latencies, 0.95),
        p99: percentile(latencies, 0.99),
      },
    ];
    if (floor !== undefined) out.push({ name: "upload.1m.ratio", unit: "ratio", value: rate / floor });
    const cpuTotal = serverCpu.reduce((a, b) => a + b, 0);
    const checkCpu = floor !== undefined ? records / floor : Number.NaN;
    ctx.note(
      `upload.1m: ${records} records (${UPLOAD_TERMINALS} synthetic terminals × ${perTerminalUploads[0]!.length} batches of ≤${batchSize}, ` +
        `built in ${(buildMs / 1000).toFixed(1)} s, not timed) through ${UPLOAD_INSTANCES} spawned \`acquirer-stub serve\` over one PostgreSQL, ` +
        `all terminals concurrently: ${(ms / 1000).toFixed(1)} s, ${Math.round(rate)} records/s` +
        (floor !== undefined
          ? ` = ${(rate / floor).toFixed(2)}× the one-core ${floorName} floor`
          : " (no floor measured: add --only acquirer.verify.checks for the ratio)") +
        `; batch round trip p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p99 ${percentile(latencies, 0.99).toFixed(0)} ms (n=${latencies.length}, under 50-way concurrency)` +
        (total !== records ? ` (asked ${total}, rounded to whole terminals)` : "") +
        (UPLOAD_1M_DEFAULT * ctx.scale < 1_000_000 && !(override > 0)
          ? `; default lowered from 1,000,000 to ${UPLOAD_1M_DEFAULT.toLocaleString("en-US")} to keep the bench short — ${UPLOAD_1M_ENV}=1000000 for the full million`
          : ""),
    );
    ctx.note(
      `upload.1m where the time goes: acquirer processes used ${cpuTotal.toFixed(1)} CPU-s (${serverCpu.map((c) => c.toFixed(1)).join(" + ")}) ` +
        `in ${(ms / 1000).toFixed(1)} s wall; of it the record checks ≈ ${checkCpu.toFixed(1)} CPU-s ` +
        `(${((checkCpu / cpuTotal) * 100).toFixed(0)}%), the rest HTTP/JSON parse + schema + store calls ≈ ${(cpuTotal - checkCpu).toFixed(1)} CPU-s; ` +
        `the client (JSON serialisation, this process) ${((self.user + self.system) / 1e6).toFixed(1)} CPU-s; PostgreSQL's own CPU not counted (2 cores shared by all)`,
    );
    return out;
  } finally {
    for (const c of clients) c.close();
    await Promise.all(instances.map((i) => i.stop()));
    await database.drop();
  }
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
    // One set of wallet counters for every simulated terminal: the same wallets tap everywhere.
    const wallets: TerminalSimWallets = new Map();
    let sigNode: number | undefined;

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
      sigNode = node;
      if (node && noble)
        ctx.note(
          `acquirer.sig: two P-256 verifications per record — node:crypto ${Math.round(node)}/s, ` +
            `@noble/curves ${Math.round(noble)}/s (node ${(node / noble).toFixed(1)}× faster): the acquirer verifies with node:crypto`,
        );
    }

    const engineWanted = (kind: EngineKind) =>
      ctx.wants(`acquirer.verify.${kind}`) ||
      ctx.wants("acquirer.verify.checks") ||
      (kind === "sqlite" && ctx.wants("acquirer.verify.batch"));
    const verifyKinds = (["sqlite", "postgres"] as const).filter(engineWanted);
    const postgres =
      verifyKinds.includes("postgres") || ctx.wants("upload.1m") ? await benchPostgres(ctx.log) : undefined;
    if (postgres && postgres.url === undefined)
      ctx.note(`acquirer.verify.postgres, upload.1m: SKIPPED — ${postgres.reason}`);
    const verified = new Map<EngineKind, VerifyRun>();
    for (const kind of verifyKinds) {
      if (kind === "postgres" && !postgres?.url) continue;
      const run = await verifyOnEngine(ctx, kind, cards, size, wallets);
      verified.set(kind, run);
    }
    // The floor: the record checks alone (decode, chain hash, two ECDSA verifications), timed on
    // the very batches the engines then stored, in this run.
    const allChecks = [...verified.values()].flatMap((r) => r.checkTimes).sort((a, b) => a - b);
    const floor = allChecks.length > 0 ? (size / percentile(allChecks, 0.5)) * 1000 : undefined;
    if (floor !== undefined) {
      metrics.push({ name: "acquirer.verify.checks", unit: "records/s", value: floor });
      ctx.note(
        `acquirer.verify.checks (the floor): record checks alone ${Math.round(floor)} records/s — ` +
          `${size} records in p50 ${percentile(allChecks, 0.5).toFixed(0)} ms, p99 ${percentile(allChecks, 0.99).toFixed(0)} ms ` +
          `(n=${allChecks.length} batches)${sigNode ? `; acquirer.sig.node ${Math.round(sigNode)}/s (checks = ${(floor / sigNode).toFixed(2)}× the bare signature pairs)` : ""}`,
      );
    }
    for (const [kind, run] of verified) {
      const median = percentile(run.times, 0.5);
      const rate = (size / median) * 1000;
      const checks = percentile(run.checkTimes, 0.5);
      metrics.push({ name: `acquirer.verify.${kind}`, unit: "records/s", value: rate });
      if (kind === "sqlite")
        metrics.push(
          { name: "acquirer.verify", unit: "records/s", value: rate },
          {
            name: "acquirer.verify.batch",
            unit: "ms",
            n: run.times.length,
            p50: median,
            p95: percentile(run.times, 0.95),
            p99: percentile(run.times, 0.99),
          },
        );
      if (floor !== undefined)
        metrics.push({ name: `acquirer.verify.${kind}.ratio`, unit: "ratio", value: rate / floor });
      const goal =
        kind === "sqlite"
          ? floor !== undefined
            ? ` — ${(rate / floor).toFixed(2)}× the checks (goal ≥ 0.85: ${rate / floor >= 0.85 ? "met" : "MISSED"})`
            : ""
          : ` — ${floor !== undefined ? `${(rate / floor).toFixed(2)}× the checks` : ""}`;
      ctx.note(
        `acquirer.verify.${kind}: ${Math.round(rate)} records/s; ${size} records per batch in p50 ${median.toFixed(0)} ms ` +
          `(p99 ${percentile(run.times, 0.99).toFixed(0)} ms, n=${run.times.length}): record checks ${checks.toFixed(0)} ms, ` +
          `store (snapshot, decide, write, commit) ${(median - checks).toFixed(0)} ms = ${(((median - checks) / median) * 100).toFixed(0)}%${goal}; ${run.setting}`,
      );
    }
    const sqliteRun = verified.get("sqlite");
    const pgRun = verified.get("postgres");
    if (sqliteRun && pgRun) {
      const ratio = percentile(sqliteRun.times, 0.5) / percentile(pgRun.times, 0.5);
      metrics.push({ name: "acquirer.verify.postgres.vs-sqlite", unit: "ratio", value: ratio });
      ctx.note(
        `acquirer.verify.postgres / acquirer.verify.sqlite = ${ratio.toFixed(2)} per instance (goal ≥ 0.6: ${ratio >= 0.6 ? "met" : "MISSED"})`,
      );
    }

    if (ctx.wants("upload.1m")) {
      if (postgres?.url) metrics.push(...(await upload1m(ctx, floor ?? sigNode, floor ? "checks" : "sig")));
      else if (!postgres) ctx.note("upload.1m: SKIPPED — no PostgreSQL");
    }

    if (ctx.wants("acquirer.verify.http") || ctx.wants("upload.100k")) {
      const acq = await testAcquirer({ clock: () => TEST_NOW });
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
          const before = await settledCount(acq.store);
          const t0 = performance.now();
          for (const u of uploads) {
            const r = await client.uploadBatch(u);
            if (r.status !== "settled" || r.rejected !== 0)
              throw new Error(`upload.100k: ${JSON.stringify(r).slice(0, 200)}`);
          }
          const ms = performance.now() - t0;
          const settled = (await settledCount(acq.store)) - before;
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
