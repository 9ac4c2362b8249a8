import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../protocol/logger.js";
import { RECORD_TYPE } from "../../protocol/wallet/constants.js";
import { fixtureCard } from "../../test-support/card-fixture.js";
import { codeOf } from "../../test-support/errors.js";
import { TerminalScript } from "../../test-support/terminal-script.js";
import type { CardError } from "../errors.js";
import { fixtureCardState } from "../personalize.js";
import { WalletApplet } from "./applet.js";
import {
  appendLog,
  type CardLogEntry,
  type CardState,
  FileCardStateStore,
  MAX_LOAD_LOG_ENTRIES,
  MAX_LOG_ENTRIES,
  MemoryCardStateStore,
  validateState,
} from "./state.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-state-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const base = fixtureCardState();

function entry(counter: number, type: number = RECORD_TYPE.DEBIT, loadId?: string): CardLogEntry {
  return {
    type: type as CardLogEntry["type"],
    counter,
    amount: 1,
    terminalId: "T-0001",
    terminalSeq: counter,
    ...(loadId ? { loadId } : {}),
    record: "01",
    signature: "00".repeat(64),
  };
}

describe("card state › invariants", () => {
  it("accepts a personalised state", () => {
    expect(validateState(base)).toBe(base);
  });

  const broken: [string, (s: CardState) => unknown][] = [
    ["not an object", () => []],
    ["version 2", (s) => ({ ...s, version: 2 })],
    ["a wallet id with a space", (s) => ({ ...s, walletId: "W ALICE" })],
    ["currency 0", (s) => ({ ...s, currency: 0 })],
    ["a negative balance", (s) => ({ ...s, balance: -1 })],
    ["a fractional balance", (s) => ({ ...s, balance: 1.5 })],
    ["a balance as text", (s) => ({ ...s, balance: "50.00" })],
    ["a balance beyond 12 BCD digits", (s) => ({ ...s, balance: 1_000_000_000_000 })],
    ["a counter beyond 32 bits", (s) => ({ ...s, counter: 2 ** 32 })],
    ["no limits", (s) => ({ ...s, limits: undefined })],
    ["a negative single limit", (s) => ({ ...s, limits: { ...s.limits, singleLimit: -5 } })],
    ["validFrom after validTo", (s) => ({ ...s, policy: { ...s.policy, validFrom: 10, validTo: 5 } })],
    ["a region in lower case", (s) => ({ ...s, policy: { ...s.policy, regions: ["tw"] } })],
    ["a 3-digit category", (s) => ({ ...s, policy: { ...s.policy, categories: ["541"] } })],
    ["blocked as text", (s) => ({ ...s, blocked: "no" })],
    ["a plain private key", (s) => ({ ...s, privateKey: "-----BEGIN PRIVATE KEY-----\n" })],
    ["a certificate that is not base64", (s) => ({ ...s, certificate: "not base64!" })],
    ["five cached CAs", (s) => ({ ...s, cachedCas: Array(5).fill(s.issuerCertificate) })],
    ["a negative high-water time", (s) => ({ ...s, highWaterTime: -1 })],
    [
      "33 log entries",
      (s) => ({ ...s, counter: 33, log: Array.from({ length: 33 }, (_, i) => entry(i + 1)) }),
    ],
    ["log counters out of order", (s) => ({ ...s, counter: 5, log: [entry(2), entry(1)] })],
    ["a log entry newer than the counter", (s) => ({ ...s, counter: 1, log: [entry(2)] })],
    ["a short signature", (s) => ({ ...s, counter: 1, log: [{ ...entry(1), signature: "00" }] })],
    ["an unknown record type", (s) => ({ ...s, counter: 1, log: [{ ...entry(1), type: 9 }] })],
    ["a debit in the load log", (s) => ({ ...s, counter: 1, loadLog: [entry(1)] })],
  ];
  for (const [what, breakIt] of broken) {
    it(`refuses ${what} with CARD_ERR_STATE`, () => {
      expect(codeOf(() => validateState(breakIt(structuredClone(base))))).toBe("CARD_ERR_STATE");
    });
  }

  it(`keeps the last ${MAX_LOG_ENTRIES} log entries and the last ${MAX_LOAD_LOG_ENTRIES} loads`, () => {
    const s = structuredClone(base);
    for (let c = 1; c <= 50; c++) {
      s.counter = c;
      appendLog(s, c % 5 === 0 ? entry(c, RECORD_TYPE.LOAD, c.toString(16).padStart(16, "0")) : entry(c));
    }
    expect(s.log.map((e) => e.counter)).toEqual(Array.from({ length: 32 }, (_, i) => i + 19));
    expect(s.loadLog!.map((e) => e.counter)).toEqual([15, 20, 25, 30, 35, 40, 45, 50]);
    expect(validateState(s)).toBe(s);
  });
});

