/**
 * Batches belong to the terminal that signed them (issue 14): a batch id is answered, stored or
 * new, only after the terminal is authenticated, and a stored verdict is read only by that terminal
 * (a signed GET) or an operator. Attacks by another terminal of the scheme and by anyone on the
 * network, through the acquirer's HTTP routes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signPlatformRequest } from "../../protocol/platform/request-auth.js";
import type { BatchResult } from "../../protocol/wallet/batch.js";
import { TerminalSim } from "../../test-support/batch-builder.js";
import { frozenClock } from "../../test-support/clock.js";
import { fixtureSigner } from "../platform/testing.js";
import { TEST_NOW, type TestAcquirer, testAcquirer } from "../testing.js";

const TOKEN = "operator-token-for-tests";
const clock = frozenClock(TEST_NOW).date;

let acq: TestAcquirer;
beforeEach(async () => {
  acq = await testAcquirer({ clock, operatorToken: TOKEN });
});
afterEach(async () => {
  await acq.close();
});

async function post(upload: unknown) {
  const res = await acq.app.inject({ method: "POST", url: "/v1/batches", payload: upload as object });
  return { status: res.statusCode, body: res.json() as BatchResult & { code?: string } };
}

/** GET a batch's verdict as `who`: a terminal (signed), the operator (token), or nobody. */
async function get(batchId: string, who: "nobody" | "operator" | string, query = "") {
  const url = `/v1/batches/${batchId}${query}`;
  const headers =
    who === "nobody"
      ? {}
      : who === "operator"
        ? { authorization: `Bearer ${TOKEN}` }
        : (() => {
            const s = fixtureSigner(who);
            return signPlatformRequest(s.privateKey, s.chain, { method: "GET", path: url, body: "" });
          })();
  const res = await acq.app.inject({ method: "GET", url, headers });
  return { status: res.statusCode, body: res.json() as BatchResult & { code?: string } };
}

describe("batch ids belong to their terminal", () => {
  it("another terminal that squats T-0001's pending batch id first does not block T-0001's upload", async () => {
    const t1 = new TerminalSim();
    t1.debits(2);
    const pending = t1.closeBatch(); // not sent yet: its id is what the squatter saw on the wire
    const squatter = new TerminalSim({ terminal: "terminals/term-0002" });
    squatter.debit({ card: "cards/bob" });
    const squat = await post(squatter.closeBatch({ batchId: pending.manifest.batchId }));
    expect(squat).toMatchObject({ status: 200, body: { status: "settled", accepted: 1 } });
    // T-0001's own batch under that id settles, and so does every later one.
    expect(await post(pending)).toMatchObject({ status: 200, body: { status: "settled", accepted: 2 } });
    t1.debits(1);
    expect(await post(t1.closeBatch())).toMatchObject({ status: 200, body: { accepted: 1 } });
  });

  it("a manifest that claims T-0001's batch id with other content is refused as unauthenticated, not answered", async () => {
    const t1 = new TerminalSim();
    t1.debits(2);
    const upload = t1.closeBatch();
    expect((await post(upload)).status).toBe(200);
    // T-0002 signs a batch of its own and relabels it as T-0001's: the signature no longer matches.
    const other = new TerminalSim({ terminal: "terminals/term-0002" });
    other.debit({ card: "cards/bob" });
    const forged = other.closeBatch({ batchId: upload.manifest.batchId });
    const claimed = { ...forged, manifest: { ...forged.manifest, terminalId: "T-0001" } };
    const answer = await post(claimed);
    expect(answer.status).toBe(403);
    expect(answer.body.code).not.toBe("ACQ_ERR_IDEMPOTENCY_CONFLICT");
    // T-0001's retry still gets its stored verdict.
    expect(await post(upload)).toMatchObject({ status: 200, body: { accepted: 2 } });
  });
});

describe("GET /v1/batches/:batchId", () => {
  it("answers the terminal that sent the batch and the operator; nobody else learns its verdict", async () => {
    const t1 = new TerminalSim();
    t1.debits(2);
    const upload = t1.closeBatch();
    await post(upload);
    const id = upload.manifest.batchId;

    expect(await get(id, "terminals/term-0001")).toMatchObject({ status: 200, body: { accepted: 2 } });
    expect(await get(id, "operator", "?terminalId=T-0001")).toMatchObject({
      status: 200,
      body: { accepted: 2 },
    });
    const anonymous = await get(id, "nobody");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe("ACQ_ERR_UNAUTHORIZED");
    // Another terminal of the scheme, signed: it has no batch under this id.
    expect((await get(id, "terminals/term-0002")).status).toBe(404);
    const prying = await get(id, "terminals/term-0002", "?terminalId=T-0001");
    expect(prying.status).toBe(400);
    expect(prying.body.code).toBe("ACQ_ERR_BAD_REQUEST");
  });

  it("refuses a signed GET whose signature covers another path (401)", async () => {
    const t1 = new TerminalSim();
    t1.debits(1);
    const upload = t1.closeBatch();
    await post(upload);
    const s = fixtureSigner("terminals/term-0001");
    const headers = signPlatformRequest(s.privateKey, s.chain, {
      method: "GET",
      path: "/v1/batches/other",
      body: "",
    });
    const res = await acq.app.inject({
      method: "GET",
      url: `/v1/batches/${upload.manifest.batchId}`,
      headers,
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe("ACQ_ERR_REQUEST_SIGNATURE");
  });
});
