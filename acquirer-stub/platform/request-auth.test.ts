/**
 * Who may ask the wallet platform: a terminal certified by the acquirer CA, whose certificate key
 * signed the very method, path and body received, at a time within ±300 s of the platform's
 * clock; and only with a body that is exactly a protocol/platform/api.ts type. Nothing refused
 * here stores anything.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { LoadRequest } from "../../protocol/platform/api.js";
import {
  CERTIFICATES_HEADER,
  SIGNATURE_HEADER,
  signPlatformRequest,
} from "../../protocol/platform/request-auth.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { TEST_NOW } from "../testing.js";
import { REQUEST_TIME_WINDOW_SECONDS } from "./rules.js";
import {
  fieldCard,
  fixtureSigner,
  moneySnapshot,
  type PlatformWorld,
  platformWorld,
  signedPost,
} from "./testing.js";

const pki = loadFixturePki();
const clock = frozenClock(TEST_NOW).date;

let world: PlatformWorld;
let request: LoadRequest;
beforeEach(async () => {
  world = await platformWorld(fieldCard(fixtureCard(), "W-ALICE-0001", pki.der("cards/alice")), clock);
  request = await world.terminal.loadRequest({ type: "cash", amount: 1_000 });
});
afterEach(() => world.close());

async function expectNothingStored<T>(fn: () => Promise<T>): Promise<T> {
  const before = await moneySnapshot(world.acq.store);
  const result = await fn();
  expect(await moneySnapshot(world.acq.store)).toEqual(before);
  return result;
}

const post = (body: unknown, options: Parameters<typeof signedPost>[3] = {}) =>
  expectNothingStored(() => signedPost(world.acq.app, "/v1/platform/loads", body, options));

describe("wallet platform › request signatures", () => {
  it("takes a request signed by any certified terminal, and names it by its certificate", async () => {
    const res = await signedPost(world.acq.app, "/v1/platform/loads", request, {
      signer: fixtureSigner("terminals/term-0002"),
    });
    expect(res.status).toBe(200);
    const row = await world.acq.store.db
      .selectFrom("platform_loads")
      .select("terminal_id")
      .executeTakeFirstOrThrow();
    expect(row.terminal_id).toBe("T-0002");
  });

  it("refuses an unsigned request with 401 ACQ_ERR_REQUEST_SIGNATURE", async () => {
    const res = await expectNothingStored(() =>
      world.acq.app.inject({ method: "POST", url: "/v1/platform/loads", payload: request }),
    );
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe("ACQ_ERR_REQUEST_SIGNATURE");
  });

  it("refuses a request signed by another key than the certificate's (401)", async () => {
    const res = await post(request, {
      signer: { privateKey: pki.key("terminals/term-0002"), chain: fixtureSigner().chain },
    });
    expect({ status: res.status, code: res.body.code }).toEqual({
      status: 401,
      code: "ACQ_ERR_REQUEST_SIGNATURE",
    });
  });

  it("refuses a body changed after it was signed (401)", async () => {
    const res = await post(request, { tamper: (body) => body.replace('"amount":1000', '"amount":9000') });
    expect({ status: res.status, code: res.body.code }).toEqual({
      status: 401,
      code: "ACQ_ERR_REQUEST_SIGNATURE",
    });
  });

  it("refuses a signed request replayed to another route (401)", async () => {
    const body = JSON.stringify({ record: "00", signature: "00".repeat(64) });
    const headers = signPlatformRequest(fixtureSigner().privateKey, fixtureSigner().chain, {
      method: "POST",
      path: `/v1/platform/loads/${request.loadId}/complete`,
      body,
    });
    const res = await world.acq.app.inject({
      method: "POST",
      url: "/v1/platform/loads/0000000000000000/complete",
      payload: body,
      headers: { "content-type": "application/json", ...headers },
    });
    expect(res.statusCode).toBe(401);
  });

  it("refuses a signature header that is not 128 hex (401)", async () => {
    const res = await post(request, { headers: { [SIGNATURE_HEADER]: "zz" } });
    expect(res.status).toBe(401);
  });

  const refusedTerminals: [string, string, string][] = [
    ["an expired terminal certificate", "terminals/expired", "ACQ_ERR_TERMINAL_CERT"],
    ["a terminal on the acquirer CA's CRL", "terminals/revoked", "ACQ_ERR_TERMINAL_REVOKED"],
    ["a 'terminal' certified by the issuer CA", "terminals/by-issuer-ca", "ACQ_ERR_TERMINAL_CERT"],
  ];
  for (const [what, name, code] of refusedTerminals)
    it(`refuses ${what} with 403 ${code}`, async () => {
      const res = await post(request, { signer: fixtureSigner(name) });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 403, code });
    });

  it("refuses a terminal id the operator revoked (403 ACQ_ERR_TERMINAL_REVOKED)", async () => {
    await world.acq.store.revokeTerminal("T-0001", TEST_NOW.getTime() / 1000);
    const res = await post(request);
    expect({ status: res.status, code: res.body.code }).toEqual({
      status: 403,
      code: "ACQ_ERR_TERMINAL_REVOKED",
    });
  });

  it("refuses a certificate header that is not base64 DER (401)", async () => {
    const res = await post(request, { headers: { [CERTIFICATES_HEADER]: "not base64!" } });
    expect(res.status).toBe(401);
  });
});

describe("wallet platform › request bodies", () => {
  const malformed: [string, (r: LoadRequest) => unknown][] = [
    ["an unknown field", (r) => ({ ...r, bonus: 1 })],
    ["an unknown field inside the card view", (r) => ({ ...r, card: { ...r.card, pin: "1234" } })],
    ["a string amount", (r) => ({ ...r, amount: "1000" })],
    ["a fractional amount", (r) => ({ ...r, amount: 10.5 })],
    ["a load type it does not know", (r) => ({ ...r, type: "gift" })],
    ["an upper-case load id", (r) => ({ ...r, loadId: r.loadId.toUpperCase().replace(/[0-9]/, "A") })],
    ["a missing challenge", ({ challenge: _gone, ...r }) => r],
  ];
  for (const [what, edit] of malformed)
    it(`refuses ${what} with 400 ACQ_ERR_BAD_REQUEST`, async () => {
      const res = await post(edit(request));
      expect({ status: res.status, code: res.body.code }).toEqual({
        status: 400,
        code: "ACQ_ERR_BAD_REQUEST",
      });
    });

  it("refuses a body that is not JSON (400)", async () => {
    const headers = signPlatformRequest(fixtureSigner().privateKey, fixtureSigner().chain, {
      method: "POST",
      path: "/v1/platform/loads",
      body: "{",
    });
    const res = await world.acq.app.inject({
      method: "POST",
      url: "/v1/platform/loads",
      payload: "{",
      headers: { "content-type": "application/json", ...headers },
    });
    expect(res.statusCode).toBe(400);
  });

  it(`takes a terminal clock ${REQUEST_TIME_WINDOW_SECONDS} s off, refuses one a second further (ACQ_ERR_REQUEST_TIME)`, async () => {
    const late = await post({ ...request, time: request.time - REQUEST_TIME_WINDOW_SECONDS - 1 });
    expect({ status: late.status, code: late.body.code }).toEqual({
      status: 400,
      code: "ACQ_ERR_REQUEST_TIME",
    });
    const early = await post({ ...request, time: request.time + REQUEST_TIME_WINDOW_SECONDS + 1 });
    expect(early.body.code).toBe("ACQ_ERR_REQUEST_TIME");
    const edge = await signedPost(world.acq.app, "/v1/platform/loads", {
      ...request,
      time: request.time - REQUEST_TIME_WINDOW_SECONDS,
    });
    expect(edge.status).toBe(200);
  });
});
