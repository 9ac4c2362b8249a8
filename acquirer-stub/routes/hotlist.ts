/**
 * GET /v1/hotlist[?since=VERSION] — the signed hotlist (HotlistWire), or 304 Not Modified when
 * `since` (or If-None-Match with the ETag) names the current version. Any other `since` gets the
 * full list. A version older than HOTLIST_REISSUE_SECONDS is re-issued first, so what a terminal
 * fetches is never older than that: its signed issue time is the terminal's measure of freshness.
 * Terminals refuse a version older than theirs, so an acquirer database restored from a backup
 * must move its version past the newest one published before terminals take its lists again.
 * Signed once per version and cached.
 */
import type { FastifyInstance } from "fastify";
import type { HotlistWire } from "../../protocol/wallet/batch.js";
import type { AcquirerStore } from "../db/store.js";
import { HOTLIST_REISSUE_SECONDS, type HotlistSigner, signHotlist } from "../domain/hotlist.js";
import { hotlistQuerySchema } from "./schemas.js";

export function registerHotlistRoutes(
  app: FastifyInstance,
  store: AcquirerStore,
  signer: HotlistSigner,
  clock: () => Date,
): void {
  let cached: { version: number; wire: Promise<HotlistWire> } | undefined;
  const current = async (): Promise<HotlistWire> => {
    const state = await store.hotlistState();
    if (cached?.version !== state.version) {
      const wire = signHotlist(state, signer);
      cached = { version: state.version, wire };
      // A failed signing must not stay cached.
      wire.catch(() => {
        if (cached?.wire === wire) cached = undefined;
      });
    }
    return cached.wire;
  };

  app.get<{ Querystring: { since?: string } }>(
    "/v1/hotlist",
    { schema: { querystring: hotlistQuerySchema } },
    async (request, reply) => {
      await store.reissueStaleHotlist(Math.floor(clock().getTime() / 1000), HOTLIST_REISSUE_SECONDS);
      const version = await store.hotlistVersion();
      const etag = `"hotlist-${version}"`;
      reply.header("etag", etag).header("cache-control", "no-cache");
      const since = request.query.since === undefined ? undefined : Number(request.query.since);
      if (since === version || request.headers["if-none-match"] === etag) return reply.status(304).send();
      return current();
    },
  );
}
