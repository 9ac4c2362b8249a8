#!/usr/bin/env node
/**
 * card-emulator: personalize a software wallet, serve it as a virtual card to a real pcscd through
 * vpcd, and show its state. Exit codes: 0 ok, 1 error (state file, key, vpcd), 2 usage.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { type Currency, currencyByCode, currencyByNumeric, parseAmount } from "../protocol/amount.js";
import { fromHex } from "../protocol/bytes.js";
import { endOnClosedStdout } from "../protocol/closed-stdout.js";
import { decryptPrivateKeyPem } from "../protocol/crypto.js";
import { isTapwalletError } from "../protocol/errors.js";
import { createLogger, type Logger } from "../protocol/logger.js";
import { certificateFromPem } from "../protocol/pki.js";
import { parseVpcdAddress } from "./adapters/vpcd.js";
import { DEFAULT_CARD_PASSPHRASE } from "./applet/applet.js";
import { DEFAULT_CRYPTO } from "./applet/card-crypto.js";
import { FileCardStateStore } from "./applet/state.js";
import { CardError } from "./errors.js";
import { CERTIFICATE_FAULTS, type CertificateFault, type Faults, type SignatureFault } from "./faults.js";
import { money, stateJson, stateText } from "./output.js";
import { personalize } from "./personalize.js";
import { CardServer } from "./serve.js";

const EXIT = { OK: 0, ERROR: 1, USAGE: 2 } as const;

function usage(message: string): CardError {
  return new CardError("CARD_ERR_USAGE", message);
}

function fail(e: unknown): never {
  const code = isTapwalletError(e) ? e.code : "CARD_ERR_STATE";
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`card-emulator: ${message} [${code}]\n`);
  const isUsage =
    code === "CARD_ERR_USAGE" || code.startsWith("PROTO_ERR_AMOUNT") || code === "PROTO_ERR_CURRENCY";
  process.exit(isUsage ? EXIT.USAGE : EXIT.ERROR);
}

function logger(verbose: boolean | undefined): Logger {
  return createLogger({
    name: "card-emulator",
    level: process.env.TAPWALLET_LOG_LEVEL ?? (verbose ? "debug" : "info"),
  });
}

function currencyOf(text: string): Currency {
  return /^\d{1,3}$/.test(text) ? currencyByNumeric(Number(text)) : currencyByCode(text);
}

/** "2026-01-01", "2026-01-01T12:00:00Z" or unix seconds → unix seconds. */
function unixTime(text: string, what: string): number {
  if (/^\d{1,10}$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.test(text)) {
    const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
    if (Number.isFinite(ms) && ms >= 0) return Math.floor(ms / 1000);
  }
  throw usage(`${what} must be a date (2026-01-01, 2026-01-01T12:00:00Z) or unix seconds, got "${text}"`);
}

function list(text: string, pattern: RegExp, what: string): string[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const item of items) if (!pattern.test(item)) throw usage(`${what}: "${item}" is not valid`);
  return items;
}

function nonNegativeInt(text: string): number {
  if (!/^\d{1,7}$/.test(text)) throw new InvalidArgumentError("expected a whole number of milliseconds");
  return Number(text);
}

const program = new Command()
  .name("card-emulator")
  .description(
    "tapwallet's software wallet (a test and development tool): personalize a card into a state file, " +
      "serve it as a virtual card in a vpcd reader of a real pcscd, show its state.\n\n" +
      "The card key in the state file is encrypted with $TAPWALLET_CARD_PASSPHRASE " +
      `(default "${DEFAULT_CARD_PASSPHRASE}"). Exit codes: 0 ok, 1 error (state file, key, vpcd), 2 usage.`,
  )
  .version("0.1.0")
  .configureOutput({
    // One line per usage error, like every other error of this CLI.
    outputError: (text, write) =>
      write(`card-emulator: ${text.replace(/^error: /, "").trim()} (see --help) [CARD_ERR_USAGE]\n`),
  })
  .exitOverride();

