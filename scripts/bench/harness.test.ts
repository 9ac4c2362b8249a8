import { describe, expect, it } from "vitest";
import { discoverSuites, wantsFor } from "../bench.js";
import { measure, opsMetrics, percentile } from "./harness.js";

describe("bench harness", () => {
  it("takes nearest-rank percentiles", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.95)).toBe(95);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it("times sync and async functions n times after the warm-up", async () => {
    let calls = 0;
    const sync = await measure(() => calls++, { n: 50, warmup: 5 });
    expect(calls).toBe(55);
    expect(sync.n).toBe(50);
    expect(sync.p50).toBeLessThanOrEqual(sync.p95);
    expect(sync.p95).toBeLessThanOrEqual(sync.p99);
    let awaited = 0;
    const slow = await measure(
      () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            awaited++;
            resolve();
          }, 2),
        ),
      { n: 5, warmup: 1 },
    );
    expect(awaited).toBe(6);
    expect(slow.p50).toBeGreaterThanOrEqual(1.5);
    expect(slow.opsPerSecond).toBeLessThan(1000);
  });

  it("reports a rate and its latency under two names", async () => {
    const m = await measure(() => 0, { n: 10 });
    const [rate, latency] = opsMetrics("x.op", m);
    expect(rate).toEqual({ name: "x.op", unit: "ops/s", value: m.opsPerSecond });
    expect(latency).toMatchObject({ name: "x.op.latency", unit: "ms", n: 10 });
  });

  it("selects metrics and suites by --only prefix", () => {
    const all = wantsFor([]);
    expect(all("anything")).toBe(true);
    const wants = wantsFor(["crypto.p256"]);
    expect(wants("crypto.p256.sign.node")).toBe(true);
    expect(wants("crypto")).toBe(true); // the suite may contain wanted metrics
    expect(wants("crypto.ecdh.node")).toBe(false);
    expect(wants("pki.chain.verify")).toBe(false);
  });

  it("discovers the suites in scripts/bench/", async () => {
    const names = (await discoverSuites()).map((s) => s.name);
    expect(names).toContain("crypto");
  });
});
