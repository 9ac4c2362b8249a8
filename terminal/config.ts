/**
 * posd configuration: one JSON file in the data directory (or --config), every setting also from
 * the environment (TAPWALLET_*), validated with a schema so a wrong value is one clear line.
 *
 * Data directory: --data-dir, else $TAPWALLET_HOME, else ~/.tapwallet. Relative paths in the file
 * are relative to the file's own directory.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { currencyByCode, parseAmount } from "../protocol/amount.js";
import { isTapwalletError } from "../protocol/errors.js";
import { TerminalError } from "./errors.js";

export const CONFIG_FILE_NAME = "posd.json";

const positiveInt = z.number().int().positive();
const ID = /^[A-Za-z0-9._-]{1,16}$/;

export const ConfigSchema = z
  .object({
    version: z.literal(1),
    terminalId: z.string().regex(ID, "1-16 characters of [A-Za-z0-9._-]"),
    currency: z.string().length(3),
    database: z.string().min(1).default("records.sqlite"),
    terminal: z
      .object({
        keyFile: z.string().min(1),
        certificateFile: z.string().min(1),
        /** CA certificates sent to the card after the terminal certificate (the acquirer CA). */
        chainFiles: z.array(z.string().min(1)).default([]),
        /** File holding the key passphrase; $TAPWALLET_KEY_PASSPHRASE wins over it. */
        passphraseFile: z.string().min(1).optional(),
      })
      .strict(),
    trust: z
      .object({
        rootFiles: z.array(z.string().min(1)).min(1),
        /** Issuer CAs whose wallets this terminal accepts. */
        issuerFiles: z.array(z.string().min(1)).min(1),
        crlFiles: z.array(z.string().min(1)).default([]),
      })
      .strict(),
    acquirer: z
      .object({
        url: z.string().url().optional(),
        timeoutMs: positiveInt.default(10_000),
        retries: z.number().int().min(0).max(20).default(5),
        batchMaxRecords: positiveInt.max(20_000).default(2_000),
      })
      .strict()
      .default({ timeoutMs: 10_000, retries: 5, batchMaxRecords: 2_000 }),
    limits: z
      .object({
        /** Most value stored but not yet uploaded, as a decimal amount in `currency` ("500.00"). */
        maxOfflineAmount: z.string().optional(),
        /** Most records stored but not yet uploaded. */
        maxOfflineRecords: positiveInt.optional(),
        /** Longest time since the last successful upload, in hours. */
        maxOfflineHours: z.number().positive().optional(),
        /**
         * The value limit in other currencies, by ISO 4217 code ({"USD": "300.00"}). Once any amount
         * limit is set, a currency without one is refused (TERM_ERR_CURRENCY_NOT_ACCEPTED).
         */
        maxOfflineAmounts: z
          .record(z.string().regex(/^[A-Za-z]{3}$/, "an ISO 4217 code"), z.string())
          .default({}),
      })
      .strict()
      .default({ maxOfflineAmounts: {} }),
    hotlist: z
      .object({
        /**
         * Oldest hotlist (by its signed issue time) the terminal pays above the floor with. Past it,
         * or before the first `posd sync`, a payment above the floor is TERM_ERR_HOTLIST_STALE.
         */
        maxAgeHours: z.number().positive().default(24),
        /** Per currency ({"EUR": "50.00"}): what may still be paid without a fresh hotlist (absent: 0). */
        floorAmounts: z.record(z.string().regex(/^[A-Za-z]{3}$/, "an ISO 4217 code"), z.string()).default({}),
      })
      .strict()
      .default({ maxAgeHours: 24, floorAmounts: {} }),
    reader: z
      .object({
        /** Reader name: exact, or a unique substring ("ACR122"). */
        name: z.string().min(1).optional(),
        apduTimeoutMs: positiveInt.default(2_000),
        /** How long a payment waits for a card. */
        cardWaitMs: positiveInt.default(30_000),
        /**
         * A card pays once per presentation: it must leave the field and come back before it pays
         * again, so a phone left on the reader is never charged by the next sale. false lets a card
         * that stays in the field pay again (unattended set-ups, soak tests).
         */
        newTapPerPayment: z.boolean().default(true),
      })
      .strict()
      .default({ apduTimeoutMs: 2_000, cardWaitMs: 30_000, newTapPerPayment: true }),
    ecr: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(8765),
        /**
         * Host names (besides the bound address, localhost and the loopback addresses) a request's
         * Host header may carry: anything else is refused, so DNS rebinding cannot reach the API.
         */
        allowedHosts: z.array(z.string().min(1)).default([]),
        /** When set, every request needs `Authorization: Bearer <token>` ($TAPWALLET_ECR_TOKEN). */
        token: z.string().min(16, "at least 16 characters").optional(),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 8765, allowedHosts: [] }),
    schedule: z
      .object({
        uploadIntervalSec: z.number().int().min(0).default(900),
        syncIntervalSec: z.number().int().min(0).default(900),
      })
      .strict()
      .default({ uploadIntervalSec: 900, syncIntervalSec: 900 }),
  })
  .strict();

