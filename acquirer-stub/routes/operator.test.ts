/**
 * Operators authenticate (issue 14): the attack was `POST /v1/wallets/W-BOB-…/unblock` with no
 * token, releasing a wallet clone detection had blocked. In-process, on the app (`inject()`); the
 * same over the real `serve` is in ../serve-operator.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { HotlistWire } from "../../protocol/wallet/batch.js";
import { TerminalSim } from "../../test-support/batch-builder.js";
import { frozenClock } from "../../test-support/clock.js";
import { buildApp } from "../app.js";
import { TEST_NOW, type TestAcquirer, testAcquirer, testPki } from "../testing.js";
import type { OperatorAccess } from "./operator-auth.js";

const clock = frozenClock(TEST_NOW).date;
const TOKEN = "s3cret-operator-token-0123456789";
const BOB = "W-BOB-0002";

let acq: TestAcquirer | undefined;
afterEach(async () => {
  await acq?.close();
  acq = undefined;
});

/** Clone detection blocks Bob's wallet: two different records under one card counter. */
async function cloneBlocksBob(a: TestAcquirer): Promise<void> {
  const sim = new TerminalSim();
  sim.debit({ card: "cards/bob", counter: 7 });
  sim.debit({ card: "cards/bob", counter: 7, amount: 1 });
  const res = await a.app.inject({ method: "POST", url: "/v1/batches", payload: sim.closeBatch() });
  expect(res.statusCode).toBe(200);
  expect(await a.store.walletBlock(BOB)).toMatchObject({ reason: "clone", source: "clone-detection" });
}

const unblock = (a: TestAcquirer, authorization?: string) =>
  a.app.inject({
    method: "POST",
    url: `/v1/wallets/${BOB}/unblock`,
    ...(authorization === undefined ? {} : { headers: { authorization } }),
  });

const hotlistVersion = async (a: TestAcquirer) =>
  ((await a.app.inject({ method: "GET", url: "/v1/hotlist" })).json() as HotlistWire).version;

describe("operator routes with a token", () => {
  const refused: [string, string | undefined][] = [
    ["no Authorization header", undefined],
    ["a wrong token of the same length", `Bearer ${"x".repeat(TOKEN.length)}`],
    ["a wrong token of another length", "Bearer short"],
    ["the token with one character too many", `Bearer ${TOKEN}0`],
    ["the token without the Bearer scheme", TOKEN],
    ["the token under another scheme", `Basic ${TOKEN}`],
    ["an empty bearer token", "Bearer "],
  ];
  for (const [what, authorization] of refused)
    it(`refuses an unblock with ${what} (401), and the clone-blocked wallet stays blocked`, async () => {
      acq = await testAcquirer({ clock, operatorToken: TOKEN });
      await cloneBlocksBob(acq);
      const version = await hotlistVersion(acq);
      const res = await unblock(acq, authorization);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: "ACQ_ERR_UNAUTHORIZED" });
      expect(await acq.store.walletBlock(BOB)).toMatchObject({ reason: "clone" });
      expect(await hotlistVersion(acq)).toBe(version);
      expect(await acq.store.operatorAudit()).toEqual([]);
    });

  it("refuses every operator route without the token, and serves terminals without one", async () => {
    acq = await testAcquirer({ clock, operatorToken: TOKEN });
    const routes: [string, string, object?][] = [
      ["POST", `/v1/wallets/${BOB}/block`, { reason: "lost" }],
      ["POST", `/v1/wallets/${BOB}/unblock`],
      ["GET", `/v1/wallets/${BOB}/ledger`],
      ["GET", `/v1/wallets/${BOB}/findings`],
      ["GET", "/v1/findings"],
      ["GET", "/v1/reports/settlement?date=2026-11-23"],
      ["GET", `/v1/platform/wallets/${BOB}`],
      ["GET", "/v1/platform/reconciliation"],
    ];
    for (const [method, url, payload] of routes) {
      const res = await acq.app.inject({
        method: method as "GET" | "POST",
        url,
        ...(payload ? { payload } : {}),
        headers: { authorization: "Bearer wrong" },
      });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
    expect(await acq.store.walletBlock(BOB)).toBeNull();
    expect((await acq.app.inject({ method: "GET", url: "/v1/hotlist" })).statusCode).toBe(200);
  });

  it("unblocks with the right token, and the audit log says the operator token did it and from where", async () => {
    acq = await testAcquirer({ clock, operatorToken: TOKEN });
    await cloneBlocksBob(acq);
    const res = await unblock(acq, `Bearer ${TOKEN}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ walletId: BOB, blocked: false, changed: true });
    expect(await acq.store.walletBlock(BOB)).toBeNull();
    expect(await acq.store.operatorAudit()).toEqual([
      {
        id: expect.any(Number),
        at: Math.floor(TEST_NOW.getTime() / 1000),
        via: "http",
        who: "operator-token",
        address: "127.0.0.1",
        action: "unblock",
        subject: BOB,
        reason: null,
        outcome: { changed: true, hotlistVersion: expect.any(Number) },
      },
    ]);
  });
});

describe("operator routes off", () => {
  it("answers 404 to every operator route, changes nothing, and still settles batches", async () => {
    acq = await testAcquirer({ clock, operator: { off: true } });
    await cloneBlocksBob(acq);
    for (const [method, url] of [
      ["POST", `/v1/wallets/${BOB}/unblock`],
      ["POST", `/v1/wallets/${BOB}/block`],
      ["GET", `/v1/wallets/${BOB}/ledger`],
      ["GET", "/v1/reports/settlement?date=2026-11-23"],
      ["GET", `/v1/platform/wallets/${BOB}`],
      ["GET", "/v1/platform/reconciliation"],
    ] as const) {
      const res = await acq.app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    expect(await acq.store.walletBlock(BOB)).toMatchObject({ reason: "clone" });
    const sim = new TerminalSim({ terminal: "terminals/term-0002" });
    sim.debit({ card: "cards/alice" });
    const batch = await acq.app.inject({ method: "POST", url: "/v1/batches", payload: sim.closeBatch() });
    expect(batch.statusCode).toBe(200);
    expect(batch.json()).toMatchObject({ status: "settled", accepted: 1 });
  });
});

describe("operator routes open (tests, --insecure-operator-routes)", () => {
  it("unblocks without a token, and the audit log says the routes were open", async () => {
    acq = await testAcquirer({ clock, operator: { open: true } });
    await cloneBlocksBob(acq);
    expect((await unblock(acq)).statusCode).toBe(200);
    expect(await acq.store.operatorAudit()).toMatchObject([
      { via: "http", who: "open-operator-routes", action: "unblock", subject: BOB },
    ]);
  });
});

describe("buildApp's operator access", () => {
  const unclear: [string, unknown][] = [
    ["an empty token", { token: "" }],
    ["nothing", {}],
    ["undefined", undefined],
    ["a token and open at once", { token: TOKEN, open: true }],
    ["open: false", { open: false }],
  ];
  for (const [what, operator] of unclear)
    it(`refuses to build an app whose operator access is ${what} (never open by accident)`, async () => {
      const p = testPki();
      const built = buildApp({
        store: undefined as never,
        trust: p.trust,
        hotlistSigner: p.hotlistSigner,
        operator: operator as OperatorAccess,
      });
      await expect(built).rejects.toMatchObject({ code: "ACQ_ERR_NO_OPERATOR_TOKEN" });
    });
});
