/**
 * Crash safety of `posd pay`: SIGKILL at random moments, 200 times, against one persistent card.
 * Afterwards the database is intact, no seq repeats, every record verifies, and the card's debits
 * equal the terminal's complete records once recovery has resolved the torn ones: nothing charged
 * is lost, nothing is charged twice.
 *
 * Half the kills land anywhere in the process's life, half within ~25 ms after the tap starts (the
 * window where intent, card commit and final record happen), found from posd's own debug log line.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { equalBytes } from "../protocol/bytes.js";
import { ecdsaVerify } from "../protocol/crypto.js";
import { certificateFromPem, parseCertificate } from "../protocol/pki.js";
import Database from "../protocol/sqlite.js";
import {
  CHAIN_STATUS,
  chainHash,
  GENESIS_HASH,
  terminalRecordMessage,
  verifyCardRecord,
} from "../protocol/wallet/records.js";
import { seededRandom } from "../test-support/card-fixture.js";
import { POSD } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const RUNS = Number(process.env.TAPWALLET_CRASH_RUNS ?? 200);

const world = systemWorld({
  name: "crash",
  posd: true,
  cards: { alice: { walletId: "W-CRASH-0001", balance: "5000.00", args: ["--balance-limit", "5000.00"] } },
});
const home = world.data;
const cardFile = world.cardPath("alice");
const env = () => ({ ...process.env, TAPWALLET_HOME: home, TAPWALLET_LOG_LEVEL: "debug" });

function runPay(
  killAfter: { atMs: number } | { afterTapStartMs: number },
): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [POSD, "pay", "--virtual", "--card", cardFile, "--amount", "1.00"],
      {
        env: env(),
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let killed = false;
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = child.kill("SIGKILL");
      }
    };
    if ("atMs" in killAfter) setTimeout(kill, killAfter.atMs);
    else {
      let text = "";
      child.stderr!.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('"msg":"tap started"')) {
          text = "";
          setTimeout(kill, killAfter.afterTapStartMs);
        }
      });
    }
    child.stderr!.resume();
    child.on("exit", (code) => resolve({ killed, code }));
  });
}

describe("posd pay under SIGKILL", () => {
  it(`keeps every charge exactly once across ${RUNS} kills at random moments`, async () => {
    const random = seededRandom(Number(process.env.TAPWALLET_CRASH_SEED ?? 20261124));
    const t0 = performance.now();
    await runPay({ atMs: 60_000 });
    const normalMs = performance.now() - t0;
    let killed = 0;
    for (let i = 0; i < RUNS; i++) {
      const r =
        i % 2 === 0
          ? await runPay({ atMs: random.next() * normalMs * 1.1 })
          : await runPay({ afterTapStartMs: random.next() * 25 });
      if (r.killed) killed++;
    }
    // A kill aimed after the process already ended does nothing; most must land.
    expect(killed).toBeGreaterThanOrEqual(RUNS * 0.5);

    // Recovery: the wallet comes back once; its log resolves every pending intent.
    execFileSync(process.execPath, [POSD, "recover", "--virtual", "--card", cardFile], {
      env: { ...env(), TAPWALLET_LOG_LEVEL: "warn" },
    });

    const db = new Database(join(home, "records.sqlite"), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    const rows = db.prepare("SELECT * FROM transactions ORDER BY seq").all() as Record<string, unknown>[];
    const seqs = rows.map((r) => r.seq as number);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(rows.filter((r) => r.status === "pending")).toEqual([]);

    const terminalKey = certificateFromPem(readFileSync(join(home, "terminal.crt.pem"), "utf8")).publicKey;
    const card = JSON.parse(readFileSync(cardFile, "utf8")) as {
      certificate: string;
      balance: number;
      counter: number;
      log: { terminalSeq: number; amount: number; type: number }[];
    };
    const cardKey = parseCertificate(new Uint8Array(Buffer.from(card.certificate, "base64"))).publicKey;
    let previous: Uint8Array = GENESIS_HASH;
    const chained = rows
      .filter((r) => r.chain_index !== null)
      .sort((a, b) => (a.chain_index as number) - (b.chain_index as number));
    expect(chained.map((r) => r.chain_index)).toEqual(chained.map((_, i) => i + 1));
    for (const r of chained) {
      const entry = {
        previousHash: previous,
        terminalSeq: r.seq as number,
        status: r.status === "complete" ? CHAIN_STATUS.COMPLETE : CHAIN_STATUS.VOIDED,
        cardRecord: r.card_record ? new Uint8Array(r.card_record as Buffer) : new Uint8Array(0),
        cardSignature: r.card_signature ? new Uint8Array(r.card_signature as Buffer) : new Uint8Array(0),
      };
      expect(equalBytes(new Uint8Array(r.previous_hash as Buffer), previous)).toBe(true);
      expect(
        ecdsaVerify(
          terminalKey,
          terminalRecordMessage(entry),
          new Uint8Array(r.terminal_signature as Buffer),
        ),
      ).toBe(true);
      if (r.status === "complete")
        expect(verifyCardRecord(cardKey, entry.cardRecord, entry.cardSignature)).toBe(true);
      previous = chainHash(entry, new Uint8Array(r.terminal_signature as Buffer));
    }

    const complete = rows.filter((r) => r.status === "complete");
    expect(card.counter).toBe(complete.length);
    expect(500_000 - card.balance).toBe(complete.reduce((s, r) => s + (r.amount as number), 0));
    // Every debit in the card's log is a complete record of the same seq and amount.
    for (const e of card.log.filter((l) => l.type === 1)) {
      const row = rows.find((r) => r.seq === e.terminalSeq);
      expect(row).toMatchObject({ status: "complete", amount: e.amount });
    }
    // The kills must have hit the window that matters: intents resolved by recovery, both ways.
    const resolutions = rows.map((r) => String(r.resolution));
    const recovered = resolutions.filter((r) => r === "recovered").length;
    const voidedByRecovery = resolutions.filter((r) => r.startsWith("voided: not in the card's log")).length;
    console.log(
      `crash test: ${RUNS} runs, ${killed} killed, ${complete.length} complete, ${recovered} recovered from the card's log, ${voidedByRecovery} voided by recovery`,
    );
    if (RUNS >= 200) expect(recovered + voidedByRecovery).toBeGreaterThan(0);
    db.close();
  }, 600_000);
});
