/**
 * The signed hotlist, in two formats of one version (protocol/wallet/hotlist.ts):
 *   GET /v2/hotlist[?since=VERSION] — IssuerHotlistWire (format 2): serials and wallet blocks by issuer CA;
 *   GET /v1/hotlist[?since=VERSION] — HotlistWire (format 1), DEPRECATED: the same version flattened,
 *     for terminals not yet upgraded; matching on serial alone, they decline a card of one issuer
 *     whose serial another issuer revoked.
 * Either answers 304 Not Modified when `since` (or If-None-Match with the ETag) names the current
 * version; any other `since` gets the full list. A version older than HOTLIST_REISSUE_SECONDS is
 * re-issued first, so what a terminal fetches is never older than that: its signed issue time is
 * the terminal's measure of freshness. Terminals refuse a version older than theirs, so an acquirer
 * database restored from a backup must move its version past the newest one published before
 * terminals take its lists again. Both formats are signed once per version and cached.
 */
import type { FastifyInstance } from "fastify";
import type { AcquirerStore } from "../db/store.js";
import {
  HOTLIST_REISSUE_SECONDS,
  type HotlistSigner,
  type SignedHotlists,
  signHotlists,
} from "../domain/hotlist.js";
import { hotlistQuerySchema } from "./schemas.js";

export function registerHotlistRoutes(
  app: FastifyInstance,
  store: AcquirerStore,
  signer: HotlistSigner,
  clock: () => Date,
): void {
  let cached: { version: number; signed: Promise<SignedHotlists> } | undefined;
  const current = async (): Promise<SignedHotlists> => {
    const state = await store.hotlistState();
    if (cached?.version !== state.version) {
      const signed = signHotlists(state, signer);
      cached = { version: state.version, signed };
      // A failed signing must not stay cached.
      signed.catch(() => {
        if (cached?.signed === signed) cached = undefined;
      });
    }
    return cached.signed;
  };

  for (const format of ["v1", "v2"] as const)
    app.get<{ Querystring: { since?: string } }>(
      `/${format}/hotlist`,
      { schema: { querystring: hotlistQuerySchema } },
      async (request, reply) => {
        await store.reissueStaleHotlist(Math.floor(clock().getTime() / 1000), HOTLIST_REISSUE_SECONDS);
        const version = await store.hotlistVersion();
        // One ETag per format: a cache must not answer a v2 request with a v1 body of that version.
        const etag = format === "v1" ? `"hotlist-${version}"` : `"hotlist-v2-${version}"`;
        reply.header("etag", etag).header("cache-control", "no-cache");
        const since = request.query.since === undefined ? undefined : Number(request.query.since);
        if (since === version || request.headers["if-none-match"] === etag) return reply.status(304).send();
        return (await current())[format];
      },
    );
}
