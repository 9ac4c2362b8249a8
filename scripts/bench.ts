/**
 * `npm run bench` — runs every suite in scripts/bench/ and prints a table; `--json` prints one
 * JSON object keyed by metric name instead; `--only <prefix>` (repeatable) runs a subset;
 * `--quick` scales iteration counts down (smoke runs); `--list` names the suites.
 *
 * Suites are discovered: any module in scripts/bench/ exporting `suite: BenchSuite` or
 * `suites: BenchSuite[]` (see scripts/bench/harness.ts).
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchContext, BenchSuite, Metric } from "./bench/harness.js";

export type { BenchContext, BenchSuite, Measurement, Metric, Unit } from "./bench/harness.js";
export { latencyMetric, measure, opsMetrics, percentile } from "./bench/harness.js";

interface Args {
  json: boolean;
  only: string[];
  quick: boolean;
  list: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { json: false, only: [], quick: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json") args.json = true;
    else if (a === "--quick") args.quick = true;
    else if (a === "--list") args.list = true;
    else if (a === "--only") {
      const prefix = argv[++i];
      if (!prefix) throw new Error("--only needs a metric name prefix");
      args.only.push(prefix);
    } else if (a.startsWith("--only=")) args.only.push(a.slice("--only=".length));
    else throw new Error(`unknown argument ${a} (use --json, --only <prefix>, --quick, --list)`);
  }
  return args;
}

function isSuite(value: unknown): value is BenchSuite {
  const s = value as BenchSuite | undefined;
  return typeof s?.name === "string" && typeof s.run === "function";
}

/**
 * Every suite module next to the harness, by `order` (default 50), then file name. Latency suites
 * run before the ones that write a lot to disk: their writeback would inflate later fsyncs.
 */
export async function discoverSuites(
  dir = join(dirname(fileURLToPath(import.meta.url)), "bench"),
): Promise<BenchSuite[]> {
  const files = readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !/\.d\.ts$|\.test\.|^harness\./.test(f))
    .sort();
  const suites: BenchSuite[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as Record<string, unknown>;
    if (isSuite(mod.suite)) suites.push(mod.suite);
    if (Array.isArray(mod.suites)) suites.push(...mod.suites.filter(isSuite));
  }
  return suites
    .map((s, i) => ({ s, i }))
    .sort((a, b) => (a.s.order ?? 50) - (b.s.order ?? 50) || a.i - b.i)
    .map((x) => x.s);
}

/** `--only` matching: a metric is wanted if a prefix covers it; a prefix is wanted if it may contain one. */
export function wantsFor(only: readonly string[]): (nameOrPrefix: string) => boolean {
  if (only.length === 0) return () => true;
  return (name) => only.some((p) => name.startsWith(p) || p.startsWith(name));
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 100) return Math.round(x).toLocaleString("en-US");
  if (x >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function table(metrics: Metric[]): string {
  const rows = [["metric", "unit", "value / p50", "p95", "p99", "n"]];
  for (const m of metrics) {
    if ("value" in m) rows.push([m.name, m.unit, formatNumber(m.value), "", "", ""]);
    else
      rows.push([m.name, m.unit, formatNumber(m.p50), formatNumber(m.p95), formatNumber(m.p99), String(m.n)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) =>
      r
        .map((cell, c) => (c === 0 || i === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const suites = await discoverSuites();
  if (args.list) {
    for (const s of suites) console.log(s.name);
    return;
  }
  const wants = wantsFor(args.only);
  const notes: string[] = [];
  const ctx: BenchContext = {
    wants,
    scale: args.quick ? 0.1 : 1,
    log: (line) => process.stderr.write(`${line}\n`),
    note: (line) => notes.push(line),
  };
  const metrics: Metric[] = [];
  let failed = false;
  for (const suite of suites) {
    if (![suite.name, ...(suite.prefixes ?? [])].some(wants)) continue;
    ctx.log(`bench: ${suite.name}…`);
    try {
      for (const m of await suite.run(ctx)) if (wants(m.name)) metrics.push(m);
    } catch (e) {
      failed = true;
      ctx.log(
        `bench: suite ${suite.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
    }
  }
  if (args.json) {
    const out: Record<string, Omit<Metric, "name">> = {};
    for (const { name, ...rest } of metrics) out[name] = rest;
    console.log(JSON.stringify(out, null, 2));
  } else {
    console.log(table(metrics));
    if (notes.length > 0) console.log(`\n${notes.join("\n")}`);
    console.log(`\nnode ${process.version}, ${process.arch}; ms = milliseconds per operation`);
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
}