export type ConfigFile = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema> & {
  /** Absolute data directory. */
  readonly dataDir: string;
  /** Absolute path of the config file. */
  readonly configPath: string;
  /** maxOfflineAmount in minor units, parsed. */
  readonly maxOfflineAmountMinor: number | undefined;
  /** limits.maxOfflineAmounts parsed: ISO numeric → minor units. */
  readonly maxOfflineAmountsMinor: ReadonlyMap<number, number>;
  /** hotlist.floorAmounts parsed: ISO numeric → minor units. */
  readonly hotlistFloorsMinor: ReadonlyMap<number, number>;
};

/** Environment variables and where they go. Lists are comma-separated. */
const ENV: readonly { name: string; path: string[]; type: "string" | "int" | "number" | "list" }[] = [
  { name: "TAPWALLET_TERMINAL_ID", path: ["terminalId"], type: "string" },
  { name: "TAPWALLET_CURRENCY", path: ["currency"], type: "string" },
  { name: "TAPWALLET_DATABASE", path: ["database"], type: "string" },
  { name: "TAPWALLET_KEY_FILE", path: ["terminal", "keyFile"], type: "string" },
  { name: "TAPWALLET_CERTIFICATE_FILE", path: ["terminal", "certificateFile"], type: "string" },
  { name: "TAPWALLET_CHAIN_FILES", path: ["terminal", "chainFiles"], type: "list" },
  { name: "TAPWALLET_PASSPHRASE_FILE", path: ["terminal", "passphraseFile"], type: "string" },
  { name: "TAPWALLET_ROOT_FILES", path: ["trust", "rootFiles"], type: "list" },
  { name: "TAPWALLET_ISSUER_FILES", path: ["trust", "issuerFiles"], type: "list" },
  { name: "TAPWALLET_CRL_FILES", path: ["trust", "crlFiles"], type: "list" },
  { name: "TAPWALLET_ACQUIRER_URL", path: ["acquirer", "url"], type: "string" },
  { name: "TAPWALLET_ACQUIRER_TIMEOUT_MS", path: ["acquirer", "timeoutMs"], type: "int" },
  { name: "TAPWALLET_ACQUIRER_RETRIES", path: ["acquirer", "retries"], type: "int" },
  { name: "TAPWALLET_BATCH_MAX_RECORDS", path: ["acquirer", "batchMaxRecords"], type: "int" },
  { name: "TAPWALLET_MAX_OFFLINE_AMOUNT", path: ["limits", "maxOfflineAmount"], type: "string" },
  { name: "TAPWALLET_MAX_OFFLINE_RECORDS", path: ["limits", "maxOfflineRecords"], type: "int" },
  { name: "TAPWALLET_MAX_OFFLINE_HOURS", path: ["limits", "maxOfflineHours"], type: "number" },
  { name: "TAPWALLET_READER", path: ["reader", "name"], type: "string" },
  { name: "TAPWALLET_APDU_TIMEOUT_MS", path: ["reader", "apduTimeoutMs"], type: "int" },
  { name: "TAPWALLET_CARD_WAIT_MS", path: ["reader", "cardWaitMs"], type: "int" },
  { name: "TAPWALLET_ECR_HOST", path: ["ecr", "host"], type: "string" },
  { name: "TAPWALLET_ECR_PORT", path: ["ecr", "port"], type: "int" },
  { name: "TAPWALLET_ECR_ALLOWED_HOSTS", path: ["ecr", "allowedHosts"], type: "list" },
  { name: "TAPWALLET_ECR_TOKEN", path: ["ecr", "token"], type: "string" },
  { name: "TAPWALLET_HOTLIST_MAX_AGE_HOURS", path: ["hotlist", "maxAgeHours"], type: "number" },
  { name: "TAPWALLET_UPLOAD_INTERVAL_SEC", path: ["schedule", "uploadIntervalSec"], type: "int" },
  { name: "TAPWALLET_SYNC_INTERVAL_SEC", path: ["schedule", "syncIntervalSec"], type: "int" },
];

