/**
 * The wallet platform's commands of `acquirer-stub` (registered from acquirer-stub/cli.ts), on the
 * same database as `serve` (`--db <file|url>`):
 *
 *   wallet issue <walletId> --currency EUR [--opening 50.00] [--bound-account N]
 *                [--balance-limit 500.00] [--single-limit 100.00]
 *                [--auto-load-amount 20.00 --auto-load-threshold 5.00]
 *   wallet show <walletId>
 *   wallet set-params <walletId> [--single-limit A] [--balance-limit A]
 *                [--auto-load-threshold A] [--auto-load-amount A]
 *   wallet report-lost <walletId>
 *   wallet release <walletId>
 *   bank open <number> --holder NAME --currency EUR [--balance 500.00]
 *   bank show <number>
 *   bank list
 *
 * set-params, report-lost and release take `--operator <name>` (default: the OS user name) and
 * `--reason <text>`, and are written to the operator audit log in their own transaction.
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
import type { OperatorActor } from "../db/audit.js";
import type { AcquirerStore } from "../db/store.js";
import { AcquirerError } from "../errors.js";
import { ACCOUNT_NUMBER_PATTERN } from "./accounts.js";
import { releaseWallet, reportLost, setParameters, type WalletParameters } from "./commands.js";
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
  /** `--operator <name>`, for the audit log. */
  operatorOption(): Option;
  /** Who the CLI operator is: `--operator`, else the OS user name. */
  actor(operator: string | undefined): OperatorActor;
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

interface ParamsOptions {
  singleLimit?: string;
  balanceLimit?: string;
  autoLoadThreshold?: string;
  autoLoadAmount?: string;
  reason?: string;
  operator?: string;
  json?: boolean;
  db: string;
}

/** The options of an audited wallet command (report-lost, release). */
interface AuditedOptions {
  reason?: string;
  operator?: string;
  json?: boolean;
  db: string;
}

const REASON_HELP = "why, kept in the audit log";

const PARAM_FLAGS: readonly [keyof WalletParameters, string][] = [
  ["singleLimit", "--single-limit"],
  ["balanceLimit", "--balance-limit"],
  ["autoLoadThreshold", "--auto-load-threshold"],
  ["autoLoadAmount", "--auto-load-amount"],
];

