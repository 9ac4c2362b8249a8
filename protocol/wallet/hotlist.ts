/**
 * The hotlist the acquirer publishes and terminals enforce offline: card certificate serials the
 * issuers revoked and wallet ids the acquirer blocked (loss reports, detected clones and fraud).
 * Signed by the acquirer CA over a canonical binary encoding defined here, never over JSON text.
 *
 * Two formats, each with its own label, so that the bytes of one can never verify as the other:
 *
 * - format 1 (`GET /v1/hotlist`, `TAPWALLET/1 HOTLIST`), DEPRECATED: serials and wallet ids without
 *   their issuer. A terminal matching it declines every card with a listed serial, whichever issuer
 *   signed it: two issuers' serials may collide, and an innocent card of one is declined because
 *   the other revoked the same serial. Still served, flattened, for terminals not yet upgraded.
 * - format 2 (`GET /v2/hotlist`, `TAPWALLET/2 HOTLIST`): every serial under the issuer CA that
 *   revoked it, and every wallet id either blocked at every issuer or under one issuer. A terminal
 *   matches a card on (its issuer CA, its serial) and on its wallet id at its issuer or at every
 *   issuer.
 */
import { concat, u8, u16be, u32be, utf8 } from "../bytes.js";
import { ProtocolError } from "../errors.js";
import { ID_PATTERN } from "./constants.js";

const SERIAL_RE = /^[0-9a-f]{1,40}$/;
const FINGERPRINT_RE = /^[0-9a-f]{64}$/;
const SIGNATURE_RE = /^[0-9a-f]{128}$/;
const MAX_LIST = 0xffff;

// ---------------------------------------------------------------------------------------------
// Format 1 (deprecated)

/**
 * The format-1 hotlist. Canonical bytes: label || version (4) || issued at (4) || n serials (2) ||
 * n × (len (1) || serial hex ASCII) || n wallets (2) || n × (len (1) || wallet id) [|| next update (4)].
 * The trailing next update is signed when present; a hotlist without it (an older acquirer) has
 * the same bytes as before, so either verifies. A terminal refuses a hotlist older than the one it
 * holds, by version or by issue time (a replayed one).
 * @deprecated matches on serial alone: use the format-2 IssuerHotlist.
 */
export interface Hotlist {
  readonly version: number;
  /** Unix seconds: when the acquirer signed this version. */
  readonly issuedAt: number;
  readonly revokedSerials: readonly string[];
  readonly blockedWallets: readonly string[];
  /** Unix seconds: when the acquirer publishes the next version at the latest (absent: not said). */
  readonly nextUpdate?: number;
}

export const HOTLIST_LABEL = "TAPWALLET/1 HOTLIST";

export function hotlistMessage(h: Hotlist): Uint8Array {
  const parts: Uint8Array[] = [
    utf8(HOTLIST_LABEL),
    u32be(h.version),
    u32be(h.issuedAt),
    u16be(h.revokedSerials.length),
  ];
  for (const s of h.revokedSerials) {
    if (!SERIAL_RE.test(s)) throw new ProtocolError("PROTO_ERR_RECORD_FORMAT", "hotlist serial is not hex");
    parts.push(u8(s.length), utf8(s));
  }
  parts.push(u16be(h.blockedWallets.length));
  for (const w of h.blockedWallets) {
    if (!ID_PATTERN.test(w))
      throw new ProtocolError("PROTO_ERR_RECORD_FORMAT", "hotlist wallet id is malformed");
    parts.push(u8(w.length), utf8(w));
  }
  if (h.nextUpdate !== undefined) {
    if (!Number.isSafeInteger(h.nextUpdate) || h.nextUpdate < h.issuedAt || h.nextUpdate > 0xffff_ffff)
      throw new ProtocolError("PROTO_ERR_RECORD_FORMAT", "hotlist next update is not after its issue time");
    parts.push(u32be(h.nextUpdate));
  }
  return concat(...parts);
}

/**
 * GET /v1/hotlist body.
 * @deprecated matches on serial alone: GET /v2/hotlist serves IssuerHotlistWire.
 */
export interface HotlistWire extends Hotlist {
  /** Acquirer CA signature (hex) over hotlistMessage. */
  readonly signature: string;
  /** The same serials as an X.509 CRL signed by the acquirer CA (base64 DER), for standard tools. */
  readonly crl: string;
}

// ---------------------------------------------------------------------------------------------
// Format 2: keyed by issuer

export const HOTLIST_V2_LABEL = "TAPWALLET/2 HOTLIST";