export const ENV_VARIABLES = [...ENV.map((e) => e.name), "TAPWALLET_HOME", "TAPWALLET_KEY_PASSPHRASE"];

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.TAPWALLET_HOME ?? join(homedir(), ".tapwallet"));
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const e of ENV) {
    const text = env[e.name];
    if (text === undefined || text === "") continue;
    let value: unknown = text;
    if (e.type === "int" || e.type === "number") {
      const ok = e.type === "int" ? /^-?\d+$/.test(text) : /^\d+(\.\d+)?$/.test(text);
      if (!ok)
        throw new TerminalError(
          "TERM_ERR_CONFIG",
          `${e.name}=${text} is not a ${e.type === "int" ? "whole " : ""}number`,
        );
      value = Number(text);
    } else if (e.type === "list") {
      value = text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    }
    let target = raw;
    for (const key of e.path.slice(0, -1)) {
      if (typeof target[key] !== "object" || target[key] === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    target[e.path[e.path.length - 1]!] = value;
  }
}

export interface LoadConfigOptions {
  dataDir?: string;
  configPath?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const dataDir = resolveDataDir(options.dataDir, env);
  const configPath = resolve(options.configPath ?? join(dataDir, CONFIG_FILE_NAME));
  let text: string;
  try {
    text = readFileSync(configPath, "utf8");
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      `no configuration at ${configPath} (run \`posd init\` to create one, or pass --config)`,
      { cause },
    );
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("not a JSON object");
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      `${configPath} is not valid JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  applyEnv(raw, env);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join(".") || "(top level)";
    throw new TerminalError("TERM_ERR_CONFIG", `${configPath}: ${where}: ${issue.message}`, {
      details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
    });
  }
  const c = parsed.data;
  const base = dirname(configPath);
  const abs = (p: string) => (isAbsolute(p) ? p : join(base, p));
  let maxOfflineAmountMinor: number | undefined;
  const maxOfflineAmountsMinor = new Map<number, number>();
  const hotlistFloorsMinor = new Map<number, number>();
  try {
    const own = currencyByCode(c.currency);
    if (c.limits.maxOfflineAmount !== undefined)
      maxOfflineAmountMinor = parseAmount(c.limits.maxOfflineAmount, c.currency);
    for (const [code, amount] of Object.entries(c.limits.maxOfflineAmounts)) {
      const currency = currencyByCode(code);
      if (currency.numeric === own.numeric && maxOfflineAmountMinor !== undefined)
        throw new TerminalError(
          "TERM_ERR_CONFIG",
          `limits: the ${c.currency} limit is given twice (maxOfflineAmount and maxOfflineAmounts.${code})`,
        );
      maxOfflineAmountsMinor.set(currency.numeric, parseAmount(amount, code));
    }
    for (const [code, amount] of Object.entries(c.hotlist.floorAmounts))
      hotlistFloorsMinor.set(currencyByCode(code).numeric, parseAmount(amount, code));
  } catch (e) {
    throw new TerminalError(
      "TERM_ERR_CONFIG",
      `${configPath}: ${isTapwalletError(e) ? e.message : String(e)}`,
      {
        cause: e,
      },
    );
  }
  return {
    ...c,
    database: abs(c.database),
    terminal: {
      ...c.terminal,
      keyFile: abs(c.terminal.keyFile),
      certificateFile: abs(c.terminal.certificateFile),
      chainFiles: c.terminal.chainFiles.map(abs),
      ...(c.terminal.passphraseFile ? { passphraseFile: abs(c.terminal.passphraseFile) } : {}),
    },
    trust: {
      rootFiles: c.trust.rootFiles.map(abs),
      issuerFiles: c.trust.issuerFiles.map(abs),
      crlFiles: c.trust.crlFiles.map(abs),
    },
    dataDir,
    configPath,
    maxOfflineAmountMinor,
    maxOfflineAmountsMinor,
    hotlistFloorsMinor,
  };
}

/**
 * Where the key passphrase sits when it is a file next to the key or in the data directory (what
 * `posd init` writes for a test terminal): whoever copies the data directory has the key. Undefined
 * when it comes from $TAPWALLET_KEY_PASSPHRASE or from a file elsewhere (a systemd credential).
 */
export function passphraseBesideKey(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (env.TAPWALLET_KEY_PASSPHRASE) return undefined;
  const file = config.terminal.passphraseFile;
  if (file === undefined) return undefined;
  const inside = (dir: string) => {
    const rel = relative(dir, file);
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  };
  return inside(dirname(config.terminal.keyFile)) || inside(config.dataDir) ? file : undefined;
}

/** The warning `posd status` and `posd run` give for a passphrase stored beside the key. */
export function passphraseWarning(config: Config, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = passphraseBesideKey(config, env);
  return file === undefined
    ? undefined
    : `the key passphrase is stored next to the key (${file}): fine for a test terminal; in production give it ` +
        "as a systemd credential or $TAPWALLET_KEY_PASSPHRASE (README, Real reader)";
}
