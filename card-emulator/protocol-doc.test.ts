/**
 * Generates the "Worked example" of docs/protocol.md — a whole tap between the fixture terminal and
 * the software card, byte for byte — and fails when the document is stale. Everything random is
 * fixed: seeded random sources, RFC 6979 signatures (noble) on both sides, the fixtures' clock.
 *
 *   UPDATE_DOCS=1 npx vitest run card-emulator/protocol-doc.test.ts     # rewrite the section
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { p256 } from "@noble/curves/nist.js";
import { describe, expect, it } from "vitest";
import { concat, hex } from "../protocol/bytes.js";
import type { RandomSource } from "../protocol/crypto.js";
import { packageRoot } from "../protocol/paths.js";
import { parseTranscript } from "../protocol/transcript.js";
import { RecordingTransport } from "../protocol/transport-wrappers.js";
import { INS } from "../protocol/wallet/constants.js";
import {
  encodeDebit,
  encodeSignedRecord,
  parseCardAuth,
  parseInitiateAuth,
} from "../protocol/wallet/messages.js";
import { deriveSessionKeys } from "../protocol/wallet/secure-channel.js";
import { fixtureCard, seededRandom } from "../test-support/card-fixture.js";
import { FIXTURE_UNIX_TIME, TerminalScript } from "../test-support/terminal-script.js";
import type { InProcessTransport } from "./inprocess.js";

const DOC = join(packageRoot(), "docs", "protocol.md");
const BEGIN = "<!-- transcript:begin -->";
const END = "<!-- transcript:end -->";
const REGENERATE = "UPDATE_DOCS=1 npx vitest run card-emulator/protocol-doc.test.ts";

function label(command: Uint8Array, previousIns: number | undefined): string {
  const cla = command[0]!;
  const ins = command[1]!;
  const chained = (cla & 0x10) !== 0;
  switch (ins) {
    case INS.SELECT:
      return "SELECT the wallet AID → FCI";
    case INS.INITIATE_AUTH:
      return chained
        ? "INITIATE AUTHENTICATE, a chained part (CLA 90: more parts follow; the card answers 9000)"
        : "INITIATE AUTHENTICATE, last part → the card's answer, first 255 bytes and 61xx";
    case INS.GET_RESPONSE:
      return `GET RESPONSE (rest of the ${previousIns === INS.GET_RESPONSE ? "same " : ""}answer)`;
    case INS.EXTERNAL_AUTH:
      return "EXTERNAL AUTHENTICATE → 9000, secure messaging starts (counter 0)";
    case INS.DEBIT:
      return "DEBIT, secure (counter 0): sealed command → sealed answer, outer 9000";
    default:
      return `INS ${ins.toString(16)}`;
  }
}

/** A random source that also keeps what it handed out (to print the ephemeral private keys). */
function keeping(random: RandomSource): RandomSource & { draws: Uint8Array[] } {
  const draws: Uint8Array[] = [];
  const source = ((n: number) => {
    const bytes = random(n);
    draws.push(bytes.slice());
    return bytes;
  }) as RandomSource & { draws: Uint8Array[] };
  source.draws = draws;
  return source;
}

/**
 * The ECDH/HKDF vector of the session: both ephemeral private keys (the scalar each side derives
 * from its first 48 random bytes, card-crypto.ts), Z, and a check that they are the keys on the
 * wire and give the session keys the terminal derived.
 */
function ecdhVector(
  cardRandom: { draws: Uint8Array[] },
  terminalRandom: { draws: Uint8Array[] },
  initiateData: Uint8Array,
  cardAnswer: Uint8Array,
  transcript: Uint8Array,
  keys: { command: Uint8Array; response: Uint8Array },
): string[] {
  const scalar = (draws: Uint8Array[]) => p256.utils.randomSecretKey(draws.find((d) => d.length === 48)!);
  const dCard = scalar(cardRandom.draws);
  const dTerminal = scalar(terminalRandom.draws);
  const terminalKey = parseInitiateAuth(initiateData).ephemeralKey;
  const cardKey = parseCardAuth(cardAnswer).ephemeralKey;
  if (hex(p256.getPublicKey(dCard, false)) !== hex(cardKey)) throw new Error("card ephemeral key mismatch");
  if (hex(p256.getPublicKey(dTerminal, false)) !== hex(terminalKey))
    throw new Error("terminal ephemeral key mismatch");
  const z = p256.getSharedSecret(dTerminal, cardKey).slice(1);
  if (hex(p256.getSharedSecret(dCard, terminalKey).slice(1)) !== hex(z)) throw new Error("ECDH disagrees");
  const derived = deriveSessionKeys(z, transcript);
  if (hex(derived.command) !== hex(keys.command) || hex(derived.response) !== hex(keys.response))
    throw new Error("HKDF disagrees with the session keys");
  return [
    `# terminal ephemeral private key (test vector only) = ${hex(dTerminal)}`,
    `# card ephemeral private key (test vector only) = ${hex(dCard)}`,
    `# Z = ECDH(terminal private, card DF11) = ECDH(card private, terminal DF11) = ${hex(z)}`,
    `# K = HKDF-SHA256(ikm = Z, salt = H, info = "TAPWALLET/1 SM KEYS", 64) = kCmd || kRsp`,
  ];
}

