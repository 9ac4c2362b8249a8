/**
 * `posd refund --seq N --amount 2.00`: a refund of returned goods, referenced to a complete debit
 * of this terminal. No card: the money goes to the wallet's online account once the refund has
 * gone up with the next `posd upload`. The work is in application/refund.ts.
 */
import type { Command } from "commander";
import { currencyByCode, currencyByNumeric, parseAmount } from "../protocol/amount.js";
import { refundJson, runRefund } from "./application/refund.js";
import { globals, logger, withTerminal } from "./cli-support.js";
import { TerminalError } from "./errors.js";
import { printJson } from "./output.js";

const SEQ = /^[1-9][0-9]{0,9}$/;

export function registerRefundCommand(program: Command): void {
  program
    .command("refund")
    .description(
      "refund returned goods of a stored payment of this terminal (by its terminal seq), partly or whole;\n" +
        "no card needed: the refund is signed here, goes up with the next upload and is credited to the\n" +
        "wallet's online account, never to the card",
    )
    .requiredOption("--seq <n>", "the terminal seq of the payment (posd records)")
    .requiredOption("--amount <amount>", "amount in the currency's units, e.g. 2.00")
    .option("--currency <code>", "ISO 4217 currency (default: the payment's)")
    .option("--json", "print JSON")
    .action(async (o, cmd: Command) => {
      const g = globals(cmd);
      if (!SEQ.test(o.seq))
        throw new TerminalError("TERM_ERR_USAGE", "--seq takes a terminal seq (a whole number)");
      const seq = Number(o.seq);
      const refund = await withTerminal(g, logger(g), (ctx) => {
        const currency = o.currency
          ? currencyByCode(o.currency)
          : currencyByNumeric(ctx.store.get(seq)?.currency ?? ctx.currency);
        const amount = parseAmount(o.amount, currency);
        if (amount === 0) throw new TerminalError("TERM_ERR_USAGE", "the amount must be greater than zero");
        return runRefund(
          { refunds: ctx.refunds, identity: ctx.identity, terminalId: ctx.terminalId, logger: ctx.logger },
          { seq, amount, currency: currency.numeric },
        ).refund;
      });
      const view = refundJson(refund);
      if (g.json) printJson({ status: "ok", ...view });
      else
        process.stdout.write(
          `refund ${refund.refundId} of ${view.amountText} for seq ${refund.originalSeq} (wallet ${refund.walletId}) stored: it goes up with the next upload, to the wallet's online account\n`,
        );
    });
}
