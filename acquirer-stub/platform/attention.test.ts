/**
 * The attention list (POST /v1/platform/attention): the wallets an online terminal presents to the
 * platform in a plain payment, because an issuer command is queued for the card or a load of it is
 * in doubt. Through the platform's signed HTTP routes, on the engine under test.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { AttentionAnswer } from "../../protocol/platform/api.js";
import { INS } from "../../protocol/wallet/constants.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { TEST_NOW } from "../testing.js";
import { releaseWallet, reportLost, setParameters } from "./commands.js";
import { fieldCard, newRequestId, type PlatformWorld, platformWorld } from "./testing.js";

const ALICE = "W-ALICE-0001";
const clock = () => TEST_NOW;
const nowS = Math.floor(TEST_NOW.getTime() / 1000);

let world: PlatformWorld;

beforeEach(async () => {
  world = await platformWorld(fieldCard(fixtureCard(), ALICE, loadFixturePki().der("cards/alice")), clock);
});
afterEach(async () => {
  await world.close();
});

async function listed(): Promise<AttentionAnswer> {
  const res = await world.terminal.post<AttentionAnswer>("/v1/platform/attention", {
    requestId: newRequestId(),
    time: world.terminal.time(),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe("the attention list", () => {
  it("is empty while no wallet has work, and dated by the platform's clock", async () => {
    expect(await listed()).toEqual({ wallets: [], truncated: false, asOf: nowS });
  });

  it("lists a wallet with a queued set-params until the card's receipt is booked", async () => {
    await setParameters(world.store, ALICE, { singleLimit: 1_500 }, nowS);
    expect((await listed()).wallets).toEqual([ALICE]);
    const [p] = (await world.terminal.present()).body.pendingCommands;
    await world.terminal.card.select();
    const requestId = newRequestId();
    const signed = await world.terminal.post<{ command: string }>(
      `/v1/platform/commands/${p!.commandId}/sign`,
      {
        requestId,
        challenge: await world.terminal.card.challenge(),
        time: world.terminal.time(),
      },
    );
    // Signed and relayed, but no receipt yet: still listed (the card may not have it).
    expect((await listed()).wallets).toEqual([ALICE]);
    const answer = await world.terminal.card.relay(INS.UPDATE_PARAMETERS, signed.body.command);
    const completed = await world.terminal.post(`/v1/platform/commands/${p!.commandId}/complete`, {
      requestId,
      proof: answer.proof,
    });
    expect(completed.status).toBe(200);
    expect((await listed()).wallets).toEqual([]);
  });

  it("lists a wallet whose load never got the card's record, until the reversal settles it", async () => {
    const request = await world.terminal.loadRequest({ type: "cash", amount: 500 });
    expect((await world.terminal.askLoad(request)).status).toBe(200);
    expect((await listed()).wallets).toEqual([ALICE]);
    const { completed } = await world.terminal.reverse(request.loadId);
    expect(completed.body.state).toBe("voided");
    expect((await listed()).wallets).toEqual([]);
  });

  it("lists a wallet reported lost (BLOCK queued) and, released before BLOCK was signed, no longer", async () => {
    await reportLost(world.store, ALICE, nowS);
    expect((await listed()).wallets).toEqual([ALICE]);
    await releaseWallet(world.store, ALICE, nowS);
    expect((await listed()).wallets).toEqual([]);
  });

  it("refuses an unsigned request (401), an unknown field (400) and a terminal clock far off (ACQ_ERR_REQUEST_TIME)", async () => {
    const body = { requestId: newRequestId(), time: world.terminal.time() };
    const unsigned = await world.terminal.post("/v1/platform/attention", body, {
      headers: { "tapwallet-signature": "" },
    });
    expect(unsigned.status).toBe(401);
    const extra = await world.terminal.post("/v1/platform/attention", { ...body, wallets: [ALICE] });
    expect(extra.status).toBe(400);
    const late = await world.terminal.post("/v1/platform/attention", { ...body, time: nowS + 3_600 });
    expect(late.status).toBe(400);
    expect(late.body.code).toBe("ACQ_ERR_REQUEST_TIME");
  });
});
