/**
 * Hostile input: at least 10,000 random and mutated APDUs (seeded, so a failure replays) against one
 * applet, interleaved with genuine taps and issuer commands. After every APDU: the applet did not
 * throw, answered at least two bytes, and balance and counter are exactly what the genuine
 * operations alone explain.
 */
import { describe, expect, it } from "vitest";
import { type CommandApdu, decodeCommand, encodeCommand } from "../../protocol/apdu.js";
import { equalBytes, hex } from "../../protocol/bytes.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { SW } from "../../protocol/sw.js";
import type { Transport } from "../../protocol/transport.js";
import { INS } from "../../protocol/wallet/constants.js";
import {
  encodeDebit,
  getCertificateCommand,
  getChallengeCommand,
  logBySeqData,
  selectCommand,
} from "../../protocol/wallet/messages.js";
import { fixtureCard, seededRandom } from "../../test-support/card-fixture.js";
import { TerminalScript } from "../../test-support/terminal-script.js";
import { fixtureIssuerKey, issuerBlock, issuerLoad, issuerLoadReversal, issuerUnblock } from "../issuer.js";

const TARGET = 10_000;
const EUR = 978;

describe("WalletApplet › fuzz", () => {
  it(`survives ${TARGET}+ random and mutated APDUs; value moves only with genuine commands`, async () => {
    const rnd = seededRandom(0x7a9_2025);
    const int = (n: number) => Math.floor(rnd.next() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

    const { applet } = fixtureCard(
      {
        balance: 1_000_000,
        limits: { singleLimit: 10_000, balanceLimit: 900_000_000, autoLoadThreshold: 0, autoLoadAmount: 0 },
      },
      { random: seededRandom(99) },
    );
    const expected = { balance: applet.state.balance, counter: applet.state.counter };
    const failures: string[] = [];
    let fuzzed = 0;
    let total = 0;
    const sws = new Map<string, number>();

    /** Send one APDU and check the invariants; `genuine` APDUs may move value (checked by their caller). */
    const send = (apdu: Uint8Array, genuine: boolean): Uint8Array => {
      total++;
      if (!genuine) fuzzed++;
      let response: Uint8Array;
      try {
        response = applet.process(apdu);
      } catch (e) {
        failures.push(`threw ${(e as Error).message} on ${hex(apdu)}`);
        return Uint8Array.of(0x6f, 0x00);
      }
      if (response.length < 2) failures.push(`answer shorter than 2 bytes to ${hex(apdu)}`);
      const sw = hex(response.subarray(-2));
      sws.set(sw, (sws.get(sw) ?? 0) + 1);
      if (
        !genuine &&
        (applet.state.balance !== expected.balance || applet.state.counter !== expected.counter)
      ) {
        failures.push(`value moved on ${hex(apdu)} → ${hex(response)}`);
        expected.balance = applet.state.balance;
        expected.counter = applet.state.counter;
      }
      return response;
    };
    const genuineTransport: Transport = { exchange: async (c) => send(c, true) };

    // Valid plain commands to mutate or to send in a wrong order.
    const issuerKey = fixtureIssuerKey();
    const plain: CommandApdu[] = [selectCommand(), getChallengeCommand(), getCertificateCommand()];
    const terminal = new TerminalScript(genuineTransport);
    await terminal.authenticate();
    const pki = loadFixturePki();
    const init = terminal.initiateData!;
    const encoded: Uint8Array[] = [
      ...plain.map(encodeCommand),
      ...[0, 255, 510].map((o) => Uint8Array.from([0x90, 0x88, 0, 0, 255, ...init.subarray(o, o + 255)])),
      Uint8Array.from([0x80, 0x88, 0, 0, Math.min(255, init.length - 765), ...init.subarray(765, 1020), 0]),
      Uint8Array.from([0x80, 0x82, 0, 0, 0x43, 0xdf, 0x13, 0x40, ...new Uint8Array(64).fill(1)]),
      Uint8Array.of(0x00, 0xc0, 0, 0, 0),
      encodeCommand(
        issuerLoad(
          { walletId: applet.state.walletId, challenge: new Uint8Array(16), issuerKey },
          { amount: 5, currency: EUR, loadId: new Uint8Array(8), time: 1 },
        ),
      ),
    ];
    const headers = [
      [0x00, 0xa4],
      [0x00, 0x84],
      [0x00, 0xc0],
      [0x80, 0xca],
      [0x80, 0x88],
      [0x90, 0x88],
      [0x80, 0x82],
      [0x84, 0x54],
      [0x80, 0x54],
      [0x84, 0x5a],
      [0x84, 0x5c],
      [0x80, 0x52],
      [0x84, 0x52],
      [0x80, 0x56],
      [0x80, 0x58],
      [0x80, 0x5e],
      [0x80, 0x50],
      [0x94, 0x54],
    ] as const;

    const randomBytes = (n: number) => rnd(n);

    /** A changed copy of an APDU that means something else (never only its Le). */
    const mutate = (apdu: Uint8Array): Uint8Array | undefined => {
      const out = Array.from(apdu);
      const dataEnd = apdu.length > 5 ? 5 + apdu[4]! : apdu.length;
      switch (int(6)) {
        case 0: // flip a bit in header, Lc or data
          out[int(Math.max(1, dataEnd))]! ^= 1 << int(8);
          break;
        case 1: // replace a byte
          out[int(Math.max(1, dataEnd))] = int(256);
          break;
        case 2: // truncate
          out.length = int(apdu.length);
          break;
        case 3: // append garbage
          out.push(...randomBytes(1 + int(20)));
          break;
        case 4: // shorten data and fix Lc
          if (apdu.length > 6 && apdu[4]! > 1) {
            const cut = 1 + int(apdu[4]! - 1);
            out.splice(5 + apdu[4]! - cut, cut);
            out[4] = apdu[4]! - cut;
          } else out[1] = int(256);
          break;
        default: // another class or instruction
          out[int(2)] = int(256);
      }
      const m = Uint8Array.from(out);
      // Only count mutations that change the command's meaning (Le is not part of it).
      try {
        const a = decodeCommand(apdu);
        const b = decodeCommand(m);
        if (
          a.cla === b.cla &&
          a.ins === b.ins &&
          a.p1 === b.p1 &&
          a.p2 === b.p2 &&
          equalBytes(a.data, b.data)
        )
          return undefined;
      } catch {
        // undecodable: fine, that is the point
      }
      return m;
    };

    let seq = 0;
    let loads = 0;
    const debitGenuinely = async (t: TerminalScript) => {
      const amount = 1 + int(300);
      const r = await t.debit({ amount, currency: EUR, terminalSeq: ++seq });
      if (r.sw === SW.OK) {
        expected.balance -= amount;
        expected.counter++;
      }
    };
    const onlineGenuinely = async () => {
      applet.reset(); // a new tap: the card was out of the field, whatever the fuzzer left open
      send(encodeCommand(selectCommand()), true);
      const challenge = send(encodeCommand(getChallengeCommand()), true).subarray(0, 16);
      const target = { walletId: applet.state.walletId, challenge, issuerKey };
      const kind = int(4);
      const loadId = Uint8Array.of(0, 0, 0, 0, 0, 0, loads >> 8, loads & 0xff);
      const amount = 1 + int(1_000);
      const cmd =
        kind === 0 || loads === 0
          ? issuerLoad(target, { amount, currency: EUR, loadId, time: 1 })
          : kind === 1
            ? issuerLoadReversal(target, { loadId: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, loads - 1), time: 1 })
            : kind === 2
              ? issuerBlock(target, { reason: 1, time: 1 })
              : issuerUnblock(target, { reason: 0, time: 1 });
      const reversedAmount = applet.state.loadLog?.find(
        (e) => e.loadId === hex(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, loads - 1)),
      )?.amount;
      const r = send(encodeCommand(cmd), true);
      if (hex(r.subarray(-2)) === "9000") {
        expected.counter++;
        if (kind === 0 || loads === 0) {
          expected.balance += amount;
          loads++;
        } else if (kind === 1) expected.balance -= reversedAmount!;
      }
      if (hex(r.subarray(-2)) === "9000" && kind === 2) {
        // keep the wallet usable for the rest of the run
        const c2 = send(encodeCommand(getChallengeCommand()), true).subarray(0, 16);
        const u = send(
          encodeCommand(issuerUnblock({ ...target, challenge: c2 }, { reason: 0, time: 1 })),
          true,
        );
        if (hex(u.subarray(-2)) === "9000") expected.counter++;
      }
    };

    while (fuzzed < TARGET) {
      const strategy = int(100);
      if (strategy < 20) {
        // random bytes
        send(randomBytes(int(270)), false);
      } else if (strategy < 45) {
        // a known header with garbage data, random Lc / Le shapes
        const [cla, ins] = pick(headers);
        const data = randomBytes(int(256));
        const shape = int(4);
        const bytes = [cla, ins, int(4) === 0 ? int(256) : 0, int(4) === 0 ? int(256) : 0];
        if (shape === 1) bytes.push(int(256));
        if (shape >= 2 && data.length > 0) bytes.push(data.length, ...data);
        if (shape === 3) bytes.push(int(256));
        send(Uint8Array.from(bytes), false);
      } else if (strategy < 55) {
        // a fresh challenge, then an issuer command signed by the wrong key, or a genuine one changed
        send(encodeCommand(getChallengeCommand()), true);
        const challenge = send(encodeCommand(getChallengeCommand()), true).subarray(0, 16);
        const forged = int(2) === 0;
        const target = {
          walletId: applet.state.walletId,
          challenge,
          issuerKey: forged
            ? pki.key(pick(["acquirer-ca", "root-ca", "rogue-issuer-ca", "cards/alice"]))
            : issuerKey,
        };
        const loadId = Uint8Array.of(0xff, 0, 0, 0, 0, 0, int(256), int(256));
        const cmd = encodeCommand(
          int(2) === 0
            ? issuerLoad(target, { amount: 1 + int(1_000), currency: EUR, loadId, time: 1 })
            : issuerBlock(target, { reason: 1, time: 1 }),
        );
        const hostile = forged ? cmd : mutate(cmd);
        if (hostile) send(hostile, false);
      } else if (strategy < 65) {
        // valid plain commands, mutated or in a wrong order
        if (int(2) === 0) {
          const m = mutate(pick(encoded));
          if (m) send(m, false);
        } else send(pick(encoded), false);
      } else if (strategy < 88) {
        // in a session: genuine secure commands, then a tampered one (MAC failure, wrong length…)
        const t = new TerminalScript(genuineTransport, {
          terminal: pick(["terminals/term-0001", "terminals/term-0002"]),
        });
        applet.reset(); // a new tap: whatever the fuzzer left open is gone
        await t.authenticate();
        for (let i = int(3); i > 0; i--) await debitGenuinely(t);
        const which = int(3);
        const command =
          which === 0
            ? t.seal(
                INS.DEBIT,
                0,
                0,
                encodeDebit({ amount: 1 + int(300), currency: EUR, terminalSeq: ++seq }),
              )
            : which === 1
              ? t.seal(INS.GET_TRANSACTION_LOG, 1, 0, logBySeqData(int(seq + 1)))
              : t.seal(INS.READ_BALANCE, 0, 0, new Uint8Array(0));
        const m = mutate(encodeCommand(command));
        if (m) send(m, false);
        // A tampered command must have killed the session: a genuine one now gets 6982 or 6988.
      } else {
        // genuine operations that do move value
        if (int(3) === 0) await onlineGenuinely();
        else {
          const t = new TerminalScript(genuineTransport);
          applet.reset();
          await t.authenticate();
          await debitGenuinely(t);
        }
      }
      if (failures.length > 20) break;
    }

    expect(failures).toEqual([]);
    expect(fuzzed).toBeGreaterThanOrEqual(TARGET);
    expect(applet.state.balance).toBe(expected.balance);
    expect(applet.state.counter).toBe(expected.counter);
    // The run exercised the genuine paths too, and many different refusals.
    expect(expected.counter).toBeGreaterThan(100);
    for (const sw of ["6700", "6a80", "6d00", "6e00", "6982", "6985", "6988", "6a86", "6883", "6884"])
      expect(sws.get(sw) ?? 0, `status word ${sw} never seen`).toBeGreaterThan(0);
    expect(pki.names.length).toBeGreaterThan(0);
    console.info(
      `fuzz: ${fuzzed} hostile APDUs (${total} in all), ${expected.counter} genuine changes, status words ${JSON.stringify(Object.fromEntries([...sws].sort()))}`,
    );
  }, 120_000);
});
