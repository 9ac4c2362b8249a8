import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{protocol,terminal,card-emulator,acquirer-stub,scripts}/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests that share pcscd (one per machine) run in one file each and declare it; the
    // rest are independent and run in parallel on the two cores.
    pool: "forks",
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
  },
});
