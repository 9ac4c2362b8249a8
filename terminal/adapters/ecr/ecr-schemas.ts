/**
 * The JSON-schema parts every cash-register route shares (payments, refunds, stored value): the
 * register's service id, the `:serviceId` route parameter, the `?wait=s` long-poll, the currency.
 */
export const SERVICE_ID = "^[A-Za-z0-9._:-]{1,64}$";

export const serviceIdProperty = { type: "string", pattern: SERVICE_ID } as const;

export const currencyProperty = { type: "string", pattern: "^[A-Za-z]{3}$" } as const;

export const waitQuery = {
  type: "object",
  additionalProperties: false,
  properties: { wait: { type: "string", pattern: "^[0-9]{1,3}$" } },
} as const;

export const serviceParams = {
  type: "object",
  required: ["serviceId"],
  properties: { serviceId: serviceIdProperty },
} as const;
