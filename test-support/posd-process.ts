/**
 * The real CLIs as child processes, for the tests on the real PC/SC stack: a terminal data directory
 * (`posd init`), software cards (`card-emulator personalize`, `serve` on a vpcd reader with its
 * control port), `posd run` with its JSON log lines and its cash-register API, and one-shot `posd`
 * commands. Everything runs from dist/ (`npm test` builds first; run `npm run build` yourself).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { FileCardStateStore } from "../card-emulator/applet/state.js";
import { packageRoot } from "../protocol/paths.js";

export const POSD = join(packageRoot(), "dist", "terminal", "cli.js");
export const CARD_EMULATOR = join(packageRoot(), "dist", "card-emulator", "cli.js");

const run = promisify(execFile);

/** The environment of a child: this one's, without a threadpool size unless asked (posd sets its own). */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TAPWALLET_LOG_LEVEL: "info" };
  delete env.UV_THREADPOOL_SIZE;
  delete env.TAPWALLET_HOME;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** `posd init` into `dataDir` (test PKI, EUR); returns the data directory. */
export async function posdInit(dataDir: string, args: string[] = []): Promise<string> {
  await run(process.execPath, [POSD, "--data-dir", dataDir, "init", "--currency", "EUR", ...args], {
    env: childEnv(),
  });
  return dataDir;
}

/** Change posd.json in place (e.g. reader settings a test needs). */
export function editConfig(dataDir: string, edit: (config: Record<string, unknown>) => void): void {
  const path = join(dataDir, "posd.json");
  const config = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config, null, 2));
}

/** `card-emulator personalize`. */
export async function personalize(
  statePath: string,
  walletId: string,
  balance = "50.00",
  args: string[] = [],
): Promise<void> {
  await run(
    process.execPath,
    [
      CARD_EMULATOR,
      "personalize",
      "--state",
      statePath,
      "--wallet-id",
      walletId,
      "--balance",
      balance,
      "--currency",
      "EUR",
      ...args,
    ],
    { env: childEnv() },
  );
}

/** Balance (minor units) and counter from the card's state file. */
export function cardState(statePath: string): { balance: number; counter: number } {
  const s = new FileCardStateStore(statePath).load();
  return { balance: s.balance, counter: s.counter };
}

/** What the issuer's commands change on a card state file: blocked, and its single limit. */
export function cardControls(statePath: string): { blocked: boolean; singleLimit: number } {
  const s = new FileCardStateStore(statePath).load();
  return { blocked: s.blocked, singleLimit: s.limits.singleLimit };
}

export interface PosdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run `posd --data-dir D …args` to its end (killed after `timeoutMs`). */
export function runPosd(
  dataDir: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<PosdResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [POSD, "--data-dir", dataDir, ...args], {
      env: childEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** A line-protocol request to `card-emulator serve --control`. */
export function controlLine(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => s.write(`${line}\n`));
    s.setEncoding("utf8");
    let text = "";
    s.on("data", (d: string) => {
      text += d;
      if (text.includes("\n")) {
        s.destroy();
        resolve(text.trim());
      }
    });
    s.on("error", reject);
  });
}

export interface ServedCard {
  readonly child: ChildProcess;
  readonly controlPort: number;
  /** Take the card out of the field (the serve process keeps running). */
  remove(): Promise<void>;
  /** Put it back. */
  insert(): Promise<void>;
  /** SIGTERM, and wait for the process to end. */
  stop(): Promise<void>;
}

