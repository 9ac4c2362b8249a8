/**
 * Run one of the programs from dist/ as a user would, to its end: its exit code (−1 when it was
 * killed or timed out after 60 s: a loaded CI machine took more than 20 s to start one on
 * PostgreSQL) and what it printed. Logs at warn, so a test reads the command's output.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [script, ...args], {
      timeout: 60_000,
      env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}
