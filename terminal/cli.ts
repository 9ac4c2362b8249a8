#!/usr/bin/env node
/**
 * posd: the tapwallet terminal. This file only wires commands to use cases and prints; the work
 * happens in application/ and the adapters.
 */
import { writeFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { currencyByCode, parseAmount } from "../protocol/amount.js";
import { endOnClosedStdout } from "../protocol/closed-stdout.js";
import type { Transport } from "../protocol/transport.js";
import { RecordingTransport } from "../protocol/transport-wrappers.js";
import { outcomeJson, transactionJson } from "./application/outcome-json.js";
import { type PaymentOutcome, recoverPending, runPayment } from "./application/run-payment.js";
import { terminalStatus } from "./application/status.js";
import { registerLoadCommands } from "./cli-load.js";
import { registerRefundCommand } from "./cli-refund.js";
import { acquirerUrl, exit, fail, globals, logger, setHardExit, withTerminal } from "./cli-support.js";
import { cardLink, paymentDeps } from "./composition/root.js";
import { loadConfig, passphraseWarning, resolveDataDir } from "./config.js";
import { asTerminalError, TerminalError } from "./errors.js";
import { initTerminal } from "./init.js";
import { EXIT, exitCodeFor, formatStatus, printJson, printOutcome, printRecords } from "./output.js";

const program = new Command()
  .name("posd")
  .description(
    "tapwallet terminal: takes an amount, authenticates a wallet over NFC (or a virtual card), debits it\n" +
      "and stores a doubly signed record in SQLite, later uploaded to the acquirer.\n\n" +
      "Data directory: --data-dir, else $TAPWALLET_HOME, else ~/.tapwallet (configuration posd.json inside).\n" +
      "Exit codes: 0 approved/ok, 1 error, 2 usage, 3 declined, 4 torn (pending until the wallet returns).",
  )
  .version("0.1.0")
  .option("--data-dir <dir>", "data directory (default $TAPWALLET_HOME or ~/.tapwallet)")
  .option("--config <file>", "configuration file (default <data-dir>/posd.json)")
  .option("-v, --verbose", "debug logs on stderr")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

program
  .command("init")
  .description("write a working configuration: a new terminal key and a 30-day certificate from the test PKI")
  .option("--terminal-id <id>", "terminal id", "T-0001")
  .option("--merchant-id <id>", "merchant id", "M-0001")
  .option("--category <mcc>", "merchant category code (ISO 18245)", "5411")
  .option("--region <code>", "region (ISO 3166 country or region code)", "TW")
  .option("--currency <code>", "ISO 4217 currency", "EUR")
  .option("--acquirer <url>", "acquirer base URL")
  .option("--validity-days <n>", "terminal certificate lifetime in days", "30")
  .option("--force", "replace an existing configuration")
  .option("--json", "print JSON")
  .action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const days = Number(o.validityDays);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      throw new TerminalError("TERM_ERR_USAGE", "--validity-days must be a whole number of days (1-3650)");
    }
    const dataDir = resolveDataDir(g.dataDir);
    const result = await initTerminal({
      dataDir,
      terminalId: o.terminalId,
      merchantId: o.merchantId,
      merchantCategory: o.category,
      region: o.region,
      currency: o.currency,
      validityDays: days,
      ...(o.acquirer ? { acquirerUrl: o.acquirer } : {}),
      force: o.force === true,
    });
    if (g.json) printJson({ status: "ok", dataDir, ...result });
    else {
      process.stdout.write(`wrote ${result.configPath}\n`);
      process.stdout.write(
        `terminal ${o.terminalId} (merchant ${o.merchantId}), certificate valid until ${result.certificateNotAfter.toISOString()}\n`,
      );
      if (result.passphraseFile) {
        process.stdout.write(
          `the key passphrase is in ${result.passphraseFile} (0600); in production supply it as TAPWALLET_KEY_PASSPHRASE instead\n`,
        );
      }
    }
  });