program
  .command("personalize")
  .description(
    "make a new card: key pair, card certificate from the issuer CA (default: the test PKI's " +
      "fixtures/pki/issuer-ca), limits and policy, written to the state file (mode 0600)",
  )
  .requiredOption("--state <file>", "state file to write")
  .requiredOption("--wallet-id <id>", "wallet id, 1-16 of [A-Za-z0-9._-]")
  .requiredOption("--balance <amount>", "opening balance, decimal in the currency (50.00)")
  .requiredOption("--currency <code>", "ISO 4217 code or number (EUR, 978)")
  .option("--single-limit <amount>", "largest single debit (default: the balance limit)")
  .option("--balance-limit <amount>", "largest balance a load may reach (default max(1000.00, balance))")
  .option("--auto-load-threshold <amount>", "auto-load when the balance falls below this (default 0)")
  .option("--auto-load-amount <amount>", "auto-load amount (default 0)")
  .option("--valid-from <date>", "debits allowed from (date or unix seconds; also the certificate's start)")
  .option("--valid-to <date>", "debits allowed until (also the certificate's end; default 3 years)")
  .option("--regions <list>", "allowed terminal regions, comma-separated ISO 3166 (TW,JP-13); default any")
  .option("--categories <list>", "allowed merchant category codes, comma-separated (5411,5812); default any")
  .option("--ca-cert <pem>", "issuer CA certificate (PEM) instead of the test PKI's")
  .option("--ca-key <pem>", "issuer CA private key (encrypted PKCS#8 PEM)")
  .option("--root-cert <pem>", "root CA certificate (PEM) the issuer chains to (needed with --ca-cert)")
  .option("--force", "overwrite an existing state file")
  .option("--json", "print the new card as JSON")
  .action(async (o) => {
    const currency = currencyOf(o.currency);
    const amount = (text: string | undefined) =>
      text === undefined ? undefined : parseAmount(text, currency);
    let issuer: { certificate: Uint8Array; privateKey: ReturnType<typeof decryptPrivateKeyPem> } | undefined;
    let root: Uint8Array | undefined;
    if (o.caCert || o.caKey || o.rootCert) {
      if (!o.caCert || !o.caKey || !o.rootCert)
        throw usage("--ca-cert, --ca-key and --root-cert go together");
      const read = (path: string) => {
        try {
          return readFileSync(path, "utf8");
        } catch (cause) {
          throw new CardError("CARD_ERR_PERSONALIZE", `cannot read ${path}`, { cause });
        }
      };
      const passphrase = process.env.TAPWALLET_CA_PASSPHRASE ?? DEFAULT_CARD_PASSPHRASE;
      try {
        issuer = {
          certificate: certificateFromPem(read(o.caCert)).der,
          privateKey: decryptPrivateKeyPem(read(o.caKey), passphrase),
        };
        root = certificateFromPem(read(o.rootCert)).der;
      } catch (cause) {
        if (cause instanceof CardError) throw cause;
        throw new CardError("CARD_ERR_PERSONALIZE", `issuer CA files unusable: ${(cause as Error).message}`, {
          cause,
        });
      }
    }
    const limits = {
      ...(o.singleLimit !== undefined ? { singleLimit: amount(o.singleLimit) } : {}),
      ...(o.balanceLimit !== undefined ? { balanceLimit: amount(o.balanceLimit) } : {}),
      ...(o.autoLoadThreshold !== undefined ? { autoLoadThreshold: amount(o.autoLoadThreshold) } : {}),
      ...(o.autoLoadAmount !== undefined ? { autoLoadAmount: amount(o.autoLoadAmount) } : {}),
    };
    const state = await personalize({
      walletId: o.walletId,
      currency: currency.numeric,
      balance: parseAmount(o.balance, currency),
      limits,
      policy: {
        ...(o.validFrom !== undefined ? { validFrom: unixTime(o.validFrom, "--valid-from") } : {}),
        ...(o.validTo !== undefined ? { validTo: unixTime(o.validTo, "--valid-to") } : {}),
        regions: o.regions ? list(o.regions, /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/, "--regions") : [],
        categories: o.categories ? list(o.categories, /^\d{4}$/, "--categories") : [],
      },
      ...(issuer && root ? { issuer, root } : {}),
    });
    FileCardStateStore.create(o.state, state, { overwrite: o.force === true });
    if (o.json) console.log(JSON.stringify(stateJson(state, 0), null, 2));
    else console.log(`personalized ${state.walletId}: ${money(state.balance, state.currency)} → ${o.state}`);
  });