const PARAM_NAMES: Readonly<Record<keyof WalletParameters, string>> = {
  singleLimit: "single limit",
  balanceLimit: "balance limit",
  autoLoadThreshold: "auto-load threshold",
  autoLoadAmount: "auto-load amount",
};

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

  wallet
    .command("set-params")
    .description(
      "change the card's parameters: queued as UPDATE PARAMETERS, delivered by the next online terminal " +
        "the card is presented at (posd load or posd sync-card); wallet show says what is pending",
    )
    .argument("<WALLET_ID>", "wallet id")
    .option("--single-limit <amount>", "single payment limit")
    .option("--balance-limit <amount>", "balance limit")
    .option("--auto-load-threshold <amount>", "balance below which an auto-load runs")
    .option("--auto-load-amount <amount>", "auto-load amount (0 switches auto-load off)")
    .option("--reason <text>", REASON_HELP)
    .addOption(cli.operatorOption())
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (walletId: string, o: ParamsOptions) => {
      walletIdArgument(walletId);
      const actor = cli.actor(o.operator);
      const result = await cli.withStore(o.db, async (s) => {
        const store = PlatformStore.of(s);
        const c = currencyByNumeric((await walletView(store, walletId)).currency);
        const change: { -readonly [K in keyof WalletParameters]?: number } = {};
        for (const [key, flag] of PARAM_FLAGS) {
          const text = o[key];
          if (text !== undefined) change[key] = amountOption(flag, text, c, 0);
        }
        if (Object.keys(change).length === 0)
          throw usage(
            "give at least one of --single-limit, --balance-limit, --auto-load-threshold, --auto-load-amount",
          );
        return {
          c,
          change,
          queued: await setParameters(store, walletId, change, nowSeconds(), actor, o.reason),
        };
      });
      if (o.json) return cli.printJson({ walletId, ...result.queued, values: result.change });
      out([
        `UPDATE PARAMETERS queued for ${walletId} (command ${result.queued.commandId}): ` +
          Object.entries(result.change)
            .map(([k, v]) => `${PARAM_NAMES[k as keyof WalletParameters]} ${formatMoney(v, result.c)}`)
            .join(", "),
        result.queued.superseded.length > 0
          ? `  it replaces the pending command ${result.queued.superseded.join(", ")}`
          : "  delivered at the card's next presentation at an online terminal",
      ]);
    });

  wallet
    .command("report-lost")
    .description(
      "loss report: the wallet is marked lost (no loads: its online account stays frozen until release), joins the " +
        "hotlist (its version moves), and BLOCK is queued for the card",
    )
    .argument("<WALLET_ID>", "wallet id")
    .option("--reason <text>", REASON_HELP)
    .addOption(cli.operatorOption())
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (walletId: string, o: AuditedOptions) => {
      walletIdArgument(walletId);
      const actor = cli.actor(o.operator);
      const r = await cli.withStore(o.db, (s) =>
        reportLost(PlatformStore.of(s), walletId, nowSeconds(), actor, o.reason),
      );
      if (o.json) return cli.printJson({ walletId, ...r });
      out([
        r.changed
          ? `wallet ${walletId} reported lost; hotlist version ${r.hotlistVersion}`
          : `wallet ${walletId} was already reported lost; hotlist version ${r.hotlistVersion}`,
        r.queued
          ? `  BLOCK queued for the card (command ${r.queued.commandId})`
          : "  BLOCK was already queued for the card",
      ]);
    });

  wallet
    .command("release")
    .description(
      "release a lost wallet: UNBLOCK is queued for the card, and the wallet is active and off the hotlist " +
        "once the card confirms it (at once when the card was never blocked)",
    )
    .argument("<WALLET_ID>", "wallet id")
    .option("--reason <text>", REASON_HELP)
    .addOption(cli.operatorOption())
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (walletId: string, o: AuditedOptions) => {
      walletIdArgument(walletId);
      const actor = cli.actor(o.operator);
      const r = await cli.withStore(o.db, (s) =>
        releaseWallet(PlatformStore.of(s), walletId, nowSeconds(), actor, o.reason),
      );
      if (o.json) return cli.printJson({ walletId, ...r });
      out([
        r.queued
          ? `UNBLOCK queued for ${walletId} (command ${r.queued.commandId}); it stays ${r.status} until the card confirms`
          : `wallet ${walletId} released: active, off the hotlist (version ${r.hotlistVersion}); the card was never blocked`,
      ]);
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

const signedMoney = (minor: number, c: Currency) => (minor < 0 ? "-" : "") + formatMoney(Math.abs(minor), c);

function renderWallet(v: WalletView): string[] {
  const c = currencyByNumeric(v.currency);
  const bound = v.boundAccount
    ? `${v.boundAccount.number} (${v.boundAccount.holder}, ${v.boundAccount.status}, available ${formatMoney(v.boundAccount.available, c)})`
    : "none";
  const lines = [
    `wallet ${v.walletId}  ${v.status}  ${c.code}  (issued ${v.createdAt})`,
    // An overspent (forged) wallet's offline account is below zero: that is what its operator looks at.
    `  offline balance    ${signedMoney(v.accounts.offline, c)}`,
    `  online balance     ${signedMoney(v.accounts.online, c)}`,
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
        `${l.cardCounter === null ? "" : `counter ${l.cardCounter}  `}${l.terminalId}  ${l.issuedAt}` +
        (l.bankMessage
          ? `\n      bank message ${l.bankMessage.transactionCode}: card balance ${formatMoney(l.bankMessage.cardBalance, c)} of ${formatMoney(l.bankMessage.balanceLimit, c)}` +
            `${l.bankMessage.cardNumber ? `, from ${l.bankMessage.cardNumber}` : ""}${l.bankMessage.teller ? `, teller ${l.bankMessage.teller}` : ""}${l.bankMessage.branch ? ` at ${l.bankMessage.branch}` : ""}`
          : ""),
    );
  const pending = v.commands.filter((k) => k.state === "pending").length;
  lines.push(
    `  issuer commands: ${v.commands.length === 0 ? "none" : `${v.commands.length} (${pending} pending)`}`,
  );
  for (const k of v.commands)
    lines.push(
      `    ${k.commandId}  ${k.kind.padEnd(10)} ${k.state.padEnd(10)} ${commandValues(k.values, c)}  queued ${k.queuedAt}` +
        (k.deliveredAt ? `  delivered ${k.deliveredAt} by ${k.terminalId}, counter ${k.cardCounter}` : ""),
    );
  return lines;
}

function commandValues(values: Record<string, number>, c: Currency): string {
  if ("reason" in values) return `reason ${BLOCK_REASON_NAMES[values.reason as number] ?? values.reason}`;
  return Object.entries(values)
    .map(([k, v]) => `${PARAM_NAMES[k as keyof WalletParameters] ?? k} ${formatMoney(v, c)}`)
    .join(", ");
}

const BLOCK_REASON_NAMES: Readonly<Record<number, string>> = {
  0: "other",
  1: "lost",
  2: "stolen",
  3: "fraud",
  4: "clone",
};
