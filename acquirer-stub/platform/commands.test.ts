/**
 * Issuer commands queued by the operator (`wallet set-params`, `report-lost`, `release`) and
 * delivered to a real software card through the platform's HTTP routes: signed over the card's
 * challenge, relayed, and taken back as the card's signed record. Runs on the engine under test.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type {
  CommandState,
  IssuerCommandKind,
  PendingCommand,
  SignedIssuerCommand,
} from "../../protocol/platform/api.js";
import { INS } from "../../protocol/wallet/constants.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { TEST_NOW } from "../testing.js";
import { releaseWallet, reportLost, setParameters } from "./commands.js";
import { fieldCard, newRequestId, type PlatformWorld, platformWorld } from "./testing.js";
import { walletView } from "./wallets.js";

const ALICE = "W-ALICE-0001";
const clock = () => TEST_NOW;
const nowS = Math.floor(TEST_NOW.getTime() / 1000);
const INS_OF: Record<IssuerCommandKind, number> = {
  parameters: INS.UPDATE_PARAMETERS,
  block: INS.BLOCK,
  unblock: INS.UNBLOCK,
};

let card: ReturnType<typeof fixtureCard>;
let world: PlatformWorld;

beforeEach(async () => {
  card = fixtureCard();
  world = await platformWorld(fieldCard(card, ALICE, loadFixturePki().der("cards/alice")), clock);
});
afterEach(async () => {
  await world.close();
});

async function pending(): Promise<PendingCommand[]> {
  const res = await world.terminal.present();
  expect(res.status).toBe(200);
  return [...res.body.pendingCommands];
}

/** Sign a command over a fresh card challenge. */
async function sign(commandId: string, fields: { challenge?: string; requestId?: string } = {}) {
  await world.terminal.card.select();
  const request = {
    requestId: fields.requestId ?? newRequestId(),
    challenge: fields.challenge ?? (await world.terminal.card.challenge()),
    time: world.terminal.time(),
  };
  const res = await world.terminal.post<SignedIssuerCommand & { code?: string }>(
    `/v1/platform/commands/${commandId}/sign`,
    request,
  );
  return { request, ...res };
}

/** The whole delivery of one pending command: sign, relay, hand the record back. */
async function deliver(p: PendingCommand) {
  const signed = await sign(p.commandId);
  expect(signed.status, JSON.stringify(signed.body)).toBe(200);
  const answer = await world.terminal.card.relay(INS_OF[p.kind], signed.body.command);
  expect(answer.sw).toBe(0x9000);
  const completed = await world.terminal.post<CommandState & { code?: string }>(
    `/v1/platform/commands/${p.commandId}/complete`,
    { requestId: signed.request.requestId, proof: answer.proof },
  );
  return { signed, answer, completed };
}

describe("wallet set-params", () => {
  it("is delivered at the card's next presentation: the card and the platform end with the new limits", async () => {
    const queued = await setParameters(
      world.store,
      ALICE,
      { singleLimit: 1_500, autoLoadAmount: 2_000 },
      nowS,
    );
    expect((await walletView(world.store, ALICE)).commands).toMatchObject([
      { commandId: queued.commandId, kind: "parameters", state: "pending", values: { singleLimit: 1_500 } },
    ]);
    const [p] = await pending();
    expect(p).toEqual({ commandId: queued.commandId, kind: "parameters" });
    const { completed } = await deliver(p!);
    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({ state: "delivered", kind: "parameters", cardCounter: 1 });
    expect(card.applet.state.limits).toMatchObject({ singleLimit: 1_500, autoLoadAmount: 2_000 });
    const view = await walletView(world.store, ALICE);
    expect(view).toMatchObject({ singleLimit: 1_500, autoLoad: { on: true, amount: 2_000 }, lastCounter: 1 });
    expect(view.commands[0]).toMatchObject({ state: "delivered", cardCounter: 1, terminalId: "T-0001" });
    expect(await pending()).toEqual([]);
  });

  it("a newer set-params replaces the pending one and carries both changes", async () => {
    const first = await setParameters(world.store, ALICE, { singleLimit: 1_500 }, nowS);
    const second = await setParameters(world.store, ALICE, { autoLoadThreshold: 500 }, nowS);
    expect(second.superseded).toEqual([first.commandId]);
    const list = await pending();
    expect(list).toEqual([{ commandId: second.commandId, kind: "parameters" }]);
    await deliver(list[0]!);
    expect(card.applet.state.limits).toMatchObject({ singleLimit: 1_500, autoLoadThreshold: 500 });
    const old = await sign(first.commandId);
    expect(old.status).toBe(409);
    expect(old.body.code).toBe("ACQ_ERR_COMMAND_STATE");
  });

  it("refuses parameters out of range (ACQ_ERR_PARAMS_RANGE) and queues nothing", async () => {
    for (const change of [
      { singleLimit: 2_000_000 },
      { autoLoadThreshold: 10_000_000 },
      { balanceLimit: 0 },
      { singleLimit: -1 },
      { autoLoadAmount: 1.5 },
      {},
    ])
      await expect(setParameters(world.store, ALICE, change, nowS)).rejects.toMatchObject({
        code: "ACQ_ERR_PARAMS_RANGE",
      });
    expect((await walletView(world.store, ALICE)).commands).toEqual([]);
  });
});

