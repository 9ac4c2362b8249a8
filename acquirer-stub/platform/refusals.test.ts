/**
 * What the wallet platform refuses, each with its stable code, and that a refusal changes nothing:
 * no booking, no hold, no load, no challenge spent (the money snapshot is the same before and
 * after), and no proof that does not match books anything.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import type { LoadRequest } from "../../protocol/platform/api.js";
import { INS } from "../../protocol/wallet/constants.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { frozenClock } from "../../test-support/clock.js";
import { TEST_NOW } from "../testing.js";
import {
  bankBalanceBreaks,
  EUR,
  fieldCard,
  moneySnapshot,
  OTHER_ACCOUNT,
  type PlatformWorld,
  platformWorld,
  unbalancedBookings,
} from "./testing.js";
import { issueWallet } from "./wallets.js";

const ALICE = "W-ALICE-0001";
const pki = loadFixturePki();
const clock = frozenClock(TEST_NOW).date;
const b64 = (name: string) => Buffer.from(pki.der(name)).toString("base64");

let card: ReturnType<typeof fixtureCard>;
let world: PlatformWorld;

async function open(wallet: Parameters<typeof platformWorld>[2] = {}) {
  card = fixtureCard();
  world = await platformWorld(fieldCard(card, ALICE, pki.der("cards/alice")), clock, wallet);
}
afterEach(async () => {
  expect(await unbalancedBookings(world.acq.store)).toEqual([]);
  expect(await bankBalanceBreaks(world.acq.store)).toEqual([]);
  await world.close();
});

const snapshot = () => moneySnapshot(world.acq.store);

/** Ask for a load built from `fields`; expect `code` at `status`, and no change at all. */
async function expectRefused(
  fields: Partial<LoadRequest> & Pick<LoadRequest, "type" | "amount">,
  status: number,
  code: string,
  edit: (r: LoadRequest) => LoadRequest = (r) => r,
) {
  const request = edit(await world.terminal.loadRequest(fields));
  const before = await snapshot();
  const res = await world.terminal.askLoad(request);
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(await snapshot()).toEqual(before);
}

