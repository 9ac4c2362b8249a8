/**
 * `posd status`: what the terminal is and holds, as one plain value: its identity, how long the
 * certificate has left, the seq, pending (torn) payments, what awaits a batch, the last upload and
 * where it stands against the offline limits, how old the hotlist is, and what to worry about. The value is what `posd status --json` prints, key
 * for key; terminal/output.ts renders it as text.
 *
 * The stores answer through the ports; what comes from the configuration and the terminal
 * certificate (ids, expiry, limits, the data directory) the caller passes as plain values.
 */
import type { TransactionStatus } from "../domain/records.js";
import { money } from "./outcome-json.js";
import type {
  AttentionList,
  Batches,
  Clock,
  HotlistStore,
  LoadIntents,
  RecordLedger,
  RefundLedger,
  RiskView,
} from "./ports.js";
import {
  type HotlistFreshness,
  type HotlistPolicy,
  hotlistFreshness,
  type RiskLimits,
  riskState,
} from "./risk.js";

const DAY_MS = 86_400_000;

export interface StatusPorts {
  readonly records: Pick<RecordLedger, "lastSeq" | "counts" | "pendingIntents">;
  readonly risk: RiskView;
  readonly batches: Pick<Batches, "unbatched" | "lastUploadAt">;
  readonly hotlist: Pick<HotlistStore, "info">;
  /** The loads this terminal ran that are still in doubt (absent: none are shown). */
  readonly loads?: Pick<LoadIntents, "inDoubt">;
  /** The refunds this terminal signed that are not settled yet (absent: none are shown). */
  readonly refunds?: Pick<RefundLedger, "outstanding">;
  /** The platform's attention list as last fetched (absent: not shown). */
  readonly attention?: Pick<AttentionList, "info">;
  readonly clock: Clock;
}

export interface StatusInput {
  readonly terminalId: string;
  readonly merchantId: string;
  /** The terminal certificate's attributes; undefined when it does not carry one. */
  readonly merchantCategory: string | undefined;
  readonly region: string | undefined;
  /** When the terminal certificate stops being valid. */
  readonly certificateNotAfter: Date;
  readonly dataDir: string;
  /** The configured offline limits; the offline amount is shown in `limits.currency`. */
  readonly limits: RiskLimits;
  readonly hotlistPolicy: HotlistPolicy;
  /** What the operator should fix (a key passphrase stored beside the key…), one sentence each. */
  readonly warnings?: readonly string[];
}

/** A limit's current value and its maximum (null: no limit configured). */
export interface LimitUse<T> {
  readonly current: T;
  readonly max: T | null;
}

export interface TerminalStatus {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly merchantCategory: string | null;
  readonly region: string | null;
  readonly certificate: {
    /** ISO 8601. */
    readonly notAfter: string;
    /** Whole days until notAfter, rounded down (negative once expired). */
    readonly daysLeft: number;
  };
  readonly dataDir: string;
  readonly lastSeq: number;
  readonly counts: Readonly<Record<TransactionStatus, number>>;
  /** Torn payments, oldest first, resolved when the same wallet is presented again. */
  readonly pending: readonly {
    readonly seq: number;
    readonly walletId: string;
    readonly amount: string;
    /** The card's log could not settle it: why (the acquirer settles it after the next upload). */
    readonly unresolved?: string;
  }[];
  /**
   * Loads this terminal ran with no booked answer yet, oldest first: settled at the wallet's next
   * online presentation (or handed over, when the card's record is kept here).
   */
  readonly loadsInDoubt: readonly {
    readonly loadId: string;
    readonly walletId: string;
    readonly type: string;
    readonly amount: string;
    readonly teller: string | null;
    /** ISO 8601. */
    readonly since: string;
    /** The card's record is kept here: the load happened and is handed over at the next online session. */
    readonly recordKept: boolean;
  }[];
  /**
   * Refunds not settled yet, oldest first: `stored` goes up with the next upload; `pending` waits
   * at the acquirer for its payment to settle.
   */
  readonly refundsOutstanding: readonly {
    readonly refundId: number;
    readonly seq: number;
    readonly walletId: string;
    readonly amount: string;
    readonly state: "stored" | "sent" | "pending";
  }[];
  /** Complete records not yet in a batch, per currency. */
  readonly unbatched: {
    readonly count: number;
    readonly totals: readonly {
      readonly currency: number;
      readonly count: number;
      readonly amount: string;
    }[];
  };
  /** When the acquirer last answered an upload (ISO 8601), null if never. */
  readonly lastUpload: string | null;
  readonly limits: {
    readonly offlineRecords: LimitUse<number>;
    readonly offlineAmount: LimitUse<string>;
    /** Hours since the oldest record the acquirer has not answered, to one decimal. */
    readonly offlineHours: LimitUse<number>;
    /** The value limits in other currencies (limits.maxOfflineAmounts), by currency. */
    readonly offlineAmounts: readonly ({ readonly currency: number } & LimitUse<string>)[];
  };
  /** The hotlist held: its version, signed issue time and age, and whether it is too old. */
  readonly hotlist: HotlistFreshness;
  /**
   * The platform's attention list (posd sync): how many wallets a payment presents to the platform
   * first, and when it was fetched; null before the first fetch.
   */
  readonly attention: { readonly wallets: number; readonly fetchedAt: string } | null;
  readonly warnings: readonly string[];
}

