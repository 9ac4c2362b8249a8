/**
 * posd's online commands, run with the card present at an online terminal: `posd load` (cash at
 * the counter, from the bound account, from another account, from the online account),
 * `posd load revoke` (a cash load given back the same day) and `posd sync-card` (settle the
 * wallet's loads in doubt). The work is in application/run-load.ts.
 */
import { type Command, Option } from "commander";
import { currencyByCode, parseAmount } from "../protocol/amount.js";
import type { LoadType } from "../protocol/platform/api.js";
import type { Transport } from "../protocol/transport.js";
import { money } from "./application/outcome-json.js";
import type { CardSyncOutcome, LoadOrder, LoadOutcome } from "./application/run-load.js";
import { globals, logger, withTerminal } from "./cli-support.js";
import { cardLink, type TerminalContext } from "./composition/root.js";
import { exitCode, TerminalError } from "./errors.js";
import { deliveredLines, EXIT, printJson, settledLines } from "./output.js";

const TELLER = /^[A-Za-z0-9._-]{1,16}$/;
const ACCOUNT = /^[A-Za-z0-9._-]{1,34}$/;
const LOAD_ID = /^[0-9a-f]{16}$/;

interface CardOptions {
  virtual?: boolean;
  card?: string;
  reader?: string;
  acquirer?: string;
  json?: boolean;
}

function cardOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--virtual", "virtual-card mode: the wallet runs in-process (needs --card)").conflicts(
        "reader",
      ),
    )
    .option("--card <file>", "virtual card state file (card-emulator personalize)")
    .option("--reader <name>", "PC/SC reader: exact name or unique substring")
    .option("--acquirer <url>", "back office base URL (default: acquirer.url from the configuration)")
    .option("--json", "print JSON");
}

function checkCardOptions(o: CardOptions): void {
  if (o.card && !o.virtual) throw new TerminalError("TERM_ERR_USAGE", "--card needs --virtual");
  if (o.virtual && !o.card) throw new TerminalError("TERM_ERR_USAGE", "--virtual needs --card <state file>");
}

/** Run `use` with the card: the virtual one, or the first presented on the reader. */
async function withCard<T>(
  ctx: TerminalContext,
  o: CardOptions,
  json: boolean,
  use: (t: Transport) => Promise<T>,
): Promise<T> {
  if (o.virtual) {
    const { openVirtualCard } = await import("./composition/virtual-card.js");
    return use(cardLink(ctx, await openVirtualCard({ statePath: o.card! })));
  }
  const { withReaderCard } = await import("./adapters/reader/pay-on-reader.js");
  return withReaderCard(
    ctx,
    {
      reader: o.reader ?? ctx.config.reader.name,
      log: ctx.logger,
      onWaiting: (reader) => {
        if (!json) process.stderr.write(`present the card to "${reader}"…\n`);
      },
    },
    (t) => use(cardLink(ctx, t)),
  );
}

export function loadOutcomeJson(o: LoadOutcome | CardSyncOutcome): Record<string, unknown> {
  const amountText = "amount" in o ? money(o.amount, o.currency) : undefined;
  return { ...o, ...(amountText ? { amountText } : {}) };
}

function printSync(o: CardSyncOutcome, what: string): void {
  const lines = [...settledLines(o.settled), ...deliveredLines(o.delivered)];
  for (const line of lines) process.stdout.write(`${line}\n`);
  if (o.status === "ok") {
    if (lines.length === 0) process.stdout.write(`${o.walletId}: nothing to settle\n`);
    return;
  }
  process.stderr.write(`posd: ${what} ${o.status}: ${o.message} [${o.code}]\n`);
}

function printLoad(o: LoadOutcome): void {
  for (const line of [...settledLines(o.settled), ...deliveredLines(o.delivered)])
    process.stdout.write(`${line}\n`);
  if (o.status === "loaded") {
    process.stdout.write(
      `loaded ${money(o.amount, o.currency)} onto ${o.walletId} (${o.type}): card balance ${money(o.balanceAfter, o.currency)}, card counter ${o.cardCounter}, load ${o.loadId}\n`,
    );
    if (!o.booked)
      process.stdout.write(
        "the back office did not answer: the card's record is kept here and handed over at the next online session\n",
      );
    return;
  }
  const prefix =
    o.status === "declined" ? "load declined" : o.status === "in_doubt" ? "load in doubt" : "load failed";
  process.stderr.write(`posd: ${prefix}: ${o.message} [${o.code}]\n`);
}

function exitFor(o: LoadOutcome): number {
  if (o.status === "loaded") return EXIT.OK;
  if (o.status === "in_doubt") return EXIT.TORN;
  return exitCode(o.code);
}