/** What one issuer CA contributes to a format-2 hotlist. */
export interface IssuerHotlistEntry {
  /** The issuer CA: SHA-256 (64 lower-case hex) of its certificate's DER (Certificate.fingerprint). */
  readonly issuer: string;
  /** Serials (lower-case hex, as Certificate.serialNumber) of card certificates this issuer revoked. */
  readonly revokedSerials: readonly string[];
  /** Wallet ids blocked for the cards of this issuer only. */
  readonly blockedWallets: readonly string[];
}

/**
 * The format-2 hotlist. Every list is in canonical order, strictly ascending by code unit (the ids
 * are ASCII: byte order), without duplicates; issuers ascending by fingerprint, each with at least
 * one entry. Canonical bytes (signed by the acquirer CA):
 *
 *   label "TAPWALLET/2 HOTLIST" || version (4) || issued at (4) || next update (4)
 *   || n wallets at every issuer (2) || n × (len (1) || wallet id)
 *   || n issuers (2) || n × ( issuer fingerprint (32) || n serials (2) || n × (len (1) || serial hex
 *      ASCII) || n wallets (2) || n × (len (1) || wallet id) )
 */
export interface IssuerHotlist {
  readonly format: 2;
  readonly version: number;
  /** Unix seconds: when the acquirer signed this version. */
  readonly issuedAt: number;
  /** Unix seconds: when the acquirer publishes the next version at the latest. */
  readonly nextUpdate: number;
  /** Wallet ids blocked at every issuer (an operator's block that names no issuer). */
  readonly blockedWallets: readonly string[];
  readonly issuers: readonly IssuerHotlistEntry[];
}

/** GET /v2/hotlist body. */
export interface IssuerHotlistWire extends IssuerHotlist {
  /** Acquirer CA signature (hex, 64 bytes r || s) over issuerHotlistMessage. */
  readonly signature: string;
  /**
   * Every issuer's revoked serials, flat, as an X.509 CRL signed by the acquirer CA (base64 DER),
   * CRL number = version: for standard tools (a CRL entry has no issuer of its own here).
   */
  readonly crl: string;
}

export function isIssuerHotlist(h: Hotlist | IssuerHotlist): h is IssuerHotlist {
  return "format" in h && h.format === 2;
}

function formatError(message: string): ProtocolError {
  return new ProtocolError("PROTO_ERR_HOTLIST_FORMAT", `format-2 hotlist: ${message}`);
}

const isU32 = (n: unknown): n is number =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && n <= 0xffff_ffff;

/** A list of strings matching `re`, strictly ascending (canonical order, no duplicate). */
function checkList(list: unknown, re: RegExp, what: string): readonly string[] {
  if (!Array.isArray(list)) throw formatError(`${what} is not a list`);
  if (list.length > MAX_LIST) throw formatError(`${what}: more than ${MAX_LIST} entries`);
  let previous: string | undefined;
  for (const item of list) {
    if (typeof item !== "string" || !re.test(item)) throw formatError(`${what}: malformed entry`);
    if (previous !== undefined && !(previous < item))
      throw formatError(`${what} is not in canonical order (ascending, no duplicate)`);
    previous = item;
  }
  return list as string[];
}

/** Throws PROTO_ERR_HOTLIST_FORMAT unless `h` is a well-formed format-2 hotlist in canonical order. */
export function checkIssuerHotlist(h: IssuerHotlist): void {
  if (h.format !== 2) throw formatError("format is not 2");
  if (!isU32(h.version) || !isU32(h.issuedAt) || !isU32(h.nextUpdate))
    throw formatError("version, issuedAt and nextUpdate must be integers 0..2^32-1");
  if (h.nextUpdate < h.issuedAt) throw formatError("next update is before the issue time");
  checkList(h.blockedWallets, ID_PATTERN, "blockedWallets");
  if (!Array.isArray(h.issuers)) throw formatError("issuers is not a list");
  if (h.issuers.length > MAX_LIST) throw formatError(`issuers: more than ${MAX_LIST} entries`);
  let previous: string | undefined;
  for (const entry of h.issuers) {
    if (typeof entry !== "object" || entry === null) throw formatError("issuer entry is not an object");
    if (typeof entry.issuer !== "string" || !FINGERPRINT_RE.test(entry.issuer))
      throw formatError("issuer is not a SHA-256 fingerprint (64 lower-case hex)");
    if (previous !== undefined && !(previous < entry.issuer))
      throw formatError("issuers are not in canonical order (ascending fingerprint, no duplicate)");
    previous = entry.issuer;
    checkList(entry.revokedSerials, SERIAL_RE, "revokedSerials");
    checkList(entry.blockedWallets, ID_PATTERN, "blockedWallets");
    if (entry.revokedSerials.length === 0 && entry.blockedWallets.length === 0)
      throw formatError("an issuer entry lists nothing");
  }
}

function idList(list: readonly string[]): Uint8Array[] {
  const parts = [u16be(list.length)];
  for (const id of list) parts.push(u8(id.length), utf8(id));
  return parts;
}

