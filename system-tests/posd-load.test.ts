/**
 * Loads as a teller runs them, with the real CLIs from dist/ on the real clock: `acquirer-stub
 * serve` over loopback HTTP with its SQLite file, `acquirer-stub bank open` and `wallet issue`,
 * `posd load --virtual` on a card state file, `posd status`, `posd sync-card`, `acquirer-stub
 * wallet show`. The card's balance, the platform's offline account and the bank agree after each.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACQUIRER_CLI, backOfficeCli, type Instance, spawnInstance } from "../test-support/fleet.js";
import { cardControls, cardState } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const run = promisify(execFile);

const world = systemWorld({
  name: "posd-load",
  posd: true,
  cards: { alice: { walletId: "W-ALICE-0001", balance: "50.00", args: ["--balance-limit", "300.00"] } },
});
const db = join(world.dir, "acquirer.sqlite");
const card = world.cardPath("alice");
let acquirer: Instance;

const backOffice = backOfficeCli(db);

const load = (...args: string[]) =>
  world.posd(["load", "--virtual", "--card", card, "--acquirer", acquirer.url, ...args]);

beforeAll(async () => {
  await backOffice(
    "bank",
    "open",
    "TW-0001",
    "--holder",
    "Alice",
    "--currency",
    "EUR",
    "--balance",
    "500.00",
  );
  await backOffice(
    "wallet",
    "issue",
    "W-ALICE-0001",
    "--currency",
    "EUR",
    "--opening",
    "50.00",
    "--bound-account",
    "TW-0001",
  );
  acquirer = await spawnInstance(db);
}, 60_000);
afterAll(async () => {
  await acquirer?.stop();
});

describe("posd load at an online terminal", () => {
  it("a teller's cash load of 20.00 puts it on the card and in the wallet's offline account", async () => {
    const r = await load("--amount", "20.00", "--cash", "--teller", "T01");
    expect(r.stderr).not.toContain("posd:");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^loaded 20\.00 EUR onto W-ALICE-0001 \(cash\): card balance 70\.00 EUR/m);
    expect(cardState(card).balance).toBe(7_000);
    const shown = await backOffice("wallet", "show", "W-ALICE-0001");
    expect(shown).toMatchObject({
      accounts: { offline: 7_000, online: 0 },
      // What the platform told the bank (the seed's load request message).
      loads: [
        {
          bankMessage: {
            transactionCode: "LOAD_CASH",
            teller: "T01",
            loadType: "cash",
            amount: 2_000,
            cardBalance: 5_000,
            balanceLimit: 30_000,
          },
        },
      ],
    });
  });

  it("a load from the bound account with --json says what moved; the bank account is debited once", async () => {
    const r = await load("--amount", "15.00", "--account", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: "loaded",
      type: "bound",
      amount: 1_500,
      amountText: "15.00 EUR",
      balanceAfter: 8_500,
      booked: true,
    });
    expect(await backOffice("bank", "show", "TW-0001")).toMatchObject({ balance: 48_500, held: 0 });
  });

  it("a load over the balance limit is declined with the platform's code (exit 3), and nothing moves", async () => {
    const r = await load("--amount", "250.00", "--cash", "--teller", "T01");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("ACQ_ERR_OVER_BALANCE_LIMIT");
    expect(r.stderr).toContain("[TERM_ERR_LOAD_REFUSED]");
    expect(cardState(card).balance).toBe(8_500);
    const status = JSON.parse((await world.posd(["status", "--json"])).stdout) as { loadsInDoubt: unknown[] };
    expect(status.loadsInDoubt).toEqual([]);
  });

  it("posd sync-card with nothing in doubt says so", async () => {
    const r = await world.posd(["sync-card", "--virtual", "--card", card, "--acquirer", acquirer.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("W-ALICE-0001: nothing to settle\n");
  });

  it("usage mistakes are refused before the card or the network is touched", async () => {
    const none = await load("--amount", "5.00");
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("say where the money comes from");
    const noTeller = await load("--amount", "5.00", "--cash");
    expect(noTeller.code).toBe(2);
    expect(noTeller.stderr).toContain("--teller");
    const offline = await world.posd(["load", "--virtual", "--card", card, "--amount", "5.00", "--account"]);
    expect(offline.code).toBe(2);
    expect(offline.stderr).toContain("[TERM_ERR_OFFLINE]");
    expect(cardState(card).balance).toBe(8_500);
  });
});

describe("issuer commands queued with acquirer-stub wallet", () => {
  const sync = () => world.posd(["sync-card", "--virtual", "--card", card, "--acquirer", acquirer.url]);

  it("set-params is delivered by posd sync-card, and wallet show says so", async () => {
    const queued = await backOffice("wallet", "set-params", "W-ALICE-0001", "--single-limit", "12.50");
    expect(queued).toMatchObject({ kind: "parameters", values: { singleLimit: 1_250 } });
    const pending = (await backOffice("wallet", "show", "W-ALICE-0001")) as { commands: { state: string }[] };
    expect(pending.commands.map((c) => c.state)).toEqual(["pending"]);
    const r = await sync();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^delivered UPDATE PARAMETERS \(command [0-9a-f]{16}\): the card's record #\d+ is the platform's receipt$/m,
    );
    expect(cardControls(card).singleLimit).toBe(1_250);
    expect(await backOffice("wallet", "show", "W-ALICE-0001")).toMatchObject({
      singleLimit: 1_250,
      commands: [{ kind: "parameters", state: "delivered" }],
    });
  });

  it("parameters out of range are refused with their code, and nothing is queued", async () => {
    const r = await run(
      process.execPath,
      [ACQUIRER_CLI, "wallet", "set-params", "W-ALICE-0001", "--balance-limit", "0.00", "--db", db],
      { env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" } },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toContain("ACQ_ERR_PARAMS_RANGE");
    const shown = (await backOffice("wallet", "show", "W-ALICE-0001")) as { commands: unknown[] };
    expect(shown.commands).toHaveLength(1);
  });

  it("report-lost hotlists the wallet and blocks the card at its next presentation; release unblocks it", async () => {
    const before = ((await backOffice("hotlist")) as { version: number }).version;
    expect(await backOffice("wallet", "report-lost", "W-ALICE-0001")).toMatchObject({
      changed: true,
      status: "lost",
      queued: { kind: "block" },
    });
    const hotlist = (await backOffice("hotlist")) as { version: number; blockedWallets: string[] };
    expect(hotlist.version).toBe(before + 1);
    expect(hotlist.blockedWallets).toContain("W-ALICE-0001");
    const refused = await load("--amount", "5.00", "--cash", "--teller", "T01");
    expect(refused.code).toBe(3);
    expect(refused.stdout).toContain("delivered BLOCK");
    expect(refused.stderr).toContain("ACQ_ERR_WALLET_BLOCKED");
    expect(cardControls(card).blocked).toBe(true);
    expect(cardState(card).balance).toBe(8_500);

    expect(await backOffice("wallet", "release", "W-ALICE-0001")).toMatchObject({
      queued: { kind: "unblock" },
    });
    const r = await sync();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("delivered UNBLOCK");
    expect(cardControls(card).blocked).toBe(false);
    expect(await backOffice("wallet", "show", "W-ALICE-0001")).toMatchObject({ status: "active" });
    expect(((await backOffice("hotlist")) as { blockedWallets: string[] }).blockedWallets).not.toContain(
      "W-ALICE-0001",
    );
  });
});

describe("a plain payment at an online terminal delivers what the platform queued (posd sync, then posd pay)", () => {
  const online = () => ({ env: { TAPWALLET_ACQUIRER_URL: acquirer.url } });
  const pay = (amount: string) =>
    world.posd(["pay", "--virtual", "--card", card, "--amount", amount], online());
  const syncTerminal = () => world.posd(["sync"], online());

  it("set-params reaches the card in the next payment once posd sync fetched the attention list", async () => {
    await backOffice("wallet", "set-params", "W-ALICE-0001", "--single-limit", "10.00");
    const s = await syncTerminal();
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain("attention list: the platform has work for 1 wallet\n");
    const r = await pay("4.50");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}delivered UPDATE PARAMETERS \(command [0-9a-f]{16}\)/m);
    expect(r.stdout).toMatch(/^APPROVED {2}4\.50 EUR/m);
    expect(cardControls(card).singleLimit).toBe(1_000);
    expect(await backOffice("wallet", "show", "W-ALICE-0001")).toMatchObject({ singleLimit: 1_000 });
    // Delivered: the next payment does not ask the platform.
    const next = await pay("1.00");
    expect(next.code).toBe(0);
    expect(next.stdout).not.toContain("delivered");
  });

  it("a lost wallet's card is handed BLOCK by the payment and declined; after release, UNBLOCK, then it pays again", async () => {
    const balance = cardState(card).balance;
    await backOffice("wallet", "report-lost", "W-ALICE-0001");
    const s = await syncTerminal();
    expect(s.stdout).toContain("1 blocked wallets");
    const refused = await pay("4.50");
    expect(refused.code).toBe(3);
    expect(refused.stdout).toContain("  delivered BLOCK");
    expect(refused.stdout).toMatch(/^DECLINED .*BLOCK delivered to the card first \[TERM_ERR_HOTLISTED\]/m);
    expect(cardControls(card).blocked).toBe(true);
    expect(cardState(card).balance).toBe(balance);

    await backOffice("wallet", "release", "W-ALICE-0001");
    await syncTerminal();
    const released = await pay("4.50");
    expect(released.code).toBe(3);
    expect(released.stdout).toContain("  delivered UNBLOCK");
    expect(released.stdout).toContain("leaves this terminal's hotlist at the next sync");
    expect(cardControls(card).blocked).toBe(false);
    expect((await syncTerminal()).stdout).toContain("0 blocked wallets");
    const paid = await pay("4.50");
    expect(paid.code, paid.stdout).toBe(0);
    expect(cardState(card).balance).toBe(balance - 450);
  });
});
