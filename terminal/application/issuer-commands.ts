/**
 * Issuer commands queued at the platform for the card in the field (UPDATE PARAMETERS, BLOCK,
 * UNBLOCK; `acquirer-stub wallet set-params | report-lost | release`), delivered at an online
 * presentation after its loads in doubt are settled:
 *
 *   GET CHALLENGE → the platform signs the command over it → check it is the kind announced →
 *   relay → verify the card's signed record → the platform takes it as the receipt.
 *
 * Nothing here is money, so nothing is stored on the terminal: a delivery cut off anywhere stays
 * pending at the platform and is delivered again at the next presentation (the card's effect is
 * the same twice: the same parameters set, a blocked card blocked).
 */
import { fromHex, hex } from "../../protocol/bytes.js";
import type { Logger } from "../../protocol/logger.js";
import type { IssuerCommandKind, PendingCommand } from "../../protocol/platform/api.js";
import { INS, RECORD_TYPE, type RecordType } from "../../protocol/wallet/constants.js";
import {
  parseBlockPayload,
  parseIssuerCommand,
  parseParametersPayload,
} from "../../protocol/wallet/messages.js";
import type { AuthenticatedCard, CardSession } from "../card-session/session.js";
import { TerminalError } from "../errors.js";
import type { WalletPlatform } from "./ports.js";

/** An issuer command the card executed in this presentation. */
export interface DeliveredCommand {
  readonly commandId: string;
  readonly kind: IssuerCommandKind;
  /** The card's counter of its signed record (the receipt). */
  readonly cardCounter: number;
  /** The platform took the receipt (false: it was unreachable; the command stays pending there). */
  readonly confirmed: boolean;
}

/** The card command of each kind, as the cashier reads it. */
export const COMMAND_NAME: Readonly<Record<IssuerCommandKind, string>> = {
  parameters: "UPDATE PARAMETERS",
  block: "BLOCK",
  unblock: "UNBLOCK",
};

const COMMAND: Readonly<Record<IssuerCommandKind, { ins: number; record: RecordType; name: string }>> = {
  parameters: { ins: INS.UPDATE_PARAMETERS, record: RECORD_TYPE.PARAMETERS, name: "UPDATE PARAMETERS" },
  block: { ins: INS.BLOCK, record: RECORD_TYPE.BLOCK, name: "BLOCK" },
  unblock: { ins: INS.UNBLOCK, record: RECORD_TYPE.UNBLOCK, name: "UNBLOCK" },
};

export interface CommandDeps {
  readonly platform: WalletPlatform;
  readonly requestId: () => string;
  readonly clock: () => number;
}

/** The issuer time in the command's payload (the card's record carries it), checked to be of its kind. */
function commandTime(kind: IssuerCommandKind, data: Uint8Array): number {
  try {
    const { payload } = parseIssuerCommand(data);
    return kind === "parameters" ? parseParametersPayload(payload).time : parseBlockPayload(payload).time;
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_ISSUER_COMMAND",
      `the platform's ${COMMAND[kind].name} command is malformed: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** Deliver each pending command in order; the first failure ends the presentation (the rest wait). */
export async function deliverPendingCommands(
  session: CardSession,
  card: AuthenticatedCard,
  /** The card's currency (its READ BALANCE): its records carry it. */
  currency: number,
  pending: readonly PendingCommand[],
  deps: CommandDeps,
  log: Logger,
): Promise<DeliveredCommand[]> {
  const delivered: DeliveredCommand[] = [];
  for (const p of pending) {
    const spec = COMMAND[p.kind];
    const challenge = await session.getChallenge();
    const requestId = deps.requestId();
    const signed = await deps.platform.signCommand(p.commandId, {
      requestId,
      challenge: hex(challenge),
      time: deps.clock(),
    });
    if (signed.kind !== p.kind)
      throw new TerminalError(
        "TERM_ERR_ISSUER_COMMAND",
        `the platform announced ${p.kind} for command ${p.commandId} and signed ${signed.kind}`,
        { details: { commandId: p.commandId } },
      );
    const data = fromHex(signed.command);
    const time = commandTime(p.kind, data);
    const result = await session.issuerCommand(spec.ins, data, challenge, {
      type: spec.record,
      amount: 0,
      currency,
      time,
    });
    if ("notFound" in result)
      throw new TerminalError("TERM_ERR_ISSUER_COMMAND", `the card answered ${spec.name} with 930E`);
    const proof = { record: hex(result.record.bytes), signature: hex(result.record.signature) };
    let confirmed = true;
    try {
      await deps.platform.completeCommand(p.commandId, { requestId, proof });
    } catch (e) {
      // The card has it; the platform delivers it again at the next presentation (same effect).
      confirmed = false;
      log.warn(
        { walletId: card.walletId, commandId: p.commandId, err: (e as Error).message },
        `${spec.name} executed by the card; the platform did not take its receipt`,
      );
    }
    const counter = result.record.record.cardCounter;
    log.info(
      { walletId: card.walletId, commandId: p.commandId, kind: p.kind, cardCounter: counter, confirmed },
      `${spec.name} delivered to the card`,
    );
    delivered.push({ commandId: p.commandId, kind: p.kind, cardCounter: counter, confirmed });
    if (!confirmed) break;
  }
  return delivered;
}
