/**
 * The hotlist the acquirer publishes: card certificate serials revoked by the issuers plus wallet
 * ids blocked (loss reports, detected clones, fraud), kept by issuer CA. Published in both formats
 * of protocol/wallet/hotlist.ts from one state, signed by the acquirer CA: format 2 (GET
 * /v2/hotlist) by issuer, format 1 (GET /v1/hotlist, deprecated) flattened. The serials also go
 * out flat as an X.509 CRL signed by the acquirer CA so that standard tools can read them; one CRL
 * per version, the same in both formats.
 */
import type { KeyObject } from "node:crypto";
import { hex } from "../../protocol/bytes.js";
import { ecdsaSign } from "../../protocol/crypto.js";
import { type Certificate, issueCrl } from "../../protocol/pki.js";
import {
  flattenHotlist,
  type Hotlist,
  type HotlistWire,
  hotlistMessage,
  type IssuerHotlist,
  type IssuerHotlistEntry,
  type IssuerHotlistWire,
  issuerHotlistMessage,
} from "../../protocol/wallet/hotlist.js";

export const BLOCK_REASONS = ["lost", "stolen", "fraud", "clone", "other"] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

/** An issuer CA's fingerprint as the hotlist names it: SHA-256 of its certificate, lower-case hex. */
export const ISSUER_FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;

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

/**
 * Everything a published version is made of. `issuers` and `everyIssuer` are the format-2 lists
 * (canonical order); `revokedSerials` and `blockedWallets` the flat format-1 lists.
 */
export interface HotlistState extends Hotlist {
  readonly version: number;
  readonly issuedAt: number;
  /** Wallet ids blocked at every issuer, ascending. */
  readonly everyIssuer: readonly string[];
  /** Per issuer CA, ascending by fingerprint: its revoked serials and the wallet ids blocked at it. */
  readonly issuers: readonly IssuerHotlistEntry[];
  /** Serial → when it was first added (unix seconds), for the CRL entries. */
  readonly revokedSince: ReadonlyMap<string, number>;
}

const ascending = (items: Iterable<string>): string[] =>
  [...new Set(items)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * The state of a version from the stored rows, in canonical order (sorted here, by code unit, never
 * by a database collation): serials by issuer, blocks at every issuer (issuer null) and by issuer.
 */
export function hotlistOf(
  head: { version: number; issuedAt: number },
  serials: readonly { serial: string; issuer: string; addedAt: number }[],
  blocks: readonly { walletId: string; issuer: string | null }[],
): HotlistState {
  const byIssuer = new Map<string, { serials: string[]; wallets: string[] }>();
  const entry = (issuer: string) => {
    const found = byIssuer.get(issuer);
    if (found) return found;
    const created = { serials: [] as string[], wallets: [] as string[] };
    byIssuer.set(issuer, created);
    return created;
  };
  const revokedSince = new Map<string, number>();
  for (const s of serials) {
    entry(s.issuer).serials.push(s.serial);
    const since = revokedSince.get(s.serial);
    if (since === undefined || s.addedAt < since) revokedSince.set(s.serial, s.addedAt);
  }
  const everyIssuer: string[] = [];
  for (const b of blocks) {
    if (b.issuer === null) everyIssuer.push(b.walletId);
    else entry(b.issuer).wallets.push(b.walletId);
  }
  const issuers = ascending(byIssuer.keys()).map((issuer) => ({
    issuer,
    revokedSerials: ascending(byIssuer.get(issuer)!.serials),
    blockedWallets: ascending(byIssuer.get(issuer)!.wallets),
  }));
  const v2: IssuerHotlist = {
    format: 2,
    version: head.version,
    issuedAt: head.issuedAt,
    nextUpdate: head.issuedAt + HOTLIST_REISSUE_SECONDS,
    blockedWallets: ascending(everyIssuer),
    issuers,
  };
  const flat = flattenHotlist(v2);
  return {
    version: head.version,
    issuedAt: head.issuedAt,
    revokedSerials: flat.revokedSerials,
    blockedWallets: flat.blockedWallets,
    everyIssuer: v2.blockedWallets,
    issuers,
    revokedSince,
  };
}

/** A version signed in both formats, sharing one CRL (CRL number = hotlist version). */
export interface SignedHotlists {
  readonly v1: HotlistWire;
  readonly v2: IssuerHotlistWire;
}

/** Sign a version in both formats and issue its CRL. */
export async function signHotlists(state: HotlistState, signer: HotlistSigner): Promise<SignedHotlists> {
  const nextUpdate = state.issuedAt + HOTLIST_REISSUE_SECONDS;
  const v2: IssuerHotlist = {
    format: 2,
    version: state.version,
    issuedAt: state.issuedAt,
    nextUpdate,
    blockedWallets: state.everyIssuer,
    issuers: state.issuers,
  };
  const v1: Hotlist = {
    version: state.version,
    issuedAt: state.issuedAt,
    revokedSerials: state.revokedSerials,
    blockedWallets: state.blockedWallets,
    nextUpdate,
  };
  const crlDer = await issueCrl({
    issuer: { certificate: signer.certificate.der, privateKey: signer.privateKey },
    thisUpdate: new Date(state.issuedAt * 1000),
    nextUpdate: new Date(nextUpdate * 1000),
    crlNumber: state.version,
    revoked: state.revokedSerials.map((serialNumber) => ({
      serialNumber,
      revocationDate: new Date((state.revokedSince.get(serialNumber) ?? state.issuedAt) * 1000),
    })),
  });
  const crl = Buffer.from(crlDer).toString("base64");
  return {
    v1: { ...v1, signature: hex(ecdsaSign(signer.privateKey, hotlistMessage(v1))), crl },
    v2: { ...v2, signature: hex(ecdsaSign(signer.privateKey, issuerHotlistMessage(v2))), crl },
  };
}
