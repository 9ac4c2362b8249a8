/**
 * Crash safety through the real stack: `card-emulator serve` (the built CLI) answers a stream of
 * debits driven through nfc-pcsc → pcscd → vpcd, and is killed with SIGKILL at a random moment, at
 * least 50 times. After every kill the state file must parse, its counter must not have gone back,
 * and its balance must be the initial balance minus every debit the card committed: the answered
 * ones, plus at most the one in flight at the kill — which then must be the newest log entry (the
 * card committed it but its answer was lost: exactly what GET TRANSACTION LOG recovers).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { expect, it } from "vitest";
import { FileCardStateStore } from "../card-emulator/applet/state.js";
import { fixtureCardState } from "../card-emulator/personalize.js";
import { withTimeout } from "../protocol/transport-wrappers.js";
import { type PcscCardEvent, PcscService } from "../terminal/adapters/pcsc/service.js";
import { seededRandom } from "../test-support/card-fixture.js";
import {
  describePcsc,
  VPCD_HOST,
  VPCD_PORT_1,
  VPCD_READER_1,
  waitForEmptyReader,
} from "../test-support/pcsc.js";
import { CARD_EMULATOR } from "../test-support/posd-process.js";
import { TerminalScript } from "../test-support/terminal-script.js";
import { systemWorld } from "./world.js";

const READER = VPCD_READER_1;
const KILLS = 50;
const EUR = 978;

function nextEvent<T>(
  service: PcscService,
  event: "card" | "card.off",
  match: (arg: never) => T | undefined,
  ms: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      service.off(event, listener as never);
      reject(new Error(`no ${event} on ${READER} within ${ms} ms`));
    }, ms);
    const listener = (arg: never) => {
      const value = match(arg);
      if (value === undefined) return;
      clearTimeout(timer);
      service.off(event, listener as never);
      resolve(value);
    };
    service.on(event, listener as never);
  });
}

describePcsc("card-emulator serve › kill -9 during a stream of debits", () => {
  const world = systemWorld({ name: "kill", pcsc: { readers: [READER] } });

  it(`survives ${KILLS} SIGKILLs at random moments: state parses, counter never goes back, balance adds up`, async () => {
    const statePath = join(world.dir, "card.json");
    const initial = fixtureCardState("cards/alice", {
      balance: 50_000_000,
      limits: { singleLimit: 1_000, balanceLimit: 900_000_000, autoLoadThreshold: 0, autoLoadAmount: 0 },
    });
    FileCardStateStore.create(statePath, initial);
    const rnd = seededRandom(0x6b111);
    const service = await PcscService.open({});
    let child: ChildProcess | undefined;
    let seq = 0;
    let previousCounter = 0;
    let committedTotal = 0;
    let answered = 0;
    let lostButCommitted = 0;
    let killedMidDebit = 0;
    let missedPresentations = 0;
    try {
      await service.waitForReader(READER);
      for (let kill = 0; kill < KILLS; kill++) {
        const spawnCard = async () => {
          const card = nextEvent(
            service,
            "card",
            (e: PcscCardEvent) => (e.reader === READER ? e : undefined),
            10_000,
          );
          const p = spawn(
            process.execPath,
            [CARD_EMULATOR, "serve", "--state", statePath, "--vpcd", `${VPCD_HOST}:${VPCD_PORT_1}`],
            { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, TAPWALLET_LOG_LEVEL: "error" } },
          );
          child = p;
          p.stderr!.on("data", (d: Buffer) => process.stderr.write(`[serve] ${d}`));
          try {
            return { proc: p, event: await card };
          } catch (e) {
            // pcscd did not report the card (a shared pcscd restarted meanwhile?): not a card-state
            // question, so start this presentation over, at most twice in the whole run.
            if (++missedPresentations > 2) throw e;
            p.kill("SIGKILL");
            await once(p, "exit");
            await waitForEmptyReader(READER);
            return undefined;
          }
        };
        let started = await spawnCard();
        while (!started) started = await spawnCard();
        const { proc, event } = started;
        const { transport } = event;
        const exited = once(proc, "exit");
        // A random moment within the stream (a tap plus a few debits take ~5-40 ms here).
        const delay = rnd.next() * 120;
        const timer = setTimeout(() => proc.kill("SIGKILL"), delay);
        const off = nextEvent(
          service,
          "card.off",
          (name: string) => (name === READER ? true : undefined),
          10_000,
        );

        const answeredNow: { seq: number; amount: number; counter: number }[] = [];
        let inFlight: { seq: number; amount: number } | undefined;
        try {
          const t = new TerminalScript(withTimeout(transport, 1_000));
          await t.authenticate();
          for (;;) {
            const amount = 1 + Math.floor(rnd.next() * 500);
            inFlight = { seq: ++seq, amount };
            const r = await t.debit({ amount, currency: EUR, terminalSeq: inFlight.seq });
            expect(r.sw).toBe(0x9000);
            answeredNow.push({ ...inFlight, counter: r.record!.record.cardCounter });
            inFlight = undefined;
          }
        } catch (e) {
          // The card died under the terminal: removed, timed out or a short answer. Anything else is a bug.
          const code = (e as { code?: string }).code ?? "";
          if (!/CARD_REMOVED|TIMEOUT|TRANSPORT_CLOSED|RESPONSE_TOO_SHORT|READER|STATUS_WORD/.test(code))
            throw e;
        } finally {
          clearTimeout(timer);
        }
        proc.kill("SIGKILL");
        await exited;
        await off;

        // The state file parses and validates (FileCardStateStore.load checks every invariant).
        const s = new FileCardStateStore(statePath).load();
        expect(s.counter).toBeGreaterThanOrEqual(previousCounter);
        const commits = s.counter - previousCounter;
        expect(answeredNow.map((a) => a.counter)).toEqual(answeredNow.map((_, i) => previousCounter + i + 1));
        if (inFlight) killedMidDebit++;
        if (commits === answeredNow.length + 1) {
          // Committed, answer lost: it must be the debit that was in flight, and the newest entry.
          expect(inFlight).toBeDefined();
          expect(s.log.at(-1)).toMatchObject({
            terminalSeq: inFlight!.seq,
            amount: inFlight!.amount,
            counter: s.counter,
          });
          committedTotal += inFlight!.amount;
          lostButCommitted++;
        } else expect(commits).toBe(answeredNow.length);
        for (const a of answeredNow) committedTotal += a.amount;
        answered += answeredNow.length;
        expect(s.balance).toBe(initial.balance - committedTotal);
        previousCounter = s.counter;
        if (process.env.TAPWALLET_KILL_TRACE)
          process.stderr.write(
            `kill ${kill}: +${answeredNow.length} answered, in flight ${inFlight ? "yes" : "no"}, counter ${s.counter}\n`,
          );
      }
    } finally {
      if (child && child.exitCode === null) child.kill("SIGKILL");
      await service.close();
      await waitForEmptyReader(READER).catch(() => undefined);
    }
    console.info(
      `kill -9 loop: ${KILLS} kills, ${killedMidDebit} with a DEBIT in flight, ${answered} debits answered, ` +
        `${lostButCommitted} committed with the answer lost (recoverable from the log), final counter ${previousCounter}` +
        (missedPresentations ? `, ${missedPresentations} presentation(s) pcscd missed and were redone` : ""),
    );
    expect(answered).toBeGreaterThan(KILLS);
  }, 600_000);
});
