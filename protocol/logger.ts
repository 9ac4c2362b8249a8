/**
 * The one logger factory for all three programs: pino, JSON lines on stderr, or pretty lines when
 * stderr is a terminal. stdout stays free for command output. Secrets are redacted by path, and the
 * code never passes keys, passphrases or session keys to a log call in the first place.
 */
import { type Logger, type LoggerOptions, pino } from "pino";
import pretty from "pino-pretty";

export type { Logger } from "pino";

export const REDACT_PATHS = [
  "privateKey",
  "*.privateKey",
  "passphrase",
  "*.passphrase",
  "sessionKeys",
  "*.sessionKeys",
  "keys",
  "*.keys",
  "secret",
  "*.secret",
  "headers.authorization",
  "req.headers.authorization",
];

export interface LoggerConfig {
  name: string;
  /** trace | debug | info | warn | error | fatal | silent; default from TAPWALLET_LOG_LEVEL, else info. */
  level?: string;
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a TTY. */
  pretty?: boolean;
  /** Write here instead of stderr (tests). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level ?? process.env.TAPWALLET_LOG_LEVEL ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
  };
  const wantPretty = config.pretty ?? (config.destination === undefined && process.stderr.isTTY === true);
  if (wantPretty) {
    return pino(
      options,
      pretty({
        sync: true,
        destination: 2,
        colorize: true,
        ignore: "pid,hostname",
        translateTime: "HH:MM:ss.l",
      }),
    );
  }
  if (config.destination) return pino(options, config.destination);
  return pino(options, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (library defaults and tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
