/**
 * What `posd status` and `posd run` tell the operator, from dist/ on a `posd init` data directory:
 * the key passphrase that init stores next to the key is warned about (not when it comes from
 * $TAPWALLET_KEY_PASSPHRASE), the hotlist's age is shown, and the daemon's cash-register API takes
 * only the register (token, Host) once `ecr.token` is set.
 */
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { systemWorld } from "./world.js";

const world = systemWorld({
  name: "posd-status",
  posd: true,
  cards: { alice: { walletId: "W-ALICE-0001" } },
});
const passphrase = () => readFileSync(join(world.data, "key.passphrase"), "utf8").trim();
const TOKEN = "register-7-token-0123456789abcdef";

function get(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: "/v1/status", method: "GET", setHost: false, headers },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("posd status", () => {
  it("warns that the key passphrase sits next to the key, and says nothing once it comes from the environment", async () => {
    const warned = await world.posd(["status"]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(
      /^warning {6}the key passphrase is stored next to the key \(.*key\.passphrase\).*TAPWALLET_KEY_PASSPHRASE/m,
    );
    const json = JSON.parse((await world.posd(["status", "--json"])).stdout) as { warnings: string[] };
    expect(json.warnings).toHaveLength(1);
    const quiet = await world.posd(["status"], { env: { TAPWALLET_KEY_PASSPHRASE: passphrase() } });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).not.toMatch(/warning/);
  });

  it("shows a terminal that never synced as having no hotlist", async () => {
    const s = JSON.parse((await world.posd(["status", "--json"])).stdout) as { hotlist: unknown };
    expect(s.hotlist).toEqual({
      version: null,
      issuedAt: null,
      ageHours: null,
      maxAgeHours: 24,
      nextUpdate: null,
      fetchedAt: null,
      stale: true,
    });
  });
});

describe("posd run", () => {
  it("logs the passphrase warning at start and shows the hotlist's age on /v1/status", async () => {
    const daemon = await world.startDaemon(["--virtual", "--card", world.cardPath("alice")]);
    const line = await daemon.waitForLog((l) =>
      /key passphrase is stored next to the key/.test(String(l.msg)),
    );
    expect(line.level).toBe(40);
    const status = await daemon.get("/v1/status");
    expect(status.body.hotlist).toMatchObject({ version: null, stale: true, maxAgeHours: 24 });
    await daemon.stop();
  });

  it("with TAPWALLET_ECR_TOKEN answers only the register: 401 without the token, 403 for a forged Host", async () => {
    const daemon = await world.startDaemon(["--virtual", "--card", world.cardPath("alice")], {
      env: { TAPWALLET_ECR_TOKEN: TOKEN },
    });
    const host = new URL(daemon.url).host;
    expect((await get(daemon.url, { host })).status).toBe(401);
    expect((await get(daemon.url, { host, authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    const rebinding = await get(daemon.url, { host: "evil.example:8765", authorization: `Bearer ${TOKEN}` });
    expect(rebinding).toMatchObject({ status: 403, body: { code: "TERM_ERR_ECR_FORBIDDEN" } });
    await daemon.stop();
  });
});
