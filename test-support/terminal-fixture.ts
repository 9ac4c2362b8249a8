/**
 * A terminal assembled from the test PKI for engine tests: identity terminals/term-0001 (with the
 * acquirer CA as its chain), trust = root + issuer-ca with issuer-ca's CRL, a record store in a
 * temporary directory, a silent logger and one clock for the whole terminal (the store's dates and the
 * terminal time sent to the card), frozen at FIXED_TIME unless the test's world says otherwise.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../protocol/logger.js";
import { TrustStore } from "../protocol/pki.js";
import { loadFixturePki } from "../protocol/pki-fixtures.js";
import { RecordStore } from "../terminal/adapters/sqlite/record-store.js";
import type { PaymentDeps } from "../terminal/application/run-payment.js";
import type { CardTrust, TerminalIdentity } from "../terminal/card/card-session.js";
import { frozenClock, type WorldClock } from "./clock.js";

/** 2026-05-28T… (seconds): inside every good fixture certificate's validity. */
export const FIXED_TIME = 1_780_000_000;
/** The default world of terminal engine tests: frozen at FIXED_TIME. */
export const fixedClock: WorldClock = frozenClock(FIXED_TIME * 1000);

export interface TestTerminal {
  readonly dir: string;
  readonly store: RecordStore;
  readonly identity: TerminalIdentity;
  readonly trust: CardTrust;
  deps: PaymentDeps;
  cleanup(): void;
}

export function testIdentity(name = "terminals/term-0001"): TerminalIdentity {
  const pki = loadFixturePki();
  return { privateKey: pki.key(name), certificate: pki.cert(name), chain: [pki.cert("acquirer-ca")] };
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

export function testTerminal(
  options: { clock?: WorldClock; hotlist?: { wallets?: string[] } } = {},
): TestTerminal {
  const clock = options.clock ?? fixedClock;
  const dir = mkdtempSync(join(tmpdir(), "tapwallet-term-"));
  const store = RecordStore.open(join(dir, "records.sqlite"), { now: clock.ms });
  const identity = testIdentity();
  const trust = testTrust(options.hotlist);
  return {
    dir,
    store,
    identity,
    trust,
    deps: { store, identity, trust, logger: silentLogger(), clock: clock.seconds },
    cleanup() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
