/**
 * The hotlist is keyed by issuer (issue 14 part 5). The attack: two issuers' card serials (or
 * wallet ids) collide, and an innocent card of one issuer is declined because the other issuer
 * revoked (or the acquirer blocked at it) the same serial or id. Played end to end: the acquirer
 * over loopback HTTP with a second issuer CA generated under the fixture root, the terminal's real
 * `posd sync` (AcquirerClient, syncHotlist, verifyFetchedHotlist) into its SQLite file, and real
 * card sessions with software cards. The terminal's trust has no CRL: the hotlist it synced is what
 * declines a revoked card.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../../acquirer-stub/testing.js";
import { silentLogger } from "../../protocol/logger.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { IssuerHotlistWire } from "../../protocol/wallet/hotlist.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import {
  acquirerTrustWith,
  type SecondIssuer,
  secondIssuer,
  terminalTrustWith,
} from "../../test-support/second-issuer.js";
import { type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { AcquirerClient, verifyFetchedHotlist } from "../adapters/http/acquirer-client.js";
import { runPayment } from "./run-payment.js";
import { syncHotlist } from "./upload.js";

const world = frozenClock(TEST_NOW);
const ISSUER_CA = loadFixturePki().cert("issuer-ca").fingerprint;
let second: SecondIssuer;
let t: TestTerminal;
let acquirer: TestAcquirer;
let acquirerUrl: string;
const cleanups: (() => unknown)[] = [];

beforeEach(async () => {
  second ??= await secondIssuer();
  t = testTerminal({ clock: world, store: "sqlite" });
  t.deps = {
    ...t.deps,
    trust: terminalTrustWith(second, (walletId, serial, issuer) =>
      t.hotlist.isHotlisted(walletId, serial, issuer),
    ),
  };
  acquirer = await testAcquirer({ clock: world.date, trust: acquirerTrustWith(second) });
  await acquirer.app.listen({ port: 0, host: "127.0.0.1" });
  acquirerUrl = `http://127.0.0.1:${(acquirer.app.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await acquirer.close();
  t.cleanup();
});

/** `posd sync` against `url` (the acquirer, or whoever answers at an address the terminal is given). */
async function sync(url = acquirerUrl) {
  const client = new AcquirerClient({ baseUrl: url, retries: 0, logger: silentLogger() });
  try {
    const ctx = { hotlist: t.hotlist, logger: silentLogger() };
    return await syncHotlist(ctx, client, (wire) => verifyFetchedHotlist(wire, t.identity.chain[0]!));
  } finally {
    client.close();
  }
}

const pay = (card: { transport: Parameters<typeof runPayment>[0] }) =>
  runPayment(card.transport, t.deps, { amount: 100, currency: 978 });

async function block(walletId: string, issuer?: string) {
  const res = await acquirer.app.inject({
    method: "POST",
    url: `/v1/wallets/${walletId}/block`,
    payload: { reason: "lost", ...(issuer === undefined ? {} : { issuer }) },
  });
  expect(res.statusCode).toBe(200);
}

/** An HTTP server at another address answering GET /v2/hotlist with `body`, 404 to anything else. */
async function attacker(body: unknown): Promise<string> {
  const server = http.createServer((req, res) => {
    if (!req.url?.startsWith("/v2/hotlist")) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const v2 = async () =>
  (await acquirer.app.inject({ method: "GET", url: "/v2/hotlist" })).json() as IssuerHotlistWire;

describe("a revoked serial another issuer also used", () => {
  it("declines issuer-ca's revoked card c005 and lets the second bank's card c005 pay", async () => {
    const innocent = await second.card("c005", "W-SECOND-0005");
    expect(innocent.certificate.serialNumber).toBe(loadFixturePki().cert("cards/revoked").serialNumber);
    expect(await sync()).toMatchObject({ changed: true, serials: 1 });

    expect(await pay(fixtureCard({}, { fixture: "cards/revoked" }))).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
    });
    expect(await pay(innocent.software())).toMatchObject({ status: "approved" });
  });

  it("a terminal on the deprecated /v1 list (an acquirer without /v2) declines both: it matches the serial alone", async () => {
    const innocent = await second.card("c005", "W-SECOND-0005");
    const oldAcquirer = http.createServer((req, res) => {
      if (!req.url?.startsWith("/v1/hotlist")) return void res.writeHead(404).end();
      acquirer.app
        .inject({ method: "GET", url: req.url })
        .then((a) => res.writeHead(a.statusCode).end(a.body));
    });
    await new Promise<void>((resolve) => oldAcquirer.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => oldAcquirer.close(() => resolve())));
    await sync(`http://127.0.0.1:${(oldAcquirer.address() as AddressInfo).port}`);

    expect(await pay(innocent.software())).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
  });
});

