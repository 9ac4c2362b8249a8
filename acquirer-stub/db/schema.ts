/**
 * The acquirer's tables as Kysely sees them: one typed description for both engines (SQLite and
 * PostgreSQL). Integers are JavaScript numbers on both: SQLite returns them so, and the PostgreSQL
 * pool parses int8 and numeric into numbers, refusing any beyond 2^53 (engine.ts). Byte columns
 * are Buffers (BLOB in SQLite, bytea in PostgreSQL). migrations.ts creates exactly these.
 */
import type { Generated, Kysely, Transaction } from "kysely";
import type { FraudKind } from "../domain/fraud.js";

export interface BatchesTable {
  terminal_id: string;
  batch_id: string;
  content_hash: string;
  merchant_id: string;
  received_at: number;
  received_day: string;
  created_at: number;
  status: "settled" | "rejected";
  reason: string | null;
  http_status: number;
  response: string;
  manifest: string;
  manifest_signature: string;
  record_count: number;
  accepted: number;
  rejected: number;
  differences: string;
}

export interface BatchDaysTable {
  business_day: string;
  terminal_id: string;
  batch_id: string;
}

export interface RecordsTable {
  id: Generated<number>;
  terminal_id: string;
  batch_id: string;
  position: number;
  merchant_id: string;
  seq: number;
  status: "accepted" | "rejected" | "voided";
  reason: string | null;
  wallet_id: string | null;
  card_counter: number | null;
  type: number | null;
  amount: number | null;
  currency: number | null;
  balance_after: number | null;
  record_time: number | null;
  business_day: string | null;
  card_record: Buffer | null;
  card_signature: Buffer | null;
  card_certificate: string | null;
  previous_hash: Buffer;
  terminal_signature: Buffer;
}

export interface CardCertificatesTable {
  fingerprint: string;
  der: Buffer;
  wallet_id: string;
  serial: string;
  /** The issuer CA's fingerprint; null for a certificate stored before 008_hotlist_issuers. */
  issuer_fingerprint: string | null;
}

export interface TerminalsTable {
  terminal_id: string;
  merchant_id: string;
  chain_head: Buffer;
  last_batch_id: string;
  updated_at: number;
}

export interface RevokedTerminalsTable {
  terminal_id: string;
  revoked_at: number;
  reason: string | null;
}

export interface BlockedWalletsTable {
  wallet_id: string;
  /** The issuer CA whose cards the block is for; null: at every issuer. Key: (wallet_id, issuer). */
  issuer_fingerprint: string | null;
  reason: "lost" | "stolen" | "fraud" | "clone" | "other";
  source: "operator" | "clone-detection" | "fraud-detection";
  blocked_at: number;
}

export interface WalletEventsTable {
  id: Generated<number>;
  wallet_id: string;
  action: "block" | "unblock";
  reason: string | null;
  source: string;
  at: number;
  /** Null: at every issuer (and for events before 008_hotlist_issuers). */
  issuer_fingerprint: string | null;
}

export interface ClonesTable {
  id: Generated<number>;
  wallet_id: string;
  card_counter: number;
  first_terminal_id: string;
  first_seq: number;
  first_batch_id: string;
  clone_terminal_id: string;
  clone_seq: number;
  clone_batch_id: string;
  detected_at: number;
  detected_day: string;
}

export interface RevokedCardSerialsTable {
  serial: string;
  issuer_fingerprint: string;
  added_at: number;
}

/** One row (id 1): the published hotlist's version and issue time. */
export interface HotlistTable {
  id: number;
  version: number;
  issued_at: number;
}

export interface UnresolvedIntentsTable {
  terminal_id: string;
  seq: number;
  merchant_id: string;
  wallet_id: string;
  amount: number;
  currency: number;
  terminal_time: number;
  card_counter_seen: number | null;
  reason: string;
  batch_id: string;
  received_at: number;
  status: Generated<"open" | "resolved">;
}