/** The canonical bytes of a format-2 hotlist (layout on IssuerHotlist); PROTO_ERR_HOTLIST_FORMAT if malformed. */
export function issuerHotlistMessage(h: IssuerHotlist): Uint8Array {
  checkIssuerHotlist(h);
  const parts: Uint8Array[] = [
    utf8(HOTLIST_V2_LABEL),
    u32be(h.version),
    u32be(h.issuedAt),
    u32be(h.nextUpdate),
    ...idList(h.blockedWallets),
    u16be(h.issuers.length),
  ];
  for (const entry of h.issuers)
    parts.push(
      new Uint8Array(Buffer.from(entry.issuer, "hex")),
      ...idList(entry.revokedSerials),
      ...idList(entry.blockedWallets),
    );
  return concat(...parts);
}

const WIRE_KEYS = [
  "format",
  "version",
  "issuedAt",
  "nextUpdate",
  "blockedWallets",
  "issuers",
  "signature",
  "crl",
];
const ENTRY_KEYS = ["issuer", "revokedSerials", "blockedWallets"];

function exactKeys(o: object, keys: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw formatError(`${what}: unknown field ${k}`);
  for (const k of keys) if (!Object.hasOwn(o, k)) throw formatError(`${what}: missing field ${k}`);
}

/**
 * A GET /v2/hotlist body (parsed JSON) checked field by field: exactly the fields of
 * IssuerHotlistWire, each well-formed and in canonical order. A format-1 body (no `format`, flat
 * `revokedSerials`) is refused. Returns a fresh object (nothing else of the body is kept); the
 * signature is NOT checked here. Throws PROTO_ERR_HOTLIST_FORMAT.
 */
export function parseIssuerHotlistWire(body: unknown): IssuerHotlistWire {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw formatError("not a JSON object");
  const b = body as Record<string, unknown>;
  if (b.format !== 2) throw formatError("format is not 2 (a format-1 hotlist?)");
  exactKeys(b, WIRE_KEYS, "hotlist");
  if (!Array.isArray(b.issuers)) throw formatError("issuers is not a list");
  const issuers = (b.issuers as unknown[]).map((e): IssuerHotlistEntry => {
    if (typeof e !== "object" || e === null || Array.isArray(e))
      throw formatError("issuer entry is not an object");
    exactKeys(e, ENTRY_KEYS, "issuer entry");
    const entry = e as Record<string, unknown>;
    return {
      issuer: entry.issuer as string,
      revokedSerials: [...checkList(entry.revokedSerials, SERIAL_RE, "revokedSerials")],
      blockedWallets: [...checkList(entry.blockedWallets, ID_PATTERN, "blockedWallets")],
    };
  });
  if (typeof b.signature !== "string" || !SIGNATURE_RE.test(b.signature))
    throw formatError("signature is not 64 bytes of lower-case hex");
  if (typeof b.crl !== "string" || b.crl.length === 0) throw formatError("crl is not base64 text");
  const hotlist: IssuerHotlist = {
    format: 2,
    version: b.version as number,
    issuedAt: b.issuedAt as number,
    nextUpdate: b.nextUpdate as number,
    blockedWallets: [...checkList(b.blockedWallets, ID_PATTERN, "blockedWallets")],
    issuers,
  };
  checkIssuerHotlist(hotlist);
  return { ...hotlist, signature: b.signature, crl: b.crl };
}

const ascendingUnique = (items: Iterable<string>): string[] =>
  [...new Set(items)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * The format-1 view of a format-2 hotlist: every serial and every wallet id, flat, whichever
 * issuer (what GET /v1/hotlist serves). Matching it declines more cards than the format-2 list
 * does, never fewer.
 */
export function flattenHotlist(h: IssuerHotlist): Hotlist {
  return {
    version: h.version,
    issuedAt: h.issuedAt,
    revokedSerials: ascendingUnique(h.issuers.flatMap((e) => e.revokedSerials)),
    blockedWallets: ascendingUnique([...h.blockedWallets, ...h.issuers.flatMap((e) => e.blockedWallets)]),
    nextUpdate: h.nextUpdate,
  };
}

/** Every serial of a hotlist of either format, flat (what its CRL lists). */
export function hotlistSerials(h: Hotlist | IssuerHotlist): string[] {
  return ascendingUnique(isIssuerHotlist(h) ? h.issuers.flatMap((e) => e.revokedSerials) : h.revokedSerials);
}

/** Every blocked wallet id of a hotlist of either format, flat (at every issuer and at any one). */
export function hotlistWallets(h: Hotlist | IssuerHotlist): readonly string[] {
  return isIssuerHotlist(h) ? flattenHotlist(h).blockedWallets : ascendingUnique(h.blockedWallets);
}