describe("a wallet id blocked at one issuer", () => {
  it("declines the second bank's W-ALICE-0001 and lets issuer-ca's W-ALICE-0001 pay, until blocked at every issuer", async () => {
    const twin = await second.card("5001", "W-ALICE-0001");
    await block("W-ALICE-0001", second.fingerprint);
    await sync();
    expect(await pay(twin.software())).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
    expect(await pay(fixtureCard({ balance: 5_000 }))).toMatchObject({ status: "approved" });

    // The operator's block that names no issuer holds at every issuer.
    await block("W-ALICE-0001");
    expect((await v2()).blockedWallets).toEqual(["W-ALICE-0001"]);
    await sync();
    expect(await pay(fixtureCard({ balance: 5_000 }))).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
    });
  });

  it("a block at issuer-ca does not follow the wallet id to the second bank", async () => {
    const twin = await second.card("5002", "W-BOB-0002");
    await block("W-BOB-0002", ISSUER_CA);
    await sync();
    expect(await pay(fixtureCard({}, { fixture: "cards/bob" }))).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
    });
    expect(await pay(twin.software())).toMatchObject({ status: "approved" });
  });
});

describe("a format-2 hotlist the terminal must refuse", () => {
  it("refuses one whose signature does not verify (the second bank's block dropped), and keeps the stored one", async () => {
    const twin = await second.card("5003", "W-BOB-0002");
    await block("W-BOB-0002", second.fingerprint);
    const stored = await sync();
    const held = t.hotlist.info();
    // A newer version, edited in between: the block is gone, the signature is the acquirer's.
    await block("W-LOST-0001");
    const wire = await v2();
    const edited = { ...wire, issuers: wire.issuers.filter((e) => e.issuer !== second.fingerprint) };
    await expect(sync(await attacker(edited))).rejects.toMatchObject({ code: "TERM_ERR_HOTLIST_SIGNATURE" });
    await expect(sync(await attacker({ ...wire, signature: "11".repeat(64) }))).rejects.toMatchObject({
      code: "TERM_ERR_HOTLIST_SIGNATURE",
    });
    expect(t.hotlist.info()).toEqual(held);
    expect(t.hotlist.size()).toEqual({ wallets: stored.wallets, serials: stored.serials });
    expect(await pay(twin.software())).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
  });

  it("refuses a format-1 body served as format 2, signed by the acquirer and newer, and keeps the stored one", async () => {
    const twin = await second.card("5004", "W-BOB-0002");
    await block("W-BOB-0002", second.fingerprint);
    await sync();
    const held = t.hotlist.info();
    await block("W-LOST-0001");
    const v1 = (await acquirer.app.inject({ method: "GET", url: "/v1/hotlist" })).json();
    expect(v1.version).toBeGreaterThan(held!.version);
    await expect(sync(await attacker(v1))).rejects.toMatchObject({ code: "TERM_ERR_HOTLIST_FORMAT" });
    // Nor with a format field added: format 2 has no flat serials, and v1's signature is not over v2 bytes.
    await expect(sync(await attacker({ ...v1, format: 2 }))).rejects.toMatchObject({
      code: "TERM_ERR_HOTLIST_FORMAT",
    });
    expect(t.hotlist.info()).toEqual(held);
    expect(await pay(twin.software())).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
  });
});
