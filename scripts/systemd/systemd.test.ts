/**
 * The deployment files: fixtures/configs/posd.example.json is a configuration posd accepts, and
 * scripts/systemd/posd.service runs `posd run` the way the daemon needs (threadpool, passphrase as a
 * credential, after pcscd, hardening that leaves PC/SC and V8 working).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { fixturesDir, packageRoot } from "../../protocol/paths.js";
import { loadConfig } from "../../terminal/config.js";

const UNIT = join(packageRoot(), "scripts", "systemd", "posd.service");
const EXAMPLE = join(fixturesDir("configs"), "posd.example.json");

/** The unit's settings: every `Key=value` line, in order, per key. */
function unitSettings(): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of readFileSync(UNIT, "utf8").split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
  }
  return settings;
}

describe("fixtures/configs/posd.example.json", () => {
  it("passes posd's configuration schema, paths resolved next to the file", () => {
    const config = loadConfig({ configPath: EXAMPLE, env: {} });
    expect(config).toMatchObject({
      terminalId: "T-0001",
      currency: "EUR",
      database: join(fixturesDir("configs"), "records.sqlite"),
      acquirer: { url: "https://acquirer.example.net" },
      reader: { name: "ACR122U", apduTimeoutMs: 2_000, cardWaitMs: 30_000, newTapPerPayment: true },
      ecr: { host: "127.0.0.1", port: 8765 },
      schedule: { uploadIntervalSec: 900, syncIntervalSec: 900 },
      maxOfflineAmountMinor: 50_000,
    });
    expect(config.terminal.passphraseFile).toBeUndefined(); // the unit gives it as a credential
  });

  it("the unit's environment completes it: the passphrase file comes from the credential", () => {
    const config = loadConfig({
      configPath: EXAMPLE,
      env: { TAPWALLET_PASSPHRASE_FILE: "/run/credentials/posd.service/posd-key-passphrase" },
    });
    expect(config.terminal.passphraseFile).toBe("/run/credentials/posd.service/posd-key-passphrase");
  });

  it("a mistake in it would be refused with the path of the wrong value", () => {
    const dir = mkdtempSync(join(tmpdir(), "tapwallet-example-"));
    try {
      const broken = JSON.parse(readFileSync(EXAMPLE, "utf8"));
      broken.reader.newTapPerPayment = "yes";
      writeFileSync(join(dir, "posd.json"), JSON.stringify(broken));
      expect(() => loadConfig({ configPath: join(dir, "posd.json"), env: {} })).toThrow(
        /reader\.newTapPerPayment/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("scripts/systemd/posd.service", () => {
  const s = unitSettings();

  it("runs posd run on the data directory systemd creates for it", () => {
    expect(s.get("ExecStart")).toEqual(["/usr/local/bin/posd --data-dir /var/lib/posd run"]);
    expect(s.get("StateDirectory")).toEqual(["posd"]);
    expect(s.get("ReadWritePaths")).toEqual(["/var/lib/posd"]);
    expect(s.get("User")).toEqual(["posd"]);
  });

  it("starts node with the bigger threadpool, after pcscd", () => {
    expect(s.get("Environment")).toContain("UV_THREADPOOL_SIZE=16");
    expect(s.get("After")?.[0]).toMatch(/\bpcscd\.service\b/);
    expect(s.get("Wants")?.[0]).toMatch(/\bpcscd\.socket\b/);
  });

  it("gives the key passphrase as a credential, by file, never as its value", () => {
    const [credential] = s.get("LoadCredential") ?? [];
    const name = credential?.split(":")[0];
    expect(name).toBe("posd-key-passphrase");
    expect(s.get("Environment")).toContain(`TAPWALLET_PASSPHRASE_FILE=%d/${name}`);
    expect((s.get("Environment") ?? []).some((e) => e.startsWith("TAPWALLET_KEY_PASSPHRASE="))).toBe(false);
  });

  it("is hardened without what would break posd (V8's JIT, pcscd's unix socket)", () => {
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["PrivateTmp", "yes"],
      ["ProtectHome", "yes"],
    ]) {
      expect(s.get(key!), key).toEqual([value]);
    }
    expect(s.get("MemoryDenyWriteExecute")).toBeUndefined();
    expect(s.get("RestrictAddressFamilies")?.[0]?.split(" ")).toEqual(
      expect.arrayContaining(["AF_UNIX", "AF_INET"]),
    );
    expect(s.get("KillSignal")).toEqual(["SIGTERM"]);
  });

  it.runIf(existsSync("/usr/bin/systemd-analyze"))("is a unit systemd-analyze verify accepts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tapwallet-unit-"));
    try {
      // verify checks that ExecStart exists: point it at a binary that does.
      const unit = join(dir, "posd.service");
      writeFileSync(unit, readFileSync(UNIT, "utf8").replace("/usr/local/bin/posd", "/bin/true"));
      const { stderr } = await promisify(execFile)("systemd-analyze", ["verify", unit]);
      expect(stderr).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
