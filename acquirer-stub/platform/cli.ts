/**
 * The wallet platform's commands of `acquirer-stub` (registered from acquirer-stub/cli.ts), on the
 * same database as `serve` (`--db <file|url>`):
 *
 *   wallet issue <walletId> --currency EUR [--opening 50.00] [--bound-account N]
 *                [--balance-limit 500.00] [--single-limit 100.00]
 *                [--auto-load-amount 20.00 --auto-load-threshold 5.00]
 *   wallet show <walletId>
 *   bank open <number> --holder NAME --currency EUR [--balance 500.00]
 *   bank show <number>
 *   bank list
 *
 * Plain text by default, `--json` for JSON. Amounts are decimal text in the currency's minor unit
 * (protocol/amount.ts); a malformed one is a usage error (exit 2). `issue` and `open` create the
 * database when it does not exist yet; `show` and `list` refuse a missing one.
 */
import type { Command, Option } from "commander";
import {
  type Currency,
  currencyByCode,
  currencyByNumeric,
  formatAmount,
  formatMoney,
  MAX_AMOUNT_MINOR,
  parseAmount,
} from "../../protocol/amount.js";
import { isTapwalletError } from "../../protocol/errors.js";
import { ID_PATTERN } from "../../protocol/wallet/constants.js";
import type { AcquirerStore } from "../db/store.js";
import { AcquirerError } from "../errors.js";
import { ACCOUNT_NUMBER_PATTERN } from "./accounts.js";
import { PlatformStore } from "./store/platform-store.js";
import {
  type AccountView,
  bankAccounts,
  bankView,
  issueWallet,
  openBankAccount,
  type WalletView,
  walletView,
} from "./wallets.js";

/** What acquirer-stub/cli.ts lends these commands. */
export interface CliSupport {
  dbOption(): Option;
  withStore<T>(
    db: string,
    fn: (store: AcquirerStore) => Promise<T>,
    options?: { create?: boolean },
  ): Promise<T>;
  printJson(value: unknown): void;
}

const usage = (message: string) => new AcquirerError("ACQ_ERR_USAGE", message);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const out = (lines: readonly string[]): void => {
  process.stdout.write(`${lines.join("\n")}\n`);
};

/** A usage error for what the operator typed, with the reason protocol/amount.ts gave. */
function asUsage<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isTapwalletError(e) && e.code.startsWith("PROTO_ERR_")) throw usage(`${what}: ${e.message}`);
    throw e;
  }
}

const currencyOption = (text: string): Currency => asUsage("--currency", () => currencyByCode(text));
const amountOption = (name: string, text: string | undefined, c: Currency, fallback: number): number =>
  text === undefined ? fallback : asUsage(name, () => parseAmount(text, c));

function walletIdArgument(text: string): string {
  if (!ID_PATTERN.test(text))
    throw usage(`WALLET_ID must be 1-16 characters of [A-Za-z0-9._-], got ${JSON.stringify(text)}`);
  return text;
}

function accountArgument(text: string, what: string): string {
  if (!ACCOUNT_NUMBER_PATTERN.test(text))
    throw usage(`${what} must be 1-34 upper-case letters, digits and dashes, got ${JSON.stringify(text)}`);
  return text;
}

const signed = (minor: number, c: Currency) => `${minor < 0 ? "-" : "+"}${formatAmount(Math.abs(minor), c)}`;
const limit = (minor: number, c: Currency) => (minor >= MAX_AMOUNT_MINOR ? "none" : formatMoney(minor, c));

interface IssueOptions {
  currency: string;
  opening?: string;
  boundAccount?: string;
  balanceLimit?: string;
  singleLimit?: string;
  autoLoadAmount?: string;
  autoLoadThreshold?: string;
  json?: boolean;
  db: string;
}

interface OpenOptions {
  holder: string;
  currency: string;
  balance?: string;
  json?: boolean;
  db: string;
}

