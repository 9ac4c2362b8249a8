import { describe, expect, it } from "vitest";
import { pcscError } from "../../../test-support/fake-nfc.js";
import { isServiceGone, mapPcscError, pcscCode } from "./pcsc-errors.js";

const ctx = { reader: "Virtual PCD 00 00", operation: "transmit" };

describe("PC/SC error mapping", () => {
  it("finds the code in nfc-pcsc's wrapped error (error.previous.message)", () => {
    expect(pcscCode(pcscError("SCardTransmit", "Card was removed.", 0x80100069))).toBe(0x80100069);
    expect(pcscCode(new Error("SCardGetStatusChange error: Command cancelled.(0x80100002)"))).toBe(
      0x80100002,
    );
    expect(pcscCode(new Error("no code here"))).toBeUndefined();
    expect(pcscCode("not an error")).toBeUndefined();
  });

  it.each([
    [0x80100069, "Card was removed."],
    [0x80100068, "Card was reset."],
    [0x8010000c, "No smart card inserted."],
    [0x80100016, "Transaction failed."],
  ])("%d (%s) → TERM_ERR_CARD_REMOVED with the code in details", (code, text) => {
    const e = mapPcscError(pcscError("SCardTransmit", text, code), ctx);
    expect(e.code).toBe("TERM_ERR_CARD_REMOVED");
    expect(e.details).toMatchObject({ reader: ctx.reader, pcscCode: `0x${code.toString(16).toUpperCase()}` });
    expect(e.message).toContain(text);
  });

  it("'card not connected' (thrown synchronously by nfc-pcsc) → TERM_ERR_CARD_REMOVED", () => {
    const notConnected = Object.assign(new Error("No card or connection available."), {
      code: "card_not_connected",
    });
    expect(mapPcscError(notConnected, ctx).code).toBe("TERM_ERR_CARD_REMOVED");
    expect(mapPcscError(new Error("Card Reader not connected"), ctx).code).toBe("TERM_ERR_CARD_REMOVED");
  });

  it.each([
    [0x80100013, "RPC transport error."],
    [0x80100008, "Insufficient buffer."],
    [0x8010001e, "Service was stopped."],
    [0x8010001f, "Feature not supported."],
  ])("%d (%s) → TERM_ERR_READER with the code in details", (code, text) => {
    const e = mapPcscError(pcscError("SCardTransmit", text, code), ctx);
    expect(e.code).toBe("TERM_ERR_READER");
    expect(e.details?.pcscCode).toBe(`0x${code.toString(16).toUpperCase()}`);
    expect(e.cause).toBeInstanceOf(Error);
  });

  it("an error without a code → TERM_ERR_READER, no pcscCode", () => {
    const e = mapPcscError(new Error("something odd"), ctx);
    expect(e.code).toBe("TERM_ERR_READER");
    expect(e.details).not.toHaveProperty("pcscCode");
  });

  it("knows which codes mean pcscd went away", () => {
    expect(isServiceGone(pcscError("SCardTransmit", "RPC transport error.", 0x80100013))).toBe(true);
    expect(isServiceGone(pcscError("SCardTransmit", "Service not available.", 0x8010001d))).toBe(true);
    expect(isServiceGone(pcscError("SCardTransmit", "Service was stopped.", 0x8010001e))).toBe(true);
    expect(isServiceGone(pcscError("SCardTransmit", "Card was removed.", 0x80100069))).toBe(false);
  });
});