function loadOrder(o: Record<string, unknown>, ctx: TerminalContext): LoadOrder {
  const sources = [o.cash, o.account, o.fromAccount !== undefined, o.fromOnline].filter(Boolean).length;
  if (sources !== 1)
    throw new TerminalError(
      "TERM_ERR_USAGE",
      "say where the money comes from, once: --cash --teller T, --account, --from-account NUMBER or --from-online",
    );
  const currency = currencyByCode((o.currency as string | undefined) ?? ctx.config.currency);
  const amount = o.amount === undefined ? undefined : parseAmount(o.amount as string, currency);
  if (amount === undefined && !o.fromOnline)
    throw new TerminalError("TERM_ERR_USAGE", "--amount is required");
  if (amount === 0) throw new TerminalError("TERM_ERR_USAGE", "the amount must be greater than zero");
  const type: LoadType = o.cash ? "cash" : o.account ? "bound" : o.fromOnline ? "supplementary" : "non-bound";
  if (type === "cash" && !(typeof o.teller === "string" && TELLER.test(o.teller)))
    throw new TerminalError("TERM_ERR_USAGE", "a cash load needs --teller ID (1-16 of A-Z a-z 0-9 . _ -)");
  if (type !== "cash" && o.teller !== undefined)
    throw new TerminalError("TERM_ERR_USAGE", "--teller goes with --cash");
  if (type === "non-bound" && !ACCOUNT.test(o.fromAccount as string))
    throw new TerminalError(
      "TERM_ERR_USAGE",
      "--from-account takes a bank account number (1-34 of A-Z a-z 0-9 . _ -)",
    );
  return {
    type,
    currency: currency.numeric,
    ...(amount === undefined ? {} : { amount }),
    ...(type === "cash" ? { teller: o.teller as string } : {}),
    ...(type === "non-bound" ? { fromAccount: o.fromAccount as string } : {}),
  };
}

export function registerLoadCommands(program: Command): void {
  const load = cardOptions(
    program
      .command("load")
      .description(
        "load money onto the wallet at an online terminal, with the card present: cash at the counter, from the\n" +
          "wallet's bound bank account, from another account, or the online account's balance (refunds).\n" +
          "Loads in doubt from earlier are settled first. Exit 0 loaded, 3 declined, 4 in doubt, 1 error.",
      )
      .option("--amount <amount>", "amount in the currency's units, e.g. 20.00")
      .option("--currency <code>", "ISO 4217 currency (default: the configured one)")
      .option("--cash", "cash paid at the counter (needs --teller)")
      .option("--teller <id>", "the teller whose drawer takes the cash")
      .option("--account", "from the wallet's bound bank account")
      .option("--from-account <number>", "from another bank account (a non-binding load)")
      .option("--from-online", "move the online account's balance (or --amount of it) onto the card"),
  ).action(async (o, cmd: Command) => {
    const g = globals(cmd);
    checkCardOptions(o);
    const outcome = await withTerminal(g, logger(g), async (ctx) => {
      const order = loadOrder(o, ctx);
      const { openPlatform } = await import("./composition/platform.js");
      const { runLoad } = await import("./application/run-load.js");
      const online = openPlatform(ctx, o.acquirer);
      try {
        return await withCard(ctx, o, g.json === true, (t) => runLoad(t, online.deps, order));
      } finally {
        online.close();
      }
    });
    if (g.json) printJson(loadOutcomeJson(outcome));
    else printLoad(outcome);
    process.exitCode = exitFor(outcome);
  });

  cardOptions(
    load
      .command("revoke")
      .description(
        "give a cash load back the same business day, with the card present: the card returns the money (LOAD\n" +
          "REVERSAL) and the teller's drawer pays the cash out",
      )
      .requiredOption("--load-id <id>", "the load id `posd load` printed (16 hex)")
      .requiredOption("--teller <id>", "the teller who pays the cash back"),
  ).action(async (o, cmd: Command) => {
    const g = globals(cmd);
    checkCardOptions(o);
    if (!LOAD_ID.test(o.loadId))
      throw new TerminalError("TERM_ERR_USAGE", "--load-id takes 16 lower-case hex digits");
    if (!TELLER.test(o.teller))
      throw new TerminalError("TERM_ERR_USAGE", "--teller takes an id (1-16 of A-Z a-z 0-9 . _ -)");
    const outcome = await withTerminal(g, logger(g), async (ctx) => {
      const { openPlatform } = await import("./composition/platform.js");
      const { runRevoke } = await import("./application/run-load.js");
      const online = openPlatform(ctx, o.acquirer);
      try {
        return await withCard(ctx, o, g.json === true, (t) =>
          runRevoke(t, online.deps, { loadId: o.loadId, teller: o.teller }),
        );
      } finally {
        online.close();
      }
    });
    if (g.json) printJson(loadOutcomeJson(outcome));
    else printSync(outcome, "revoke");
    process.exitCode = outcome.status === "ok" ? EXIT.OK : exitCode(outcome.code);
  });

  cardOptions(
    program
      .command("sync-card")
      .description(
        "present the wallet to the back office without a payment: settles its loads in doubt (LOAD REVERSAL) " +
          "and delivers the issuer commands queued for the card (UPDATE PARAMETERS, BLOCK, UNBLOCK)",
      ),
  ).action(async (o, cmd: Command) => {
    const g = globals(cmd);
    checkCardOptions(o);
    const outcome = await withTerminal(g, logger(g), async (ctx) => {
      const { openPlatform } = await import("./composition/platform.js");
      const { runSyncCard } = await import("./application/run-load.js");
      const online = openPlatform(ctx, o.acquirer);
      try {
        return await withCard(ctx, o, g.json === true, (t) => runSyncCard(t, online.deps));
      } finally {
        online.close();
      }
    });
    if (g.json) printJson(loadOutcomeJson(outcome));
    else printSync(outcome, "sync-card");
    process.exitCode = outcome.status === "ok" ? EXIT.OK : exitCode(outcome.code);
  });
}
