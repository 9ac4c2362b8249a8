/**
 * A fleet for the back office's tests and benchmarks: terminals issued on the fly by the fixture
 * acquirer CA (the fixtures hold only two good ones), and `acquirer-stub serve` instances spawned
 * over one database (dist/ must be built).
 */
import { execFile, spawn } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateP256KeyPair } from "../protocol/crypto.js";
import { packageRoot } from "../protocol/paths.js";
import { type Certificate, issueCertificate, parseCertificate } from "../protocol/pki.js";
import { type FixturePki, loadFixturePki } from "../protocol/pki-fixtures.js";

/**
 * `count` synthetic terminals issued by the fixture acquirer CA (T-S0001…, merchants M-S0001…),
 * with a FixturePki that knows them, for TerminalSim.
 */
export async function syntheticTerminals(count: number): Promise<{ pki: FixturePki; names: string[] }> {
  const base = loadFixturePki();
  const issuer = { certificate: base.der("acquirer-ca"), privateKey: base.key("acquirer-ca") };
  const extra = new Map<string, { cert: Certificate; key: KeyObject }>();
  const names: string[] = [];
  for (let i = 1; i <= count; i++) {
    const id = String(i).padStart(4, "0");
    const keys = generateP256KeyPair();
    const der = await issueCertificate({
      role: "terminal",
      subjectCommonName: `T-S${id}`,
      publicKey: keys.publicKey,
      issuer,
      serialNumber: (0x6000000 + i).toString(16),
      notBefore: new Date("2025-06-01T00:00:00Z"),
      notAfter: new Date("2035-06-01T00:00:00Z"),
      attributes: { terminalId: `T-S${id}`, merchantId: `M-S${id}`, merchantCategory: "5411", region: "TW" },
    });
    const name = `terminals/syn-${id}`;
    extra.set(name, { cert: parseCertificate(der), key: keys.privateKey });
    names.push(name);
  }
  const pki: FixturePki = {
    ...base,
    cert: (name) => extra.get(name)?.cert ?? base.cert(name),
    der: (name) => extra.get(name)?.cert.der ?? base.der(name),
    key: (name) => extra.get(name)?.key ?? base.key(name),
    intermediates: (name) =>
      extra.has(name) ? base.intermediates("terminals/term-0001") : base.intermediates(name),
  };
  return { pki, names };
}

/**
 * The operator token spawned instances are given (TAPWALLET_ACQUIRER_OPERATOR_TOKEN) unless the
 * caller's env names another ("": none, for a test that passes --insecure-operator-routes or
 * --operator-routes off in `args`): `serve` does not start without one of these.
 */
export const FLEET_OPERATOR_TOKEN = "fleet-test-operator-token";

/** A spawned `acquirer-stub serve --db URL --port 0`: its URL, CPU time so far, and stop(). */
export interface Instance {
  url: string;
  pid: number;
  /** The bearer token its operator routes take ("" when it was started without one). */
  operatorToken: string;
  /** The last few kilobytes it wrote to stderr (its log at TAPWALLET_LOG_LEVEL, warnings). */
  stderr(): string;
  cpuSeconds(): number;
  /** Log lines seen so far that say a transaction lost a race and ran again. */
  conflicts(): number;
  stop(): Promise<void>;
  /** SIGKILL: no clean stop, whatever it was doing. */
  kill(): Promise<void>;
}

export async function spawnInstance(
  db: string,
  env: NodeJS.ProcessEnv = {},
  args: readonly string[] = [],
): Promise<Instance> {
  const cli = join(packageRoot(), "dist", "acquirer-stub", "cli.js");
  const operatorToken = env.TAPWALLET_ACQUIRER_OPERATOR_TOKEN ?? FLEET_OPERATOR_TOKEN;
  const child = spawn(process.execPath, [cli, "serve", "--db", db, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      TAPWALLET_LOG_LEVEL: process.env.TAPWALLET_LOG_LEVEL ?? "warn",
      ...env,
      TAPWALLET_ACQUIRER_OPERATOR_TOKEN: operatorToken,
    },
  });
  let stderr = "";
  let conflicts = 0;
  const count = (d: Buffer) => {
    conflicts += d.toString().split("transaction conflict").length - 1;
  };
  child.stdout.on("data", count);
  child.stderr.on("data", count);
  child.stderr.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`acquirer did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /acquirer listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
        out = "";
      } else if (out.length > 100_000) out = out.slice(-1000);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`acquirer exited (${code}) before listening: ${stderr}`));
    });
  });
  const pid = child.pid!;
  return {
    url,
    pid,
    operatorToken,
    stderr: () => stderr,
    cpuSeconds: () => {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        return (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        return Number.NaN;
      }
    },
    conflicts: () => conflicts,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

/** The acquirer-stub CLI of dist/, as an operator runs it. */
export const ACQUIRER_CLI = join(packageRoot(), "dist", "acquirer-stub", "cli.js");

/**
 * `acquirer-stub <args> --db <db> --json`, its JSON answer parsed; a non-zero exit rejects with
 * the child's `code` and `stderr`.
 */
export function backOfficeCli(db: string): (...args: string[]) => Promise<Record<string, unknown>> {
  const run = promisify(execFile);
  return async (...args) => {
    const { stdout } = await run(process.execPath, [ACQUIRER_CLI, ...args, "--db", db, "--json"], {
      env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" },
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  };
}
