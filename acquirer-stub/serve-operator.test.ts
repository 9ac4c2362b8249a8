/**
 * Operators authenticate, on the real `acquirer-stub serve` of dist/ (npm test builds it first;
 * run `npm run build` before running this file alone): without a token it does not start; with
 * `--operator-routes off` the operator routes do not exist; with `--insecure-operator-routes` it
 * says so loudly; with a token, nothing else gets in. The attack of issue 14: an unblock of a
 * wallet clone detection had blocked, sent with no token.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { hotlistWallets } from "../protocol/wallet/hotlist.js";
import { AcquirerClient } from "../terminal/adapters/http/acquirer-client.js";
import { TerminalSim } from "../test-support/batch-builder.js";
import { frozenClock, realClock } from "../test-support/clock.js";
import { ACQUIRER_CLI, type Instance, spawnInstance } from "../test-support/fleet.js";
import { type TestDatabase, testDatabase } from "./testing.js";

const TOKEN_ENV = "TAPWALLET_ACQUIRER_OPERATOR_TOKEN";
const TOKEN = "serve-operator-test-token-abcdef";
const BOB = "W-BOB-0002";
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "acquirer-serve-operator-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment of an operator who has no token set. */
function withoutToken(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TAPWALLET_LOG_LEVEL: "warn" };
  delete env[TOKEN_ENV];
  return env;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = withoutToken()) {
  try {
    const { stdout, stderr } = await run(process.execPath, [ACQUIRER_CLI, ...args], { timeout: 20_000, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

let database: TestDatabase;
let instance: Instance | undefined;
let client: AcquirerClient | undefined;
beforeEach(async () => {
  database = await testDatabase();
});
afterEach(async () => {
  client?.close();
  client = undefined;
  await instance?.stop();
  instance = undefined;
  await database.drop();
});

/** Clone detection blocks Bob's wallet on the served acquirer (the real clock, as `serve` runs). */
async function cloneBlocksBob(url: string): Promise<void> {
  client = new AcquirerClient({ baseUrl: url, baseDelayMs: 5 });
  const sim = new TerminalSim({ clock: frozenClock(realClock.ms()) });
  sim.debit({ card: "cards/bob", counter: 7 });
  sim.debit({ card: "cards/bob", counter: 7, amount: 1 });
  expect(await client.uploadBatch(sim.closeBatch())).toMatchObject({ status: "settled", accepted: 1 });
  expect(hotlistWallets((await client.fetchHotlist())!)).toEqual([BOB]);
}

const unblock = (url: string, authorization?: string) =>
  fetch(`${url}/v1/wallets/${BOB}/unblock`, {
    method: "POST",
    ...(authorization === undefined ? {} : { headers: { authorization } }),
  });

const auditOf = async (db: string) =>
  (JSON.parse((await cli(["audit", "--json", "--db", db])).stdout) as { entries: Record<string, unknown>[] })
    .entries;

describe.skipIf(!existsSync(ACQUIRER_CLI))("acquirer-stub serve: operators authenticate", () => {
  it("refuses to start without an operator token: exit 2, ACQ_ERR_NO_OPERATOR_TOKEN, nothing listening", async () => {
    const port = await freePort();
    const db = join(dir, "never.sqlite");
    const child = spawn(process.execPath, [ACQUIRER_CLI, "serve", "--port", String(port), "--db", db], {
      env: withoutToken(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^acquirer-stub: no operator token: set TAPWALLET_ACQUIRER_OPERATOR_TOKEN/);
    expect(stderr).toMatch(/--operator-routes off/);
    expect(stderr).toMatch(/--insecure-operator-routes/);
    expect(stderr).toMatch(/\[ACQ_ERR_NO_OPERATOR_TOKEN\]$/m);
    expect(await listening(port)).toBe(false);
    expect(existsSync(db)).toBe(false);
  });

  it("refuses an empty token as no token", async () => {
    const r = await cli(["serve", "--port", "0", "--db", join(dir, "empty.sqlite")], {
      ...withoutToken(),
      [TOKEN_ENV]: "  ",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[ACQ_ERR_NO_OPERATOR_TOKEN\]/);
  });

  const contradictions: [string, string[], NodeJS.ProcessEnv][] = [
    [
      "--operator-routes off with --insecure-operator-routes",
      ["--operator-routes", "off", "--insecure-operator-routes"],
      withoutToken(),
    ],
    [
      "a token with --insecure-operator-routes",
      ["--insecure-operator-routes"],
      { ...withoutToken(), [TOKEN_ENV]: TOKEN },
    ],
    ["--operator-routes maybe", ["--operator-routes", "maybe"], withoutToken()],
    [
      "a hotlist grace that is not hours",
      ["--hotlist-grace-hours", "1d"],
      { ...withoutToken(), [TOKEN_ENV]: TOKEN },
    ],
  ];
  for (const [what, args, env] of contradictions)
    it(`answers ${what} with a usage error (exit 2), not a server`, async () => {
      const r = await cli(["serve", "--port", "0", "--db", join(dir, "usage.sqlite"), ...args], env);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^acquirer-stub: /);
    });

  it("with --operator-routes off: an unblock answers 404 and changes nothing, while batches still upload", async () => {
    instance = await spawnInstance(database.target, { [TOKEN_ENV]: "" }, ["--operator-routes", "off"]);
    await cloneBlocksBob(instance.url);
    for (const authorization of [undefined, `Bearer ${TOKEN}`]) {
      const res = await unblock(instance.url, authorization);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ code: "ACQ_ERR_NOT_FOUND" });
    }
    for (const path of [
      "/v1/reports/settlement?date=2026-11-23",
      `/v1/wallets/${BOB}/ledger`,
      "/v1/findings",
    ])
      expect((await fetch(`${instance.url}${path}`)).status, path).toBe(404);
    expect(hotlistWallets((await client!.fetchHotlist())!)).toEqual([BOB]);
    expect(await auditOf(database.target)).toEqual([]);
  });

  it("with a token: an unblock without it, or with a wrong one of the same or another length, is 401 and changes nothing", async () => {
    instance = await spawnInstance(database.target, { [TOKEN_ENV]: TOKEN });
    await cloneBlocksBob(instance.url);
    for (const authorization of [
      undefined,
      `Bearer ${"0".repeat(TOKEN.length)}`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}-and-more`,
    ]) {
      const res = await unblock(instance.url, authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(await res.json()).toMatchObject({ code: "ACQ_ERR_UNAUTHORIZED" });
    }
    expect(hotlistWallets((await client!.fetchHotlist())!)).toEqual([BOB]);
    expect(await auditOf(database.target)).toEqual([]);

    const ok = await unblock(instance.url, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(hotlistWallets((await client!.fetchHotlist())!)).toEqual([]);
    expect(await auditOf(database.target)).toMatchObject([
      { via: "http", who: "operator-token", address: "127.0.0.1", action: "unblock", subject: BOB },
    ]);
  });

  it("with --insecure-operator-routes: warns at start (log and stderr), and the unblock is audited as open", async () => {
    instance = await spawnInstance(database.target, { [TOKEN_ENV]: "" }, ["--insecure-operator-routes"]);
    const served = instance;
    await vi.waitFor(
      () => expect(served.stderr()).toMatch(/acquirer-stub: WARNING: operator routes are open/),
      {
        timeout: 5_000,
      },
    );
    const warn = served
      .stderr()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: number; msg: string; operatorRoutes?: string })
      .find((l) => l.operatorRoutes === "open");
    expect(warn).toMatchObject({ level: 40 });
    expect(warn?.msg).toBe(
      `operator routes are open without a token: anyone who can reach ${served.url} can block and unblock ` +
        "wallets and read every wallet, ledger, report and finding",
    );
    await cloneBlocksBob(served.url);
    expect((await unblock(served.url)).status).toBe(200);
    expect(await auditOf(database.target)).toMatchObject([
      { via: "http", who: "open-operator-routes", address: "127.0.0.1", action: "unblock", subject: BOB },
    ]);
  });

  it("tells the truth in serve --help", async () => {
    const help = await cli(["serve", "--help"]);
    expect(help.stdout).toMatch(/TAPWALLET_ACQUIRER_OPERATOR_TOKEN/);
    expect(help.stdout).toMatch(/--operator-routes <on\|off>/);
    expect(help.stdout).toMatch(/--insecure-operator-routes/);
    expect(help.stdout).toMatch(/refuses to start/);
  });
});
