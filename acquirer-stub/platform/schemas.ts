/**
 * JSON schemas of the wallet platform's requests: exactly the types of protocol/platform/api.ts,
 * with no field more (additionalProperties: false) and no coercion (app.ts configures ajv so: "5"
 * is not 5). Amounts are integers here; their range is a rule with its own code
 * (ACQ_ERR_LOAD_AMOUNT, rules.ts).
 */
import { MAX_AMOUNT_MINOR } from "../../protocol/amount.js";
import { MAX_CERT_BYTES } from "../../protocol/pki.js";
import { LOAD_TYPES } from "../../protocol/platform/api.js";
import { MAX_RECORD_LENGTH } from "../../protocol/wallet/records.js";
import { ACCOUNT_NUMBER_PATTERN } from "./accounts.js";

const U32 = { type: "integer", minimum: 0, maximum: 0xffffffff } as const;
const MINOR = { type: "integer", minimum: 0, maximum: MAX_AMOUNT_MINOR } as const;
const ID = { type: "string", pattern: "^[A-Za-z0-9._-]{1,16}$" } as const;
const LOAD_ID = { type: "string", pattern: "^[0-9a-f]{16}$" } as const;
const REQUEST_ID = { type: "string", pattern: "^[0-9a-f]{32}$" } as const;
const CHALLENGE = { type: "string", pattern: "^[0-9a-f]{32}$" } as const;
const CURRENCY = { type: "integer", minimum: 0, maximum: 999 } as const;
const BASE64_CERT = {
  type: "string",
  minLength: 4,
  maxLength: Math.ceil(MAX_CERT_BYTES / 3) * 4,
  pattern: "^[A-Za-z0-9+/]+={0,2}$",
} as const;

const CARD_VIEW = {
  type: "object",
  additionalProperties: false,
  required: ["balance", "balanceLimit", "counter", "state"],
  properties: {
    balance: MINOR,
    balanceLimit: MINOR,
    counter: U32,
    state: { type: "string", enum: ["active", "blocked"] },
  },
} as const;

/** The `:walletId` route parameter: the acquirer's own (routes/schemas.ts). */
export { walletParamsSchema } from "../routes/schemas.js";

export const loadParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["loadId"],
  properties: { loadId: LOAD_ID },
} as const;

export const loadRequestSchema = {
  type: "object",
  additionalProperties: false,
  required: [
    "loadId",
    "walletId",
    "cardCertificate",
    "type",
    "amount",
    "currency",
    "card",
    "challenge",
    "time",
  ],
  properties: {
    loadId: LOAD_ID,
    walletId: ID,
    cardCertificate: BASE64_CERT,
    type: { type: "string", enum: [...LOAD_TYPES] },
    amount: { type: "integer" },
    currency: CURRENCY,
    teller: ID,
    branch: ID,
    fromAccount: { type: "string", pattern: ACCOUNT_NUMBER_PATTERN.source },
    card: CARD_VIEW,
    challenge: CHALLENGE,
    time: U32,
  },
} as const;

export const cardRecordProofSchema = {
  type: "object",
  additionalProperties: false,
  required: ["record", "signature"],
  properties: {
    record: { type: "string", minLength: 2, maxLength: 2 * MAX_RECORD_LENGTH, pattern: "^(?:[0-9a-f]{2})+$" },
    signature: { type: "string", pattern: "^[0-9a-f]{128}$" },
  },
} as const;

export const presentedRequestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["requestId", "cardCertificate", "card", "time"],
  properties: {
    requestId: REQUEST_ID,
    cardCertificate: BASE64_CERT,
    card: CARD_VIEW,
    time: U32,
  },
} as const;

export const reversalRequestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["requestId", "challenge", "time"],
  properties: {
    requestId: REQUEST_ID,
    challenge: CHALLENGE,
    time: U32,
    teller: ID,
  },
} as const;

/** "reversed" carries the card's record; "not-found" (the card answered 930E) carries none. */
export const reversalOutcomeSchema = {
  type: "object",
  additionalProperties: false,
  required: ["requestId", "outcome"],
  properties: {
    requestId: REQUEST_ID,
    outcome: { type: "string", enum: ["reversed", "not-found"] },
    proof: cardRecordProofSchema,
  },
  if: { properties: { outcome: { const: "reversed" } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keywords.
  then: { required: ["proof"] },
  else: { not: { required: ["proof"] } },
} as const;

export const commandParamsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["commandId"],
  properties: { commandId: LOAD_ID },
} as const;

/** A reversal request without its teller: a new card challenge to sign a queued command over. */
export const commandSignRequestSchema = {
  ...reversalRequestSchema,
  properties: { requestId: REQUEST_ID, challenge: CHALLENGE, time: U32 },
} as const;

export const attentionRequestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["requestId", "time"],
  properties: { requestId: REQUEST_ID, time: U32 },
} as const;

export const commandCompletionSchema = {
  type: "object",
  additionalProperties: false,
  required: ["requestId", "proof"],
  properties: {
    requestId: REQUEST_ID,
    proof: cardRecordProofSchema,
  },
} as const;
