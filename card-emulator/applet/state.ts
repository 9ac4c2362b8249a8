/**
 * The card's persistent state: a plain JSON-able object, its invariants, and the stores that keep
 * it. The applet computes every change on a copy and commits it through a store *before* it
 * answers; a store commit is atomic and durable (FileCardStateStore: temp file, fsync, rename,
 * fsync of the directory), so a crash leaves either the old or the new state, never a mix.
 *
 * The private key is an encrypted PKCS#8 PEM (passphrase TAPWALLET_CARD_PASSPHRASE, default
 * `tapwallet-test-only`: the emulator is a test and development tool). Nothing here ever logs it.
 */
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { MAX_AMOUNT_MINOR } from "../../protocol/amount.js";
import { ID_PATTERN, RECORD_TYPE, type RecordType } from "../../protocol/wallet/constants.js";
import { CardError } from "../errors.js";

/** The card keeps at least (and at most) its last 32 log entries, for torn-transaction recovery. */
export const MAX_LOG_ENTRIES = 32;
/** Loads are also kept in a separate load log (like an EMV purse's load log) for LOAD REVERSAL. */
export const MAX_LOAD_LOG_ENTRIES = 8;
/** Acquirer CAs the card has verified and caches (their ids go in the FCI, DF06). */
export const MAX_CACHED_CAS = 4;
export const MAX_COUNTER = 0xffff_ffff;
export const MAX_TIME = 0xffff_ffff;

export interface CardLogEntry {
  type: RecordType;
  /** Card counter after this change (the record's counter). */
  counter: number;
  /** Minor units: the debit, load or reversal amount; 0 for parameters, block and unblock. */
  amount: number;
  /** Empty for online commands outside a terminal session. */
  terminalId: string;
  /** 0 for online commands. */
  terminalSeq: number;
  /** Load id (hex, 8 bytes) of a LOAD or LOAD REVERSAL. */
  loadId?: string;
  /** A LOAD that a LOAD REVERSAL undid. */
  reversed?: boolean;
  /** The signed record bytes (hex). */
  record: string;
  /** The card's signature over it (hex, 64 bytes). */
  signature: string;
}

export interface CardLimits {
  /** Largest single debit, minor units. */
  singleLimit: number;
  /** Largest balance a LOAD may reach, minor units. */
  balanceLimit: number;
  autoLoadThreshold: number;
  autoLoadAmount: number;
}

export interface CardPolicy {
  /** Unix seconds: the wallet debits only when the terminal's signed time is in [validFrom, validTo]. */
  validFrom?: number;
  validTo?: number;
  /** ISO 3166 regions ("TW", or "TW-TPE") the terminal certificate's region must match; empty = any. */
  regions: string[];
  /** ISO 18245 merchant category codes ("5411"); empty = any. */
  categories: string[];
}

export interface CardState {
  version: 1;
  walletId: string;
  /** ISO 4217 numeric. */
  currency: number;
  /** Minor units. */
  balance: number;
  /** Strictly increases with every change of value or status; never goes back. */
  counter: number;
  limits: CardLimits;
  policy: CardPolicy;
  blocked: boolean;
  blockReason?: number;
  /** Encrypted PKCS#8 PEM. */
  privateKey: string;
  /** Card certificate, issuer CA certificate, root CA certificate: base64 DER. */
  certificate: string;
  issuerCertificate: string;
  rootCertificate: string;
  /** Verified acquirer CA certificates (base64 DER), at most 4, oldest first. */
  cachedCas: string[];
  /**
   * The time high-water mark (unix s): the latest terminal-certificate notBefore of an authenticated
   * session that changed the card. A terminal certificate that expired before it is refused (930B).
   */
  highWaterTime: number;
  /** The last entries, oldest first; at most 32 (the oldest is dropped). */
  log: CardLogEntry[];
  /** The last loads (oldest first, at most 8), kept apart so that debits never push a load out. */
  loadLog?: CardLogEntry[];
}

