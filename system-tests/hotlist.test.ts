/**
 * The hotlist attacks, played with the real CLIs from dist/ on the real clock: `acquirer-stub
 * serve` over loopback HTTP, `acquirer-stub block`, `posd sync`, `posd pay --virtual` on card state
 * files.
 * - A terminal that never synced must not pay a blocked wallet above the floor.
 * - An old signed hotlist, captured from the acquirer and served again from another loopback
 *   address after a wallet was blocked, must be refused: the blocked wallet stays declined.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";
import { cardState } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const ACQUIRER = join(packageRoot(), "dist", "acquirer-stub", "cli.js");
const run = promisify(execFile);
const LIMIT = ["--balance-limit", "500.00", "--single-limit", "200.00"];

const world = systemWorld({
  name: "hotlist",
  posd: true,
  cards: {
    alice: { walletId: "W-ALICE-0001", balance: "300.00", args: LIMIT },
    lost: { walletId: "W-LOST-0001", balance: "300.00", args: LIMIT },
    bob: { walletId: "W-BOB-0002", balance: "300.00", args: LIMIT },
  },
});
const acquirerDb = join(world.dir, "acquirer.sqlite");
let acquirerUrl = "";

async function acquirer(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [ACQUIRER, ...args, "--db", acquirerDb], {
    env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" },
  });
  return stdout;
}

function serveAcquirer(): Promise<{ url: string; child: ChildProcess }> {
  // Terminals only: this test blocks wallets with the CLI, never over HTTP.
  const child = spawn(
    process.execPath,
    [ACQUIRER, "serve", "--port", "0", "--db", acquirerDb, "--operator-routes", "off"],
    {
      env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`acquirer-stub serve exited ${code}`)));
  });
}

/** The attacker: any HTTP server that answers GET /v1/hotlist with a captured body, whatever `since` says. */
function replayServer(host: string, body: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (!req.url?.startsWith("/v1/hotlist")) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}

const pay = (card: string, amount: string) =>
  world.posd(["pay", "--virtual", "--card", world.cardPath(card), "--amount", amount, "--json"]);
const outcome = (r: { stdout: string }) => JSON.parse(r.stdout) as { status: string; code?: string };

beforeAll(async () => {
  const served = await serveAcquirer();
  acquirerUrl = served.url;
  world.cleanup(() => {
    served.child.kill("SIGTERM");
  });
});

describe("posd and the hotlist, through the real CLIs", () => {
  it("a terminal that never synced declines a wallet blocked at the acquirer above the floor (50.00 EUR)", async () => {
    expect(await acquirer("block", "W-LOST-0001", "--reason", "lost")).toMatch(/W-LOST-0001 blocked/);
    const r = await pay("lost", "60.00");
    expect(r.code).toBe(3);
    expect(outcome(r)).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLIST_STALE" });
    expect(cardState(world.cardPath("lost")).balance).toBe(30_000);
    const status = await world.posd(["status"]);
    expect(status.stdout).toMatch(/^hotlist {6}none \(never synced\)/m);

    const sync = await world.posd(["sync", "--acquirer", acquirerUrl]);
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(/\(updated\): 1 blocked wallets/);
    expect(outcome(await pay("lost", "1.00"))).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
    });
    expect(outcome(await pay("alice", "60.00"))).toMatchObject({ status: "approved" });
  });

  it("refuses an old signed hotlist served again from another address: the wallet blocked since stays declined", async () => {
    // The attacker captures the signed list while W-BOB-0002 is not on it.
    const captured = await (await fetch(`${acquirerUrl}/v1/hotlist`)).text();
    const oldVersion = (JSON.parse(captured) as { version: number }).version;
    expect(await acquirer("block", "W-BOB-0002", "--reason", "stolen")).toMatch(/W-BOB-0002 blocked/);
    const sync = await world.posd(["sync", "--acquirer", acquirerUrl, "--json"]);
    const current = JSON.parse(sync.stdout) as { version: number; wallets: number };
    expect(current).toMatchObject({ wallets: 2 });
    expect(current.version).toBeGreaterThan(oldVersion);
    expect(outcome(await pay("bob", "1.00"))).toMatchObject({
      status: "declined",
      code: "TERM_ERR_HOTLISTED",
    });

    const attacker = await replayServer("127.0.0.2", captured);
    world.cleanup(() => new Promise<void>((resolve) => attacker.close(() => resolve())));
    const { port } = attacker.address() as AddressInfo;
    const replay = await world.posd(["sync", "--acquirer", `http://127.0.0.2:${port}`]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(
      new RegExp(
        `version ${oldVersion} .* older than the stored version ${current.version} .*TERM_ERR_HOTLIST_REPLAYED`,
      ),
    );
    expect(replay.stdout).not.toMatch(/updated/);

    const bob = await pay("bob", "1.00");
    expect(outcome(bob)).toMatchObject({ status: "declined", code: "TERM_ERR_HOTLISTED" });
    expect(cardState(world.cardPath("bob")).balance).toBe(30_000);
    const status = JSON.parse((await world.posd(["status", "--json"])).stdout) as {
      hotlist: { version: number; stale: boolean; ageHours: number; nextUpdate: string };
    };
    expect(status.hotlist).toMatchObject({ version: current.version, stale: false });
    expect(status.hotlist.ageHours).toBeLessThan(1);
    expect(Date.parse(status.hotlist.nextUpdate)).toBeGreaterThan(Date.now());
  });
});
