/**
 * The wallet platform's HTTP contract (the issuer's side of the back office, seed 000): what an
 * online terminal sends when it runs a load, a load reversal or a pending issuer command with the
 * card present, and what the platform answers. The terminal and `acquirer-stub` build and read
 * these same types, so the two cannot drift; the JSON schemas that enforce them are the platform's
 * (acquirer-stub/platform/schemas.ts).
 *
 * Every request from a terminal is signed by the terminal's certificate key (request-auth.ts) and
 * is idempotent by its id: the same id with the same body gets the same answer; with another body,
 * 409 ACQ_ERR_IDEMPOTENCY_CONFLICT.
 *
 * Money is minor units with an ISO 4217 numeric currency. Byte strings are lower-case hex; a
 * certificate is base64 DER.
 *
 * The flow of one online operation (a load):
 *   terminal: authenticate the card, READ BALANCE, GET CHALLENGE (16 bytes)
 *   POST /v1/platform/loads                      → the issuer-signed LOAD command over that challenge
 *   terminal: relay it; the card commits and answers a signed LOAD record
 *   POST /v1/platform/loads/:loadId/complete     → booked (the completion proof, like CEPS's S3)
 * A load whose proof never arrived is settled at the wallet's next online presentation:
 *   POST /v1/platform/wallets/:walletId/presented → what to settle first (loads in doubt)
 *   terminal: GET CHALLENGE
 *   POST /v1/platform/loads/:loadId/reversal     → the issuer-signed LOAD REVERSAL command
 *   terminal: relay it; the card answers a signed LOAD_REVERSAL record, or 930E (no such load)
 *   POST /v1/platform/loads/:loadId/reversal/complete → released (930E) or reversed (the record)
 * Then the issuer commands queued for the card (parameters, BLOCK, UNBLOCK), oldest first:
 *   terminal: GET CHALLENGE
 *   POST /v1/platform/commands/:commandId/sign     → the issuer-signed command over that challenge
 *   terminal: relay it; the card commits and answers a signed PARAMETERS / BLOCK / UNBLOCK record
 *   POST /v1/platform/commands/:commandId/complete → delivered (the record is the receipt)
 * Which wallets have such work, so that a plain payment presents only those:
 *   POST /v1/platform/attention                    → wallet ids (fetched on the hotlist schedule)
 */

/** How a load is funded (the seed's load types). */
export const LOAD_TYPES = ["cash", "bound", "non-bound", "auto", "supplementary"] as const;
export type LoadType = (typeof LOAD_TYPES)[number];

export const WALLET_STATUSES = ["active", "lost", "blocked", "closed"] as const;
export type WalletStatus = (typeof WALLET_STATUSES)[number];

/** The card's state as the terminal read it in this session (READ BALANCE and the FCI). */
export interface CardView {
  /** Minor units. */
  readonly balance: number;
  readonly balanceLimit: number;
  /** The card's counter before this operation. */
  readonly counter: number;
  /** The card's FCI state: active or blocked. */
  readonly state: "active" | "blocked";
}

/** POST /v1/platform/loads: ask the platform to sign a LOAD over the card's challenge. */
export interface LoadRequest {
  /** 8 random bytes (16 hex), chosen by the terminal and stored before it asks: the load id on the card too. */
  readonly loadId: string;
  readonly walletId: string;
  /** The card's certificate (base64 DER), as the terminal verified it in this session. */
  readonly cardCertificate: string;
  readonly type: LoadType;
  /** Minor units, > 0. */
  readonly amount: number;
  readonly currency: number;
  /** Cash loads: the teller whose drawer takes the cash. */
  readonly teller?: string;
  /** Where the terminal stands (the bank's branch), when the operator set one. */
  readonly branch?: string;
  /** Non-bound loads: the bank account number the money comes from. */
  readonly fromAccount?: string;
  readonly card: CardView;
  /** The card's GET CHALLENGE answer (32 hex). */
  readonly challenge: string;
  /** Terminal time, unix seconds. */
  readonly time: number;
}

/** 200 to POST /v1/platform/loads. */
export interface LoadCommand {
  readonly loadId: string;
  /** The platform's serial number of this operation, and its time (unix seconds): the bank message's. */
  readonly serial: number;
  readonly issuedAt: number;
  /** The data of the LOAD command (DF40 payload | DF13 issuer signature), hex. */
  readonly command: string;
  readonly amount: number;
  readonly currency: number;
}

/** A signed card record, as the card answered it (protocol/wallet/records.ts), hex. */
export interface CardRecordProof {
  readonly record: string;
  readonly signature: string;
}

/** 200 to POST …/complete and …/reversal/complete: where the load stands now. */
export interface LoadState {
  readonly loadId: string;
  readonly walletId: string;
  readonly type: LoadType;
  readonly amount: number;
  readonly currency: number;
  /** pending: signed, no proof yet (in doubt once its terminal gave up); loaded: booked;
   *  voided: the card proved it never happened (930E); reversed: it happened and was taken back. */
  readonly state: "pending" | "loaded" | "voided" | "reversed";
  /** The card's counter of the LOAD record, once booked. */
  readonly cardCounter?: number;
  /** The offline account after this booking (minor units). */
  readonly offlineBalance: number;
}

