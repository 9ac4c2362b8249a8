/**
 * The online half of posd: the wallet platform over HTTP (the acquirer's base URL), signed with the
 * terminal's key, wired into what the load use cases take. Opened per command, closed after it.
 */
import { AcquirerClient } from "../adapters/http/acquirer-client.js";
import { PlatformClient } from "../adapters/http/platform-client.js";
import type { LoadDeps } from "../application/run-load.js";
import { TerminalError } from "../errors.js";
import type { TerminalContext } from "./root.js";

export interface OnlineTerminal {
  readonly deps: LoadDeps;
  close(): void;
}

/** `url`: --acquirer, else acquirer.url; without either the terminal is offline (TERM_ERR_OFFLINE). */
export function openPlatform(ctx: TerminalContext, url: string | undefined): OnlineTerminal {
  const baseUrl = url ?? ctx.config.acquirer.url;
  if (!baseUrl)
    throw new TerminalError(
      "TERM_ERR_OFFLINE",
      "this needs an online terminal: pass --acquirer URL, or set acquirer.url in posd.json (TAPWALLET_ACQUIRER_URL)",
    );
  const http = new AcquirerClient({
    baseUrl,
    timeoutMs: ctx.config.acquirer.timeoutMs,
    retries: ctx.config.acquirer.retries,
    logger: ctx.logger,
  });
  const platform = new PlatformClient(http, {
    privateKey: ctx.identity.privateKey,
    chain: [ctx.identity.certificate.der, ...ctx.identity.chain.map((c) => c.der)],
  });
  return {
    deps: {
      loads: ctx.loads,
      platform,
      identity: ctx.identity,
      trust: ctx.trust,
      logger: ctx.logger,
      attention: ctx.attention,
    },
    close: () => http.close(),
  };
}
