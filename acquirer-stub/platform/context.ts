/**
 * What the platform's use cases (wallets.ts, loads.ts, reversals.ts) run on: the store, the trust
 * that verifies card certificates, the issuer key that signs commands, and one clock.
 */
import type { AcquirerTrust } from "../domain/trust.js";
import type { IssuerSigner } from "./issuer.js";
import type { PlatformStore } from "./store/platform-store.js";

export interface PlatformContext {
  readonly store: PlatformStore;
  readonly trust: AcquirerTrust;
  readonly issuer: IssuerSigner;
  /** The platform clock: issue times, request-time bounds, business days. */
  readonly clock: () => Date;
}

/** The platform clock in unix seconds. */
export function nowSeconds(ctx: Pick<PlatformContext, "clock">): number {
  return Math.floor(ctx.clock().getTime() / 1000);
}
