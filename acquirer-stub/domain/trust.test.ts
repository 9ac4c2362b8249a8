/**
 * The acquirer settles only what the right CAs certified: a terminal from an acquirer CA, a card
 * from an issuer CA, each role in the certificates' extendedKeyUsage. Played over loopback HTTP
 * the way a bank holding an issuer CA key would try it: mint a "terminal", sign a batch, upload.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProtocolError } from "../../protocol/errors.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { TerminalSim } from "../../test-support/batch-builder.js";
import { frozenClock } from "../../test-support/clock.js";
import { AcquirerError } from "../errors.js";
import { countRows, TEST_NOW, type TestAcquirer, testAcquirer, testPki } from "../testing.js";
import { AcquirerTrust } from "./trust.js";

const pki = loadFixturePki();
const clock = frozenClock(TEST_NOW).date;

let acq: TestAcquirer;
let base: string;
beforeEach(async () => {
  acq = await testAcquirer({ clock });
  base = await acq.app.listen({ host: "127.0.0.1", port: 0 });
});
afterEach(async () => {
  await acq.close();
});

async function upload(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/v1/batches`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const count = (table: "batches" | "records") => countRows(acq.store, table);

describe("acquirer › a batch from a terminal that an issuer CA certified", () => {
  it("is refused with 403 ACQ_ERR_TERMINAL_CERT and nothing is stored or settled", async () => {
    const rogue = new TerminalSim({ terminal: "terminals/by-issuer-ca" });
    expect(rogue.certificateChain.map((c) => c.commonName)).toEqual(["T-0666", "Issuer Bank CA"]);
    rogue.debits(3);
    const r = await upload(rogue.closeBatch());
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: "ACQ_ERR_TERMINAL_CERT" });
    expect(await count("batches")).toBe(0);
    expect(await count("records")).toBe(0);
    // The same debits from an honest terminal settle.
    const honest = new TerminalSim();
    honest.debits(3);
    expect((await upload(honest.closeBatch())).status).toBe(200);
  });

  it("names the role as the reason", () => {
    const chain = [pki.der("terminals/by-issuer-ca"), pki.der("issuer-ca")];
    try {
      testPki().trust.authenticateTerminal(chain, pki.at);
      expect.fail("authenticated a terminal certified by an issuer CA");
    } catch (e) {
      expect(e).toBeInstanceOf(AcquirerError);
      expect((e as AcquirerError).code).toBe("ACQ_ERR_TERMINAL_CERT");
      expect((e as AcquirerError & { details?: unknown }).details).toEqual({ cause: "PROTO_ERR_CERT_ROLE" });
      expect((e as Error).cause).toBeInstanceOf(ProtocolError);
    }
  });
});

describe("acquirer › a record signed by a card that an acquirer CA certified", () => {
  it("is rejected while the honest records of the batch settle", async () => {
    const sim = new TerminalSim();
    sim.debit({ card: "cards/alice", amount: 100 });
    sim.debit({ card: "cards/by-acquirer-ca", amount: 200 });
    const r = await upload(sim.closeBatch());
    expect(r.status).toBe(200);
    const records = r.body.records as { seq: number; status: string; reason?: string }[];
    expect(records.map((x) => x.status)).toEqual(["accepted", "rejected"]);
    expect(records[1]!.reason).toMatch(/^ACQ_ERR_(UNKNOWN_ISSUER|CARD_CERT)$/);
  });
});

describe("AcquirerTrust configuration", () => {
  const roots = [pki.cert("root-ca")];
  const issuerCas = [pki.cert("issuer-ca")];
  const acquirerCas = [pki.cert("acquirer-ca")];

  it("refuses an issuer CA configured as an acquirer CA, and the reverse (ACQ_ERR_CONFIG)", () => {
    const config = (o: Partial<ConstructorParameters<typeof AcquirerTrust>[0]>) => () =>
      new AcquirerTrust({ roots, issuerCas, acquirerCas, ...o });
    expect(config({ acquirerCas: [pki.cert("issuer-ca")] })).toThrow(
      expect.objectContaining({ code: "ACQ_ERR_CONFIG" }),
    );
    expect(config({ issuerCas: [pki.cert("acquirer-ca")] })).toThrow(
      expect.objectContaining({ code: "ACQ_ERR_CONFIG" }),
    );
    expect(config({ issuerCas: [pki.cert("unmarked-ca")] })).toThrow(
      expect.objectContaining({ code: "ACQ_ERR_CONFIG" }),
    );
    expect(config({ roots: [pki.cert("issuer-ca")] })).toThrow(
      expect.objectContaining({ code: "ACQ_ERR_CONFIG" }),
    );
    expect(config({})).not.toThrow();
  });
});