describe("delivering a command", () => {
  it("a challenge signs one command only: a replayed challenge is ACQ_ERR_CHALLENGE_REUSED", async () => {
    const queued = await setParameters(world.store, ALICE, { singleLimit: 1_000 }, nowS);
    const first = await sign(queued.commandId);
    expect(first.status).toBe(200);
    const again = await sign(queued.commandId, { challenge: first.request.challenge });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("ACQ_ERR_CHALLENGE_REUSED");
    // A retry of the same request is answered the same; the same id with other content is a conflict.
    const retry = await world.terminal.post<SignedIssuerCommand>(
      `/v1/platform/commands/${queued.commandId}/sign`,
      first.request,
    );
    expect(retry.body.command).toBe(first.body.command);
    const conflict = await sign(queued.commandId, { requestId: first.request.requestId });
    expect(conflict.status).toBe(409);
    expect((conflict.body as { code?: string }).code).toBe("ACQ_ERR_IDEMPOTENCY_CONFLICT");
  });

  it("a record with a forged signature, or of another signing, is refused and nothing is delivered", async () => {
    const queued = await setParameters(world.store, ALICE, { singleLimit: 1_000 }, nowS);
    await pending(); // the card presented: its certificate is registered
    const signed = await sign(queued.commandId);
    const answer = await world.terminal.card.relay(INS.UPDATE_PARAMETERS, signed.body.command);
    const proof = answer.proof!;
    const flipped = `${proof.signature.slice(0, -1)}${proof.signature.endsWith("0") ? "1" : "0"}`;
    const forged = await world.terminal.post<{ code: string }>(
      `/v1/platform/commands/${queued.commandId}/complete`,
      {
        requestId: signed.request.requestId,
        proof: { ...proof, signature: flipped },
      },
    );
    expect(forged.status).toBe(422);
    expect(forged.body.code).toBe("ACQ_ERR_LOAD_SIGNATURE");
    // A second signing the card never executed: the real record's binding is the first one's.
    const other = await sign(queued.commandId);
    const mismatch = await world.terminal.post<{ code: string }>(
      `/v1/platform/commands/${queued.commandId}/complete`,
      { requestId: other.request.requestId, proof },
    );
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.code).toBe("ACQ_ERR_LOAD_RECORD_MISMATCH");
    expect((await walletView(world.store, ALICE)).commands[0]).toMatchObject({ state: "pending" });
    const unknown = await world.terminal.post<{ code: string }>(
      "/v1/platform/commands/0123456789abcdef/sign",
      {
        requestId: newRequestId(),
        challenge: "00".repeat(16),
        time: world.terminal.time(),
      },
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("ACQ_ERR_COMMAND_UNKNOWN");
  });

  it("a request changed after the terminal signed it is refused (401) and an unknown field is a bad request (400)", async () => {
    const queued = await setParameters(world.store, ALICE, { singleLimit: 1_000 }, nowS);
    const body = { requestId: newRequestId(), challenge: "00".repeat(16), time: world.terminal.time() };
    const tampered = await world.terminal.post(`/v1/platform/commands/${queued.commandId}/sign`, body, {
      tamper: (text) => text.replace("0000", "1111"),
    });
    expect(tampered.status).toBe(401);
    const extra = await world.terminal.post(`/v1/platform/commands/${queued.commandId}/sign`, {
      ...body,
      amount: 1,
    });
    expect(extra.status).toBe(400);
  });
});

