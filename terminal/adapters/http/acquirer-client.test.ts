import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { fixtureSigner } from "../../../acquirer-stub/platform/testing.js";
import {
  countRows,
  TEST_NOW,
  type TestAcquirer,
  type TestAcquirerOptions,
  testAcquirer,
} from "../../../acquirer-stub/testing.js";
import { loadFixturePki } from "../../../protocol/pki-fixtures.js";
import type { BatchUpload } from "../../../protocol/wallet/batch.js";
import type { HotlistWire, IssuerHotlistWire } from "../../../protocol/wallet/hotlist.js";
import {
  breakLink,
  DEFAULT_DAY,
  expectedTotals,
  TerminalSim,
  withNewBatchId,
} from "../../../test-support/batch-builder.js";
import { frozenClock } from "../../../test-support/clock.js";
import { TerminalError } from "../../errors.js";
import {
  AcquirerClient,
  type AcquirerClientOptions,
  verifyFetchedHotlist,
  verifyHotlist,
  verifyIssuerHotlist,
} from "./acquirer-client.js";

const pki = loadFixturePki();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** The records here are built by TerminalSim, dated the day before TEST_NOW: the acquirer is frozen there too. */
const clock = frozenClock(TEST_NOW).date;

async function listening(
  options: Omit<TestAcquirerOptions, "clock"> = {},
  setup?: (a: TestAcquirer) => unknown,
) {
  const acq = await testAcquirer({ clock, ...options });
  await setup?.(acq);
  await acq.app.listen({ port: 0, host: "127.0.0.1" });
  cleanups.push(() => acq.close());
  const { port } = acq.app.server.address() as AddressInfo;
  return { acq, port, url: `http://127.0.0.1:${port}` };
}

function client(url: string, options: Partial<AcquirerClientOptions> = {}) {
  const retries: { attempt: number; delayMs: number; reason: string }[] = [];
  const c = new AcquirerClient({
    baseUrl: url,
    baseDelayMs: 5,
    maxDelayMs: 50,
    timeoutMs: 5_000,
    ...options,
  });
  return {
    c,
    retries,
    onRetry: (r: { attempt: number; delayMs: number; reason: string }) => retries.push(r),
  };
}

async function settlement(acq: TestAcquirer, date = DEFAULT_DAY) {
  const lines = (await acq.store.settlementReport(date)).settlement;
  return {
    count: lines.reduce((a, l) => a + l.count, 0),
    amount: lines.reduce((a, l) => a + l.amount, 0),
  };
}

function expected(uploads: BatchUpload[]) {
  let count = 0;
  let amount = 0;
  for (const t of expectedTotals(uploads).values()) {
    count += t.count;
    amount += t.amount;
  }
  return { count, amount };
}

function batches(n: number, perBatch: number): BatchUpload[] {
  const sim = new TerminalSim();
  const out: BatchUpload[] = [];
  for (let b = 0; b < n; b++) {
    sim.debits(perBatch, (i) => ({
      card: i % 3 ? "cards/alice" : "cards/bob",
      amount: 100 + ((b * 7 + i) % 50),
    }));
    out.push(sim.closeBatch());
  }
  return out;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A TCP proxy that cuts the connections `cut(n)` says to, after forwarding `afterBytes` of the request. */
async function cuttingProxy(target: number, cut: (connection: number) => boolean, afterBytes: number) {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const n = ++connections;
    sockets.add(inbound);
    const outbound = net.connect(target, "127.0.0.1");
    sockets.add(outbound);
    let forwarded = 0;
    const cutting = cut(n);
    inbound.on("data", (chunk: Buffer) => {
      if (!cutting) {
        outbound.write(chunk);
        return;
      }
      const room = afterBytes - forwarded;
      if (room > 0) outbound.write(chunk.subarray(0, room));
      forwarded += chunk.length;
      if (forwarded >= afterBytes) {
        inbound.resetAndDestroy();
        outbound.destroy();
      }
    });
    outbound.on("data", (chunk: Buffer) => inbound.write(chunk));
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, connections: () => connections };
}