describe("card state › FileCardStateStore", () => {
  it("creates the file with mode 0600 and reads back the same state", () => {
    const path = join(tempDir(), "card.json");
    FileCardStateStore.create(path, base);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(new FileCardStateStore(path).load()).toEqual(base);
  });

  it("refuses to overwrite an existing file unless asked", () => {
    const path = join(tempDir(), "card.json");
    FileCardStateStore.create(path, base);
    expect(codeOf(() => FileCardStateStore.create(path, base))).toBe("CARD_ERR_STATE");
    FileCardStateStore.create(path, { ...base, balance: 1 }, { overwrite: true });
    expect(new FileCardStateStore(path).load().balance).toBe(1);
  });

  it("commits by replacing the file, leaving no temp file behind", () => {
    const dir = tempDir();
    const path = join(dir, "card.json");
    const store = FileCardStateStore.create(path, base);
    for (let i = 1; i <= 5; i++) store.commit({ ...base, counter: i, balance: base.balance - i });
    expect(readdirSync(dir)).toEqual(["card.json"]);
    expect(new FileCardStateStore(path).load()).toMatchObject({ counter: 5, balance: base.balance - 5 });
  });

  it("refuses to move the counter backwards and leaves the file as it was", () => {
    const path = join(tempDir(), "card.json");
    const store = FileCardStateStore.create(path, { ...base, counter: 7 });
    const before = readFileSync(path, "utf8");
    expect(codeOf(() => store.commit({ ...base, counter: 6 }))).toBe("CARD_ERR_STATE");
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("refuses an invalid next state and leaves the file as it was", () => {
    const path = join(tempDir(), "card.json");
    const store = FileCardStateStore.create(path, base);
    const before = readFileSync(path, "utf8");
    expect(codeOf(() => store.commit({ ...base, balance: -1 }))).toBe("CARD_ERR_STATE");
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("reports a missing, unparsable or inconsistent file as CARD_ERR_STATE", () => {
    const dir = tempDir();
    expect(codeOf(() => new FileCardStateStore(join(dir, "none.json")).load())).toBe("CARD_ERR_STATE");
    writeFileSync(join(dir, "bad.json"), "{ not json");
    expect(codeOf(() => new FileCardStateStore(join(dir, "bad.json")).load())).toBe("CARD_ERR_STATE");
    writeFileSync(join(dir, "wrong.json"), JSON.stringify({ ...base, counter: -3 }));
    const e = (() => {
      try {
        new FileCardStateStore(join(dir, "wrong.json")).load();
      } catch (err) {
        return err as CardError;
      }
      return undefined;
    })();
    expect(e?.code).toBe("CARD_ERR_STATE");
    expect(e?.message).toMatch(/counter/);
  });

  it("removes temp files a crashed process left, but not a live process's", () => {
    const dir = tempDir();
    const path = join(dir, "card.json");
    FileCardStateStore.create(path, base);
    writeFileSync(`${path}.999999999.tmp`, "half a state");
    writeFileSync(`${path}.${process.pid}.tmp`, "in flight");
    new FileCardStateStore(path).load();
    expect(readdirSync(dir).sort()).toEqual(["card.json", `card.json.${process.pid}.tmp`]);
  });
});

describe("card state › MemoryCardStateStore", () => {
  it("hands out copies: changing a loaded state changes nothing stored", () => {
    const store = new MemoryCardStateStore(base);
    const s = store.load();
    s.balance = 0;
    expect(store.load().balance).toBe(base.balance);
  });
});

describe("card keys", () => {
  it("refuses to start with the wrong passphrase (CARD_ERR_KEY), and takes it from TAPWALLET_CARD_PASSPHRASE", () => {
    const store = new MemoryCardStateStore(base);
    expect(codeOf(() => new WalletApplet(store, { passphrase: "wrong" }))).toBe("CARD_ERR_KEY");
    const saved = process.env.TAPWALLET_CARD_PASSPHRASE;
    process.env.TAPWALLET_CARD_PASSPHRASE = "also wrong";
    try {
      expect(codeOf(() => new WalletApplet(store))).toBe("CARD_ERR_KEY");
    } finally {
      if (saved === undefined) delete process.env.TAPWALLET_CARD_PASSPHRASE;
      else process.env.TAPWALLET_CARD_PASSPHRASE = saved;
    }
  });

  it("never writes the key or its passphrase to the log, even at trace level and on failures", async () => {
    let out = "";
    const destination = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ name: "card", level: "trace", destination, pretty: false });
    const { store, transport } = fixtureCard({}, { logger });
    const t = new TerminalScript(transport);
    await t.authenticate();
    await t.debit({ amount: 1, currency: 978, terminalSeq: 1 });
    store.failNextCommit = new Error("disk full");
    await t.debit({ amount: 1, currency: 978, terminalSeq: 2 });
    await transport.exchange(Uint8Array.of(0x84, 0x54, 0, 0, 1, 0));
    expect(out.length).toBeGreaterThan(0);
    expect(out).not.toContain("PRIVATE KEY");
    expect(out).not.toContain(base.privateKey.split("\n")[1]!);
    expect(out).not.toContain("tapwallet-test-only");
  });
});
