/**
 * `posd records | head -1`: a reader that closes the pipe early is a normal end for every CLI
 * (exit 0, nothing on stderr), not an unhandled EPIPE with a stack trace and exit 1. Each CLI is
 * spawned from dist/ with its stdout pipe closed before it writes, as `head` leaves it.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";
import { CARD_EMULATOR, POSD } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const ACQUIRER = join(packageRoot(), "dist", "acquirer-stub", "cli.js");

const world = systemWorld({
  name: "closed-stdout",
  posd: true,
  cards: { alice: { walletId: "W-ALICE-0001" } },
});

/** Run a CLI whose stdout reader has already gone away; resolves with how it ended. */
function withClosedStdout(cli: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.destroy();
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("a closed stdout ends a command normally", () => {
  it("posd records, status and pay --json exit 0 without a stack trace", async () => {
    const pay = ["--data-dir", world.data, "pay", "--virtual", "--card", world.cardPath("alice")];
    for (const args of [
      ["--data-dir", world.data, "records"],
      ["--data-dir", world.data, "status", "--json"],
      [...pay, "--amount", "1.00", "--json"],
    ]) {
      const r = await withClosedStdout(POSD, args);
      expect(r, args.join(" ")).toEqual({ code: 0, stderr: "" });
    }
    // The payment behind the closed pipe was still stored before its answer was printed.
    const records = await world.posd(["records", "--json"]);
    expect(JSON.parse(records.stdout)).toHaveLength(1);
  });

  it("card-emulator show exits 0 without a stack trace", async () => {
    const r = await withClosedStdout(CARD_EMULATOR, ["show", "--state", world.cardPath("alice")]);
    expect(r).toEqual({ code: 0, stderr: "" });
  });

  it("acquirer-stub hotlist exits 0 without a stack trace", async () => {
    const db = join(world.dir, "acquirer.sqlite");
    // `serve` creates the database; `report` then reads it like `hotlist` does.
    const serve = spawn(
      process.execPath,
      [ACQUIRER, "serve", "--port", "0", "--db", db, "--operator-routes", "off"],
      {
        stdio: ["ignore", "pipe", "ignore"],
        env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" },
      },
    );
    await new Promise<void>((resolve) => serve.stdout!.once("data", () => resolve()));
    serve.kill("SIGTERM");
    await new Promise((resolve) => serve.once("close", resolve));
    const r = await withClosedStdout(ACQUIRER, ["hotlist", "--db", db]);
    expect(r).toEqual({ code: 0, stderr: "" });
  });
});
