/**
 * The benchmark harness shared by every suite: measurement, percentiles and the metric shapes that
 * `npm run bench -- --json` prints.
 *
 * A suite is a module in scripts/bench/ that exports `suite` (or `suites`): `scripts/bench.ts`
 * discovers them, so adding one never touches the harness. Each metric is either latency
 * percentiles `{ unit: "ms", n, p50, p95, p99 }` or a rate `{ unit: "ops/s" | "records/s", value }`.
 * A throughput benchmark usually reports both: `name` (the rate) and `name.latency` (per op).
 */

export type Unit = "ms" | "s" | "ops/s" | "records/s" | "apdus" | "bytes" | "ratio";

export type Metric =
  | { name: string; unit: Unit; n: number; p50: number; p95: number; p99: number }
  | { name: string; unit: Unit; value: number };

export interface BenchContext {
  /**
   * Whether `--only` asked for this metric name or prefix (a suite skips costly set-up and
   * metrics nobody asked for). True for everything without `--only`.
   */
  wants(nameOrPrefix: string): boolean;
  /** Multiplier for iteration counts: 1 normally, smaller with `--quick`. */
  scale: number;
  /** Progress line on stderr (stdout stays the table or the JSON). */
  log(line: string): void;
  /** A line printed under the table (ratios, caveats); not part of the JSON. */
  note(line: string): void;
}

export type BenchSuite = {
  name: string;
  /** Run order (default 50; lower first). Suites that write a lot to disk use a high number. */
  order?: number;
  /** Metric name prefixes it reports, when not all start with `name` (for `--only`). */
  prefixes?: readonly string[];
  run(ctx: BenchContext): Promise<Metric[]>;
};

export interface Measurement {
  n: number;
  /** Per-op latency percentiles and mean, in milliseconds. */
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  /** Operations per second over the whole timed loop (timer overhead included, ~0.1 µs per op). */
  opsPerSecond: number;
}

export interface MeasureOptions {
  /** Timed iterations. */
  n: number;
  /** Untimed iterations first (JIT, caches, lazy loading). Default: n / 10, at least 1. */
  warmup?: number;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

function summarise(samples: Float64Array, elapsedNs: bigint): Measurement {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const s of samples) sum += s;
  return {
    n: samples.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    mean: sum / samples.length,
    opsPerSecond: samples.length / (Number(elapsedNs) / 1e9),
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * Time `fn` n times, one sample per call. Sync functions are timed in a plain loop; a function that
 * returns a promise is awaited each time (so async overhead is part of what is measured).
 */
export async function measure(fn: () => unknown, options: MeasureOptions): Promise<Measurement> {
  const n = Math.max(1, Math.round(options.n));
  const warmup = Math.max(1, Math.round(options.warmup ?? n / 10));
  let async = false;
  for (let i = 0; i < warmup; i++) {
    const r = fn();
    if (isThenable(r)) {
      async = true;
      await r;
    }
  }
  const samples = new Float64Array(n);
  const start = process.hrtime.bigint();
  if (async) {
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await fn();
      samples[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      fn();
      samples[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  }
  return summarise(samples, process.hrtime.bigint() - start);
}

/** Latency percentiles as a metric. */
export function latencyMetric(name: string, m: Measurement): Metric {
  return { name, unit: "ms", n: m.n, p50: m.p50, p95: m.p95, p99: m.p99 };
}

/** `name` → ops/s and `name.latency` → per-op percentiles. */
export function opsMetrics(name: string, m: Measurement): Metric[] {
  return [{ name, unit: "ops/s", value: m.opsPerSecond }, latencyMetric(`${name}.latency`, m)];
}
