/**
 * The card a terminal presents: its certificate must chain to the root through an accepted issuer
 * CA at the platform's time (AcquirerTrust.checkCard), name the wallet the request is about, and
 * be the certificate the wallet registered at its first presentation. The registered
 * certificate's key is what verifies the card's records later (proof.ts).
 */
import type { KeyObject } from "node:crypto";
import { equalBytes } from "../../protocol/bytes.js";
import { parseCertificate } from "../../protocol/pki.js";
import type { VerifiedCard } from "../domain/trust.js";
import { AcquirerError } from "../errors.js";
import type { PlatformContext } from "./context.js";
import type { Wallet } from "./model.js";
import type { PlatformTx } from "./store/platform-store.js";

/** Verify a presented card certificate (base64 DER) for `walletId` at `now`. */
export function verifyCard(
  ctx: Pick<PlatformContext, "trust">,
  certificate: string,
  walletId: string,
  now: number,
): VerifiedCard {
  const der = new Uint8Array(Buffer.from(certificate, "base64"));
  const check = ctx.trust.checkCard(der, now);
  if (!check.ok)
    throw new AcquirerError(check.reason, `the card certificate of wallet ${walletId} is refused`, {
      details: { walletId },
    });
  if (check.card.walletId !== walletId)
    throw new AcquirerError(
      "ACQ_ERR_CARD_MISMATCH",
      `the card certificate is wallet ${check.card.walletId}'s, not ${walletId}'s`,
      { details: { walletId, certificateWalletId: check.card.walletId } },
    );
  return check.card;
}

/**
 * Register the card's certificate at the wallet's first presentation; afterwards only that
 * certificate is the wallet's card.
 */
export async function registerCard(tx: PlatformTx, wallet: Wallet, card: VerifiedCard): Promise<void> {
  if (wallet.cardCertificate === null) {
    await tx.wallets.registerCard(wallet.walletId, card.certificate.der);
    return;
  }
  if (!equalBytes(wallet.cardCertificate, card.certificate.der))
    throw new AcquirerError(
      "ACQ_ERR_CARD_MISMATCH",
      `the card certificate differs from the one registered for wallet ${wallet.walletId}`,
      { details: { walletId: wallet.walletId } },
    );
}

/** The public key of the wallet's registered card (its records verify with it). */
export function cardKey(wallet: Wallet): KeyObject {
  if (wallet.cardCertificate === null)
    throw new AcquirerError(
      "ACQ_ERR_LOAD_SIGNATURE",
      `wallet ${wallet.walletId} has no registered card certificate to verify a record with`,
    );
  return parseCertificate(wallet.cardCertificate).publicKey;
}