export interface TerminalFindingsTable {
  terminal_id: string;
  finding_id: number;
  merchant_id: string;
  wallet_id: string;
  kind: "rollback" | "balance-forged";
  seq: number;
  seen_seq: number;
  counter_seen: number;
  balance_seen: number;
  counter_claimed: number;
  balance_claimed: number;
  amount: number;
  currency: number;
  card_record: Buffer;
  card_signature: Buffer;
  card_certificate: Buffer;
  found_at: number;
  reason: string | null;
  fork: number;
  batch_id: string;
  received_at: number;
}

// The wallet platform (migration 002_wallet_platform; acquirer-stub/platform/).

export interface BankAccountsTable {
  number: string;
  holder: string;
  currency: number;
  balance: number;
  held: Generated<number>;
  status: "open" | "closed";
  created_at: number;
}

export interface WalletsTable {
  wallet_id: string;
  currency: number;
  status: "active" | "lost" | "blocked" | "closed";
  bound_account: string | null;
  balance_limit: number;
  single_limit: number;
  auto_load_threshold: number;
  auto_load_amount: number;
  /** 0 or 1. */
  auto_load_on: number;
  card_certificate: Buffer | null;
  last_counter: number | null;
  created_at: number;
}

/** One row (id 1): the last platform serial number given out. */
export interface PlatformSerialTable {
  id: number;
  value: number;
}

export interface PlatformLoadsTable {
  load_id: string;
  request_hash: string;
  wallet_id: string;
  terminal_id: string;
  type: "cash" | "bound" | "non-bound" | "auto" | "supplementary";
  amount: number;
  currency: number;
  teller: string | null;
  branch: string | null;
  account: string | null;
  challenge: string;
  serial: number;
  issued_at: number;
  command: string;
  binding: Buffer;
  state: "pending" | "loaded" | "voided" | "reversed";
  card_counter: number | null;
  completed_at: number | null;
  proof_record: Buffer | null;
  proof_signature: Buffer | null;
  /** The LoadState JSON the completing request got (replayed to a retry). */
  answer: string | null;
  /** The BankLoadMessage JSON (migration 004); null for loads from before it. */
  bank_message: string | null;
}

export interface PlatformReversalsTable {
  request_id: string;
  request_hash: string;
  load_id: string;
  terminal_id: string;
  challenge: string;
  teller: string | null;
  issued_at: number;
  command: string;
  binding: Buffer;
  outcome: "reversed" | "not-found" | null;
  card_counter: number | null;
  proof_record: Buffer | null;
  proof_signature: Buffer | null;
  answer: string | null;
  completed_at: number | null;
}

export interface PlatformChallengesTable {
  wallet_id: string;
  challenge: string;
  used_for: "load" | "reversal" | "command";
  /** The load id, the reversal request id or the issuer command's signing request id. */
  ref: string;
  at: number;
}

export interface PlatformCommandsTable {
  command_id: string;
  wallet_id: string;
  kind: "parameters" | "block" | "unblock";
  /** JSON: the parameters to set (minor units), or `{ reason }` for BLOCK / UNBLOCK. */
  payload: string;
  state: "pending" | "delivered" | "superseded";
  queued_at: number;
  delivered_at: number | null;
  /** The signing the card executed (platform_command_signings.request_id), once delivered. */
  delivered_by: string | null;
  terminal_id: string | null;
  card_counter: number | null;
  proof_record: Buffer | null;
  proof_signature: Buffer | null;
}

export interface PlatformCommandSigningsTable {
  request_id: string;
  request_hash: string;
  command_id: string;
  terminal_id: string;
  challenge: string;
  issued_at: number;
  command: string;
  binding: Buffer;
  answer: string | null;
}

export interface PlatformPresentationsTable {
  request_id: string;
  request_hash: string;
  wallet_id: string;
  terminal_id: string;
  answer: string;
  at: number;
}

export interface BankHoldsTable {
  load_id: string;
  account: string;
  amount: number;
  state: "held" | "posted" | "released";
  updated_at: number;
}

export interface PlatformBookingsTable {
  booking_id: string;
  kind: "issue" | "deposit" | "load" | "reversal" | "debit" | "refund";
  wallet_id: string | null;
  load_id: string | null;
  amount: number;
  currency: number;
  at: number;
}

