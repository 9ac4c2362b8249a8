/**
 * GET /v1/hotlist's freshness: every version says when its successor is due (signed), and a
 * version left unchanged for HOTLIST_REISSUE_SECONDS is re-issued at the next request, so a
 * terminal can measure a hotlist's age from its signed issue time alone.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { HotlistWire } from "../../protocol/wallet/batch.js";
import { verifyHotlist } from "../../terminal/adapters/http/acquirer-client.js";
import { HOTLIST_REISSUE_SECONDS } from "../domain/hotlist.js";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../testing.js";

let now = TEST_NOW.getTime();
let acq: TestAcquirer;
beforeEach(async () => {
  now = TEST_NOW.getTime();
  acq = await testAcquirer({ clock: () => new Date(now) });
});
afterEach(() => acq.close());

const fetchList = async (since?: number) => {
  const res = await acq.app.inject({
    method: "GET",
    url: `/v1/hotlist${since === undefined ? "" : `?since=${since}`}`,
  });
  return { status: res.statusCode, wire: res.statusCode === 200 ? (res.json() as HotlistWire) : undefined };
};
const acquirerCa = () => loadFixturePki().cert("acquirer-ca");
const seconds = () => Math.floor(now / 1000);

describe("GET /v1/hotlist freshness", () => {
  it("signs when the next version is due, and a terminal keeps it", async () => {
    const { wire } = await fetchList();
    expect(wire!.nextUpdate).toBe(wire!.issuedAt + HOTLIST_REISSUE_SECONDS);
    expect(verifyHotlist(wire!, acquirerCa()).nextUpdate).toBe(wire!.nextUpdate);
  });

  it("a next update stripped or moved by someone in between no longer verifies", async () => {
    const { wire } = await fetchList();
    const { nextUpdate: _dropped, ...stripped } = wire!;
    expect(() => verifyHotlist(stripped, acquirerCa())).toThrow(/signature does not verify/);
    const later = { ...wire!, nextUpdate: wire!.nextUpdate! + 86_400 };
    expect(() => verifyHotlist(later, acquirerCa())).toThrow(/signature does not verify/);
  });

  it("answers 304 while the version is younger than the re-issue period, then re-issues it with a new version and issue time", async () => {
    const first = (await fetchList()).wire!;
    now += (HOTLIST_REISSUE_SECONDS - 1) * 1000;
    expect((await fetchList(first.version)).status).toBe(304);
    now += 1000;
    const next = await fetchList(first.version);
    expect(next.status).toBe(200);
    expect(next.wire).toMatchObject({
      version: first.version + 1,
      issuedAt: seconds(),
      nextUpdate: seconds() + HOTLIST_REISSUE_SECONDS,
      blockedWallets: first.blockedWallets,
      revokedSerials: first.revokedSerials,
    });
    expect(verifyHotlist(next.wire!, acquirerCa()).version).toBe(first.version + 1);
    // Once, not at every request of that second.
    expect((await fetchList(first.version + 1)).status).toBe(304);
  });
});