export function registerPlatformCommands(program: Command, cli: CliSupport): void {
  const wallet = program
    .command("wallet")
    .description("the wallet platform's wallets: issue one, show its accounts and loads");

  wallet
    .command("issue")
    .description(
      "register a wallet on the platform; its opening balance is booked from the issuer's float to its " +
        "offline account. Issuing it again with the same values is a no-op; with other values an error.",
    )
    .argument("<WALLET_ID>", "wallet id (the card certificate's)")
    .requiredOption("--currency <code>", "ISO 4217 alpha code, e.g. EUR")
    .option("--opening <amount>", "opening balance (the card's personalized balance)", "0")
    .option("--bound-account <number>", "bank account bound to the wallet (bound and auto loads)")
    .option("--balance-limit <amount>", "platform balance limit (default: none beyond the card's)")
    .option("--single-limit <amount>", "single payment limit (default: none beyond the card's)")
    .option("--auto-load-amount <amount>", "auto-load amount (switches auto-load on)")
    .option("--auto-load-threshold <amount>", "balance below which an auto-load runs", "0")
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (walletId: string, o: IssueOptions) => {
      walletIdArgument(walletId);
      const c = currencyOption(o.currency);
      const issue = {
        walletId,
        currency: c.numeric,
        opening: amountOption("--opening", o.opening, c, 0),
        boundAccount:
          o.boundAccount === undefined ? null : accountArgument(o.boundAccount, "--bound-account"),
        balanceLimit: amountOption("--balance-limit", o.balanceLimit, c, MAX_AMOUNT_MINOR),
        singleLimit: amountOption("--single-limit", o.singleLimit, c, MAX_AMOUNT_MINOR),
        autoLoadThreshold: amountOption("--auto-load-threshold", o.autoLoadThreshold, c, 0),
        autoLoadAmount: amountOption("--auto-load-amount", o.autoLoadAmount, c, 0),
      };
      if (issue.opening > issue.balanceLimit) throw usage("--opening is above --balance-limit");
      const issued = await cli.withStore(o.db, (s) => issueWallet(PlatformStore.of(s), issue, nowSeconds()), {
        create: true,
      });
      if (o.json) return cli.printJson({ walletId, issued });
      out([
        issued
          ? `wallet ${walletId} issued: ${c.code}, opening balance ${formatMoney(issue.opening, c)}` +
            (issue.boundAccount ? `, bound to ${issue.boundAccount}` : "")
          : `wallet ${walletId} was already issued with these values`,
      ]);
    });

  wallet
    .command("show")
    .description(
      "a wallet: status, parameters, offline and online balances, bound account, loads, last counter",
    )
    .argument("<WALLET_ID>", "wallet id")
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (walletId: string, o: { json?: boolean; db: string }) => {
      walletIdArgument(walletId);
      const view = await cli.withStore(o.db, (s) => walletView(PlatformStore.of(s), walletId));
      if (o.json) return cli.printJson(view);
      out(renderWallet(view));
    });

  const bank = program
    .command("bank")
    .description("the simulated bank behind the platform: accounts and their entries");

  bank
    .command("open")
    .description(
      "open a bank account; its opening balance is booked as a deposit. Opening it again with the same values is a no-op",
    )
    .argument("<NUMBER>", "account number: upper-case letters, digits, dashes (an IBAN fits)")
    .requiredOption("--holder <name>", "account holder")
    .requiredOption("--currency <code>", "ISO 4217 alpha code, e.g. EUR")
    .option("--balance <amount>", "opening balance", "0")
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (number: string, o: OpenOptions) => {
      accountArgument(number, "NUMBER");
      if (o.holder.trim() === "") throw usage("--holder is empty");
      const c = currencyOption(o.currency);
      const balance = amountOption("--balance", o.balance, c, 0);
      const opened = await cli.withStore(
        o.db,
        (s) =>
          openBankAccount(
            PlatformStore.of(s),
            { number, holder: o.holder, currency: c.numeric, balance },
            nowSeconds(),
          ),
        { create: true },
      );
      if (o.json) return cli.printJson({ number, opened });
      out([
        opened
          ? `bank account ${number} opened for ${o.holder}: balance ${formatMoney(balance, c)}`
          : `bank account ${number} was already open with these values`,
      ]);
    });

  bank
    .command("show")
    .description("a bank account: balance, held, available, and its entries")
    .argument("<NUMBER>", "account number")
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (number: string, o: { json?: boolean; db: string }) => {
      accountArgument(number, "NUMBER");
      const view = await cli.withStore(o.db, (s) => bankView(PlatformStore.of(s), number));
      if (o.json) return cli.printJson(view);
      const c = currencyByNumeric(view.currency);
      const lines = [...renderAccount(view), "  entries:"];
      if (view.entries.length === 0) lines.push("    none");
      for (const e of view.entries)
        lines.push(
          `    ${new Date(e.at * 1000).toISOString()}  ${e.bookingId.padEnd(26)} ${signed(e.amount, c).padStart(16)}`,
        );
      out(lines);
    });

  bank
    .command("list")
    .description("every bank account with its balance, held and available")
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (o: { json?: boolean; db: string }) => {
      const accounts = await cli.withStore(o.db, (s) => bankAccounts(PlatformStore.of(s)));
      if (o.json) return cli.printJson({ accounts });
      if (accounts.length === 0) return out(["no bank accounts"]);
      out(accounts.flatMap(renderAccount));
    });
}

function renderAccount(a: AccountView): string[] {
  const c = currencyByNumeric(a.currency);
  return [
    `bank account ${a.number}  ${a.holder}  ${c.code}  ${a.status}`,
    `  balance ${formatMoney(a.balance, c)}  held ${formatMoney(a.held, c)}  available ${formatMoney(a.available, c)}`,
  ];
}

function renderWallet(v: WalletView): string[] {
  const c = currencyByNumeric(v.currency);
  const bound = v.boundAccount
    ? `${v.boundAccount.number} (${v.boundAccount.holder}, ${v.boundAccount.status}, available ${formatMoney(v.boundAccount.available, c)})`
    : "none";
  const lines = [
    `wallet ${v.walletId}  ${v.status}  ${c.code}  (issued ${v.createdAt})`,
    `  offline balance    ${formatMoney(v.accounts.offline, c)}`,
    `  online balance     ${formatMoney(v.accounts.online, c)}`,
    `  bound account      ${bound}`,
    `  balance limit      ${limit(v.balanceLimit, c)}`,
    `  single limit       ${limit(v.singleLimit, c)}`,
    `  auto-load          ${v.autoLoad.on ? `${formatMoney(v.autoLoad.amount, c)} below ${formatMoney(v.autoLoad.threshold, c)}` : "off"}`,
    `  card certificate   ${v.cardCertificate ?? "not presented yet"}`,
    `  last counter seen  ${v.lastCounter ?? "none"}`,
    `  loads: ${v.loads.length === 0 ? "none" : v.loads.length}`,
  ];
  for (const l of v.loads)
    lines.push(
      `    ${l.loadId}  #${l.serial}  ${l.type.padEnd(13)} ${formatMoney(l.amount, c).padStart(16)}  ${l.state.padEnd(8)}  ` +
        `${l.cardCounter === null ? "" : `counter ${l.cardCounter}  `}${l.terminalId}  ${l.issuedAt}`,
    );
  return lines;
}
