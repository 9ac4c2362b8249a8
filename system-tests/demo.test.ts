/**
 * The README's first command, `npm run demo`, as a new user runs it (the built program of dist/,
 * on the real clock, no hardware): it ends with exit 0 and tells the whole story it promises.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../protocol/paths.js";

const run = promisify(execFile);

describe("npm run demo", () => {
  it("tells the whole story without hardware: taps, a caught rollback, an edited balance blocked for fraud, upload, loads, a refund, the reconciliation", async () => {
    const { stdout } = await run(process.execPath, [join(packageRoot(), "dist", "scripts", "demo.js")], {
      env: { ...process.env, TAPWALLET_LOG_LEVEL: "warn" },
      timeout: 120_000,
    });
    const steps = [...stdout.matchAll(/^== (.*)$/gm)].map((m) => m[1]);
    expect(steps).toEqual(
      expect.arrayContaining([
        "taps",
        "posd upload",
        "posd load --amount 20.00 --cash --teller T01: alice loads cash at the counter (the terminal is online)",
      ]),
    );
    expect(stdout).toMatch(/^loaded 20\.00 EUR onto W-ALICE-0001: card balance 60\.30 EUR/m);
    expect(stdout).toMatch(/^posd sync: the platform's attention list has 1 wallet/m);
    // The payment itself delivers the parameters, then auto-loads under the new threshold.
    expect(stdout).toMatch(
      /^ {2}delivered UPDATE PARAMETERS \(command [0-9a-f]{16}\): the card's record #\d+ is the platform's receipt$/m,
    );
    expect(stdout).toMatch(/auto-load 20\.00 EUR from the bound account first .*: card balance 80\.30 EUR/);
    expect(stdout).toMatch(/^APPROVED {2}5\.00 EUR {2}wallet W-ALICE-0001 .* balance 75\.30 EUR$/m);
    expect(stdout).toMatch(/^refund 1: settled$/m);
    // Carol's edited balance: approved offline, caught at upload, declined after the sync, reported.
    expect(stdout).toMatch(/^APPROVED {2}25\.00 EUR {2}wallet W-CAROL-0003 .* balance 475\.00 EUR$/m);
    expect(stdout).toMatch(/^DECLINED .*\[TERM_ERR_HOTLISTED\]$/m);
    expect(stdout).toMatch(
      /^ {2}wallet W-CAROL-0003 blocked \(fraud, fraud-detection\) at issuer [0-9a-f]{16} since /m,
    );
    expect(stdout).toMatch(
      /^ {2}evidence {2}wallet W-CAROL-0003 overspent at T-0001 seq \d+: exposure 15\.00 EUR/m,
    );
    expect(stdout).toMatch(/^online account 2\.00 EUR/m);
    // The platform's books agree with the card and the bank: every difference would be named here.
    const differences = stdout.slice(stdout.lastIndexOf("Differences"));
    expect(differences).toMatch(/^Differences\n\n {2}no differences$/m);
  }, 150_000);
});
