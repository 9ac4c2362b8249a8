/**
 * The platform's reconciliation as an operator asks for it (`acquirer-stub report`, GET
 * /v1/platform/reconciliation): the facts read in one snapshot, compared by the pure rules.
 */
import { type PlatformReconciliation, reconcile } from "./reconciliation.js";
import type { PlatformStore } from "./store/platform-store.js";

export async function platformReconciliation(store: PlatformStore): Promise<PlatformReconciliation> {
  return reconcile(await store.read("platform reconciliation", (tx) => tx.reconciliation.facts()));
}
