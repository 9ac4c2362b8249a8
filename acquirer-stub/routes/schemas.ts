/**
 * JSON schemas of the acquirer's HTTP API (validated by fastify's ajv with coercion and
 * removal of unknown properties turned off: a wrong type or an unknown field is a 400, never
 * silently fixed). Bounds come from the wire contract (protocol/wallet/batch.ts, records.ts, pki.ts).
 */
import { MAX_CERT_BYTES } from "../../protocol/pki.js";
import {
  MAX_BATCH_FINDINGS,
  MAX_UNRESOLVED_INTENTS,
  MAX_UNRESOLVED_REASON,
} from "../../protocol/wallet/batch.js";
import { MAX_RECORD_LENGTH } from "../../protocol/wallet/records.js";
import { MAX_BATCH_REFUNDS } from "../../protocol/wallet/refund.js";
import { BLOCK_REASONS } from "../domain/hotlist.js";

/** Records per batch: a 10,000-record batch is ~7 MB of JSON; twice that still fits the body limit. */
export const MAX_BATCH_RECORDS = 20_000;
/** Distinct card certificates per batch. */
export const MAX_BATCH_CERTIFICATES = 20_000;

const U32 = { type: "integer", minimum: 0, maximum: 0xffffffff } as const;
const ID = { type: "string", pattern: "^[A-Za-z0-9._-]{1,16}$" } as const;
const HEX32 = { type: "string", pattern: "^[0-9a-f]{64}$" } as const;
const SIGNATURE = { type: "string", pattern: "^[0-9a-f]{128}$" } as const;
const BASE64_CERT = {
  type: "string",
  minLength: 4,
  maxLength: Math.ceil(MAX_CERT_BYTES / 3) * 4,
  pattern: "^[A-Za-z0-9+/]+={0,2}$",
} as const;

