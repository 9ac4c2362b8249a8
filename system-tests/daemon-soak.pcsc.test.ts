/**
 * 100 consecutive payments through `posd run` on the real stack (pcscd + vpcd + `card-emulator
 * serve`), with no leak of handles or memory: the daemon's open file descriptors, threads and RSS
 * (from /proc) before and after. The card stays in the field (reader.newTapPerPayment false, as an
 * unattended set-up would have it), and every tenth payment it leaves and comes back, so that new
 * presentations (transports, listeners) are part of the run too.
 */
import { readdirSync, readFileSync } from "node:fs";
import { beforeAll, expect, it } from "vitest";
import { describePcsc, percentiles, VPCD_READER_0 } from "../test-support/pcsc.js";
import { cardState, editConfig, type PosdDaemon } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const WARMUP = 10;
const PAYMENTS = 100;

function usage(pid: number): { rssKb: number; fds: number; threads: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)![1]);
  return { rssKb: field("VmRSS"), fds: readdirSync(`/proc/${pid}/fd`).length, threads: field("Threads") };
}

describePcsc("posd run: 100 consecutive payments on pcscd + vpcd", () => {
  const world = systemWorld({
    name: "soak-pcsc",
    pcsc: true,
    posd: true,
    cards: { alice: { walletId: "W-ALICE-0001", balance: "1000.00" } },
  });
  const alice = world.cardPath("alice");
  let daemon: PosdDaemon;

  beforeAll(async () => {
    editConfig(world.data, (c) => {
      c.reader = { newTapPerPayment: false };
    });
    await world.serve(alice);
    daemon = await world.startDaemon(["--reader", VPCD_READER_0]);
  });

  async function pay(i: number): Promise<number> {
    const t0 = performance.now();
    const r = await daemon.post("/v1/payments?wait=10", {
      serviceId: `S-${i}`,
      amount: 100,
      currency: "EUR",
    });
    const ms = performance.now() - t0;
    expect(r.body, `payment ${i}`).toMatchObject({ state: "approved", seq: i });
    return ms;
  }

  it("every payment is approved, and handles, threads and memory stay flat", async () => {
    const pid = daemon.child.pid!;
    for (let i = 1; i <= WARMUP; i++) await pay(i);
    const before = usage(pid);

    const samples: number[] = [];
    let mid = before;
    for (let i = WARMUP + 1; i <= WARMUP + PAYMENTS; i++) {
      if (i === WARMUP + PAYMENTS / 2 + 1) mid = usage(pid);
      if (i % 10 === 0) {
        // The customer takes the phone away and taps again: a new presentation.
        await world.takeOut();
        await world.putBack();
      }
      samples.push(await pay(i));
    }
    const after = usage(pid);

    const total = WARMUP + PAYMENTS;
    expect(cardState(alice)).toEqual({ balance: 100_000 - 100 * total, counter: total });
    const totals = (await daemon.get("/v1/totals")).body.records;
    expect(totals).toEqual([
      { status: "complete", currency: 978, count: total, amount: 100 * total, amountText: "110.00 EUR" },
    ]);
    const p = percentiles(samples);
    console.info(
      `posd run, ${PAYMENTS} payments over HTTP (POST ?wait): p50 ${p.p50!.toFixed(1)} ms, p99 ${p.p99!.toFixed(1)} ms; ` +
        `RSS ${(before.rssKb / 1024).toFixed(1)} → ${(mid.rssKb / 1024).toFixed(1)} → ${(after.rssKb / 1024).toFixed(1)} MB, ` +
        `fds ${before.fds} → ${after.fds}, threads ${before.threads} → ${after.threads}`,
    );
    expect(after.fds).toBeLessThanOrEqual(before.fds + 2);
    expect(after.threads).toBeLessThanOrEqual(before.threads);
    // RSS also measures V8 growing its heap, by 13 MB on Node 20 and 20 MB on Node 24 over these 100
    // payments, most of it in the first half. A leak keeps growing at the same rate: the second half
    // may add at most 12 MB (a leak of more than ~240 kB a payment fails), the whole run 24 MB.
    expect(after.rssKb - mid.rssKb).toBeLessThan(12 * 1024);
    expect(after.rssKb - before.rssKb).toBeLessThan(24 * 1024);
    expect(daemon.stderr.join("\n")).not.toMatch(/MaxListenersExceeded|memory leak/i);
    expect((await daemon.stop()).code).toBe(0);
  });
});
