/** Column conversions shared by the acquirer's tables. */

/** A time column (unix seconds) as the ISO 8601 text the reports and the operator API show. */
export const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString();