export const batchUploadSchema = {
  type: "object",
  additionalProperties: false,
  required: ["manifest", "manifestSignature", "terminalCertificates", "certificates", "records"],
  // A batch carries records, or refunds only (a terminal with nothing else to upload).
  anyOf: [
    { properties: { records: { type: "array", minItems: 1 } } },
    { required: ["refunds"], properties: { refunds: { type: "array", minItems: 1 } } },
  ],
  properties: {
    manifest: {
      type: "object",
      additionalProperties: false,
      required: [
        "batchId",
        "terminalId",
        "merchantId",
        "createdAt",
        "count",
        "totals",
        "firstSeq",
        "lastSeq",
        "previousHash",
        "chainHead",
      ],
      properties: {
        batchId: {
          type: "string",
          pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        },
        terminalId: ID,
        merchantId: ID,
        createdAt: U32,
        count: U32,
        totals: {
          type: "array",
          maxItems: 255,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["currency", "count", "amount"],
            properties: {
              currency: { type: "integer", minimum: 0, maximum: 999 },
              count: U32,
              amount: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            },
          },
        },
        firstSeq: U32,
        lastSeq: U32,
        previousHash: HEX32,
        chainHead: HEX32,
        // Torn intents the terminal's card log could not settle (optional; signed in the manifest).
        unresolvedIntents: {
          type: "array",
          maxItems: MAX_UNRESOLVED_INTENTS,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["seq", "walletId", "amount", "currency", "terminalTime", "reason"],
            properties: {
              seq: U32,
              walletId: ID,
              amount: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
              currency: { type: "integer", minimum: 0, maximum: 999 },
              terminalTime: U32,
              cardCounterSeen: U32,
              reason: { type: "string", maxLength: MAX_UNRESOLVED_REASON },
            },
          },
        },
      },
    },
    manifestSignature: SIGNATURE,
    terminalCertificates: { type: "array", minItems: 1, maxItems: 3, items: BASE64_CERT },
    certificates: {
      type: "object",
      maxProperties: MAX_BATCH_CERTIFICATES,
      propertyNames: { pattern: "^[0-9a-f]{64}$" },
      additionalProperties: BASE64_CERT,
    },
    records: {
      type: "array",
      maxItems: MAX_BATCH_RECORDS,
      items: {
        type: "object",
        additionalProperties: false,
        required: [
          "seq",
          "status",
          "cardRecord",
          "cardSignature",
          "cardCertificate",
          "previousHash",
          "terminalSignature",
        ],
        properties: {
          seq: U32,
          status: { type: "string", enum: ["complete", "voided"] },
          cardRecord: { type: "string", maxLength: 2 * MAX_RECORD_LENGTH, pattern: "^(?:[0-9a-f]{2})*$" },
          cardSignature: { type: "string", pattern: "^(?:[0-9a-f]{128})?$" },
          cardCertificate: { type: "string", pattern: "^(?:[0-9a-f]{64})?$" },
          previousHash: HEX32,
          terminalSignature: SIGNATURE,
        },
      },
    },
    // Refunds of the terminal's own debits (optional; each signed by the terminal).
    refunds: {
      type: "array",
      maxItems: MAX_BATCH_REFUNDS,
      items: {
        type: "object",
        additionalProperties: false,
        required: [
          "refundId",
          "originalSeq",
          "walletId",
          "cardCounter",
          "amount",
          "currency",
          "createdAt",
          "signature",
        ],
        properties: {
          refundId: { type: "integer", minimum: 1, maximum: 0xffffffff },
          originalSeq: U32,
          walletId: ID,
          cardCounter: U32,
          amount: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          currency: { type: "integer", minimum: 0, maximum: 999 },
          createdAt: U32,
          signature: SIGNATURE,
        },
      },
    },
    // Wallets the terminal caught rolled back or edited (optional; each proven by its card record).
    findings: {
      type: "array",
      maxItems: MAX_BATCH_FINDINGS,
      items: {
        type: "object",
        additionalProperties: false,
        required: [
          "id",
          "walletId",
          "kind",
          "seq",
          "seenSeq",
          "counterSeen",
          "balanceSeen",
          "counterClaimed",
          "balanceClaimed",
          "amount",
          "currency",
          "cardRecord",
          "cardSignature",
          "cardCertificate",
          "foundAt",
        ],
        properties: {
          id: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          walletId: ID,
          kind: { type: "string", enum: ["rollback", "balance-forged"] },
          seq: U32,
          seenSeq: U32,
          counterSeen: U32,
          balanceSeen: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          counterClaimed: U32,
          balanceClaimed: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          amount: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          currency: { type: "integer", minimum: 0, maximum: 999 },
          // Empty for a wallet declined before DEBIT (no record was signed).
          cardRecord: { type: "string", maxLength: 2 * MAX_RECORD_LENGTH, pattern: "^(?:[0-9a-f]{2})*$" },
          cardSignature: { type: "string", pattern: "^(?:[0-9a-f]{128})?$" },
          cardCertificate: BASE64_CERT,
          foundAt: U32,
        },
      },
    },
  },
} as const;

export const batchIdParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["batchId"],
  properties: { batchId: batchUploadSchema.properties.manifest.properties.batchId },
} as const;

export const batchQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: { terminalId: batchUploadSchema.properties.manifest.properties.terminalId },
} as const;

export const walletParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["walletId"],
  properties: { walletId: ID },
} as const;

/** An issuer CA by its certificate's SHA-256 fingerprint (lower-case hex), as the hotlist names it. */
const ISSUER_FINGERPRINT = { type: "string", pattern: "^[0-9a-f]{64}$" } as const;

export const blockBodySchema = {
  type: "object",
  additionalProperties: false,
  required: ["reason"],
  properties: { reason: { type: "string", enum: [...BLOCK_REASONS] }, issuer: ISSUER_FINGERPRINT },
} as const;

export const hotlistQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: { since: { type: "string", pattern: "^(0|[1-9][0-9]{0,9})$" } },
} as const;

export const reportQuerySchema = {
  type: "object",
  additionalProperties: false,
  required: ["date"],
  properties: {
    date: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$" },
    /** Counter gaps open more than this many days are listed (as the CLI's --gap-days: whole days, 0..99999). */
    gapDays: { type: "string", pattern: "^\\d{1,5}$" },
  },
} as const;
