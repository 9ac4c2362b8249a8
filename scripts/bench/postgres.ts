/**
 * The PostgreSQL server of the acquirer benchmarks: TAPWALLET_TEST_POSTGRES when set; else the
 * throwaway cluster of scripts/postgres-setup.sh (started here, left running for later runs); or
 * undefined with the reason when PostgreSQL is not installed or does not start.
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { TEST_POSTGRES_ENV, testPostgresUrl } from "../../acquirer-stub/testing.js";

export type BenchPostgres = { url: string; source: string } | { url: undefined; reason: string };

/** scripts/postgres-setup.sh, from dist/scripts/bench/ or scripts/bench/. */
function setupScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${join("dist", "scripts")}`)
    ? join(here, "..", "..", "..")
    : join(here, "..", "..");
  return join(root, "scripts", "postgres-setup.sh");
}

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await client.end().catch(() => undefined);
  }
}

let resolved: Promise<BenchPostgres> | undefined;

/** Resolve (once per process) and export TAPWALLET_TEST_POSTGRES so testDatabase("postgres") works. */
export function benchPostgres(log: (line: string) => void): Promise<BenchPostgres> {
  resolved ??= (async (): Promise<BenchPostgres> => {
    const fromEnv = testPostgresUrl();
    if (fromEnv) {
      const err = await reachable(fromEnv);
      if (err) return { url: undefined, reason: `${TEST_POSTGRES_ENV}=${fromEnv} is not reachable: ${err}` };
      return { url: fromEnv, source: TEST_POSTGRES_ENV };
    }
    const script = setupScript();
    try {
      log("  starting the throwaway PostgreSQL cluster (scripts/postgres-setup.sh start)");
      execFileSync("bash", [script, "start"], { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
      return {
        url: undefined,
        reason: `no PostgreSQL (${stderr || (e instanceof Error ? e.message : String(e))}); set ${TEST_POSTGRES_ENV} or apt-get install postgresql`,
      };
    }
    const url = execFileSync("bash", [script, "url"], { encoding: "utf8" }).trim();
    const err = await reachable(url);
    if (err) return { url: undefined, reason: `the throwaway cluster at ${url} is not reachable: ${err}` };
    process.env[TEST_POSTGRES_ENV] = url;
    return { url, source: "scripts/postgres-setup.sh" };
  })();
  return resolved;
}