program
  .command("pay")
  .description("take one payment: wait for a wallet, authenticate it, debit it and store the signed record")
  .requiredOption("--amount <amount>", "amount in the currency's units, e.g. 4.50")
  .option("--currency <code>", "ISO 4217 currency (default: the configured one)")
  .option("--reference <text>", "your reference for this payment (kept with the record)")
  .addOption(
    new Option("--virtual", "virtual-card mode: the wallet runs in-process (needs --card)").conflicts(
      "reader",
    ),
  )
  .option("--card <file>", "virtual card state file (card-emulator personalize)")
  .option("--reader <name>", "PC/SC reader: exact name or unique substring")
  .option("--record <file>", "write the APDU exchange to this transcript file")
  .option("--json", "print JSON")
  .action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const log = logger(g);
    if (o.card && !o.virtual) throw new TerminalError("TERM_ERR_USAGE", "--card needs --virtual");
    if (o.virtual && !o.card)
      throw new TerminalError("TERM_ERR_USAGE", "--virtual needs --card <state file>");
    const outcome = await withTerminal(g, log, async (ctx) => {
      const currency = currencyByCode(o.currency ?? ctx.config.currency);
      const amount = parseAmount(o.amount, currency);
      if (amount === 0) throw new TerminalError("TERM_ERR_USAGE", "the amount must be greater than zero");
      // A terminal with acquirer.url is online: a card under its auto-load threshold is loaded first.
      const online = ctx.config.acquirer.url
        ? (await import("./composition/platform.js")).openPlatform(ctx, undefined)
        : undefined;
      const deps = online ? { ...paymentDeps(ctx), online: online.deps } : paymentDeps(ctx);
      const request = {
        amount,
        currency: currency.numeric,
        ...(o.reference ? { reference: o.reference } : {}),
      };
      try {
        if (o.virtual) {
          const { openVirtualCard } = await import("./composition/virtual-card.js");
          return await withRecording(await openVirtualCard({ statePath: o.card }), o.record, (t) =>
            runPayment(cardLink(ctx, t), deps, request),
          );
        }
        const { payOnReader } = await import("./adapters/reader/pay-on-reader.js");
        return await payOnReader(
          ctx,
          {
            reader: o.reader ?? ctx.config.reader.name,
            log,
            onWaiting: (reader) => {
              if (!g.json) process.stderr.write(`present a card to "${reader}"…\n`);
            },
          },
          (t) => withRecording(t, o.record, (tr) => runPayment(cardLink(ctx, tr), deps, request)),
        );
      } finally {
        online?.close();
      }
    });
    if (g.json) printJson(outcomeJson(outcome));
    else printOutcome(outcome);
    process.exitCode = exitCodeFor(outcome);
  });

async function withRecording(
  transport: Transport,
  file: string | undefined,
  fn: (t: Transport) => Promise<PaymentOutcome>,
): Promise<PaymentOutcome> {
  if (!file) return fn(transport);
  const recorder = new RecordingTransport(transport);
  try {
    return await fn(recorder);
  } finally {
    writeFileSync(file, recorder.transcript({ tool: "posd pay", date: new Date().toISOString() }));
  }
}

program
  .command("recover")
  .description("resolve a wallet's pending (torn) payments from its own log, without a new payment")
  .addOption(new Option("--virtual", "virtual-card mode (needs --card)").conflicts("reader"))
  .option("--card <file>", "virtual card state file")
  .option("--reader <name>", "PC/SC reader: exact name or unique substring")
  .option("--json", "print JSON")
  .action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const log = logger(g);
    if (o.virtual && !o.card)
      throw new TerminalError("TERM_ERR_USAGE", "--virtual needs --card <state file>");
    const result = await withTerminal(g, log, async (ctx) => {
      const deps = {
        store: ctx.store,
        identity: ctx.identity,
        trust: ctx.trust,
        logger: ctx.logger,
        walletWatch: ctx.walletWatch,
      };
      if (o.virtual) {
        const { openVirtualCard } = await import("./composition/virtual-card.js");
        return recoverPending(cardLink(ctx, await openVirtualCard({ statePath: o.card })), deps);
      }
      const { withReaderCard } = await import("./adapters/reader/pay-on-reader.js");
      return withReaderCard(ctx, { reader: o.reader ?? ctx.config.reader.name, log }, (t) =>
        recoverPending(cardLink(ctx, t), deps),
      );
    });
    if (g.json) printJson({ ...result, error: result.error?.toJSON() ?? null });
    else {
      for (const r of result.recovered) process.stdout.write(`seq ${r.seq}: ${r.outcome}\n`);
      if (result.recovered.length === 0 && !result.error)
        process.stdout.write(`nothing pending for ${result.walletId}\n`);
      if (result.error) process.stderr.write(`posd: ${result.error.message} [${result.error.code}]\n`);
    }
    process.exitCode = result.error ? EXIT.ERROR : EXIT.OK;
  });