describe("wallet platform › loads it refuses, changing nothing", () => {
  beforeEach(() => open());

  const cases: [string, Partial<LoadRequest> & Pick<LoadRequest, "type" | "amount">, number, string][] = [
    [
      "a load that would take the card over its balance limit",
      { type: "cash", amount: 15_001 },
      422,
      "ACQ_ERR_OVER_BALANCE_LIMIT",
    ],
    ["a zero amount", { type: "cash", amount: 0 }, 422, "ACQ_ERR_LOAD_AMOUNT"],
    ["a negative amount", { type: "cash", amount: -100 }, 422, "ACQ_ERR_LOAD_AMOUNT"],
    ["an amount beyond 12 digits", { type: "cash", amount: 1_000_000_000_000 }, 422, "ACQ_ERR_LOAD_AMOUNT"],
    [
      "another currency than the wallet's",
      { type: "cash", amount: 100, currency: 840 },
      422,
      "ACQ_ERR_CURRENCY",
    ],
    [
      "a bank account nobody opened",
      { type: "non-bound", amount: 100, fromAccount: "NL-9999" },
      422,
      "ACQ_ERR_ACCOUNT_UNKNOWN",
    ],
    [
      "more than the account has",
      { type: "non-bound", amount: 10_001, fromAccount: OTHER_ACCOUNT },
      422,
      "ACQ_ERR_INSUFFICIENT_FUNDS",
    ],
    [
      "a supplementary load with an empty online account",
      { type: "supplementary", amount: 100 },
      422,
      "ACQ_ERR_INSUFFICIENT_FUNDS",
    ],
    [
      "an auto load for a wallet without auto-load",
      { type: "auto", amount: 100 },
      422,
      "ACQ_ERR_AUTO_LOAD_OFF",
    ],
    [
      "a cash load without a teller",
      { type: "cash", amount: 100, teller: undefined },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "a non-bound load that names no account",
      { type: "non-bound", amount: 100 },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "an account named for a bound load",
      { type: "bound", amount: 100, fromAccount: OTHER_ACCOUNT },
      400,
      "ACQ_ERR_BAD_REQUEST",
    ],
    [
      "a wallet the platform never issued",
      { type: "cash", amount: 100, walletId: "W-NOBODY" },
      404,
      "ACQ_ERR_WALLET_UNKNOWN",
    ],
    [
      "another wallet's card certificate",
      { type: "cash", amount: 100, cardCertificate: b64("cards/bob") },
      422,
      "ACQ_ERR_CARD_MISMATCH",
    ],
    [
      "a card certificate from a rogue issuer",
      { type: "cash", amount: 100, cardCertificate: b64("cards/rogue") },
      422,
      "ACQ_ERR_UNKNOWN_ISSUER",
    ],
  ];
  for (const [what, fields, status, code] of cases)
    it(`refuses ${what} (${code})`, () =>
      expectRefused(
        fields,
        status,
        code,
        // A field given as undefined is one the request leaves out.
        (r) => JSON.parse(JSON.stringify(r)) as LoadRequest,
      ));

  it("signs a load that fills the card exactly to its balance limit", async () => {
    const res = await world.terminal.askLoad(
      await world.terminal.loadRequest({ type: "cash", amount: 15_000 }),
    );
    expect(res.status).toBe(200);
  });

  it("refuses a load the card itself reports blocked (ACQ_ERR_WALLET_BLOCKED)", () =>
    expectRefused({ type: "cash", amount: 100 }, 422, "ACQ_ERR_WALLET_BLOCKED", (r) => ({
      ...r,
      card: { ...r.card, state: "blocked" },
    })));

  it("refuses a blocked wallet (ACQ_ERR_WALLET_BLOCKED)", async () => {
    await world.acq.store.db.updateTable("wallets").set({ status: "blocked" }).execute();
    await expectRefused({ type: "cash", amount: 100 }, 422, "ACQ_ERR_WALLET_BLOCKED");
  });

  it("refuses a closed bank account (ACQ_ERR_ACCOUNT_CLOSED)", async () => {
    await world.acq.store.db.updateTable("bank_accounts").set({ status: "closed" }).execute();
    await expectRefused({ type: "bound", amount: 100 }, 422, "ACQ_ERR_ACCOUNT_CLOSED");
  });

  it("counts the money already held for pending loads (ACQ_ERR_INSUFFICIENT_FUNDS)", async () => {
    const first = await world.terminal.loadRequest({
      type: "non-bound",
      amount: 6_000,
      fromAccount: OTHER_ACCOUNT,
    });
    expect((await world.terminal.askLoad(first)).status).toBe(200);
    await expectRefused(
      { type: "non-bound", amount: 4_001, fromAccount: OTHER_ACCOUNT },
      422,
      "ACQ_ERR_INSUFFICIENT_FUNDS",
    );
  });

  it("refuses a revoked card certificate (ACQ_ERR_CARD_REVOKED)", async () => {
    const revoked = pki.cert("cards/revoked").attributes.walletId!;
    await issueWallet(
      world.store,
      {
        walletId: revoked,
        currency: EUR,
        opening: 0,
        boundAccount: null,
        balanceLimit: 20_000,
        singleLimit: 2_000,
        autoLoadThreshold: 0,
        autoLoadAmount: 0,
      },
      TEST_NOW.getTime() / 1000,
    );
    await expectRefused(
      { type: "cash", amount: 100, walletId: revoked, cardCertificate: b64("cards/revoked") },
      422,
      "ACQ_ERR_CARD_REVOKED",
    );
  });

  it("refuses a second command over the same card challenge (ACQ_ERR_CHALLENGE_REUSED)", async () => {
    const first = await world.terminal.loadRequest({ type: "cash", amount: 100 });
    expect((await world.terminal.askLoad(first)).status).toBe(200);
    await expectRefused({ type: "cash", amount: 100 }, 409, "ACQ_ERR_CHALLENGE_REUSED", (r) => ({
      ...r,
      challenge: first.challenge,
    }));
    const before = await snapshot();
    const reversal = await world.terminal.post(`/v1/platform/loads/${first.loadId}/reversal`, {
      requestId: "cd".repeat(16),
      challenge: first.challenge,
      time: world.terminal.time(),
    });
    expect(reversal.body.code).toBe("ACQ_ERR_CHALLENGE_REUSED");
    expect(await snapshot()).toEqual(before);
  });
});

