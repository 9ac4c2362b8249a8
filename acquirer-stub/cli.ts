#!/usr/bin/env node
/**
 * acquirer-stub: the tapwallet acquirer. `serve` runs the HTTP service; the other commands work on
 * the same database directly (safe while `serve` runs: WAL on SQLite, transactions on
 * PostgreSQL). Exit codes: 0 ok, 1 error, 2 usage. Every operator action (block, unblock,
 * revoke-terminal, wallet report-lost | release | set-params) lands in the audit log (`audit`).
 */
import { existsSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { endOnClosedStdout } from "../protocol/closed-stdout.js";
import { isTapwalletError } from "../protocol/errors.js";
import { createLogger } from "../protocol/logger.js";
import { ID_PATTERN } from "../protocol/wallet/constants.js";
import { cliActor, operatorOption, registerAuditCommand } from "./audit-cli.js";
import { defaultPkiDir } from "./config.js";
import { parseDbTarget } from "./db/engine.js";
import { AcquirerStore } from "./db/store.js";
import { DEFAULT_GAP_DAYS } from "./domain/fraud.js";
import { BLOCK_REASONS, type BlockReason, ISSUER_FINGERPRINT_PATTERN } from "./domain/hotlist.js";
import { currencyCode, formatRanges, formatTotal, isCalendarDate, renderReport } from "./domain/settle.js";
import { AcquirerError } from "./errors.js";
import { registerPlatformCommands } from "./platform/cli.js";
import { renderReconciliation } from "./platform/reconciliation-text.js";
import { platformReconciliation } from "./platform/reports.js";
import { PlatformStore } from "./platform/store/platform-store.js";
import type { OperatorAccess } from "./routes/operator-auth.js";
import { MIN_OPERATOR_TOKEN_LENGTH, openOperatorRoutesWarning, serve } from "./server.js";

const EXIT = { OK: 0, ERROR: 1, USAGE: 2 } as const;
const DEFAULT_DB = "acquirer.sqlite";
const DB_ENV = "TAPWALLET_ACQUIRER_DB";
const OPERATOR_TOKEN_ENV = "TAPWALLET_ACQUIRER_OPERATOR_TOKEN";
const GRACE_ENV = "TAPWALLET_ACQUIRER_HOTLIST_GRACE_HOURS";
const COUNTER_JUMP_ENV = "TAPWALLET_ACQUIRER_MAX_COUNTER_JUMP";

/** Codes that end the CLI with exit code 2 (usage): what was asked for cannot run as given. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  "ACQ_ERR_USAGE",
  "ACQ_ERR_NO_OPERATOR_TOKEN",
  "ACQ_ERR_WEAK_OPERATOR_TOKEN",
]);

function usage(message: string): AcquirerError {
  return new AcquirerError("ACQ_ERR_USAGE", message);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function requireId(text: string, what: string): string {
  if (!ID_PATTERN.test(text))
    throw usage(`${what} must be 1-16 characters of [A-Za-z0-9._-], got ${JSON.stringify(text)}`);
  return text;
}

interface ServeCliOptions {
  db: string;
  port: string;
  host: string;
  ca: string;
  operatorRoutes: "on" | "off";
  insecureOperatorRoutes?: boolean;
  hotlistGraceHours: string;
  maxCounterJump: string;
}

/**
 * How `serve` lets operators in: the token of OPERATOR_TOKEN_ENV; or, without one, only what the
 * flags say explicitly (off, or open for local tests). Nothing else starts.
 */
function operatorAccess(token: string | undefined, routes: "on" | "off", insecure: boolean): OperatorAccess {
  const hasToken = token !== undefined && token.trim() !== "";
  if (routes === "off") {
    if (insecure) throw usage("--insecure-operator-routes and --operator-routes off contradict each other");
    return { off: true };
  }
  if (hasToken) {
    if (insecure)
      throw usage(`${OPERATOR_TOKEN_ENV} is set and --insecure-operator-routes is given: drop one of them`);
    return { token };
  }
  if (insecure) return { open: true };
  throw new AcquirerError(
    "ACQ_ERR_NO_OPERATOR_TOKEN",
    `no operator token: set ${OPERATOR_TOKEN_ENV} (operators then send Authorization: Bearer <token>), ` +
      "or pass --operator-routes off (terminal routes only) or --insecure-operator-routes (local tests: " +
      "anyone who can reach the port may block and unblock wallets); not started",
  );
}

/** Open an existing database: a report on a mistyped path must not silently create an empty one. */
async function openExisting(db: string): Promise<AcquirerStore> {
  const target = parseDbTarget(db);
  if (target.kind === "sqlite" && target.path !== ":memory:" && !existsSync(target.path))
    throw new AcquirerError(
      "ACQ_ERR_STORE",
      `no acquirer database at ${target.path} (start \`acquirer-stub serve --db ${target.path}\` first)`,
    );
  return AcquirerStore.open(db);
}

/** Run `fn` on the database; `create`: a command that sets up state may make a new one. */
async function withStore<T>(
  db: string,
  fn: (store: AcquirerStore) => Promise<T>,
  options: { create?: boolean } = {},
): Promise<T> {
  const store = options.create ? await AcquirerStore.open(db) : await openExisting(db);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

const dbOption = () =>
  new Option("--db <file|url>", "acquirer database: a SQLite file, or postgres://user@host:port/dbname")
    .env(DB_ENV)
    .default(DEFAULT_DB);

const program = new Command()
  .name("acquirer-stub")
  .description(
    "the tapwallet acquirer: verifies uploaded batches, settles per merchant, publishes the hotlist;\n" +
      "and the wallet platform: wallets, the bank accounts behind them, loads (`wallet`, `bank`).\n" +
      "`serve` runs the HTTP service; the other commands work on its database (also while it runs).\n" +
      `The database is a SQLite file (default ${DEFAULT_DB}) or a PostgreSQL URL (--db or ${DB_ENV});\n` +
      "several `serve` instances may share one PostgreSQL database.\n" +
      "Exit codes: 0 ok, 1 error, 2 usage.",
  )
  .version("0.1.0")
  .exitOverride()
  .configureOutput({
    // One clear line for a usage error (commander's own text, our prefix), no help dump.
    outputError: (text, write) =>
      write(
        `acquirer-stub: ${text
          .replace(/^error: /, "")
          .trim()
          .replace(/\s*\n\s*/g, " ")} (see --help)\n`,
      ),
  });

program
  .command("serve")
  .description(
    "run the HTTP service (POST /v1/batches, GET /v1/hotlist, reports, wallet block/unblock, the wallet\n" +
      "platform's /v1/platform/… when the PKI directory has issuer-ca.key.pem) until SIGINT/SIGTERM.\n" +
      `Operator routes need the bearer token in ${OPERATOR_TOKEN_ENV} (Authorization: Bearer <token>),\n` +
      `at least ${MIN_OPERATOR_TOKEN_LENGTH} characters (make one with \`openssl rand -hex 32\`); without one,\n` +
      "serve refuses to start (exit 2) unless --operator-routes off or --insecure-operator-routes.\n" +
      "Block and unblock over HTTP are written to the audit log (`acquirer-stub audit`).",
  )
  .addOption(dbOption())
  .option("--port <port>", "TCP port (0: any free port)", "8443")
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option(
    "--ca <dir>",
    "PKI directory: root-ca.crt.pem, issuer-ca.crt.pem [+ .key.pem], acquirer-ca.crt.pem + .key.pem, crl/*.crl " +
      "(key passphrases from TAPWALLET_ACQUIRER_KEY_PASSPHRASE, TAPWALLET_ISSUER_KEY_PASSPHRASE)",
    defaultPkiDir(),
  )
  .addOption(
    new Option(
      "--operator-routes <on|off>",
      "off: the operator routes are not served at all (404); terminals upload and fetch the hotlist as usual",
    )
      .choices(["on", "off"])
      .default("on"),
  )
  .option(
    "--insecure-operator-routes",
    "serve the operator routes WITHOUT a token, for local tests only: anyone who can reach the port can " +
      "block and unblock wallets (warned at start)",
  )
  .option(
    "--hotlist-grace-hours <hours>",
    "a blocked wallet's debits dated up to this long after its block are accepted (flagged, the issuer's " +
      "loss), later ones rejected with ACQ_ERR_WALLET_BLOCKED (the terminal's); match the terminals' " +
      `hotlist.maxAgeHours (env ${GRACE_ENV})`,
    process.env[GRACE_ENV] ?? "24",
  )
  .option(
    "--max-counter-jump <counters>",
    "a debit whose card counter is more than this ahead of the highest the wallet platform knew blocks " +
      `the wallet for fraud (a state file edited forward); 1..1000000 (env ${COUNTER_JUMP_ENV})`,
    process.env[COUNTER_JUMP_ENV] ?? "256",
  )
  .action(async (o: ServeCliOptions) => {
    if (!/^\d{1,5}$/.test(o.port) || Number(o.port) > 65535)
      throw usage(`--port must be 0..65535, got ${JSON.stringify(o.port)}`);
    if (!/^\d{1,4}(\.\d{1,2})?$/.test(o.hotlistGraceHours))
      throw usage(`--hotlist-grace-hours takes hours (0..9999), got ${JSON.stringify(o.hotlistGraceHours)}`);
    if (
      !/^\d{1,7}$/.test(o.maxCounterJump) ||
      Number(o.maxCounterJump) < 1 ||
      Number(o.maxCounterJump) > 1_000_000
    )
      throw usage(`--max-counter-jump takes counters (1..1000000), got ${JSON.stringify(o.maxCounterJump)}`);
    const operator = operatorAccess(
      process.env[OPERATOR_TOKEN_ENV],
      o.operatorRoutes,
      o.insecureOperatorRoutes === true,
    );
    const logger = createLogger({ name: "acquirer" });
    const server = await serve({
      port: Number(o.port),
      host: o.host,
      db: o.db,
      pkiDir: o.ca,
      logger,
      operator,
      hotlistGraceSeconds: Math.round(Number(o.hotlistGraceHours) * 3600),
      maxCounterJump: Number(o.maxCounterJump),
    });
    process.stdout.write(`acquirer listening on ${server.url} (database ${server.database})\n`);
    if ("open" in operator)
      process.stderr.write(`acquirer-stub: WARNING: ${openOperatorRoutesWarning(server.url)}\n`);
    const stop = (signal: string) => {
      logger.info({ signal }, "stopping");
      server.close().then(
        () => process.exit(EXIT.OK),
        () => process.exit(EXIT.ERROR),
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });

program
  .command("report")
  .description(
    "settlement for one business day (UTC date of the records' terminal time) per merchant and currency,\n" +
      "reconciliation of the batches received that day, outstanding counter and seq gaps, clones;\n" +
      "fraud: blocked wallets, evidence, losses, every wallet's counter gaps open more than --gap-days\n" +
      "and the torn intents terminals could not resolve (aged to this machine's clock);\n" +
      "then the wallet platform's reconciliation of every account (loads against the bank and the tellers'\n" +
      "drawers, settled consumption against the bookings, each wallet's offline account), with every difference",
  )
  .requiredOption("--date <YYYY-MM-DD>", "business day")
  .option(
    "--gap-days <days>",
    "list a wallet's counter gaps (a debit never uploaded, or torn) that nothing has filled for more than this many days",
    String(DEFAULT_GAP_DAYS),
  )
  .option("--json", "print JSON")
  .addOption(dbOption())
  .action(async (o: { date: string; gapDays: string; json?: boolean; db: string }) => {
    if (!isCalendarDate(o.date))
      throw usage(`--date must be a calendar date YYYY-MM-DD, got ${JSON.stringify(o.date)}`);
    if (!/^\d{1,5}$/.test(o.gapDays))
      throw usage(`--gap-days takes whole days (0..99999), got ${JSON.stringify(o.gapDays)}`);
    const { report, platform } = await withStore(o.db, async (s) => ({
      report: await s.settlementReport(o.date, { now: nowSeconds(), gapDays: Number(o.gapDays) }),
      platform: await platformReconciliation(PlatformStore.of(s)),
    }));
    if (o.json) printJson({ ...report, platform });
    else process.stdout.write(`${renderReport(report)}\n${renderReconciliation(platform)}`);
  });

program
  .command("unresolved")
  .description(
    "torn intents terminals could not resolve from the card's log (it no longer covered them);\n" +
      "the card may have committed them: settle each against the wallet's records",
  )
  .option("--json", "print JSON")
  .addOption(dbOption())
  .action(async (o: { json?: boolean; db: string }) => {
    const open = await withStore(o.db, (s) => s.unresolvedIntents());
    if (o.json) printJson({ unresolvedIntents: open });
    else if (open.length === 0) process.stdout.write("no unresolved torn intents\n");
    else {
      process.stdout.write(`${open.length} unresolved torn intent(s):\n`);
      for (const u of open)
        process.stdout.write(
          `  ${u.terminalId} seq ${u.seq}  wallet ${u.walletId}  ${formatTotal(u.amount, u.currency)}  ` +
            `counter seen ${u.cardCounterSeen ?? "?"}  batch ${u.batchId}\n    ${u.reason}\n`,
        );
    }
  });

/** `--issuer`: an issuer CA's certificate fingerprint (SHA-256, 64 hex; upper case accepted). */
function requireIssuer(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const issuer = text.toLowerCase();
  if (!ISSUER_FINGERPRINT_PATTERN.test(issuer))
    throw usage(
      `--issuer must be an issuer CA certificate's SHA-256 fingerprint (64 hex digits), got ${JSON.stringify(text)}`,
    );
  return issuer;
}

const issuerOption = (what: string) =>
  new Option("--issuer <sha256>", `${what} (the issuer CA certificate's SHA-256 fingerprint, hex)`);

const atIssuer = (issuer: string | undefined) => (issuer === undefined ? "" : ` at issuer ${issuer}`);

program
  .command("block")
  .description(
    "block a wallet (loss report): it joins the hotlist, whose version moves; at every issuer, or with\n" +
      "--issuer only for the cards of that issuer CA (another issuer's wallet may have the same id)",
  )
  .argument("<WALLET_ID>", "wallet id")
  .addOption(new Option("--reason <reason>", "why").choices([...BLOCK_REASONS]).makeOptionMandatory())
  .addOption(issuerOption("block it for this issuer's cards only"))
  .addOption(operatorOption())
  .addOption(dbOption())
  .action(
    async (walletId: string, o: { reason: BlockReason; issuer?: string; operator?: string; db: string }) => {
      requireId(walletId, "WALLET_ID");
      const issuer = requireIssuer(o.issuer);
      const actor = cliActor(o.operator);
      const { changed, version } = await withStore(o.db, async (s) => ({
        changed: await s.blockWallet(walletId, o.reason, nowSeconds(), actor, issuer),
        version: await s.hotlistVersion(),
      }));
      process.stdout.write(
        changed
          ? `wallet ${walletId} blocked (${o.reason})${atIssuer(issuer)}; hotlist version ${version}\n`
          : `wallet ${walletId} was already blocked${atIssuer(issuer)}; hotlist version ${version}\n`,
      );
    },
  );

program
  .command("unblock")
  .description(
    "release a blocked wallet: every block of it leaves the hotlist (or with --issuer only its block at\n" +
      "that issuer CA), and the version moves",
  )
  .argument("<WALLET_ID>", "wallet id")
  .option("--reason <text>", "why, kept in the audit log")
  .addOption(issuerOption("release only its block at this issuer"))
  .addOption(operatorOption())
  .addOption(dbOption())
  .action(
    async (walletId: string, o: { reason?: string; issuer?: string; operator?: string; db: string }) => {
      requireId(walletId, "WALLET_ID");
      const issuer = requireIssuer(o.issuer);
      const actor = cliActor(o.operator);
      const { changed, version } = await withStore(o.db, async (s) => ({
        changed: await s.unblockWallet(walletId, nowSeconds(), actor, o.reason, issuer),
        version: await s.hotlistVersion(),
      }));
      process.stdout.write(
        changed
          ? `wallet ${walletId} unblocked${atIssuer(issuer)}; hotlist version ${version}\n`
          : `wallet ${walletId} was not blocked${atIssuer(issuer)}; hotlist version ${version}\n`,
      );
    },
  );

program
  .command("revoke-terminal")
  .description("refuse every future batch of a terminal id (its batches get 403 ACQ_ERR_TERMINAL_REVOKED)")
  .argument("<TERMINAL_ID>", "terminal id")
  .option("--reason <text>", "note kept with the revocation and in the audit log")
  .addOption(operatorOption())
  .addOption(dbOption())
  .action(async (terminalId: string, o: { reason?: string; operator?: string; db: string }) => {
    requireId(terminalId, "TERMINAL_ID");
    const actor = cliActor(o.operator);
    const changed = await withStore(o.db, (s) => s.revokeTerminal(terminalId, nowSeconds(), o.reason, actor));
    process.stdout.write(
      changed ? `terminal ${terminalId} revoked\n` : `terminal ${terminalId} was already revoked\n`,
    );
  });

program
  .command("ledger")
  .description(
    "a wallet's accepted records by card counter, with gaps (outstanding), balance breaks and clones",
  )
  .argument("<WALLET_ID>", "wallet id")
  .option("--json", "print JSON")
  .addOption(dbOption())
  .action(async (walletId: string, o: { json?: boolean; db: string }) => {
    requireId(walletId, "WALLET_ID");
    const ledger = await withStore(o.db, (s) => s.walletLedger(walletId));
    if (o.json) return printJson(ledger);
    const lines = [
      `wallet ${walletId}${ledger.blocks
        .map((b) => `  BLOCKED (${b.reason}, since ${b.since}${b.issuer ? `, at issuer ${b.issuer}` : ""})`)
        .join("")}`,
      "",
    ];
    if (ledger.records.length === 0) lines.push("  no accepted records");
    for (const r of ledger.records)
      lines.push(
        `  #${r.cardCounter}  ${new Date(r.time * 1000).toISOString()}  ${r.terminalId}/${r.merchantId} seq ${r.seq}  ` +
          `${formatTotal(r.amount, r.currency)} ${currencyCode(r.currency)}  balance ${formatTotal(r.balanceAfter, r.currency)}`,
      );
    if (ledger.gaps.length > 0) lines.push("", `  outstanding counters: ${formatRanges(ledger.gaps)}`);
    for (const b of ledger.balanceBreaks)
      lines.push(
        `  balance break at #${b.cardCounter}: expected ${b.expected}, record says ${b.actual} (minor units)`,
      );
    for (const c of ledger.clones)
      lines.push(
        `  clone at #${c.cardCounter}: batches ${c.firstBatchId} and ${c.cloneBatchId} (${c.detectedAt})`,
      );
    process.stdout.write(`${lines.join("\n")}\n`);
  });

program
  .command("hotlist")
  .description(
    "the current hotlist: version, wallets blocked at every issuer, and per issuer CA its revoked card\n" +
      "serials and blocked wallets (blockedWallets and revokedSerials: all of them, flat, as /v1/hotlist)",
  )
  .option("--json", "print JSON")
  .addOption(dbOption())
  .action(async (o: { json?: boolean; db: string }) => {
    const state = await withStore(o.db, (s) => s.hotlistState());
    const view = {
      version: state.version,
      issuedAt: new Date(state.issuedAt * 1000).toISOString(),
      blockedWallets: state.blockedWallets,
      revokedSerials: state.revokedSerials,
      everyIssuer: { blockedWallets: state.everyIssuer },
      issuers: state.issuers,
    };
    if (o.json) return printJson(view);
    const lines = [
      `hotlist version ${view.version} (issued ${view.issuedAt})`,
      `  blocked wallets at every issuer: ${state.everyIssuer.join(", ") || "none"}`,
      ...state.issuers.flatMap((e) => [
        `  issuer ${e.issuer}`,
        `    revoked card serials: ${e.revokedSerials.join(", ") || "none"}`,
        `    blocked wallets: ${e.blockedWallets.join(", ") || "none"}`,
      ]),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  });

registerPlatformCommands(program, { dbOption, withStore, printJson, operatorOption, actor: cliActor });
registerAuditCommand(program, { dbOption, withStore, printJson });

async function main(): Promise<void> {
  // A closed stdout (`… | head -1`) is a normal end; `serve` keeps serving without it.
  const serving = process.argv.slice(2).includes("serve");
  endOnClosedStdout(() => {
    if (!serving) process.exit(EXIT.OK);
  });
  try {
    await program.parseAsync();
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
    const code = isTapwalletError(e) ? e.code : "ACQ_ERR_INTERNAL";
    const message = isTapwalletError(e) ? e.message : e instanceof Error ? e.message : String(e);
    process.stderr.write(`acquirer-stub: ${message} [${code}]\n`);
    process.exit(USAGE_CODES.has(code) ? EXIT.USAGE : EXIT.ERROR);
  }
}

await main();