program
  .command("upload")
  .description(
    "close a batch of the stored records and upload it to the acquirer (re-sends an interrupted one first)",
  )
  .option("--acquirer <url>", "acquirer base URL (default: acquirer.url from the configuration)")
  .option("--json", "print JSON")
  .action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const log = logger(g, "info");
    const summary = await withTerminal(g, log, async (ctx) => {
      const { AcquirerClient } = await import("./adapters/http/acquirer-client.js");
      const { uploadBatches } = await import("./application/upload.js");
      const { uploadProgress } = await import("./progress.js");
      const client = new AcquirerClient({
        baseUrl: acquirerUrl(ctx, o.acquirer),
        timeoutMs: ctx.config.acquirer.timeoutMs,
        retries: ctx.config.acquirer.retries,
        logger: ctx.logger,
      });
      const progress = uploadProgress({ tty: process.stderr.isTTY === true && !g.json, logger: ctx.logger });
      try {
        return await uploadBatches(ctx, client, {
          maxRecords: ctx.config.acquirer.batchMaxRecords,
          progress,
        });
      } finally {
        progress.stop();
        client.close();
      }
    });
    if (g.json) printJson({ status: "ok", ...summary });
    else if (summary.batches === 0) process.stdout.write("nothing to upload\n");
    else {
      process.stdout.write(
        `uploaded ${summary.records} records in ${summary.batches} batch(es): ${summary.accepted} accepted, ${summary.rejected} rejected\n`,
      );
      for (const r of summary.results) {
        for (const v of r.records.filter((x) => x.status === "rejected")) {
          process.stdout.write(`  seq ${v.seq} rejected: ${v.reason ?? "no reason given"}\n`);
        }
        for (const v of r.refunds ?? [])
          process.stdout.write(`  refund ${v.refundId} ${v.status}${v.reason ? `: ${v.reason}` : ""}\n`);
        if (r.status === "rejected")
          process.stdout.write(`  batch ${r.batchId} rejected: ${r.reason ?? ""}\n`);
      }
    }
    process.exitCode = summary.rejected > 0 ? EXIT.DECLINED : EXIT.OK;
  });

program
  .command("sync")
  .description(
    "fetch the acquirer's hotlist (blocked wallets, revoked cards; posd pay then declines them offline) and the\n" +
      "platform's attention list (wallets with an issuer command queued or a load in doubt; posd pay presents\n" +
      "them to the platform before the debit)",
  )
  .option("--acquirer <url>", "acquirer base URL (default: acquirer.url from the configuration)")
  .option("--json", "print JSON")
  .action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const log = logger(g);
    const result = await withTerminal(g, log, async (ctx) => {
      const { AcquirerClient, verifyFetchedHotlist } = await import("./adapters/http/acquirer-client.js");
      const { syncHotlist } = await import("./application/upload.js");
      const { syncAttention } = await import("./application/attention-sync.js");
      const { openPlatform } = await import("./composition/platform.js");
      const url = acquirerUrl(ctx, o.acquirer);
      const client = new AcquirerClient({
        baseUrl: url,
        timeoutMs: ctx.config.acquirer.timeoutMs,
        retries: ctx.config.acquirer.retries,
        logger: ctx.logger,
      });
      const acquirerCa = ctx.identity.chain[0];
      if (!acquirerCa)
        throw new TerminalError("TERM_ERR_CONFIG", "terminal.chainFiles must hold the acquirer CA");
      const online = openPlatform(ctx, url);
      try {
        const hotlist = await syncHotlist(ctx, client, (wire) => verifyFetchedHotlist(wire, acquirerCa));
        try {
          return { ...hotlist, attention: await syncAttention(ctx.attention, online.deps, ctx.logger) };
        } catch (e) {
          // The hotlist is stored; say so, and that the attention list is not.
          const err = asTerminalError(e);
          return { ...hotlist, attention: { error: { code: err.code, message: err.message } } };
        }
      } finally {
        client.close();
        online.close();
      }
    });
    const attention = result.attention;
    if (g.json) printJson({ status: "error" in attention ? "error" : "ok", ...result });
    else {
      process.stdout.write(
        `hotlist version ${result.version ?? "none"}${result.changed ? " (updated)" : " (unchanged)"}: ${result.wallets} blocked wallets, ${result.serials} revoked cards\n`,
      );
      if ("error" in attention)
        process.stderr.write(
          `posd: attention list not updated: ${attention.error.message} [${attention.error.code}]\n`,
        );
      else if (attention.noPlatform)
        process.stdout.write(
          "attention list: the acquirer serves no wallet platform, payments stay offline\n",
        );
      else
        process.stdout.write(
          `attention list: the platform has work for ${attention.wallets} wallet${attention.wallets === 1 ? "" : "s"}${attention.truncated ? " (more than one list holds)" : ""}\n`,
        );
    }
    if ("error" in attention) process.exitCode = EXIT.ERROR;
  });

