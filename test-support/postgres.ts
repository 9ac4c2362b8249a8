/**
 * Tests that need a PostgreSQL server (the acquirer fleet, a database outage). The server is the
 * one TAPWALLET_TEST_POSTGRES names (`scripts/postgres-setup.sh start` starts a throwaway cluster
 * and `scripts/postgres-setup.sh url` prints its URL); .ci/run starts it and sets the variable.
 */
import { describe, it } from "vitest";
import { TEST_POSTGRES_ENV, testPostgresUrl } from "../acquirer-stub/testing.js";

/**
 * Call instead of `describe` for a suite that needs PostgreSQL. Without TAPWALLET_TEST_POSTGRES:
 * locally, prints a LOUD warning and skips; with CI=true, fails (a missing PostgreSQL in CI is a
 * failure, never a silent skip). The suite gets the server's admin URL.
 */
export function describePostgres(name: string, fn: (adminUrl: string) => void): void {
  const url = testPostgresUrl();
  if (url) {
    describe(name, () => fn(url));
    return;
  }
  const how =
    `start one with: bash scripts/postgres-setup.sh start && export ${TEST_POSTGRES_ENV}="$(bash scripts/postgres-setup.sh url)" ` +
    "(package: apt-get install postgresql)";
  if (process.env.CI === "true" || process.env.CI === "1") {
    describe(name, () => {
      it("needs PostgreSQL (required in CI)", () => {
        throw new Error(`${TEST_POSTGRES_ENV} is not set. ${how}`);
      });
    });
    return;
  }
  const bar = "!".repeat(100);
  console.warn(
    `\n${bar}\n!!! SKIPPING "${name}": ${TEST_POSTGRES_ENV} is not set (no PostgreSQL)\n!!! ${how}\n!!! In CI (CI=true) this is a failure.\n${bar}\n`,
  );
  describe.skip(name, () => fn(""));
}
