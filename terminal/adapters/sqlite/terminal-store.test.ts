/**
 * What only the SQLite file can promise: durability settings on every open, the schema version,
 * file permissions, and seqs that survive the file being edited and reopened. The behaviour both
 * stores share is specified in terminal/application/store-contract.test.ts.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import Database from "../../../protocol/sqlite.js";
import { MIGRATIONS } from "./migrations.js";
import { SqliteTerminalStore } from "./terminal-store.js";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-store-"));
  path = join(dir, "records.sqlite");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const intent = () => ({
  walletId: "W-ALICE-0001",
  amount: 450,
  currency: 978,
  terminalTime: 1_790_000_000,
  transcriptHash: new Uint8Array(32).fill(7),
});

/** Read a pragma the way an operator's sqlite3 shell would: from a second connection. */
function pragma(name: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma(name, { simple: true });
  } finally {
    db.close();
  }
}

describe("the terminal's SQLite file", () => {
  it("is durable on every open: WAL with synchronous=FULL, also after reopening", () => {
    SqliteTerminalStore.open(path).close();
    const store = SqliteTerminalStore.open(path);
    expect(store.durability()).toEqual({ journalMode: "wal", synchronous: 2 });
    expect(pragma("journal_mode")).toBe("wal");
    store.close();
  });

  it("keeps the database file private to the terminal's user (0600)", () => {
    SqliteTerminalStore.open(path).close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("migrates a new file to the latest schema version", () => {
    SqliteTerminalStore.open(path).close();
    expect(pragma("user_version")).toBe(MIGRATIONS.length);
  });

  it("keeps the hotlist an older posd stored through the upgrade: its entries hold at every issuer", () => {
    // A file as posd left it before the hotlist knew issuers (schema 10), holding a synced list.
    const old = new Database(path);
    const before = MIGRATIONS.findIndex((m) => m.includes("hotlist_wallets_11"));
    for (const m of MIGRATIONS.slice(0, before)) old.exec(m);
    old.pragma(`user_version = ${before}`);
    old.exec("INSERT INTO hotlist_wallets (wallet_id) VALUES ('W-LOST-0001')");
    old.exec("INSERT INTO hotlist_serials (serial) VALUES ('c005')");
    old.close();

    const store = SqliteTerminalStore.open(path);
    try {
      expect(pragma("user_version")).toBe(MIGRATIONS.length);
      expect(store.hotlist.size()).toEqual({ wallets: 1, serials: 1 });
      for (const issuer of ["a".repeat(64), "b".repeat(64)]) {
        expect(store.hotlist.isHotlisted("W-LOST-0001", "01", issuer)).toBe(true);
        expect(store.hotlist.isHotlisted("W-OTHER-0001", "c005", issuer)).toBe(true);
      }
      expect(store.hotlist.isHotlisted("W-OTHER-0001", "01", "a".repeat(64))).toBe(false);
    } finally {
      store.close();
    }
  });

  it("refuses a database written by a newer posd instead of damaging it", () => {
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    expect(() => SqliteTerminalStore.open(path)).toThrow(expect.objectContaining({ code: "TERM_ERR_STORE" }));
  });

  it("hands out terminal seqs that never repeat, even after rows vanish and the file is reopened", () => {
    let store = SqliteTerminalStore.open(path);
    const a = store.records.createIntent(intent());
    const b = store.records.createIntent(intent());
    expect(b.seq).toBe(a.seq + 1);
    store.close();
    const db = new Database(path);
    db.prepare("DELETE FROM transactions WHERE seq = ?").run(b.seq);
    db.close();
    store = SqliteTerminalStore.open(path);
    const c = store.records.createIntent(intent());
    expect(c.seq).toBe(b.seq + 1);
    expect(store.records.lastSeq()).toBe(c.seq);
    store.close();
  });

  it("passes its integrity check", () => {
    const store = SqliteTerminalStore.open(path);
    store.records.createIntent(intent());
    expect(store.integrityCheck()).toBe("ok");
    store.close();
  });
});