/** POST /v1/platform/wallets/:walletId/presented: the card is at an online terminal. */
export interface PresentedRequest {
  /** 16 random bytes (32 hex): idempotency of this presentation. */
  readonly requestId: string;
  readonly cardCertificate: string;
  readonly card: CardView;
  readonly time: number;
}

/** 200 to …/presented: the wallet as the platform knows it, and what to settle with the card first. */
export interface PresentedAnswer {
  readonly walletId: string;
  readonly status: WalletStatus;
  readonly offlineBalance: number;
  readonly onlineBalance: number;
  /**
   * The automatic-load agreement (seed 000): when `on`, a payment at an online terminal that finds
   * the card's balance under the card's auto-load threshold first loads `amount` from the bound
   * account in the same tap. `threshold` is the platform's copy of the card's parameter.
   */
  readonly autoLoad: { readonly on: boolean; readonly threshold: number; readonly amount: number };
  /** Loads signed for this card whose proof never arrived, oldest first: reverse each. */
  readonly loadsInDoubt: readonly { loadId: string; amount: number; currency: number; type: LoadType }[];
  /** Issuer commands queued for this card (`wallet set-params`, `report-lost`, `release`), oldest first: deliver each. */
  readonly pendingCommands: readonly PendingCommand[];
}

/**
 * POST /v1/platform/attention: the wallets the platform has work for at their next online
 * presentation (an issuer command queued, a load in doubt). An online terminal fetches it on its
 * hotlist schedule and presents only these wallets in a plain payment, so the tap of every other
 * card stays as fast as offline.
 */
export interface AttentionRequest {
  /** 16 random bytes (32 hex). */
  readonly requestId: string;
  /** Terminal time, unix seconds. */
  readonly time: number;
}

/** At most this many wallets in one attention list (the oldest work first). */
export const ATTENTION_MAX = 10_000;

/** 200 to POST /v1/platform/attention. */
export interface AttentionAnswer {
  /** Wallet ids, each once, the oldest work first. */
  readonly wallets: readonly string[];
  /** More wallets have work than the list holds (ATTENTION_MAX). */
  readonly truncated: boolean;
  /** Platform time of the list, unix seconds. */
  readonly asOf: number;
}

/** What an issuer command queued at the platform does on the card. */
export const ISSUER_COMMAND_KINDS = ["parameters", "block", "unblock"] as const;
export type IssuerCommandKind = (typeof ISSUER_COMMAND_KINDS)[number];

export interface PendingCommand {
  /** The platform's id of the queued command (16 hex). */
  readonly commandId: string;
  readonly kind: IssuerCommandKind;
}

/** POST /v1/platform/commands/:commandId/sign: sign the queued command over a new card challenge. */
export interface CommandSignRequest {
  /** 16 random bytes (32 hex): idempotency of this signing. */
  readonly requestId: string;
  readonly challenge: string;
  readonly time: number;
}

/** 200 to …/sign: the command data to relay (DF40 payload | DF13 issuer signature), hex. */
export interface SignedIssuerCommand {
  readonly commandId: string;
  readonly kind: IssuerCommandKind;
  readonly command: string;
}

/** POST /v1/platform/commands/:commandId/complete: the card's signed record answering that signing. */
export interface CommandCompletion {
  readonly requestId: string;
  readonly proof: CardRecordProof;
}

/** 200 to …/complete. */
export interface CommandState {
  readonly commandId: string;
  readonly walletId: string;
  readonly kind: IssuerCommandKind;
  /** delivered: the card's record is booked as the receipt; superseded: a newer command replaced it. */
  readonly state: "pending" | "delivered" | "superseded";
  readonly cardCounter?: number;
}

/** POST /v1/platform/loads/:loadId/reversal: sign LOAD REVERSAL over a new challenge. */
export interface ReversalRequest {
  /** 16 random bytes (32 hex). */
  readonly requestId: string;
  readonly challenge: string;
  readonly time: number;
  /** A cash load taken back at the counter (`posd load revoke`): the teller who gives the cash back. */
  readonly teller?: string;
}

/** 200 to …/reversal. */
export interface ReversalCommand {
  readonly loadId: string;
  readonly command: string;
}

/** POST /v1/platform/loads/:loadId/reversal/complete: what the card answered to LOAD REVERSAL. */
export type ReversalOutcome =
  | { readonly requestId: string; readonly outcome: "reversed"; readonly proof: CardRecordProof }
  | { readonly requestId: string; readonly outcome: "not-found" };

/**
 * Errors are the back office's: `{ code: "ACQ_ERR_…", message, details? }` (acquirer-stub/errors.ts,
 * docs/errors.md). The ones a terminal acts on by code:
 */
export const PLATFORM_REFUSALS = [
  "ACQ_ERR_WALLET_UNKNOWN",
  "ACQ_ERR_WALLET_BLOCKED",
  "ACQ_ERR_OVER_BALANCE_LIMIT",
  "ACQ_ERR_CURRENCY",
  "ACQ_ERR_ACCOUNT_UNKNOWN",
  "ACQ_ERR_ACCOUNT_CLOSED",
  "ACQ_ERR_INSUFFICIENT_FUNDS",
  "ACQ_ERR_NO_BOUND_ACCOUNT",
  "ACQ_ERR_LOAD_AMOUNT",
  "ACQ_ERR_AUTO_LOAD_OFF",
  "ACQ_ERR_CARD_MISMATCH",
] as const;
