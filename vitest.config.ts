import { defineConfig } from "vitest/config";

const include = (pattern: string) => [
  `{protocol,terminal,card-emulator,acquirer-stub,scripts,system-tests}/**/${pattern}`,
];

export default defineConfig({
  test: {
    // Under CI the JSON report feeds the closing "N passed, N failed" line (.ci/run names one file per run).
    reporters: process.env.CI
      ? ["default", ["json", { outputFile: process.env.TAPWALLET_TEST_REPORT ?? "test-results.json" }]]
      : ["default"],
    projects: [
      {
        test: {
          name: "unit",
          include: include("*.test.ts"),
          exclude: include("*.pcsc.test.ts"),
          environment: "node",
          pool: "forks",
          testTimeout: 30_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Tests on the real PC/SC stack share one pcscd and its two vpcd readers (one pcscd per
        // machine): they run one file at a time, after the unit project.
        test: {
          name: "pcsc",
          include: include("*.pcsc.test.ts"),
          environment: "node",
          pool: "forks",
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
