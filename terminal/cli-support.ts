/**
 * What every posd command shares: the global options, the logger, opening the terminal for one
 * command, the acquirer URL, and the one way a command fails (a line with the code, or JSON, and
 * the code's exit status). cli.ts and the command files (cli-load.ts) build on it.
 */
import type { Command } from "commander";
import { isTapwalletError } from "../protocol/errors.js";
import { createLogger, type Logger } from "../protocol/logger.js";
import { openTerminal, type TerminalContext } from "./composition/root.js";
import { loadConfig } from "./config.js";
import { asTerminalError, exitCodeForError, TerminalError } from "./errors.js";
import { printJson } from "./output.js";

export interface GlobalOptions {
  dataDir?: string;
  config?: string;
  json?: boolean;
  verbose?: boolean;
}

let jsonOutput = false;

/**
 * Set once a command may use PC/SC: ends the process also when a transmit to a mute card still holds
 * a threadpool thread (then process.exit() would hang forever; see adapters/pcsc/process-exit.ts).
 */
let hardExit: ((code: number) => never) | undefined;

export function setHardExit(fn: (code: number) => never): void {
  hardExit = fn;
}

export function exit(code: number): never {
  if (hardExit) hardExit(code);
  process.exit(code);
}

export function logger(opts: GlobalOptions, defaultLevel = "warn"): Logger {
  return createLogger({
    name: "posd",
    level: process.env.TAPWALLET_LOG_LEVEL ?? (opts.verbose ? "debug" : defaultLevel),
  });
}

export function fail(e: unknown): never {
  const err = isTapwalletError(e) ? e : asTerminalError(e);
  if (jsonOutput) printJson({ status: "error", code: err.code, message: err.message });
  else process.stderr.write(`posd: ${err.message} [${err.code}]\n`);
  exit(exitCodeForError(err));
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as GlobalOptions;
  jsonOutput = o.json === true;
  return o;
}

export function withTerminal<T>(
  opts: GlobalOptions,
  log: Logger,
  fn: (ctx: TerminalContext) => Promise<T> | T,
): Promise<T> {
  const config = loadConfig({
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.config ? { configPath: opts.config } : {}),
  });
  const ctx = openTerminal(config, log);
  return Promise.resolve()
    .then(() => fn(ctx))
    .finally(() => ctx.close());
}

export function acquirerUrl(ctx: TerminalContext, flag: string | undefined): string {
  const url = flag ?? ctx.config.acquirer.url;
  if (!url) {
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      "no acquirer URL: pass --acquirer URL, set acquirer.url in posd.json or TAPWALLET_ACQUIRER_URL",
    );
  }
  return url;
}