describe("AcquirerClient over loopback HTTP", () => {
  it("uploads a batch and gets the acquirer's per-record verdicts", async () => {
    const { acq, url } = await listening();
    const [upload] = batches(1, 20);
    const progress: number[] = [];
    const { c } = client(url);
    const result = await c.uploadBatch(upload!, { onProgress: (p) => progress.push(p.sentBytes) });
    expect(result).toMatchObject({ batchId: upload!.manifest.batchId, status: "settled", accepted: 20 });
    expect(progress.at(-1)).toBe(Buffer.byteLength(JSON.stringify(upload)));
    expect(await settlement(acq)).toEqual(expected([upload!]));
    // Asked by the terminal that sent it (a signed GET), the verdict is the same; another id has none.
    const own = fixtureSigner("terminals/term-0001");
    expect(await c.batchResult(upload!.manifest.batchId, own)).toEqual(result);
    expect(await c.batchResult("00000000-0000-4000-8000-000000000000", own)).toBeUndefined();
    // Another terminal of the scheme is told nothing of it.
    expect(
      await c.batchResult(upload!.manifest.batchId, fixtureSigner("terminals/term-0002")),
    ).toBeUndefined();
    expect(await c.health()).toBe(true);
  });

  it("returns a batch rejected as a whole (422) as a verdict, not an error", async () => {
    const { url } = await listening();
    const sim = new TerminalSim();
    sim.debits(3);
    const { c, retries, onRetry } = client(url);
    const result = await c.uploadBatch(breakLink(sim.closeBatch(), 1, sim.key), { onRetry });
    expect(result).toMatchObject({ status: "rejected", reason: "ACQ_ERR_CHAIN_BREAK" });
    expect(retries).toEqual([]);
  });

  it("does not retry a refusal (403) and reports the acquirer's code", async () => {
    const { url } = await listening();
    const sim = new TerminalSim({ terminal: "terminals/revoked" });
    sim.debits(1);
    const { c, retries, onRetry } = client(url);
    const error = await c.uploadBatch(sim.closeBatch(), { onRetry }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TerminalError);
    expect(error).toMatchObject({
      code: "TERM_ERR_ACQUIRER_REJECTED",
      details: { status: 403, code: "ACQ_ERR_TERMINAL_REVOKED" },
    });
    expect(retries).toEqual([]);
  });
});

