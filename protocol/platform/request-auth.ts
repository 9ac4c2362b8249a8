/**
 * How a terminal proves who sends a wallet-platform request: its certificate chain and an ECDSA
 * P-256 signature (64 bytes r||s, hex) with its certificate key over
 *
 *   "TAPWALLET/1 PLATFORM REQUEST" || "\n" || METHOD || " " || PATH || "\n" || BODY
 *
 * where PATH is the request target as sent (with its query) and BODY the exact bytes of the JSON
 * body. The two headers:
 *
 *   tapwallet-certificates: base64 DER, leaf first, then its CA certificates, comma-separated
 *   tapwallet-signature:    128 hex
 *
 * The platform checks the chain to the root through an acquirer CA (terminal role, not revoked),
 * then the signature over the bytes it received; a body changed on the way, or moved to another
 * route, does not verify. Replays are harmless: every request is idempotent by its id, and carries
 * the terminal's time, which the platform bounds.
 */
import type { KeyObject } from "node:crypto";
import { concat, fromHex, hex, utf8 } from "../bytes.js";
import { ecdsaSign, ecdsaVerify } from "../crypto.js";
import { LABEL } from "../wallet/constants.js";

export const CERTIFICATES_HEADER = "tapwallet-certificates";
export const SIGNATURE_HEADER = "tapwallet-signature";
/** Certificates a terminal presents at most (leaf, acquirer CA, one more). */
export const MAX_REQUEST_CERTIFICATES = 3;

export function platformRequestMessage(method: string, path: string, body: string): Uint8Array {
  return concat(utf8(LABEL.PLATFORM_REQUEST), utf8(`\n${method.toUpperCase()} ${path}\n`), utf8(body));
}

/** The two headers of a signed request. */
export function signPlatformRequest(
  privateKey: KeyObject,
  chain: readonly Uint8Array[],
  request: { method: string; path: string; body: string },
): Record<string, string> {
  const signature = ecdsaSign(privateKey, platformRequestMessage(request.method, request.path, request.body));
  return {
    [CERTIFICATES_HEADER]: chain.map((der) => Buffer.from(der).toString("base64")).join(","),
    [SIGNATURE_HEADER]: hex(signature),
  };
}

/** The chain and signature of a request, or a reason it carries none that can be read. */
export function readPlatformRequestAuth(
  headers: Record<string, string | string[] | undefined>,
): { chain: Uint8Array[]; signature: Uint8Array } | { error: string } {
  const certs = headers[CERTIFICATES_HEADER];
  const sig = headers[SIGNATURE_HEADER];
  if (typeof certs !== "string" || certs === "") return { error: `no ${CERTIFICATES_HEADER} header` };
  if (typeof sig !== "string" || !/^[0-9a-f]{128}$/.test(sig))
    return { error: `${SIGNATURE_HEADER} is not 128 lower-case hex` };
  const parts = certs.split(",");
  if (parts.length > MAX_REQUEST_CERTIFICATES)
    return { error: `more than ${MAX_REQUEST_CERTIFICATES} certificates` };
  if (!parts.every((p) => /^[A-Za-z0-9+/]+={0,2}$/.test(p) && p.length % 4 === 0))
    return { error: `${CERTIFICATES_HEADER} is not comma-separated base64` };
  return { chain: parts.map((p) => new Uint8Array(Buffer.from(p, "base64"))), signature: fromHex(sig) };
}

export function verifyPlatformRequest(
  publicKey: KeyObject,
  request: { method: string; path: string; body: string },
  signature: Uint8Array,
): boolean {
  return ecdsaVerify(
    publicKey,
    platformRequestMessage(request.method, request.path, request.body),
    signature,
  );
}