/** `card-emulator serve --state F --vpcd 127.0.0.1:PORT --control 0 [faults…]`: the card is in the field. */
export async function serveCard(
  statePath: string,
  vpcdPort: number,
  faults: string[] = [],
): Promise<ServedCard> {
  const child = spawn(
    process.execPath,
    [
      CARD_EMULATOR,
      "serve",
      "--state",
      statePath,
      "--vpcd",
      `127.0.0.1:${vpcdPort}`,
      "--control",
      "0",
      ...faults,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: childEnv({ TAPWALLET_LOG_LEVEL: "warn" }) },
  );
  child.stderr!.on("data", (d: Buffer) => process.stderr.write(`[serve ${vpcdPort}] ${d}`));
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  const m = /control 127\.0\.0\.1:(\d+)/.exec(line.toString());
  if (!m) throw new Error(`unexpected card-emulator serve output: ${line}`);
  const controlPort = Number(m[1]);
  return {
    child,
    controlPort,
    async remove() {
      const answer = await controlLine(controlPort, "remove");
      if (answer !== "ok removed") throw new Error(`remove: ${answer}`);
    },
    async insert() {
      const answer = await controlLine(controlPort, "insert");
      if (answer !== "ok inserted") throw new Error(`insert: ${answer}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * `posd run` as a child process. Its stderr is pino JSON lines (kept in `logs`); `url` is the ECR
 * API's address, read from the "ECR API listening" line (the port comes from TAPWALLET_ECR_PORT=0).
 */
export class PosdDaemon {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  url = "";
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    let buffer = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.stderr.push(text);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        this.logs.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.match(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    });
    this.exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
    child.on("exit", () => this.#gone.abort(new Error("posd exited")));
  }

  /** Aborted when the process exits: a request in flight then fails at once, whatever its socket does. */
  readonly #gone = new AbortController();

  /**
   * Start `posd --data-dir D run …args`. `wrapped`: without UV_THREADPOOL_SIZE, so posd re-runs itself
   * with a bigger pool (the child's pid is then not `child.pid`); default false (the pid is posd's).
   */
  static async start(
    dataDir: string,
    args: string[],
    options: { env?: Record<string, string | undefined>; wrapped?: boolean; startMs?: number } = {},
  ): Promise<PosdDaemon> {
    const env = childEnv({
      TAPWALLET_ECR_PORT: "0",
      ...(options.wrapped ? {} : { UV_THREADPOOL_SIZE: "16" }),
      ...options.env,
    });
    const child = spawn(process.execPath, [POSD, "--data-dir", dataDir, "run", ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const daemon = new PosdDaemon(child);
    const listening = daemon.waitForLog((l) => l.msg === "ECR API listening", options.startMs ?? 15_000);
    const exited = daemon.exited.then((e) => {
      throw new Error(`posd run exited (${e.code ?? e.signal}): ${daemon.stderr.join("\n")}`);
    });
    // A daemon that did not come up is not left running (it would hold its port and data directory).
    listening.catch(() => daemon.kill());
    const line = await Promise.race([listening, exited]);
    daemon.url = String(line.url);
    return daemon;
  }

  /** The first log line (already seen or still to come) that `match` accepts. */
  waitForLog(match: (l: LogLine) => boolean, ms = 10_000): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching posd log line within ${ms} ms; log:\n${this.stderr.join("\n")}`));
      }, ms);
      const done = (l: LogLine) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.#waiters.push({ match, resolve: done });
    });
  }

  /** Log lines after the `from`-th one that `match` accepts, waiting for the first such line. */
  nextLog(from: number, match: (l: LogLine) => boolean, ms = 10_000): Promise<LogLine> {
    return this.waitForLog((l) => this.logs.indexOf(l) >= from && match(l), ms);
  }

  async request(method: "GET" | "POST", path: string, body?: unknown): Promise<ApiAnswer> {
    // Bounded: a daemon that stops answering fails the test with this request named, not at the
    // test's own timeout (the longest API call is a 5 s long poll).
    const res = await fetch(`${this.url}${path}`, {
      method,
      // A request to a daemon that just died is not left to its socket: seen hanging to the timeout
      // once in six kill loops, after SIGKILL, with the connection never failing.
      signal: AbortSignal.any([AbortSignal.timeout(30_000), this.#gone.signal]),
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  get(path: string): Promise<ApiAnswer> {
    return this.request("GET", path);
  }

  post(path: string, body?: unknown): Promise<ApiAnswer> {
    return this.request("POST", path, body ?? {});
  }

  /** Send `signal` and wait for the process to end. */
  async stop(
    signal: NodeJS.Signals = "SIGTERM",
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const started = performance.now();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const e = await this.exited;
    return { ...e, ms: performance.now() - started };
  }

  /** Whether the process is still running (no exit code or signal seen yet). */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** `exited`, or an error after `ms` that says what the process is doing and its last log lines. */
  exitedWithin(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const state = this.alive
          ? "still running"
          : `exited (${this.child.exitCode ?? this.child.signalCode}) but its pipes are open`;
        reject(
          new Error(
            `posd (pid ${this.child.pid}) has not ended within ${ms} ms: ${state}; last log lines:\n${this.stderr.slice(-20).join("\n")}`,
          ),
        );
      }, ms);
    });
    return Promise.race([this.exited, late]).finally(() => clearTimeout(timer));
  }

  /** SIGKILL if still running (afterAll). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

/** Poll `check` every 50 ms until it holds (pcscd's presence poll is the event here); throws after `ms`. */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
