/**
 * posd as a user meets it: bad arguments, missing or broken configuration, unusable keys. Each
 * gives one clear line on stderr, nothing on stdout, and a non-zero exit (2 for usage).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";

const POSD = join(packageRoot(), "dist", "terminal", "cli.js");
const CARD = join(packageRoot(), "dist", "card-emulator", "cli.js");
let dir: string;
let home: string;
let card: string;

function posd(args: string[], env: Record<string, string> = {}, dataDir = home) {
  const r = spawnSync(process.execPath, [POSD, "--data-dir", dataDir, ...args], {
    env: { ...process.env, TAPWALLET_HOME: "", TAPWALLET_LOG_LEVEL: "warn", ...env },
    encoding: "utf8",
  });
  return {
    code: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    lines: r.stderr.split("\n").filter((l) => l.trim() !== ""),
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-cli-"));
  home = join(dir, "home");
  card = join(dir, "alice.card.json");
  expect(posd(["init"]).code).toBe(0);
  const p = spawnSync(process.execPath, [
    CARD,
    "personalize",
    "--state",
    card,
    "--wallet-id",
    "W-ALICE-0001",
    "--balance",
    "50.00",
    "--currency",
    "EUR",
  ]);
  expect(p.status).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("posd command line", () => {
  it("approves a virtual-card payment and prints one line (exit 0)", () => {
    const r = posd(["pay", "--virtual", "--card", card, "--amount", "1.00"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^APPROVED {2}1\.00 EUR {2}wallet W-ALICE-0001/);
  });

  it("prints one JSON document with --json", () => {
    const r = posd(["pay", "--virtual", "--card", card, "--amount", "1.00", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: "approved",
      walletId: "W-ALICE-0001",
      record: { amount: 100 },
    });
  });

  it("exits 3 when the card declines", () => {
    // 48.00 left on the card; 49.00 is within the hotlist floor, so the card itself refuses it.
    const r = posd(["pay", "--virtual", "--card", card, "--amount", "49.00"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^DECLINED .*\[TERM_ERR_INSUFFICIENT_FUNDS\]/);
  });

  const usage: [string, string[], RegExp][] = [
    ["an amount with too many decimals", ["--amount", "4.505"], /more than 2 decimals/],
    ["a negative amount", ["--amount", "-1"], /amount/],
    ["an amount in exponent notation", ["--amount", "1e3"], /amount/],
    ["text as an amount", ["--amount", "NaN"], /amount/],
    ["a zero amount", ["--amount", "0"], /greater than zero/],
    ["an unknown currency", ["--amount", "1.00", "--currency", "XXX"], /XXX/],
    ["--virtual without --card", ["--amount", "1.00", "--virtual"], /--card/],
  ];
  for (const [what, args, message] of usage) {
    it(`refuses ${what} with one line and exit 2`, () => {
      const r = posd(["pay", ...(args.includes("--virtual") ? [] : ["--virtual", "--card", card]), ...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(message);
    });
  }

  it("refuses an unknown option and a missing required one with exit 2 and a pointer to --help", () => {
    const unknown = posd(["pay", "--amount", "1.00", "--amont", "1.00"]);
    expect(unknown.code).toBe(2);
    expect(unknown.lines[0]).toBe("error: unknown option '--amont'");
    expect(unknown.lines).toContain("(run with --help for usage)");
    const missing = posd(["pay"]);
    expect(missing.code).toBe(2);
    expect(missing.lines[0]).toMatch(/required option '--amount <amount>' not specified/);
  });

  it("says how to start when there is no configuration", () => {
    const r = posd(["status"], {}, join(dir, "nowhere"));
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/no configuration at .*posd init.*TERM_ERR_CONFIG/);
  });

  it("names the field of a configuration with a wrong value", () => {
    const other = join(dir, "badconf");
    expect(posd(["init"], {}, other).code).toBe(0);
    const path = join(other, "posd.json");
    const config = JSON.parse(readFileSync(path, "utf8"));
    config.ecr.port = "eighty";
    writeFileSync(path, JSON.stringify(config));
    const r = posd(["status"], {}, other);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/ecr\.port.*TERM_ERR_CONFIG/);
    writeFileSync(path, "{ not json");
    expect(posd(["status"], {}, other).lines[0]).toMatch(/not valid JSON.*TERM_ERR_CONFIG/);
  });

  it("names an environment variable with a wrong value", () => {
    const r = posd(["status"], { TAPWALLET_ECR_PORT: "abc" });
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([
      expect.stringMatching(/TAPWALLET_ECR_PORT=abc is not a whole number.*TERM_ERR_CONFIG/),
    ]);
  });

  it("refuses a wrong key passphrase without printing it", () => {
    const r = posd(["status"], { TAPWALLET_KEY_PASSPHRASE: "not-the-passphrase" });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/cannot decrypt the terminal key.*TERM_ERR_KEY/);
    expect(r.stderr).not.toContain("not-the-passphrase");
  });

  it("refuses a damaged key file", () => {
    const other = join(dir, "badkey");
    expect(posd(["init"], {}, other).code).toBe(0);
    writeFileSync(
      join(other, "terminal.key.pem"),
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    const r = posd(["status"], {}, other);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/TERM_ERR_KEY/);
  });

  it("refuses a missing virtual card file with one line", () => {
    const r = posd(["pay", "--virtual", "--card", join(dir, "nope.json"), "--amount", "1.00"]);
    expect(r.code).not.toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/nope\.json/);
  });

  it("reports errors as JSON with --json", () => {
    const r = posd(["status", "--json"], {}, join(dir, "nowhere"));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "error", code: "TERM_ERR_CONFIG" });
  });
});
