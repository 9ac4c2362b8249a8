/**
 * The hotlist the acquirer publishes: card certificate serials revoked by the issuers plus wallet
 * ids blocked (loss reports, detected clones), signed by the acquirer CA over `hotlistMessage`, and
 * the same serials as an X.509 CRL signed by the acquirer CA so standard tools can read it.
 */
import type { KeyObject } from "node:crypto";
import { hex } from "../../protocol/bytes.js";
import { ecdsaSign } from "../../protocol/crypto.js";
import { type Certificate, issueCrl } from "../../protocol/pki.js";
import { type Hotlist, type HotlistWire, hotlistMessage } from "../../protocol/wallet/batch.js";

export const BLOCK_REASONS = ["lost", "stolen", "fraud", "clone", "other"] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

/**
 * The longest a published version stays current: a version older than this is re-issued (a new
 * version, same content) at the next request, so a terminal can tell a fresh list from a stale
 * or replayed one by its signed issue time alone. Each version says when its successor is due
 * (nextUpdate, also the CRL's nextUpdate).
 */
export const HOTLIST_REISSUE_SECONDS = 6 * 3600;

export interface HotlistSigner {
  readonly certificate: Certificate;
  readonly privateKey: KeyObject;
}

export interface HotlistState extends Hotlist {
  /** Serial → when it was added (unix seconds), for the CRL entries. */
  readonly revokedSince: ReadonlyMap<string, number>;
}

/** Sign the hotlist and issue its CRL (CRL number = hotlist version). */
export async function signHotlist(state: HotlistState, signer: HotlistSigner): Promise<HotlistWire> {
  const hotlist: Hotlist = {
    version: state.version,
    issuedAt: state.issuedAt,
    revokedSerials: state.revokedSerials,
    blockedWallets: state.blockedWallets,
    nextUpdate: state.issuedAt + HOTLIST_REISSUE_SECONDS,
  };
  const signature = hex(ecdsaSign(signer.privateKey, hotlistMessage(hotlist)));
  const crl = await issueCrl({
    issuer: { certificate: signer.certificate.der, privateKey: signer.privateKey },
    thisUpdate: new Date(state.issuedAt * 1000),
    nextUpdate: new Date((state.issuedAt + HOTLIST_REISSUE_SECONDS) * 1000),
    crlNumber: state.version,
    revoked: state.revokedSerials.map((serialNumber) => ({
      serialNumber,
      revocationDate: new Date((state.revokedSince.get(serialNumber) ?? state.issuedAt) * 1000),
    })),
  });
  return { ...hotlist, signature, crl: Buffer.from(crl).toString("base64") };
}
