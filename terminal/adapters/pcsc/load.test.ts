import { describe, expect, it, vi } from "vitest";

// As if nfc-pcsc (an optional dependency with a native part) were not installed or did not build.
vi.mock("nfc-pcsc", () => {
  throw new Error("Cannot find module 'nfc-pcsc'");
});

describe("loadNfcPcsc", () => {
  it("turns a failed import into TERM_ERR_PCSC_UNAVAILABLE that says what to install", async () => {
    const { loadNfcPcsc } = await import("./load.js");
    const error = await loadNfcPcsc().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "TERM_ERR_PCSC_UNAVAILABLE" });
    const message = (error as Error).message;
    expect(message).toContain("npm install nfc-pcsc");
    expect(message).toContain("pcscd");
    expect(message).toContain("libpcsclite-dev");
  });

  it("PcscService.open() passes that error on", async () => {
    const { PcscService } = await import("./service.js");
    await expect(PcscService.open({ socketPath: "/nonexistent/pcscd.comm" })).rejects.toMatchObject({
      code: "TERM_ERR_PCSC_UNAVAILABLE",
    });
  });
});
