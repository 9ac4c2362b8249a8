/**
 * The WalletWatch port in memory, with the semantics of the SQLite adapter
 * (terminal/adapters/sqlite/seen-wallets-store.ts): the newest record by terminal seq wins, a flag
 * stores the finding and blocks the wallet together, a finding is reported once. Part of
 * MemoryTerminalStore; values go in and come out as copies, the way rows do.
 */
import type { Clock, WalletWatch } from "../terminal/application/ports.js";
import type { NewWalletFinding, SeenWallet, WalletFinding } from "../terminal/domain/wallet-watch.js";

type StoredFinding = Omit<WalletFinding, "reportedIn"> & { reportedIn: string | undefined };

const copyFinding = (f: StoredFinding): WalletFinding => ({
  ...f,
  seen: { ...f.seen },
  claimed: { ...f.claimed },
  cardRecord: new Uint8Array(f.cardRecord),
  cardSignature: new Uint8Array(f.cardSignature),
  cardCertificate: new Uint8Array(f.cardCertificate),
});

export class MemoryWalletWatch implements WalletWatch {
  readonly #clock: Clock;
  readonly #seen = new Map<string, SeenWallet>();
  readonly #findings: StoredFinding[] = [];
  readonly #blocked = new Map<string, { findingId: number; since: number }>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  last(walletId: string): SeenWallet | undefined {
    const s = this.#seen.get(walletId);
    return s ? { ...s } : undefined;
  }

  remember(seen: SeenWallet): void {
    const current = this.#seen.get(seen.walletId);
    if (current && seen.seq <= current.seq) return;
    this.#seen.set(seen.walletId, { ...seen });
  }

  isBlocked(walletId: string): boolean {
    return this.#blocked.has(walletId);
  }

  flag(finding: NewWalletFinding): WalletFinding {
    const now = this.#clock.now();
    const stored: StoredFinding = copyFinding({
      ...finding,
      id: this.#findings.length + 1,
      foundAt: now,
      reportedIn: undefined,
    });
    this.#findings.push(stored);
    if (!this.#blocked.has(finding.walletId))
      this.#blocked.set(finding.walletId, { findingId: stored.id, since: now });
    return copyFinding(stored);
  }

  unreported(seqs: readonly number[]): WalletFinding[] {
    const wanted = new Set(seqs);
    return this.#findings.filter((f) => f.reportedIn === undefined && wanted.has(f.seq)).map(copyFinding);
  }

  markReported(ids: readonly number[], batchId: string): void {
    for (const f of this.#findings)
      if (ids.includes(f.id) && f.reportedIn === undefined) f.reportedIn = batchId;
  }

  blocklist(): { walletId: string; findingId: number; since: number }[] {
    return [...this.#blocked.entries()]
      .map(([walletId, b]) => ({ walletId, ...b }))
      .sort((a, b) => a.since - b.since);
  }
}
