/**
 * Protocol regression on recorded exchanges: fixtures/transcripts/*.apdu hold real taps between
 * this terminal and the software wallet, recorded with every random input fixed (seeded sources,
 * RFC 6979 signatures on both sides, the fixtures' clock). The terminal replays them strictly: the
 * first command that differs from the recording fails with its line number, and leftovers fail.
 *
 * A deliberate protocol change (or `npm run pki`, which makes new keys) needs new recordings:
 *   UPDATE_TRANSCRIPTS=1 npx vitest run terminal/application/replay.test.ts
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nobleP256, privateKeyScalar } from "../../protocol/crypto.js";
import { fixturesDir } from "../../protocol/paths.js";
import type { Transport } from "../../protocol/transport.js";
import { RecordingTransport, ReplayTransport } from "../../protocol/transport-wrappers.js";
import { fixtureCard, seededRandom } from "../../test-support/card-fixture.js";
import { type TestTerminal, testTerminal } from "../../test-support/terminal-fixture.js";
import { runPayment } from "./run-payment.js";

const DIR = fixturesDir("transcripts");
const UPDATE = process.env.UPDATE_TRANSCRIPTS === "1";

let t: TestTerminal;
beforeEach(() => {
  t = testTerminal({ store: "memory" });
  t.deps = {
    ...t.deps,
    random: seededRandom(7),
    signer: (key, message) => nobleP256.sign(privateKeyScalar(key), message),
  };
});
afterEach(() => t.cleanup());

const cases = [
  { name: "tap-approved", card: {}, amount: 450, expect: { status: "approved" } },
  {
    name: "tap-declined-insufficient",
    card: { balance: 100 },
    amount: 450,
    expect: { status: "declined", code: "TERM_ERR_INSUFFICIENT_FUNDS" },
  },
] as const;

describe("recorded taps replayed against the terminal", () => {
  for (const c of cases) {
    it(`${c.name}: the terminal sends exactly the recorded commands and reaches the same outcome`, async () => {
      const file = join(DIR, `${c.name}.apdu`);
      let transport: Transport;
      let recorder: RecordingTransport | undefined;
      if (UPDATE || !existsSync(file)) {
        if (!UPDATE) throw new Error(`${file} is missing: record it with UPDATE_TRANSCRIPTS=1`);
        const card = fixtureCard(c.card, { crypto: "noble", random: seededRandom(11) });
        recorder = new RecordingTransport(card.transport, { now: () => 0 });
        transport = recorder;
      } else {
        transport = ReplayTransport.fromText(readFileSync(file, "utf8"));
      }
      const outcome = await runPayment(transport, t.deps, { amount: c.amount, currency: 978 });
      expect(outcome).toMatchObject(c.expect);
      if (recorder) {
        mkdirSync(DIR, { recursive: true });
        writeFileSync(
          file,
          recorder.transcript(
            {
              case: c.name,
              terminal: "terminals/term-0001",
              card: "cards/alice",
              regenerate: "UPDATE_TRANSCRIPTS=1 npx vitest run terminal/application/replay.test.ts",
            },
            { timings: false },
          ),
        );
      } else {
        (transport as ReplayTransport).assertDone();
      }
    });
  }

  it("fails on the first command that differs from the recording, naming its line", async () => {
    const file = join(DIR, "tap-approved.apdu");
    const replay = ReplayTransport.fromText(readFileSync(file, "utf8"));
    const outcome = await runPayment(
      replay,
      { ...t.deps, random: seededRandom(8) },
      { amount: 450, currency: 978 },
    );
    expect(outcome.status).toBe("error");
    expect(JSON.stringify(outcome)).toContain("line");
  });
});
