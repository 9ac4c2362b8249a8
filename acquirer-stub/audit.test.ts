/**
 * `acquirer-stub audit`: every operator action — block and unblock over HTTP and on the CLI,
 * revoke-terminal, wallet report-lost, release and set-params — is in the audit log with who did
 * it, what, to which wallet or terminal, why and what came of it; a refused action is not. The
 * real CLI of dist/ (npm test builds it first; run `npm run build` before running this file alone).
 */

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { ACQUIRER_CLI, type Instance, spawnInstance } from "../test-support/fleet.js";
import { runCli } from "../test-support/run-cli.js";
import { type TestDatabase, testDatabase } from "./testing.js";

const dir = mkdtempSync(join(tmpdir(), "acquirer-audit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let database: TestDatabase;
let instance: Instance | undefined;
beforeEach(async () => {
  database = await testDatabase();
});
afterEach(async () => {
  await instance?.stop();
  instance = undefined;
  await database.drop();
});

const cli = (...args: string[]) => runCli(ACQUIRER_CLI, [...args, "--db", database.target]);

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

interface Entry {
  at: string;
  via: string;
  who: string;
  address: string | null;
  action: string;
  subject: string;
  reason: string | null;
  outcome: Record<string, unknown>;
}

const audit = async (...args: string[]) =>
  (JSON.parse(await ok("audit", "--json", ...args)) as { entries: Entry[] }).entries;

describe.skipIf(!existsSync(ACQUIRER_CLI))("acquirer-stub audit", () => {
  it("lists every operator action, HTTP and CLI, newest first, with who, what, on what and why", async () => {
    await ok("wallet", "issue", "W-ALICE-0001", "--currency", "EUR", "--opening", "10.00");
    await ok("block", "W-BOB-0002", "--reason", "stolen", "--operator", "alice");
    await ok("unblock", "W-BOB-0002", "--reason", "found in the car", "--operator", "alice");
    await ok("revoke-terminal", "T-0009", "--reason", "terminal stolen", "--operator", "bob");
    const queued = JSON.parse(
      await ok(
        "wallet",
        "set-params",
        "W-ALICE-0001",
        "--single-limit",
        "5.00",
        "--reason",
        "customer asked",
        "--json",
      ),
    ) as { commandId: string };
    await ok("wallet", "report-lost", "W-ALICE-0001", "--reason", "phone call", "--operator", "carol");
    await ok("wallet", "release", "W-ALICE-0001", "--operator", "carol");

    instance = await spawnInstance(database.target);
    const blocked = await fetch(`${instance.url}/v1/wallets/W-BOB-0002/block`, {
      method: "POST",
      headers: { authorization: `Bearer ${instance.operatorToken}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "lost" }),
    });
    expect(blocked.status).toBe(200);

    const entries = await audit();
    expect(entries.map((e) => [e.action, e.subject, e.via, e.who, e.reason])).toEqual([
      ["block", "W-BOB-0002", "http", "operator-token", "lost"],
      ["release", "W-ALICE-0001", "cli", "carol", null],
      ["report-lost", "W-ALICE-0001", "cli", "carol", "phone call"],
      ["set-params", "W-ALICE-0001", "cli", userInfo().username, "customer asked"],
      ["revoke-terminal", "T-0009", "cli", "bob", "terminal stolen"],
      ["unblock", "W-BOB-0002", "cli", "alice", "found in the car"],
      ["block", "W-BOB-0002", "cli", "alice", "stolen"],
    ]);
    expect(entries[0]).toMatchObject({ address: "127.0.0.1", outcome: { changed: true } });
    expect(entries[1]).toMatchObject({ address: null, outcome: { status: "active", commandId: null } });
    expect(entries[2]?.outcome).toMatchObject({
      changed: true,
      commandId: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(entries[3]?.outcome).toEqual({
      commandId: queued.commandId,
      superseded: [],
      values: { singleLimit: 500 },
    });
    expect(entries[4]?.outcome).toEqual({ changed: true });
    expect(entries[6]?.outcome).toMatchObject({ changed: true, hotlistVersion: expect.any(Number) });
    for (const e of entries) expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 120_000);

    const text = await ok("audit");
    expect(text).toMatch(
      / unblock {9}W-BOB-0002 {7}by alice \(cli\)\n {4}why: found in the car; {2}outcome: changed true/,
    );
    expect(text).toMatch(/ block {11}W-BOB-0002 {7}by operator-token from 127\.0\.0\.1 \(http\)/);
    expect(text).toMatch(/ release {9}W-ALICE-0001 {5}by carol \(cli\)\n {4}why: \(not given\)/);

    expect((await audit("--limit", "2")).map((e) => e.action)).toEqual(["block", "release"]);
    expect(await audit("--since", "2999-01-01")).toEqual([]);
    expect(await ok("audit", "--since", "2999-01-01T00:00:00Z")).toBe("no operator actions recorded\n");
    expect(await audit("--since", new Date(Date.now() - 3_600_000).toISOString())).toHaveLength(7);
  });

  it("records nothing for an action that was refused", async () => {
    await ok("wallet", "issue", "W-ALICE-0001", "--currency", "EUR");
    const refused = await cli("wallet", "release", "W-ALICE-0001", "--operator", "mallory");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ACQ_ERR_WALLET_NOT_LOST/);
    expect(await audit()).toEqual([]);
  });

  it("records a block that changed nothing as changed false", async () => {
    await ok("wallet", "issue", "W-ALICE-0001", "--currency", "EUR"); // the database exists
    await ok("block", "W-BOB-0002", "--reason", "lost", "--operator", "alice");
    await ok("block", "W-BOB-0002", "--reason", "fraud", "--operator", "dave");
    const [again] = await audit();
    expect(again).toMatchObject({ who: "dave", reason: "fraud", outcome: { changed: false } });
  });

  const usage: [string, string[]][] = [
    ["a --since that is not a date", ["audit", "--since", "yesterday"]],
    ["a --since that is not a calendar date", ["audit", "--since", "2026-02-30"]],
    ["a --since time without its zone", ["audit", "--since", "2026-11-24T08:00"]],
    ["a --limit of 0", ["audit", "--limit", "0"]],
    ["a --limit that is not a number", ["audit", "--limit", "ten"]],
    ["an empty --operator", ["block", "W-BOB-0002", "--reason", "lost", "--operator", " "]],
  ];
  for (const [what, args] of usage)
    it(`answers ${what} with a usage error (exit 2)`, async () => {
      await ok("wallet", "issue", "W-ALICE-0001", "--currency", "EUR"); // the database exists
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^acquirer-stub: .*\[ACQ_ERR_USAGE\]\n$/);
    });

  it("tells the truth in --help", async () => {
    const help = await cli("--help");
    expect(help.stdout).toMatch(/audit \[options\]/);
    const own = await cli("audit", "--help");
    expect(own.stdout).toMatch(/newest first/);
    for (const option of ["--since <ISO-date>", "--limit <N>", "--json", "--db <file|url>"])
      expect(own.stdout).toContain(option);
    for (const command of [
      ["block"],
      ["unblock"],
      ["revoke-terminal"],
      ["wallet", "report-lost"],
      ["wallet", "release"],
      ["wallet", "set-params"],
    ])
      expect((await cli(...command, "--help")).stdout, command.join(" ")).toMatch(/--operator <name>/);
  });
});
