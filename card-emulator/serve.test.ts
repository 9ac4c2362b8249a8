import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeCommand } from "../protocol/apdu.js";
import { hex } from "../protocol/bytes.js";
import { silentLogger } from "../protocol/logger.js";
import { SW } from "../protocol/sw.js";
import { selectCommand } from "../protocol/wallet/messages.js";
import { CTRL, FakeVpcd } from "../test-support/fake-vpcd.js";
import { TerminalScript } from "../test-support/terminal-script.js";
import { FileCardStateStore } from "./applet/state.js";
import type { Faults } from "./faults.js";
import { fixtureCardState } from "./personalize.js";
import { CardServer } from "./serve.js";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function served(faults: Faults = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-serve-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const statePath = join(dir, "card.json");
  FileCardStateStore.create(statePath, fixtureCardState());
  const vpcd = await FakeVpcd.listen();
  cleanup.push(() => vpcd.close());
  const server = await CardServer.start({
    statePath,
    vpcd: { host: "127.0.0.1", port: vpcd.port },
    faults,
    controlPort: 0,
    logger: silentLogger(),
    reconnectMs: 20,
  });
  cleanup.push(() => server.stop());
  await vpcd.waitForCard();
  vpcd.control(CTRL.POWER_ON);
  return { server, vpcd, statePath };
}

function control(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write(`${line}\n`));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      text += d;
      if (text.includes("\n")) {
        socket.destroy();
        resolve(text.trim());
      }
    });
    socket.on("error", reject);
  });
}

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("card-emulator serve (against a fake vpcd)", () => {
  it("answers vpcd's ATR request and a whole tap, and commits to the state file", async () => {
    const { vpcd, statePath } = await served();
    expect(hex(await vpcd.request(Uint8Array.of(CTRL.GET_ATR)))).toBe("3b80800101");
    const t = new TerminalScript(vpcd.transport());
    await t.authenticate();
    expect((await t.debit({ amount: 250, currency: 978, terminalSeq: 1 })).sw).toBe(SW.OK);
    expect(new FileCardStateStore(statePath).load()).toMatchObject({ balance: 4_750, counter: 1 });
  });

  it("tear fault: commits the DEBIT, drops the connection instead of answering, then comes back", async () => {
    const { vpcd, statePath, server } = await served({ tearAfterDebitCommit: true });
    const t = new TerminalScript(vpcd.transport());
    await t.authenticate();
    await expect(t.debit({ amount: 250, currency: 978, terminalSeq: 1 })).rejects.toMatchObject({
      code: "PROTO_ERR_TRANSPORT_CLOSED",
    });
    expect(new FileCardStateStore(statePath).load()).toMatchObject({ balance: 4_750, counter: 1 });
    await until(() => vpcd.connections === 2 && vpcd.connected);
    expect(server.applet.authenticated).toBe(false);
  });

  it("delay fault: every answer is late", async () => {
    const { vpcd } = await served({ delayMs: 80 });
    const start = performance.now();
    const r = await vpcd.request(encodeCommand(selectCommand()));
    expect(performance.now() - start).toBeGreaterThanOrEqual(75);
    expect(hex(r.subarray(-2))).toBe("9000");
  });

  it("silent fault: INITIATE gets no answer; removing and inserting the card through the control port revives it", async () => {
    const { vpcd, server } = await served({ silentAfterInitiate: true });
    const t = new TerminalScript(vpcd.transport());
    await t.select();
    const pending = t.initiate();
    const outcome = await Promise.race([
      pending.then(
        () => "answered",
        () => "failed",
      ),
      new Promise((r) => setTimeout(() => r("silent"), 150)),
    ]);
    expect(outcome).toBe("silent");
    expect(await control(server.controlPort!, "remove")).toBe("ok removed");
    await expect(pending).rejects.toMatchObject({ code: "PROTO_ERR_TRANSPORT_CLOSED" });
    expect(JSON.parse(await control(server.controlPort!, "status"))).toMatchObject({ present: false });
    expect(await control(server.controlPort!, "insert")).toBe("ok inserted");
    await vpcd.waitForCard();
    vpcd.control(CTRL.POWER_ON);
    expect((await t.select()).walletId).toBe("W-ALICE-0001");
  });

  it("reconnects when vpcd drops the card", async () => {
    const { vpcd } = await served();
    vpcd.dropCard();
    await until(() => vpcd.connections === 2 && vpcd.connected);
    expect(hex((await vpcd.request(encodeCommand(selectCommand()))).subarray(-2))).toBe("9000");
  });

  it("control port: status as JSON, errors for unknown commands", async () => {
    const { server } = await served();
    expect(JSON.parse(await control(server.controlPort!, "status"))).toEqual({
      walletId: "W-ALICE-0001",
      present: true,
      connected: true,
      authenticated: false,
      balance: 5_000,
      currency: 978,
      counter: 0,
      blocked: false,
    });
    expect(await control(server.controlPort!, "jump")).toMatch(/^error unknown command/);
  });

  it("refuses to start on a missing state file (CARD_ERR_STATE)", async () => {
    await expect(
      CardServer.start({
        statePath: "/nonexistent/card.json",
        vpcd: { host: "127.0.0.1", port: 1 },
        logger: silentLogger(),
      }),
    ).rejects.toMatchObject({ code: "CARD_ERR_STATE" });
  });
});
