import { describe, expect, it } from "vitest";
import { describeSw } from "../sw.js";
import { WALLET_SW } from "./constants.js";
import { describeWalletSw, WALLET_SW_MEANINGS } from "./status-words.js";

describe("the wallet's status words", () => {
  it("are named for the terminal without the card emulator being loaded", () => {
    expect(describeWalletSw(WALLET_SW.INSUFFICIENT_FUNDS)).toBe(
      `${WALLET_SW.INSUFFICIENT_FUNDS.toString(16).toUpperCase()} insufficient balance`,
    );
    // No global registry: the ISO describer alone does not know them.
    expect(describeSw(WALLET_SW.INSUFFICIENT_FUNDS)).toMatch(/^unknown status word 93/);
  });

  it("has a meaning for every 93xx word the protocol declares", () => {
    for (const [name, sw] of Object.entries(WALLET_SW)) {
      expect(WALLET_SW_MEANINGS.get(sw), name).toBeTruthy();
    }
  });

  it("still describes ISO words the ISO way", () => {
    expect(describeWalletSw(0x6a82)).toBe("6A82 file or application not found");
  });
});
