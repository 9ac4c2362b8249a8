/**
 * Who may call the cash-register API, over real loopback HTTP: a page in the register's browser
 * (DNS rebinding, cross-origin requests) and a caller without the bearer token are refused before
 * anything is stored.
 */
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../protocol/logger.js";
import { type TestTerminal, testTerminal } from "../../../test-support/terminal-fixture.js";
import { PaymentManager } from "../../application/payment-manager.js";
import { runPayment } from "../../application/run-payment.js";
import { VirtualCardSource } from "../virtual/virtual-card-source.js";
import { buildEcrApp, type EcrAccess } from "./ecr-server.js";

let t: TestTerminal;
let manager: PaymentManager;
let app: ReturnType<typeof buildEcrApp>;
let port: number;

async function start(access?: EcrAccess): Promise<void> {
  t = testTerminal({ store: "memory" });
  manager = new PaymentManager({
    payments: t.ecrPayments,
    records: t.store,
    cardSource: new VirtualCardSource(undefined, { alwaysPresent: false }),
    pay: (transport, req) => runPayment(transport, t.deps, req),
    cardWaitMs: 5_000,
    logger: silentLogger(),
  });
  app = buildEcrApp({
    manager,
    stores: t,
    logger: silentLogger(),
    status: () => ({ terminalId: "T-0001" }),
    ...(access ? { access } : {}),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as AddressInfo).port;
}

afterEach(async () => {
  await manager.shutdown();
  await app.close();
  t.cleanup();
});

interface Answer {
  status: number;
  body: { code?: string; message?: string; state?: string };
  headers: Record<string, string | string[] | undefined>;
}

/** One request to 127.0.0.1:port with exactly these headers (Host included), as a browser or curl would send. */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        setHost: false,
        headers: {
          ...headers,
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {}, headers: res.headers }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const payment = { serviceId: "S-1", amount: 450, currency: "EUR" };

describe("the cash-register API refuses callers that are not the register", () => {
  it("refuses a forged Host (DNS rebinding: evil.example resolved to 127.0.0.1) with 403 and stores nothing", async () => {
    await start();
    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1.evil.example:${port}`, ""]) {
      const r = await send("POST", "/v1/payments", { host }, payment);
      expect(r.status, host).toBe(403);
      expect(r.body.code).toBe("TERM_ERR_ECR_FORBIDDEN");
    }
    expect((await send("GET", "/v1/status", { host: `evil.example:${port}` })).status).toBe(403);
    expect(manager.get("S-1")).toBeUndefined();
  });

  it("takes requests for its bound address, localhost, loopback and a configured name", async () => {
    await start({ boundHost: "127.0.0.1", allowedHosts: ["till-3.shop.lan"] });
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      "till-3.shop.lan:8765",
      "LOCALHOST",
    ])
      expect((await send("GET", "/v1/status", { host })).status, host).toBe(200);
  });

  it("refuses a browser's cross-origin request (Origin and Sec-Fetch-Site of another site) and stores nothing", async () => {
    await start();
    const host = `127.0.0.1:${port}`;
    const browser = {
      host,
      origin: "http://evil.example",
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "cors",
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
    };
    const r = await send("POST", "/v1/payments", browser, payment);
    expect(r).toMatchObject({ status: 403, body: { code: "TERM_ERR_ECR_FORBIDDEN" } });
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    // A page on another local port is another origin too, with or without Sec-Fetch-Site.
    const local = await send("POST", "/v1/payments", { host, origin: "http://localhost:3000" }, payment);
    expect(local.status).toBe(403);
    const fetchOnly = await send("POST", "/v1/payments", { host, "sec-fetch-site": "same-site" }, payment);
    expect(fetchOnly.status).toBe(403);
    const opaque = await send("POST", "/v1/payments", { host, origin: "null" }, payment);
    expect(opaque.status).toBe(403);
    expect(manager.get("S-1")).toBeUndefined();
  });

  it("with ecr.token set, answers 401 without the bearer token or with another, and takes the payment with it", async () => {
    const token = "till-3-secret-token-0123456789";
    await start({ boundHost: "127.0.0.1", token });
    const host = `127.0.0.1:${port}`;
    const none = await send("POST", "/v1/payments", { host }, payment);
    expect(none).toMatchObject({ status: 401, body: { code: "TERM_ERR_ECR_UNAUTHORIZED" } });
    expect(none.headers["www-authenticate"]).toMatch(/^Bearer/);
    const wrong = await send("POST", "/v1/payments", { host, authorization: `Bearer ${token}x` }, payment);
    expect(wrong.status).toBe(401);
    const basic = await send("POST", "/v1/payments", { host, authorization: `Basic ${token}` }, payment);
    expect(basic.status).toBe(401);
    expect(manager.get("S-1")).toBeUndefined();
    const ok = await send("POST", "/v1/payments", { host, authorization: `Bearer ${token}` }, payment);
    expect(ok).toMatchObject({ status: 201, body: { state: "waiting_for_card" } });
  });
});