describe("wallet platform › loads refused by the wallet's own parameters", () => {
  it("refuses a load over the wallet's balance limit when it is below the card's", async () => {
    await open({ balanceLimit: 6_000 });
    await expectRefused({ type: "cash", amount: 1_001 }, 422, "ACQ_ERR_OVER_BALANCE_LIMIT");
  });

  it("refuses a bound load for a wallet without a bound account (ACQ_ERR_NO_BOUND_ACCOUNT)", async () => {
    await open({ boundAccount: null });
    await expectRefused({ type: "bound", amount: 100 }, 422, "ACQ_ERR_NO_BOUND_ACCOUNT");
  });
});

describe("wallet platform › proofs that do not match book nothing", () => {
  beforeEach(() => open());

  /** Two loads the card made (the second of `otherAmount`), neither proven yet. */
  async function twoCommittedLoads(otherAmount: number) {
    const run = async (amount: number) => {
      const request = await world.terminal.loadRequest({ type: "bound", amount });
      const command = await world.terminal.askLoad(request);
      return {
        loadId: request.loadId,
        proof: (await world.terminal.card.relay(INS.LOAD, command.body.command)).proof!,
      };
    };
    return [await run(1_000), await run(otherAmount)] as const;
  }

  async function expectProofRefused(
    loadId: string,
    proof: { record: string; signature: string },
    status: number,
    body: object,
  ) {
    const before = await snapshot();
    const res = await world.terminal.complete(loadId, proof);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject(body);
    expect(await snapshot()).toEqual(before);
  }

  it("refuses the record of a load of another amount (amount and binding differ)", async () => {
    const [a, b] = await twoCommittedLoads(2_000);
    await expectProofRefused(a.loadId, b.proof, 422, {
      code: "ACQ_ERR_LOAD_RECORD_MISMATCH",
      details: { fields: ["amount", "binding"] },
    });
    expect((await world.terminal.complete(a.loadId, a.proof)).body.state).toBe("loaded");
  });

  it("refuses the record of another load of the same amount (its binding names another load id)", async () => {
    const [a, b] = await twoCommittedLoads(1_000);
    await expectProofRefused(a.loadId, b.proof, 422, {
      code: "ACQ_ERR_LOAD_RECORD_MISMATCH",
      details: { fields: ["binding"] },
    });
  });

  it("refuses a forged signature and a record whose amount was edited (ACQ_ERR_LOAD_SIGNATURE)", async () => {
    const [a] = await twoCommittedLoads(1_000);
    const flipped = (a.proof.signature[0] === "0" ? "1" : "0") + a.proof.signature.slice(1);
    await expectProofRefused(a.loadId, { ...a.proof, signature: flipped }, 422, {
      code: "ACQ_ERR_LOAD_SIGNATURE",
    });
    // The amount field follows version, type, wallet id length, wallet id and the counter.
    const at = 2 * (3 + ALICE.length + 4);
    const edited = a.proof.record.slice(0, at) + "000000009999" + a.proof.record.slice(at + 12);
    await expectProofRefused(a.loadId, { ...a.proof, record: edited }, 422, {
      code: "ACQ_ERR_LOAD_SIGNATURE",
    });
  });

  it("refuses a record that is not a record (ACQ_ERR_RECORD_FORMAT)", async () => {
    const [a] = await twoCommittedLoads(1_000);
    await expectProofRefused(a.loadId, { record: "0102", signature: a.proof.signature }, 422, {
      code: "ACQ_ERR_RECORD_FORMAT",
    });
  });

  it("refuses a proof for a load it never signed (404 ACQ_ERR_LOAD_UNKNOWN)", async () => {
    const [a] = await twoCommittedLoads(1_000);
    await expectProofRefused("0123456789abcdef", a.proof, 404, { code: "ACQ_ERR_LOAD_UNKNOWN" });
  });
});