program
  .command("records")
  .description("list stored payments, newest first, each with the refunds made of it")
  .option("--since <seq>", "only records with a terminal seq above this")
  .option("--limit <n>", "at most this many", "50")
  .option("--json", "print JSON")
  .action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const since = o.since === undefined ? 0 : Number(o.since);
    const limit = Number(o.limit);
    if (!Number.isInteger(since) || since < 0)
      throw new TerminalError("TERM_ERR_USAGE", "--since takes a terminal seq (a whole number)");
    if (!Number.isInteger(limit) || limit < 1)
      throw new TerminalError("TERM_ERR_USAGE", "--limit takes a positive whole number");
    await withTerminal(g, logger(g), async (ctx) => {
      const { refundJson } = await import("./application/refund.js");
      const rows = ctx.store.list({ sinceSeq: since, limit });
      // Each payment's refunds with it (`refunds` only on a payment that has some).
      const refunds = new Map(rows.map((t) => [t.seq, ctx.refunds.forSeq(t.seq)]));
      if (g.json)
        printJson(
          rows.map((t) => {
            const of = refunds.get(t.seq) ?? [];
            return { ...transactionJson(t), ...(of.length > 0 ? { refunds: of.map(refundJson) } : {}) };
          }),
        );
      else printRecords(rows, refunds);
    });
  });

program
  .command("status")
  .description("terminal id, merchant, certificate expiry, seq, pending payments, what awaits upload, limits")
  .option("--json", "print JSON")
  .action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    await withTerminal(g, logger(g), (ctx) => {
      const cert = ctx.identity.certificate;
      const warning = passphraseWarning(ctx.config);
      const status = terminalStatus(
        {
          records: ctx.store,
          risk: ctx.store,
          batches: ctx.batches,
          hotlist: ctx.hotlist,
          loads: ctx.loads,
          refunds: ctx.refunds,
          attention: ctx.attention,
          clock: ctx.clock,
        },
        {
          terminalId: ctx.terminalId,
          merchantId: ctx.merchantId,
          merchantCategory: cert.attributes.merchantCategory,
          region: cert.attributes.region,
          certificateNotAfter: cert.notAfter,
          dataDir: ctx.config.dataDir,
          limits: ctx.riskLimits,
          hotlistPolicy: ctx.hotlistPolicy,
          warnings: warning === undefined ? [] : [warning],
        },
      );
      if (g.json) printJson(status);
      else for (const line of formatStatus(status)) process.stdout.write(`${line}\n`);
    });
  });