program
  .command("serve")
  .description(
    "insert the card into a vpcd reader of a real pcscd and answer its APDUs; reconnects when vpcd goes " +
      "away. SIGUSR1 takes the card out of the field, SIGUSR2 puts it back; --control adds a loopback " +
      "line protocol (remove | insert | status). Stops on SIGINT / SIGTERM.",
  )
  .requiredOption("--state <file>", "state file (card-emulator personalize)")
  .option("--vpcd <host:port>", "vpcd's card-side address (Virtual PCD 00 00 is :35963)", "127.0.0.1:35963")
  .option("--atr <hex>", "ATR to present (default 3B80800101, an HCE phone on an ACR122U)")
  .addOption(
    new Option("--crypto <impl>", "card signatures and ECDH")
      .choices(["node", "noble"])
      .default(DEFAULT_CRYPTO),
  )
  .option("--control <port>", "loopback TCP control port (remove / insert / status lines)")
  .option("--tear-after-debit", "fault: commit each DEBIT, then drop the connection instead of answering")
  .option(
    "--tear-after-load",
    "fault: commit each issuer command (LOAD, LOAD REVERSAL, …), then drop the connection instead of answering",
  )
  .option("--delay-ms <ms>", "fault: answer every APDU this many milliseconds late", nonNegativeInt)
  .addOption(
    new Option("--corrupt-signature [which]", "fault: send signatures that do not verify")
      .choices(["record", "auth", "all"])
      .preset("record"),
  )
  .addOption(
    new Option(
      "--certificate <fault>",
      "fault: present the test PKI's cards/rogue, cards/expired or cards/revoked",
    ).choices(CERTIFICATE_FAULTS),
  )
  .option("--replay-debit", "fault: answer DEBIT with the previous debit record, committing nothing")
  .option("--silent-after-initiate", "fault: never answer from INITIATE AUTHENTICATE on (until removed)")
  .option("-v, --verbose", "debug logs on stderr")
  .action(async (o) => {
    const vpcd = parseVpcdAddress(o.vpcd);
    let atr: Uint8Array | undefined;
    if (o.atr !== undefined) {
      try {
        atr = fromHex(o.atr);
      } catch {
        throw usage(`--atr must be hex bytes, got "${o.atr}"`);
      }
      if (atr.length < 2 || atr.length > 33) throw usage("--atr must be 2..33 bytes");
    }
    let controlPort: number | undefined;
    if (o.control !== undefined) {
      if (!/^\d{1,5}$/.test(o.control) || Number(o.control) > 65535)
        throw usage(`--control must be a TCP port, got "${o.control}"`);
      controlPort = Number(o.control);
    }
    const faults: Faults = {
      ...(o.tearAfterDebit ? { tearAfterDebitCommit: true } : {}),
      ...(o.tearAfterLoad ? { tearAfterOnlineCommit: true } : {}),
      ...(o.delayMs ? { delayMs: o.delayMs } : {}),
      ...(o.corruptSignature ? { corruptSignature: o.corruptSignature as SignatureFault } : {}),
      ...(o.certificate ? { certificate: o.certificate as CertificateFault } : {}),
      ...(o.replayDebit ? { replayDebitAnswer: true } : {}),
      ...(o.silentAfterInitiate ? { silentAfterInitiate: true } : {}),
    };
    const log = logger(o.verbose);
    const server = await CardServer.start({
      statePath: o.state,
      vpcd,
      crypto: o.crypto,
      faults,
      logger: log,
      ...(atr ? { atr } : {}),
      ...(controlPort !== undefined ? { controlPort } : {}),
    });
    server.link.on("connected", () => log.info({ vpcd: o.vpcd }, "card in the field (vpcd connected)"));
    process.on("SIGUSR1", () => void server.remove());
    process.on("SIGUSR2", () => server.insert());
    const stop = () => {
      void server.stop().then(() => process.exit(EXIT.OK));
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    const s = server.status();
    const active = Object.keys(faults);
    console.log(
      `serving ${s.walletId} (${money(s.balance, s.currency)}, counter ${s.counter}, crypto ${o.crypto}) on vpcd ${vpcd.host}:${vpcd.port}` +
        (server.controlPort !== undefined ? `, control 127.0.0.1:${server.controlPort}` : "") +
        (active.length ? `, faults ${active.join(",")}` : "") +
        `, pid ${process.pid}`,
    );
  });

program
  .command("show")
  .description("print the card: balance (minor units), counter, limits, policy, blocked, last log entries")
  .requiredOption("--state <file>", "state file")
  .option("--json", "one JSON object instead of the table")
  .option("--last <n>", "how many log entries to show", "5")
  .action((o) => {
    if (!/^\d{1,2}$/.test(o.last)) throw usage(`--last must be 0..99, got "${o.last}"`);
    const state = new FileCardStateStore(o.state).load();
    if (o.json) console.log(JSON.stringify(stateJson(state, Number(o.last)), null, 2));
    else console.log(stateText(state, Number(o.last)));
  });

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
    fail(e);
  }
}

await main();