export interface CardStateStore {
  load(): CardState;
  /** Atomic and durable: when it returns, the new state survives a crash; when it throws, nothing changed. */
  commit(next: CardState): void;
}

// ---------------------------------------------------------------------------------------------
// Invariants

function stateError(message: string, details?: Record<string, unknown>): CardError {
  return new CardError("CARD_ERR_STATE", message, details ? { details } : undefined);
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function intIn(v: unknown, min: number, max: number): v is number {
  return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
}

const HEX = /^(?:[0-9a-f]{2})*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const RECORD_TYPES = new Set<number>(Object.values(RECORD_TYPE));
const REGION = /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/;
const CATEGORY = /^\d{4}$/;

function checkLogEntry(e: unknown, where: string): CardLogEntry {
  if (!isObject(e)) throw stateError(`${where} is not an object`);
  if (!RECORD_TYPES.has(e.type as number)) throw stateError(`${where}.type is not a record type`);
  if (!intIn(e.counter, 1, MAX_COUNTER)) throw stateError(`${where}.counter is out of range`);
  if (!intIn(e.amount, 0, MAX_AMOUNT_MINOR)) throw stateError(`${where}.amount is out of range`);
  if (typeof e.terminalId !== "string" || (e.terminalId !== "" && !ID_PATTERN.test(e.terminalId)))
    throw stateError(`${where}.terminalId is malformed`);
  if (!intIn(e.terminalSeq, 0, MAX_COUNTER)) throw stateError(`${where}.terminalSeq is out of range`);
  if (e.loadId !== undefined && (typeof e.loadId !== "string" || !/^[0-9a-f]{16}$/.test(e.loadId)))
    throw stateError(`${where}.loadId is not 8 bytes of hex`);
  if (e.reversed !== undefined && typeof e.reversed !== "boolean")
    throw stateError(`${where}.reversed is not a boolean`);
  if (typeof e.record !== "string" || !HEX.test(e.record) || e.record.length === 0 || e.record.length > 188)
    throw stateError(`${where}.record is not record hex`);
  if (typeof e.signature !== "string" || !/^[0-9a-f]{128}$/.test(e.signature))
    throw stateError(`${where}.signature is not 64 bytes of hex`);
  return e as unknown as CardLogEntry;
}

function checkLog(v: unknown, where: string, max: number, counter: number): void {
  if (!Array.isArray(v) || v.length > max) throw stateError(`${where} is not a list of at most ${max}`);
  let previous = 0;
  v.forEach((e, i) => {
    const entry = checkLogEntry(e, `${where}[${i}]`);
    if (entry.counter <= previous) throw stateError(`${where} counters do not increase`);
    if (entry.counter > counter) throw stateError(`${where}[${i}] is newer than the card counter`);
    previous = entry.counter;
  });
}

function checkBase64(v: unknown, where: string): void {
  if (typeof v !== "string" || !BASE64.test(v)) throw stateError(`${where} is not base64 DER`);
}

/**
 * Check every invariant of a card state; returns it typed, or throws CARD_ERR_STATE naming the
 * first field that is wrong. It checks shape and ranges, not signatures or keys (the applet
 * parses the certificates and decrypts the key when it starts).
 */
export function validateState(value: unknown): CardState {
  if (!isObject(value)) throw stateError("card state is not a JSON object");
  const s = value;
  if (s.version !== 1) throw stateError(`unsupported card state version ${String(s.version)}`);
  if (typeof s.walletId !== "string" || !ID_PATTERN.test(s.walletId))
    throw stateError("walletId must be 1-16 characters of [A-Za-z0-9._-]");
  if (!intIn(s.currency, 1, 999)) throw stateError("currency must be an ISO 4217 numeric code");
  if (!intIn(s.balance, 0, MAX_AMOUNT_MINOR)) throw stateError("balance must be 0..999999999999 minor units");
  if (!intIn(s.counter, 0, MAX_COUNTER)) throw stateError("counter must be a 32-bit unsigned integer");
  const limits = s.limits;
  if (!isObject(limits)) throw stateError("limits is missing");
  for (const k of ["singleLimit", "balanceLimit", "autoLoadThreshold", "autoLoadAmount"])
    if (!intIn(limits[k], 0, MAX_AMOUNT_MINOR)) throw stateError(`limits.${k} must be 0..999999999999`);
  const policy = s.policy;
  if (!isObject(policy)) throw stateError("policy is missing");
  for (const k of ["validFrom", "validTo"])
    if (policy[k] !== undefined && !intIn(policy[k], 0, MAX_TIME))
      throw stateError(`policy.${k} must be unix seconds`);
  if (
    policy.validFrom !== undefined &&
    policy.validTo !== undefined &&
    (policy.validFrom as number) > (policy.validTo as number)
  )
    throw stateError("policy.validFrom is after policy.validTo");
  if (!Array.isArray(policy.regions) || !policy.regions.every((r) => typeof r === "string" && REGION.test(r)))
    throw stateError("policy.regions must be ISO 3166 codes (TW, TW-TPE)");
  if (
    !Array.isArray(policy.categories) ||
    !policy.categories.every((c) => typeof c === "string" && CATEGORY.test(c))
  )
    throw stateError("policy.categories must be 4-digit merchant category codes");
  if (typeof s.blocked !== "boolean") throw stateError("blocked must be a boolean");
  if (s.blockReason !== undefined && !intIn(s.blockReason, 0, 0xff))
    throw stateError("blockReason must be a byte");
  if (typeof s.privateKey !== "string" || !s.privateKey.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
    throw stateError("privateKey must be an encrypted PKCS#8 PEM");
  checkBase64(s.certificate, "certificate");
  checkBase64(s.issuerCertificate, "issuerCertificate");
  checkBase64(s.rootCertificate, "rootCertificate");
  if (!Array.isArray(s.cachedCas) || s.cachedCas.length > MAX_CACHED_CAS)
    throw stateError(`cachedCas must be a list of at most ${MAX_CACHED_CAS}`);
  for (const [i, c] of s.cachedCas.entries()) checkBase64(c, `cachedCas[${i}]`);
  if (!intIn(s.highWaterTime, 0, MAX_TIME)) throw stateError("highWaterTime must be unix seconds");
  checkLog(s.log, "log", MAX_LOG_ENTRIES, s.counter as number);
  if (s.loadLog !== undefined) {
    checkLog(s.loadLog, "loadLog", MAX_LOAD_LOG_ENTRIES, s.counter as number);
    if (!(s.loadLog as CardLogEntry[]).every((e) => e.type === RECORD_TYPE.LOAD && e.loadId !== undefined))
      throw stateError("loadLog holds only LOAD entries with a load id");
  }
  return s as unknown as CardState;
}

/** A deep copy to compute the next state on (the current one stays intact if the commit fails). */
export function cloneState(s: Readonly<CardState>): CardState {
  return structuredClone(s) as CardState;
}

/** Append a log entry, dropping the oldest beyond MAX_LOG_ENTRIES (loads also go to the load log). */
export function appendLog(s: CardState, entry: CardLogEntry): void {
  s.log.push(entry);
  if (s.log.length > MAX_LOG_ENTRIES) s.log.splice(0, s.log.length - MAX_LOG_ENTRIES);
  if (entry.type === RECORD_TYPE.LOAD) {
    if (!s.loadLog) s.loadLog = [];
    const loads = s.loadLog;
    loads.push({ ...entry });
    if (loads.length > MAX_LOAD_LOG_ENTRIES) loads.splice(0, loads.length - MAX_LOAD_LOG_ENTRIES);
  }
}

// ---------------------------------------------------------------------------------------------
// Stores

/** Keeps the state in memory (tests, benchmarks, a card that need not survive the process). */
export class MemoryCardStateStore implements CardStateStore {
  #state: CardState;
  /** Number of successful commits. */
  commits = 0;
  /** When set, the next commit throws it (tests of a failing store). */
  failNextCommit: Error | undefined;

  constructor(initial: CardState) {
    this.#state = cloneState(validateState(initial));
  }

  load(): CardState {
    return cloneState(this.#state);
  }

  commit(next: CardState): void {
    if (this.failNextCommit) {
      const e = this.failNextCommit;
      this.failNextCommit = undefined;
      throw e;
    }
    validateState(next);
    if (next.counter < this.#state.counter) throw stateError("refusing to move the card counter backwards");
    this.#state = cloneState(next);
    this.commits++;
  }
}

const TEMP_SUFFIX = ".tmp";

/**
 * The state as a JSON file, mode 0600. A commit writes a temp file next to it, fsyncs it, renames it
 * over the old one and fsyncs the directory: after a crash at any point the file is the old state or
 * the new one. Loading validates every invariant (CARD_ERR_STATE otherwise) and removes temp files
 * a crash left behind.
 */
export class FileCardStateStore implements CardStateStore {
  readonly path: string;
  #lastCounter = -1;

  constructor(path: string) {
    this.path = path;
  }

  load(): CardState {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      throw new CardError("CARD_ERR_STATE", `cannot read card state ${this.path} (${code ?? "error"})`, {
        cause,
        details: { path: this.path, errno: code },
      });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new CardError("CARD_ERR_STATE", `card state ${this.path} is not valid JSON`, {
        cause,
        details: { path: this.path },
      });
    }
    let state: CardState;
    try {
      state = validateState(value);
    } catch (e) {
      if (e instanceof CardError)
        throw new CardError("CARD_ERR_STATE", `card state ${this.path}: ${e.message}`, {
          cause: e,
          details: { path: this.path },
        });
      throw e;
    }
    this.#removeStaleTemps();
    this.#lastCounter = Math.max(this.#lastCounter, state.counter);
    return state;
  }

  commit(next: CardState): void {
    validateState(next);
    if (next.counter < this.#lastCounter) throw stateError("refusing to move the card counter backwards");
    const data = `${JSON.stringify(next, null, 2)}\n`;
    const temp = `${this.path}.${process.pid}${TEMP_SUFFIX}`;
    try {
      writeDurably(temp, data);
      renameSync(temp, this.path);
      fsyncDirectory(dirname(this.path));
    } catch (cause) {
      try {
        unlinkSync(temp);
      } catch {
        // already renamed or never created
      }
      throw new CardError("CARD_ERR_STATE", `cannot write card state ${this.path}`, {
        cause,
        details: { path: this.path, errno: (cause as NodeJS.ErrnoException).code },
      });
    }
    this.#lastCounter = next.counter;
  }

  /** Create a new state file (refuses to overwrite unless `overwrite`). */
  static create(path: string, state: CardState, options?: { overwrite?: boolean }): FileCardStateStore {
    validateState(state);
    const store = new FileCardStateStore(path);
    if (!options?.overwrite) {
      let exists = true;
      try {
        readFileSync(path);
      } catch {
        exists = false;
      }
      if (exists) throw stateError(`card state ${path} already exists`, { path });
    }
    store.commit(state);
    return store;
  }

  #removeStaleTemps(): void {
    const dir = dirname(this.path);
    const prefix = `${basename(this.path)}.`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
      const pid = name.slice(prefix.length, -TEMP_SUFFIX.length);
      // Only temp files of processes that are gone: a live one may be committing right now.
      if (!/^\d+$/.test(pid) || processAlive(Number(pid))) continue;
      try {
        unlinkSync(join(dir, name));
      } catch {
        // gone already
      }
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeDurably(path: string, data: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there: the usual case
  }
  const fd = openSync(path, "wx", 0o600);
  try {
    fchmodSync(fd, 0o600);
    const bytes = Buffer.from(data, "utf8");
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