program
  .command("readers")
  .description("list the PC/SC readers pcscd sees, and whether a card is in each one's field")
  .option("--json", "print JSON")
  .action(async (_o, cmd: Command) => {
    const g = globals(cmd);
    const { listReaders } = await import("./adapters/reader/list-readers.js");
    const { isAcr122Name } = await import("./adapters/pcsc/acr122.js");
    const readers = (await listReaders({ logger: logger(g) })).map((r) => ({
      name: r.name,
      cardPresent: r.cardPresent,
      atr: r.atr ?? null,
      acr122: isAcr122Name(r.name),
    }));
    if (g.json) {
      printJson({ readers });
      return;
    }
    if (readers.length === 0) {
      process.stdout.write(
        "no readers: plug the reader in (on Linux the pn533 and pn533_usb kernel modules must be blacklisted " +
          'so that pcscd gets an ACR122U; see "Real reader" in the README)\n',
      );
      return;
    }
    const width = Math.max(...readers.map((r) => r.name.length));
    for (const r of readers) {
      const card = r.cardPresent ? `card present${r.atr ? ` (ATR ${r.atr})` : ""}` : "no card";
      process.stdout.write(`${r.name.padEnd(width)}  ${card}\n`);
    }
  });

program
  .command("run")
  .description(
    "the daemon: serves the cash-register API on ecr.host:ecr.port, takes each payment on the reader, " +
      "uploads and syncs the hotlist on schedule when acquirer.url is set; SIGTERM or SIGINT stop it " +
      "gracefully (a payment waiting for a card is aborted, one in progress finishes)",
  )
  .addOption(
    new Option("--virtual", "virtual-card mode: the wallet runs in-process (needs --card)").conflicts(
      "reader",
    ),
  )
  .option("--card <file>", "virtual card state file (card-emulator personalize)")
  .option("--reader <name>", "PC/SC reader: exact name or unique substring (default reader.name)")
  .action(async (o, cmd: Command) => {
    const g = globals(cmd);
    const log = logger(g, "info");
    if (o.card && !o.virtual) throw new TerminalError("TERM_ERR_USAGE", "--card needs --virtual");
    if (o.virtual && !o.card)
      throw new TerminalError("TERM_ERR_USAGE", "--virtual needs --card <state file>");
    const config = loadConfig({
      ...(g.dataDir ? { dataDir: g.dataDir } : {}),
      ...(g.config ? { configPath: g.config } : {}),
    });
    const { runDaemon } = await import("./daemon.js");
    const { lockDataDir } = await import("./adapters/sqlite/run-lock.js");
    lockDataDir(config.dataDir); // held until this process ends, however it ends
    const code = await runDaemon({
      config,
      logger: log,
      ...(o.virtual ? { virtualCard: o.card } : {}),
      ...(o.reader ? { reader: o.reader } : {}),
      forceExit: (c) => exit(c),
    });
    exit(code);
  });

registerLoadCommands(program);
registerRefundCommand(program);

/**
 * Commands that talk to PC/SC run with a bigger libuv threadpool (see adapters/pcsc/threadpool.ts);
 * `run --virtual` does not touch PC/SC and runs in this process.
 */
function needsPcsc(argv: readonly string[]): boolean {
  if (argv.includes("--virtual")) return false;
  return argv.some((a) => a === "run" || a === "readers" || a === "--reader" || a.startsWith("--reader="));
}

async function main(): Promise<void> {
  // `posd records | head -1`: a reader that stops reading ends a command normally (exit 0). The
  // daemon's stdout carries nothing it needs, so `posd run` keeps running without it.
  const longRunning = process.argv.slice(2).includes("run");
  endOnClosedStdout(() => {
    if (!longRunning) exit(EXIT.OK);
  });
  let wouldHang = () => false;
  if (needsPcsc(process.argv.slice(2))) {
    const { ensureThreadpool, watchParent } = await import("./adapters/pcsc/threadpool.js");
    if (!ensureThreadpool()) return; // a child process with the bigger pool does the work
    watchParent(); // and it stops when the posd that started it dies, even by kill -9
    const { exitProcess, exitWouldHang } = await import("./adapters/pcsc/process-exit.js");
    setHardExit(exitProcess);
    wouldHang = exitWouldHang;
  }
  try {
    await program.parseAsync();
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : EXIT.USAGE);
    fail(e);
  }
  // After a per-APDU timeout the transmit may still hang in the native layer: this process would
  // never end by itself (posd pay --reader with a mute card).
  if (wouldHang()) exit(Number(process.exitCode ?? 0));
}

await main();
