/**
 * A terminal assembled from the test PKI for engine tests: identity terminals/term-0001 (with the
 * acquirer CA as its chain), trust = root + issuer-ca with issuer-ca's CRL, the terminal's stores,
 * a silent logger and one clock for the whole terminal (the stores' dates and the terminal time
 * sent to the card), frozen at FIXED_TIME unless the test's world says otherwise.
 *
 * The stores are either in memory (test-support/memory-terminal-store.ts: what use-case tests
 * take) or posd's SQLite file in a temporary directory (what measures or inspects the real file
 * takes: the tap benchmark, adapter tests). Both implement terminal/application/ports.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../protocol/logger.js";
import { TrustStore } from "../protocol/pki.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import Database from "../protocol/sqlite.js";
import { SqliteTerminalStore } from "../terminal/adapters/sqlite/terminal-store.js";
import type {
  Batches,
  Clock,
  EcrPayments,
  HotlistStore,
  RecordLedger,
  TerminalStores,
  WalletWatch,
} from "../terminal/application/ports.js";
import type { PaymentDeps } from "../terminal/application/run-payment.js";
import type { CardTrust, TerminalIdentity } from "../terminal/card-session/session.js";
import { frozenClock, type WorldClock } from "./clock.js";
import { MemoryTerminalStore } from "./memory-terminal-store.js";

/** 2026-05-28T… (seconds): inside every good fixture certificate's validity. */
export const FIXED_TIME = 1_780_000_000;
/** The default world of terminal engine tests: frozen at FIXED_TIME. */
export const fixedClock: WorldClock = frozenClock(FIXED_TIME * 1000);

/** Which implementation of the ports a test terminal stores in. */
export type StoreKind = "memory" | "sqlite";
export const STORE_KINDS: readonly StoreKind[] = ["memory", "sqlite"];

export interface TestTerminal {
  readonly kind: StoreKind;
  readonly stores: TerminalStores;
  /** The record ledger (stores.records), what most tests look into. */
  readonly store: RecordLedger;
  readonly batches: Batches;
  readonly hotlist: HotlistStore;
  readonly ecrPayments: EcrPayments;
  /** Last verified counter and balance per wallet, the local blocklist, the findings. */
  readonly walletWatch: WalletWatch;
  readonly identity: TerminalIdentity;
  readonly trust: CardTrust;
  deps: PaymentDeps;
  /** What a merchant editing the database does: overwrite a stored record's card record. */
  editCardRecord(seq: number, cardRecord: Uint8Array): void;
  cleanup(): void;
}

export function testIdentity(name = "terminals/term-0001"): TerminalIdentity {
  const pki = loadFixturePki();
  // Its issuers without the root: the acquirer CA for a good terminal, issuer-ca for by-issuer-ca.
  return { privateKey: pki.key(name), certificate: pki.cert(name), chain: pki.intermediates(name) };
}

export function testTrust(hotlist: { wallets?: string[]; serials?: string[] } = {}): CardTrust {
  const pki = loadFixturePki();
  return {
    store: new TrustStore([pki.cert("root-ca")], [pki.cert("issuer-ca")]),
    crls: [pki.crl("crl/issuer-ca")],
    isHotlisted: (walletId, serial) =>
      (hotlist.wallets ?? []).includes(walletId) || (hotlist.serials ?? []).includes(serial),
  };
}

interface OpenedStores {
  readonly stores: TerminalStores;
  editCardRecord(seq: number, cardRecord: Uint8Array): void;
  close(): void;
}

/** The terminal's stores of `kind`, dated by `clock`. */
export function testStores(kind: StoreKind, clock: Clock): OpenedStores {
  if (kind === "memory") {
    const memory = new MemoryTerminalStore(clock);
    return { stores: memory, editCardRecord: (seq, r) => memory.editCardRecord(seq, r), close() {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-term-"));
  const path = join(dir, "records.sqlite");
  const sqlite = SqliteTerminalStore.open(path, { clock });
  return {
    stores: sqlite,
    editCardRecord(seq, cardRecord) {
      // A second connection, as a merchant's sqlite3 shell would be.
      const db = new Database(path);
      try {
        db.prepare("UPDATE transactions SET card_record = ? WHERE seq = ?").run(Buffer.from(cardRecord), seq);
      } finally {
        db.close();
      }
    },
    close() {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A test terminal. `store` picks the implementation; the default is posd's SQLite file, which the
 * benchmarks measure, and use-case tests ask for "memory".
 */
export function testTerminal(
  options: { clock?: WorldClock; hotlist?: { wallets?: string[] }; store?: StoreKind } = {},
): TestTerminal {
  const clock = options.clock ?? fixedClock;
  const kind = options.store ?? "sqlite";
  const opened = testStores(kind, { now: clock.ms });
  const { stores } = opened;
  const identity = testIdentity();
  const trust = testTrust(options.hotlist);
  return {
    kind,
    stores,
    store: stores.records,
    batches: stores.batches,
    hotlist: stores.hotlist,
    ecrPayments: stores.ecrPayments,
    walletWatch: stores.walletWatch,
    identity,
    trust,
    deps: {
      store: stores.records,
      identity,
      trust,
      logger: silentLogger(),
      clock: clock.seconds,
      walletWatch: stores.walletWatch,
    },
    editCardRecord: opened.editCardRecord,
    cleanup: opened.close,
  };
}
