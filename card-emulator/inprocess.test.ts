import { describe, expect, it } from "vitest";
import { encodeCommand } from "../protocol/apdu.js";
import { hex } from "../protocol/bytes.js";
import { selectCommand } from "../protocol/wallet/messages.js";
import { fixtureCard } from "../test-support/card-fixture.js";
import { TerminalScript } from "../test-support/terminal-script.js";
import type { VirtualCard } from "./adapters/vpcd.js";
import { TearError } from "./faults.js";
import { InProcessTransport } from "./inprocess.js";

const SELECT = encodeCommand(selectCommand());

describe("InProcessTransport", () => {
  it("passes each command to the card and its answer back", async () => {
    const seen: string[] = [];
    const card: VirtualCard = {
      process(apdu) {
        seen.push(hex(apdu));
        return Uint8Array.of(0x90, 0x00);
      },
    };
    const t = new InProcessTransport(card);
    expect(hex(await t.exchange(Uint8Array.of(0, 0xa4, 4, 0)))).toBe("9000");
    expect(seen).toEqual(["00a40400"]);
  });

  it("takes the card out of the field and puts it back: closed while removed, powered off in between", async () => {
    const { applet, transport } = fixtureCard();
    const t = new TerminalScript(transport);
    await t.authenticate();
    transport.remove();
    expect(transport.present).toBe(false);
    expect(applet.authenticated).toBe(false);
    await expect(transport.exchange(SELECT)).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_CLOSED" });
    transport.insert();
    expect(hex((await transport.exchange(SELECT)).subarray(-2))).toBe("9000");
  });

  it("turns a TearError into a lost card", async () => {
    const card: VirtualCard = {
      process() {
        throw new TearError();
      },
    };
    const t = new InProcessTransport(card);
    await expect(t.exchange(SELECT)).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_CLOSED" });
    expect(t.present).toBe(false);
  });

  it("takes a delay from its options", async () => {
    const card: VirtualCard = { process: () => Uint8Array.of(0x90, 0x00) };
    const t = new InProcessTransport(card, { delayMs: 40 });
    const start = performance.now();
    await t.exchange(SELECT);
    expect(performance.now() - start).toBeGreaterThanOrEqual(35);
  });
});