describe("wallet report-lost and release", () => {
  it("a lost wallet is on the hotlist at once, refuses loads, and its card is blocked at the next presentation", async () => {
    const before = await world.acq.store.hotlistVersion();
    const lost = await reportLost(world.store, ALICE, nowS);
    expect(lost).toMatchObject({ changed: true, status: "lost", queued: { kind: "block" } });
    expect(await world.acq.store.hotlistVersion()).toBe(before + 1);
    expect(await world.acq.store.walletBlock(ALICE)).toMatchObject({ reason: "lost" });
    const load = await world.terminal.askLoad(
      await world.terminal.loadRequest({ type: "cash", amount: 500 }),
    );
    expect(load.status).toBe(422);
    expect((load.body as unknown as { code: string }).code).toBe("ACQ_ERR_WALLET_BLOCKED");
    expect(await reportLost(world.store, ALICE, nowS)).toMatchObject({ changed: false, queued: null });

    const [block] = await pending();
    expect(block?.kind).toBe("block");
    expect((await deliver(block!)).completed.body).toMatchObject({ state: "delivered" });
    expect(card.applet.state).toMatchObject({ blocked: true, blockReason: 1 });

    const released = await releaseWallet(world.store, ALICE, nowS);
    expect(released).toMatchObject({ status: "lost", queued: { kind: "unblock" } });
    expect((await walletView(world.store, ALICE)).status).toBe("lost");
    const [unblock] = await pending();
    await deliver(unblock!);
    expect(card.applet.state.blocked).toBe(false);
    expect((await walletView(world.store, ALICE)).status).toBe("active");
    expect(await world.acq.store.walletBlock(ALICE)).toBeNull();
    expect(await world.acq.store.hotlistVersion()).toBe(before + 2);
  });

  it("a release before BLOCK was ever signed is immediate: active and off the hotlist, nothing for the card", async () => {
    await reportLost(world.store, ALICE, nowS);
    const released = await releaseWallet(world.store, ALICE, nowS);
    expect(released).toMatchObject({ status: "active", queued: null });
    expect(await world.acq.store.walletBlock(ALICE)).toBeNull();
    expect(await pending()).toEqual([]);
    expect((await walletView(world.store, ALICE)).commands).toMatchObject([
      { kind: "block", state: "superseded" },
    ]);
  });

  it("a BLOCK signed but never confirmed may be on the card: the release queues UNBLOCK", async () => {
    await reportLost(world.store, ALICE, nowS);
    const [block] = await pending();
    const signed = await sign(block!.commandId);
    const answer = await world.terminal.card.relay(INS.BLOCK, signed.body.command);
    expect(answer.sw).toBe(0x9000); // the card is blocked; its record never reaches the platform
    const released = await releaseWallet(world.store, ALICE, nowS);
    expect(released).toMatchObject({ status: "lost", queued: { kind: "unblock" } });
    const list = await pending();
    expect(list.map((c) => c.kind)).toEqual(["unblock"]);
    await deliver(list[0]!);
    expect(card.applet.state.blocked).toBe(false);
    expect((await walletView(world.store, ALICE)).status).toBe("active");
  });

  it("release of a wallet that is not lost is ACQ_ERR_WALLET_NOT_LOST", async () => {
    await expect(releaseWallet(world.store, ALICE, nowS)).rejects.toMatchObject({
      code: "ACQ_ERR_WALLET_NOT_LOST",
    });
    await expect(reportLost(world.store, "W-NOBODY", nowS)).rejects.toMatchObject({
      code: "ACQ_ERR_WALLET_UNKNOWN",
    });
  });
});