async function workedExample(): Promise<string> {
  const cardRandom = keeping(seededRandom(1));
  const terminalRandom = keeping(seededRandom(2));
  const { transport: card, applet } = fixtureCard({}, { crypto: "noble", random: cardRandom });
  const recording = new RecordingTransport(card as InProcessTransport, { now: () => 0 });
  const t = new TerminalScript(recording, { signer: "noble", random: terminalRandom });
  await t.authenticate();
  const debit = { amount: 450, currency: 978, terminalSeq: 1 };
  const result = await t.debit(debit);
  if (result.sw !== 0x9000 || !result.record) throw new Error(`worked example DEBIT answered ${result.sw}`);
  const keys = t.sessionKeys!;
  // The card's INITIATE AUTHENTICATE answer: the last part's data and every GET RESPONSE's after it.
  const cardAnswer = concat(
    ...recording.exchanges
      .filter(
        (e) =>
          (e.command[1] === INS.INITIATE_AUTH && (e.command[0]! & 0x10) === 0) ||
          e.command[1] === INS.GET_RESPONSE,
      )
      .map((e) => e.response.subarray(0, -2)),
  );

  const lines: string[] = [];
  let previous: number | undefined;
  for (const e of recording.exchanges) {
    const ins = e.command[1]!;
    if (ins === INS.EXTERNAL_AUTH) {
      lines.push(`# transcript hash H = ${hex(t.transcript!)}`);
      lines.push(...ecdhVector(cardRandom, terminalRandom, t.initiateData!, cardAnswer, t.transcript!, keys));
      lines.push(`# kCmd (terminal → card) = ${hex(keys.command)}`);
      lines.push(`# kRsp (card → terminal) = ${hex(keys.response)}`);
    }
    if (ins === INS.DEBIT) lines.push(`# DEBIT plaintext: ${hex(encodeDebit(debit))}`);
    lines.push(`# ${label(e.command, previous)}`);
    lines.push(`=> ${hex(e.command)}`);
    lines.push(`<= ${hex(e.response)}`);
    if (ins === INS.DEBIT)
      lines.push(
        `# inner answer: ${hex(encodeSignedRecord(result.record.bytes, result.record.signature))}9000`,
      );
    previous = ins;
  }
  const stats = recording.stats();
  // A second tap of the same card and terminal: the card now caches the acquirer CA (FCI DF06).
  recording.clear();
  const again = new TerminalScript(recording, { signer: "noble", random: seededRandom(3) });
  await again.authenticate();
  if ((await again.debit({ ...debit, terminalSeq: 2 })).sw !== 0x9000) throw new Error("second tap failed");
  const second = recording.stats();
  const r = result.record.record;
  const text = [
    "",
    `Generated by \`card-emulator/protocol-doc.test.ts\`, which fails when this section is stale`,
    `(regenerate: \`${REGENERATE}\`). Inputs: the card \`fixtures/pki/cards/alice\``,
    `(wallet ${applet.state.walletId}, 50.00 EUR, single limit 20.00), the terminal`,
    "`fixtures/pki/terminals/term-0001` (T-0001, MCC 5411, region TW), terminal time",
    `${FIXTURE_UNIX_TIME} (2026-01-01T00:00:00Z), a first tap (the card has not cached the acquirer CA yet, so`,
    "the terminal sends it). Randomness comes from fixed seeds and both sides sign with RFC 6979",
    "deterministic nonces, so every byte is reproducible; a real card and terminal use fresh randomness.",
    "Before EXTERNAL AUTHENTICATE the transcript lists the ECDH/HKDF vector: both ephemeral private",
    "keys (32-byte scalars; their public keys are the DF11 of INITIATE AUTHENTICATE and of the card's",
    "answer), the shared secret Z (the x-coordinate) and the session keys derived from Z and H.",
    `A DEBIT of 4.50 EUR (terminal seq 1) leaves a balance of ${r.balanceAfter} minor units, card counter ${r.cardCounter}.`,
    `${stats.apdus} APDUs, ${stats.bytesOut} bytes to the card, ${stats.bytesIn} bytes back; the next tap, with the`,
    `acquirer CA cached by the card: ${second.apdus} APDUs, ${second.bytesOut} bytes to the card, ${second.bytesIn} back.`,
    "",
    "```text",
    ...lines,
    "```",
    "",
  ].join("\n");
  // The section must stay a valid transcript for tools (protocol/transcript.ts).
  parseTranscript(lines.join("\n"));
  return text;
}

describe("docs/protocol.md › worked example", () => {
  it("is the transcript a test tap produces today (byte-stable)", async () => {
    const generated = await workedExample();
    // Twice the same: nothing random leaks in.
    expect(await workedExample()).toBe(generated);
    const doc = readFileSync(DOC, "utf8");
    const begin = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    expect(begin, "docs/protocol.md lost its transcript markers").toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    const current = doc.slice(begin + BEGIN.length, end);
    if (current === generated) return;
    if (process.env.UPDATE_DOCS === "1") {
      writeFileSync(DOC, doc.slice(0, begin + BEGIN.length) + generated + doc.slice(end));
      return;
    }
    expect.fail(`docs/protocol.md's worked example is stale. Regenerate it with:\n  ${REGENERATE}`);
  });
});