describe("AcquirerClient faults (real loopback, no mocks of the server)", () => {
  it("retries with growing jittered backoff while the acquirer is down, then gives up with a typed error", async () => {
    const port = await freePort();
    const delays: number[] = [];
    const { c, retries, onRetry } = client(`http://127.0.0.1:${port}`, {
      retries: 4,
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      random: () => 0.5,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    const [upload] = batches(1, 1);
    const error = await c.uploadBatch(upload!, { onRetry }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TERM_ERR_ACQUIRER_UNREACHABLE", details: { attempts: 5 } });
    expect(retries.map((r) => r.reason)).toEqual(Array(4).fill("ECONNREFUSED"));
    expect(delays).toEqual([50, 100, 200, 400]);
    expect(await c.health()).toBe(false);
  });

  it("retries 500s and settles the batch once", async () => {
    let failures = 3;
    const { acq, url } = await listening({}, (a) =>
      a.app.addHook("onRequest", async (request, reply) => {
        if (request.method === "POST" && failures > 0) {
          failures--;
          await reply.status(500).send({ code: "ACQ_ERR_INTERNAL", message: "injected" });
        }
      }),
    );
    const [upload] = batches(1, 10);
    const { c, retries, onRetry } = client(url);
    expect(await c.uploadBatch(upload!, { onRetry })).toMatchObject({ status: "settled", accepted: 10 });
    expect(retries.map((r) => r.reason)).toEqual(["HTTP 500", "HTTP 500", "HTTP 500"]);
    expect(await settlement(acq)).toEqual(expected([upload!]));
  });

  it("retries 409 ACQ_ERR_IN_FLIGHT (the batch is still being verified) and not other 409s", async () => {
    let inFlight = 1;
    const { url } = await listening({}, (a) =>
      a.app.addHook("onRequest", async (request, reply) => {
        if (request.method === "POST" && inFlight-- > 0)
          await reply.status(409).send({ code: "ACQ_ERR_IN_FLIGHT", message: "injected" });
      }),
    );
    const [b1, b2] = batches(2, 2);
    const { c, retries, onRetry } = client(url);
    expect(await c.uploadBatch(b1!, { onRetry })).toMatchObject({ status: "settled" });
    expect(retries).toHaveLength(1);
    // Another batch of the same terminal under b1's id, properly signed: a conflict, not retried.
    const reused = withNewBatchId(b2!, loadFixturePki().key("terminals/term-0001"), b1!.manifest.batchId);
    const conflict = await c.uploadBatch(reused).catch((e: unknown) => e);
    expect(conflict).toMatchObject({ details: { status: 409, code: "ACQ_ERR_IDEMPOTENCY_CONFLICT" } });
    expect(retries).toHaveLength(1);
  });

  it("resends a batch whose connection was reset mid-body, and it settles once", async () => {
    const { acq, port } = await listening();
    const proxy = await cuttingProxy(port, (n) => n <= 2, 30_000);
    const [upload] = batches(1, 200);
    expect(Buffer.byteLength(JSON.stringify(upload))).toBeGreaterThan(100_000);
    const { c, retries, onRetry } = client(proxy.url);
    expect(await c.uploadBatch(upload!, { onRetry })).toMatchObject({ status: "settled", accepted: 200 });
    expect(retries.length).toBe(2);
    expect(proxy.connections()).toBeGreaterThanOrEqual(3);
    expect(await settlement(acq)).toEqual(expected([upload!]));
  });

  it("resends after a timeout that came after the acquirer committed, and gets the stored verdict", async () => {
    let delays = 1;
    const { acq, url } = await listening({
      afterCommit: async () => {
        if (delays-- > 0) await new Promise((r) => setTimeout(r, 1_500));
      },
    });
    const [upload] = batches(1, 50);
    const { c, retries, onRetry } = client(url, { timeoutMs: 400 });
    const result = await c.uploadBatch(upload!, { onRetry });
    expect(result).toMatchObject({ status: "settled", accepted: 50 });
    expect(retries.map((r) => r.reason)).toEqual(["ETIMEDOUT"]);
    expect(await settlement(acq)).toEqual(expected([upload!]));
    const stored = { n: await countRows(acq.store, "batches") };
    expect(stored.n).toBe(1);
  });

  it("settles every record exactly once through a storm of resets, 500s and late answers", async () => {
    // Deterministic: a fixed schedule of which attempts fail, and how.
    let posts = 0;
    let commits = 0;
    const { acq, port } = await listening(
      {
        afterCommit: async () => {
          if (++commits % 3 === 0) await new Promise((r) => setTimeout(r, 700));
        },
      },
      (a) =>
        a.app.addHook("onRequest", async (request, reply) => {
          if (request.method === "POST" && ++posts % 4 === 0)
            await reply.status(503).send({ code: "ACQ_ERR_STORE", message: "injected" });
        }),
    );
    const proxy = await cuttingProxy(port, (n) => n % 5 === 0, 20_000);
    const uploads = batches(12, 60);
    const { c, onRetry, retries } = client(proxy.url, { timeoutMs: 500, retries: 10 });
    for (const u of uploads) expect(await c.uploadBatch(u, { onRetry })).toMatchObject({ status: "settled" });
    expect(retries.length).toBeGreaterThan(3);
    expect(await settlement(acq)).toEqual(expected(uploads));
    const rows = { n: await countRows(acq.store, "records") };
    expect(rows.n).toBe(12 * 60);
  });

  it("gets a 413 with a JSON reason for a 50 MB body over a real socket, and stores nothing", async () => {
    const { acq, port } = await listening();
    const size = 50 * 1024 * 1024;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/v1/batches",
          headers: { "content-type": "application/json", "content-length": size },
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            body += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: "ACQ_ERR_BODY_TOO_LARGE" });
    const stored = { n: await countRows(acq.store, "batches") };
    expect(stored.n).toBe(0);
  });
});

/**
 * An HTTP server in front of the acquirer that answers each GET by `route` (what an old acquirer,
 * or an attacker at its address, would answer): a path of the acquirer to serve instead, or a status.
 */
async function inFront(acq: TestAcquirer, route: (url: string) => string | number): Promise<string> {
  const server = http.createServer((req, res) => {
    const to = route(req.url ?? "/");
    if (typeof to === "number") return void res.writeHead(to).end();
    acq.app.inject({ method: "GET", url: to }).then(
      (a) => res.writeHead(a.statusCode, { "content-type": "application/json" }).end(a.body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("hotlist fetch and verification", () => {
  const ISSUER_CA = pki.cert("issuer-ca").fingerprint;

  it("fetches the format-2 hotlist by issuer, verifies it, and nothing when its version is current", async () => {
    const { acq, url } = await listening();
    const { c } = client(url);
    const wire = await c.fetchHotlist();
    const hotlist = verifyFetchedHotlist(wire!, pki.cert("acquirer-ca"));
    expect(hotlist).toMatchObject({
      format: 2,
      blockedWallets: [],
      issuers: [{ issuer: ISSUER_CA, revokedSerials: ["c005"], blockedWallets: [] }],
    });
    expect(await c.fetchHotlist(hotlist.version)).toBeUndefined();
    await acq.store.blockWallet("W-ALICE-0001", "lost", Math.floor(TEST_NOW.getTime() / 1000));
    const next = verifyFetchedHotlist((await c.fetchHotlist(hotlist.version))!, pki.cert("acquirer-ca"));
    expect(next.version).toBe(hotlist.version + 1);
    expect(next.blockedWallets).toEqual(["W-ALICE-0001"]);
  });

  it("refuses a format-2 hotlist that was altered, re-versioned or signed by another CA", async () => {
    const { acq, url } = await listening();
    await acq.store.blockWallet(
      "W-BOB-0002",
      "stolen",
      Math.floor(TEST_NOW.getTime() / 1000),
      undefined,
      ISSUER_CA,
    );
    const wire = (await client(url).c.fetchHotlist()) as IssuerHotlistWire;
    const ca = pki.cert("acquirer-ca");
    const [entry] = wire.issuers;
    const altered: IssuerHotlistWire[] = [
      { ...wire, blockedWallets: ["W-MALLORY"] },
      { ...wire, issuedAt: wire.issuedAt + 1 },
      { ...wire, nextUpdate: wire.nextUpdate + 86_400 },
      { ...wire, version: wire.version + 1 },
      { ...wire, issuers: [] },
      // The block moved from the issuer to every issuer, or the serial to another issuer.
      { ...wire, blockedWallets: ["W-BOB-0002"], issuers: [{ ...entry!, blockedWallets: [] }] },
      { ...wire, issuers: [{ ...entry!, issuer: "f".repeat(64) }] },
      { ...wire, signature: "00".repeat(64) },
      { ...wire, crl: Buffer.from(pki.crl("crl/acquirer-ca").der).toString("base64") },
    ];
    for (const w of altered)
      expect(() => verifyIssuerHotlist(w, ca)).toThrow(
        expect.objectContaining({ code: "TERM_ERR_HOTLIST_SIGNATURE" }),
      );
    expect(() => verifyIssuerHotlist(wire, pki.cert("issuer-ca"))).toThrow(/hotlist refused/);
  });

  it("refuses a format-1 body served at /v2/hotlist (TERM_ERR_HOTLIST_FORMAT), even signed by the acquirer", async () => {
    const { acq } = await listening();
    const url = await inFront(acq, (path) => path.replace("/v2/", "/v1/"));
    await expect(client(url).c.fetchHotlist()).rejects.toMatchObject({ code: "TERM_ERR_HOTLIST_FORMAT" });
  });

  it("refuses a format-2 body whose entries are out of canonical order (TERM_ERR_HOTLIST_FORMAT)", async () => {
    const { acq } = await listening();
    const wire = (await acq.app.inject({ method: "GET", url: "/v2/hotlist" })).json() as IssuerHotlistWire;
    const shuffled = { ...wire, blockedWallets: ["W-Z-1", "W-A-1"] };
    const server = http.createServer((_req, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(shuffled)),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await expect(client(url).c.fetchHotlist()).rejects.toMatchObject({ code: "TERM_ERR_HOTLIST_FORMAT" });
  });

  it("falls back to /v1/hotlist at an acquirer without /v2 (404), and verifies it as format 1", async () => {
    const { acq } = await listening();
    const url = await inFront(acq, (path) => (path.startsWith("/v2/") ? 404 : path));
    const wire = await client(url).c.fetchHotlist();
    const hotlist = verifyFetchedHotlist(wire!, pki.cert("acquirer-ca"));
    expect(hotlist).not.toHaveProperty("format");
    expect(hotlist).toMatchObject({ revokedSerials: ["c005"], blockedWallets: [] });
  });

  it("still verifies a format-1 hotlist (GET /v1/hotlist, deprecated), and refuses one altered", async () => {
    const { acq } = await listening();
    const wire = (await acq.app.inject({ method: "GET", url: "/v1/hotlist" })).json() as HotlistWire;
    const ca = pki.cert("acquirer-ca");
    expect(verifyHotlist(wire, ca).revokedSerials).toEqual(["c005"]);
    const altered: HotlistWire[] = [
      { ...wire, blockedWallets: ["W-MALLORY"] },
      { ...wire, revokedSerials: [] },
      { ...wire, version: wire.version + 1 },
    ];
    for (const w of altered) expect(() => verifyHotlist(w, ca)).toThrow(TerminalError);
    // Format-2 bytes and signature never verify as format 1, nor the other way round.
    const v2 = (await acq.app.inject({ method: "GET", url: "/v2/hotlist" })).json() as IssuerHotlistWire;
    expect(() => verifyHotlist({ ...wire, signature: v2.signature }, ca)).toThrow(
      /signature does not verify/,
    );
    expect(() => verifyIssuerHotlist({ ...v2, signature: wire.signature }, ca)).toThrow(
      /signature does not verify/,
    );
  });
});