export interface PlatformEntriesTable {
  booking_id: string;
  account: string;
  /** Signed minor units: the booking's source −amount, its destination +amount. */
  amount: number;
}

export interface AcquirerDb {
  batches: BatchesTable;
  batch_days: BatchDaysTable;
  records: RecordsTable;
  card_certificates: CardCertificatesTable;
  terminals: TerminalsTable;
  revoked_terminals: RevokedTerminalsTable;
  blocked_wallets: BlockedWalletsTable;
  after_block_records: AfterBlockRecordsTable;
  fraud_evidence: FraudEvidenceTable;
  wallet_events: WalletEventsTable;
  clones: ClonesTable;
  revoked_card_serials: RevokedCardSerialsTable;
  hotlist: HotlistTable;
  unresolved_intents: UnresolvedIntentsTable;
  terminal_findings: TerminalFindingsTable;
  bank_accounts: BankAccountsTable;
  wallets: WalletsTable;
  platform_serial: PlatformSerialTable;
  platform_loads: PlatformLoadsTable;
  platform_reversals: PlatformReversalsTable;
  platform_challenges: PlatformChallengesTable;
  platform_presentations: PlatformPresentationsTable;
  platform_commands: PlatformCommandsTable;
  platform_command_signings: PlatformCommandSigningsTable;
  bank_holds: BankHoldsTable;
  platform_bookings: PlatformBookingsTable;
  platform_entries: PlatformEntriesTable;
  refunds: RefundsTable;
  refund_totals: RefundTotalsTable;
  operator_audit: OperatorAuditTable;
}

/** What a part of the store runs its queries on: the pool, or one transaction. */
export type Db = Kysely<AcquirerDb> | Transaction<AcquirerDb>;

/** What the platform's shadow balance caught (migration 007_fraud_evidence). */
export interface FraudEvidenceTable {
  id: Generated<number>;
  wallet_id: string;
  kind: FraudKind;
  terminal_id: string;
  batch_id: string;
  seq: number;
  card_counter: number;
  exposure: number;
  currency: number;
  detail: string;
  at: number;
}

/** Debits accepted though dated after their wallet's block, inside the grace (migration 006_after_block). */
export interface AfterBlockRecordsTable {
  terminal_id: string;
  batch_id: string;
  seq: number;
  wallet_id: string;
  card_counter: number;
  amount: number;
  currency: number;
  record_time: number;
  blocked_at: number;
  at: number;
}

/** Refunds batches carried (migration 003_refunds): pending until their original is accepted. */
export interface RefundsTable {
  terminal_id: string;
  refund_id: number;
  /** The batch that carried it. */
  batch_id: string;
  merchant_id: string;
  original_seq: number;
  wallet_id: string;
  card_counter: number;
  amount: number;
  currency: number;
  /** Unix seconds, as the terminal signed it. */
  created_at: number;
  signature: Buffer;
  status: "pending" | "settled" | "rejected";
  reason: string | null;
  received_at: number;
  settled_batch_id: string | null;
  settled_at: number | null;
}

/** Per original debit (terminal, seq): its amount and what was refunded of it, guarded. */
export interface RefundTotalsTable {
  terminal_id: string;
  seq: number;
  original_amount: number;
  refunded: number;
}

/** One operator action (migration 005_operator_audit), written in the action's transaction (db/audit.ts). */
export interface OperatorAuditTable {
  id: Generated<number>;
  /** Unix seconds. */
  at: number;
  /** How the operator reached the acquirer. */
  via: "http" | "cli";
  /** HTTP: "operator-token" or "open-operator-routes"; CLI: --operator, else the OS user name. */
  who: string;
  /** HTTP: the remote address; null for the CLI. */
  address: string | null;
  action: "block" | "unblock" | "report-lost" | "release" | "set-params" | "revoke-terminal";
  /** The wallet id, or the terminal id of revoke-terminal. */
  subject: string;
  /** Why, as the operator said it (a block reason, a note); null when none was given. */
  reason: string | null;
  /** JSON: what the action did (changed, the queued command id, the hotlist version). */
  outcome: string;
}