export function terminalStatus(ports: StatusPorts, input: StatusInput): TerminalStatus {
  const now = ports.clock.now();
  const { limits } = input;
  const risk = riskState(ports.risk, limits, now);
  const exposure = ports.risk.offlineExposure().byCurrency;
  const counts = ports.records.counts();
  const unbatched = ports.batches.unbatched().filter((t) => t.status === "complete");
  const lastUpload = ports.batches.lastUploadAt();
  return {
    terminalId: input.terminalId,
    merchantId: input.merchantId,
    merchantCategory: input.merchantCategory ?? null,
    region: input.region ?? null,
    certificate: {
      notAfter: input.certificateNotAfter.toISOString(),
      daysLeft: Math.floor((input.certificateNotAfter.getTime() - now) / DAY_MS),
    },
    dataDir: input.dataDir,
    lastSeq: ports.records.lastSeq(),
    // Built key by key: the JSON keeps this order whatever order the store answers in.
    counts: { pending: counts.pending, complete: counts.complete, voided: counts.voided },
    pending: ports.records.pendingIntents().map((p) => ({
      seq: p.seq,
      walletId: p.walletId,
      amount: money(p.amount, p.currency),
      ...(p.unresolved ? { unresolved: p.unresolved.reason } : {}),
    })),
    loadsInDoubt: (ports.loads?.inDoubt() ?? []).map((l) => ({
      loadId: l.loadId,
      walletId: l.walletId,
      type: l.type,
      amount: money(l.amount, l.currency),
      teller: l.teller ?? null,
      since: new Date(l.createdAt).toISOString(),
      recordKept: l.proof !== undefined,
    })),
    refundsOutstanding: (ports.refunds?.outstanding() ?? []).map((r) => ({
      refundId: r.refundId,
      seq: r.originalSeq,
      walletId: r.walletId,
      amount: money(r.amount, r.currency),
      state: r.uploadStatus === "pending" ? "pending" : r.batchId === undefined ? "stored" : "sent",
    })),
    unbatched: {
      count: unbatched.reduce((n, t) => n + t.count, 0),
      totals: unbatched.map((t) => ({
        currency: t.currency,
        count: t.count,
        amount: money(t.amount, t.currency),
      })),
    },
    lastUpload: lastUpload === undefined ? null : new Date(lastUpload).toISOString(),
    limits: {
      offlineRecords: { current: risk.records, max: limits.maxOfflineRecords ?? null },
      offlineAmount: {
        current: money(risk.amount, limits.currency),
        max: limits.maxOfflineAmount === undefined ? null : money(limits.maxOfflineAmount, limits.currency),
      },
      offlineHours: {
        current: Math.round(risk.hoursOffline * 10) / 10,
        max: limits.maxOfflineHours ?? null,
      },
      offlineAmounts: [...(limits.maxOfflineAmounts ?? new Map<number, number>())]
        .filter(([currency]) => currency !== limits.currency)
        .sort(([a], [b]) => a - b)
        .map(([currency, max]) => ({
          currency,
          current: money(exposure.find((c) => c.currency === currency)?.amount ?? 0, currency),
          max: money(max, currency),
        })),
    },
    hotlist: hotlistFreshness(ports.hotlist, input.hotlistPolicy, now),
    attention: attentionOf(ports.attention),
    warnings: [...(input.warnings ?? [])],
  };
}

function attentionOf(attention: StatusPorts["attention"]): TerminalStatus["attention"] {
  const info = attention?.info();
  return info ? { wallets: info.wallets, fetchedAt: new Date(info.fetchedAt).toISOString() } : null;
}
