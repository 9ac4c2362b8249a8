/**
 * CA roles through the real CLIs (dist/): a bank's issuer CA key cannot make a terminal that a
 * wallet pays, and an acquirer CA key cannot make a wallet that posd accepts. Each attacker builds
 * their part from the test PKI (fixtures/pki) the way they would with the real tools, and the
 * wallet's state file shows that no money moved.
 */
import { execFile } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { fixturesDir } from "../protocol/paths.js";
import { FIXTURE_PASSPHRASE } from "../protocol/pki-fixtures.js";
import { CARD_EMULATOR, cardState, editConfig, posdInit, runPosd } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const run = promisify(execFile);
const PKI = fixturesDir("pki");

const world = systemWorld({
  name: "ca-roles",
  posd: true,
  cards: { alice: { walletId: "W-ALICE-0001", balance: "50.00" } },
});

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * A posd data directory whose terminal certificate and key are the test PKI's
 * terminals/by-issuer-ca: a "terminal" that the bank's issuer CA signed, presented with that CA.
 */
async function rogueTerminal(): Promise<string> {
  const dir = await posdInit(join(world.dir, "rogue"), [
    "--terminal-id",
    "T-0666",
    "--merchant-id",
    "M-0666",
  ]);
  copyFileSync(join(PKI, "terminals", "by-issuer-ca.crt.pem"), join(dir, "terminal.crt.pem"));
  copyFileSync(join(PKI, "terminals", "by-issuer-ca.key.pem"), join(dir, "terminal.key.pem"));
  writeFileSync(join(dir, "key.passphrase"), `${FIXTURE_PASSPHRASE}\n`, { mode: 0o600 });
  copyFileSync(join(PKI, "issuer-ca.crt.pem"), join(dir, "pki", "bank-ca.crt.pem"));
  editConfig(dir, (c) => {
    (c.terminal as { chainFiles: string[] }).chainFiles = ["pki/bank-ca.crt.pem"];
  });
  return dir;
}

describe("posd pay --virtual against CA roles", () => {
  it("a wallet refuses a terminal whose certificate an issuer CA signed (TERM_ERR_TERMINAL_REFUSED) and keeps its money", async () => {
    const rogue = await rogueTerminal();
    const alice = world.cardPath("alice");
    const before = cardState(alice);
    const r = await runPosd(rogue, ["pay", "--virtual", "--card", alice, "--amount", "45.00", "--json"]);
    expect(r.code, r.stderr).toBe(3);
    expect(json(r.stdout)).toMatchObject({ status: "declined", code: "TERM_ERR_TERMINAL_REFUSED" });
    expect(cardState(alice)).toEqual(before);
    // The same wallet at the honest terminal (acquirer CA certificate from `posd init`) pays.
    const honest = await world.posd(["pay", "--virtual", "--card", alice, "--amount", "4.50", "--json"]);
    expect(honest.code, honest.stderr).toBe(0);
    expect(cardState(alice)).toEqual({ balance: before.balance - 450, counter: before.counter + 1 });
  });

  it("posd declines a wallet whose certificate an acquirer CA signed (TERM_ERR_UNKNOWN_ISSUER), charging nothing", async () => {
    const mallory = join(world.dir, "mallory.card.json");
    // The holder of the acquirer CA key personalises a wallet with card-emulator's own options.
    await run(
      process.execPath,
      [
        CARD_EMULATOR,
        "personalize",
        "--state",
        mallory,
        "--wallet-id",
        "W-MALLORY-01",
        "--balance",
        "500.00",
        "--currency",
        "EUR",
        "--ca-cert",
        join(PKI, "acquirer-ca.crt.pem"),
        "--ca-key",
        join(PKI, "acquirer-ca.key.pem"),
        "--root-cert",
        join(PKI, "root-ca.crt.pem"),
      ],
      { env: { ...process.env, TAPWALLET_CA_PASSPHRASE: FIXTURE_PASSPHRASE } },
    );
    const r = await world.posd(["pay", "--virtual", "--card", mallory, "--amount", "4.50", "--json"]);
    expect(r.code, r.stderr).toBe(3);
    expect(json(r.stdout)).toMatchObject({ status: "declined", code: "TERM_ERR_UNKNOWN_ISSUER" });
    expect(cardState(mallory)).toEqual({ balance: 50_000, counter: 0 });
  });

  it("posd refuses to start with an acquirer CA listed among the issuer CAs it accepts cards from (TERM_ERR_CONFIG)", async () => {
    const careless = await posdInit(join(world.dir, "careless"));
    editConfig(careless, (c) => {
      const trust = c.trust as { issuerFiles: string[] };
      trust.issuerFiles = [...trust.issuerFiles, "pki/acquirer-ca.crt.pem"];
    });
    const alice = world.cardPath("alice");
    const before = cardState(alice);
    const r = await runPosd(careless, ["pay", "--virtual", "--card", alice, "--amount", "1.00"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/acquirer-ca\.crt\.pem is not an issuer CA certificate.*TERM_ERR_CONFIG/);
    expect(cardState(alice)).toEqual(before);
  });
});
