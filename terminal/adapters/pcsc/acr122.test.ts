import { describe, expect, it } from "vitest";
import { hex } from "../../../protocol/bytes.js";
import { acr122FeedbackCommand, isAcr122Name } from "./acr122.js";

describe("ACR122U LED and buzzer pseudo-APDU", () => {
  it("approved: green (blink, then on), red off, one 300 ms beep", () => {
    // FF 00 40 | P2 = green blink mask, initial green, green+red update masks, final green | 04 | T1 T2 reps buzzer
    expect(hex(acr122FeedbackCommand("approved"))).toBe("ff0040ae0403010101");
  });

  it("declined: red blinking twice with a beep each time, then red on, green off", () => {
    expect(hex(acr122FeedbackCommand("declined"))).toBe("ff00405d0402020201");
  });

  it("recognises ACR122 readers by name", () => {
    expect(isAcr122Name("ACS ACR122U PICC Interface 00 00")).toBe(true);
    expect(isAcr122Name("acs acr122u")).toBe(true);
    expect(isAcr122Name("Virtual PCD 00 00")).toBe(false);
  });
});
