/**
 * Fetch the platform's attention list (POST /v1/platform/attention): the wallets with an issuer
 * command queued or a load in doubt. An online terminal does it with its hotlist sync (`posd sync`,
 * and `posd run` every acquirer.syncIntervalSec); a plain payment then presents only those wallets
 * to the platform (online-tap.ts).
 */
import { hex } from "../../protocol/bytes.js";
import { systemRandom } from "../../protocol/crypto.js";
import type { Logger } from "../../protocol/logger.js";
import { TerminalError } from "../errors.js";
import type { AttentionList } from "./ports.js";
import type { LoadDeps } from "./run-load.js";

export interface AttentionSync {
  /** The acquirer serves no wallet platform (404: no issuer key): nothing to present, the list is empty. */
  readonly noPlatform?: true;
  readonly wallets: number;
  /** The platform had more wallets with work than one list holds. */
  readonly truncated: boolean;
  /** Platform time of the list, unix seconds. */
  readonly asOf: number;
}

export async function syncAttention(
  attention: AttentionList,
  deps: Pick<LoadDeps, "platform" | "random" | "clock">,
  log: Logger,
): Promise<AttentionSync> {
  const time = deps.clock ? deps.clock() : Math.floor(Date.now() / 1000);
  let answer: Awaited<ReturnType<typeof deps.platform.attention>>;
  try {
    answer = await deps.platform.attention({ requestId: hex((deps.random ?? systemRandom)(16)), time });
  } catch (e) {
    // An acquirer without the wallet platform: no wallet has work; payments stay offline.
    if (e instanceof TerminalError && e.details?.status === 404) {
      attention.replace([], time);
      log.debug("the acquirer serves no wallet platform: the attention list stays empty");
      return { noPlatform: true, wallets: 0, truncated: false, asOf: time };
    }
    throw e;
  }
  attention.replace(answer.wallets, answer.asOf);
  const result = { wallets: answer.wallets.length, truncated: answer.truncated, asOf: answer.asOf };
  if (answer.truncated)
    log.warn(result, "the platform has work for more wallets than its attention list holds");
  else log.debug(result, "attention list updated");
  return result;
}
