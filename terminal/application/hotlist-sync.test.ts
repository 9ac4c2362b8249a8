import { describe, expect, it } from "vitest";
import { silentLogger } from "../../protocol/logger.js";
import type { Hotlist, HotlistWire } from "../../protocol/wallet/hotlist.js";
import { MemoryTerminalStore } from "../../test-support/memory-terminal-store.js";
import { FIXED_TIME } from "../../test-support/terminal-fixture.js";
import type { AcquirerPort, FetchedHotlist } from "./ports.js";
import { syncHotlist } from "./upload.js";

const T = FIXED_TIME;
const list = (version: number, issuedAt: number, blockedWallets: string[] = []): Hotlist => ({
  version,
  issuedAt,
  revokedSerials: [],
  blockedWallets,
});
/** An acquirer (or whoever answers at its address) that serves this list, whatever `since` says. */
const serving = (h: Hotlist): AcquirerPort => ({
  uploadBatch: () => Promise.reject(new Error("not used")),
  fetchHotlist: async () => ({ ...h, signature: "", crl: "" }) as HotlistWire,
});
// The signature is checked by verifyFetchedHotlist (acquirer-client tests); here every list is taken as signed.
const signed = (w: FetchedHotlist): Hotlist => {
  const v1 = w as HotlistWire;
  return {
    version: v1.version,
    issuedAt: v1.issuedAt,
    revokedSerials: v1.revokedSerials,
    blockedWallets: v1.blockedWallets,
  };
};

describe("posd sync against an older hotlist (syncHotlist)", () => {
  const cases: [string, Hotlist, "refused" | "taken"][] = [
    ["a lower version (the captured version 2 after version 3)", list(2, T - 60), "refused"],
    ["the same version issued earlier", list(3, T - 1), "refused"],
    ["a higher version issued earlier (a restored acquirer)", list(4, T - 1), "refused"],
    ["the same version and issue time", list(3, T, ["W-LOST-0001"]), "taken"],
    ["a higher version issued later", list(4, T + 60), "taken"],
  ];
  for (const [what, fetched, expected] of cases)
    it(`${expected === "refused" ? "refuses" : "takes"} ${what}`, async () => {
      const store = new MemoryTerminalStore({ now: () => T * 1000 });
      store.hotlist.replace(list(3, T, ["W-LOST-0001"]));
      const ctx = { hotlist: store.hotlist, logger: silentLogger() };
      const sync = syncHotlist(ctx, serving(fetched), signed);
      if (expected === "refused") {
        await expect(sync).rejects.toMatchObject({ code: "TERM_ERR_HOTLIST_REPLAYED" });
        expect(store.hotlist.info()).toMatchObject({ version: 3, issuedAt: T });
        expect(store.hotlist.isHotlisted("W-LOST-0001", "00", "a".repeat(64))).toBe(true);
      } else {
        await expect(sync).resolves.toMatchObject({ changed: true, version: fetched.version });
      }
    });
});
