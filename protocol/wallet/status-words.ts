/**
 * The wallet application's proprietary status words (93xx, see docs/protocol.md) and what they
 * mean. The terminal and the card both read them from here; nothing registers them globally.
 */
import { describeSw, type SwMeanings } from "../sw.js";
import { WALLET_SW } from "./constants.js";

export const WALLET_SW_MEANINGS: SwMeanings = new Map<number, string>([
  [WALLET_SW.BLOCKED, "wallet is blocked"],
  [WALLET_SW.CURRENCY_MISMATCH, "currency does not match the wallet's"],
  [WALLET_SW.AMOUNT_INVALID, "amount must be greater than zero"],
  [WALLET_SW.OVER_SINGLE_LIMIT, "amount exceeds the single-spend limit"],
  [WALLET_SW.INSUFFICIENT_FUNDS, "insufficient balance"],
  [WALLET_SW.POLICY_VALIDITY, "outside the wallet's validity window"],
  [WALLET_SW.POLICY_CATEGORY, "merchant category not allowed by the wallet's policy"],
  [WALLET_SW.POLICY_REGION, "region not allowed by the wallet's policy"],
  [WALLET_SW.OVER_BALANCE_LIMIT, "load would exceed the balance limit"],
  [WALLET_SW.TERMINAL_REFUSED, "terminal certificate refused (chain, validity or role)"],
  [WALLET_SW.TERMINAL_CLOCK, "terminal certificate expired by the card's own time high-water mark"],
  [WALLET_SW.DUPLICATE_TERMINAL_SEQ, "this terminal sequence number was already debited"],
  [WALLET_SW.ISSUER_SIGNATURE, "issuer signature on the online command does not verify"],
  [WALLET_SW.LOAD_NOT_FOUND, "no load with this id on the card (nothing to reverse)"],
  [WALLET_SW.ALREADY_REVERSED, "this load was already reversed"],
]);

/** A status word for people, the wallet's own words included: "9305 insufficient balance". */
export function describeWalletSw(sw: number): string {
  return describeSw(sw, WALLET_SW_MEANINGS);
}
