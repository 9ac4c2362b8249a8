/**
 * The protocol layer between a raw transport and the card commands (apdu4j's GetResponseWrapper,
 * yubikit's SmartCardProtocol): command chaining out, 61xx / GET RESPONSE and 6Cxx in, with a
 * round cap so a broken or hostile card cannot keep the terminal busy forever.
 */
import {
  type CommandApdu,
  chainCommand,
  commandApdu,
  decodeResponse,
  encodeCommand,
  type ResponseApdu,
} from "./apdu.js";
import { concat } from "./bytes.js";
import { ProtocolError } from "./errors.js";
import { formatSw, SW } from "./sw.js";
import type { Transport } from "./transport.js";

export interface TransmitOptions {
  /** Most follow-up exchanges (GET RESPONSE or 6Cxx re-sends) after the command; default 16. */
  maxRounds?: number;
}

export const DEFAULT_MAX_ROUNDS = 16;

/** INS of GET RESPONSE. */
export const INS_GET_RESPONSE = 0xc0;

/** GET RESPONSE asking for `ne` bytes (1..256): 00 C0 00 00 Le. */
export function getResponseCommand(ne: number): CommandApdu {
  return commandApdu({ cla: 0x00, ins: INS_GET_RESPONSE, p1: 0, p2: 0, ne });
}

async function exchange(transport: Transport, command: CommandApdu): Promise<ResponseApdu> {
  return decodeResponse(await transport.exchange(encodeCommand(command)));
}

/**
 * Send one command and return the card's complete answer.
 *
 * - Data over 255 bytes goes as a chain (chainCommand); each non-final part must answer 9000,
 *   otherwise the chain stops and that part's response is returned as is.
 * - 61xx: the card has xx more bytes (00 = 256); GET RESPONSE fetches them and the data of every
 *   round is concatenated in order.
 * - 6Cxx: wrong Le; the last command (the command itself or a GET RESPONSE) is re-sent with Le = xx.
 * - At most `maxRounds` such follow-ups; a card still asking for more → PROTO_ERR_GET_RESPONSE_LOOP.
 * - A response under 2 bytes → PROTO_ERR_RESPONSE_TOO_SHORT. Transport errors pass through.
 */
export async function transmit(
  transport: Transport,
  command: CommandApdu,
  options?: TransmitOptions,
): Promise<ResponseApdu> {
  const maxRounds = options?.maxRounds ?? DEFAULT_MAX_ROUNDS;
  if (!Number.isInteger(maxRounds) || maxRounds < 0) {
    throw new RangeError(`maxRounds must be a non-negative integer, got ${maxRounds}`);
  }

  const parts = chainCommand(command);
  for (const part of parts.slice(0, -1)) {
    const answer = await exchange(transport, part);
    if (answer.sw !== SW.OK) return answer;
  }

  let current = parts[parts.length - 1]!;
  let response = await exchange(transport, current);
  const chunks: Uint8Array[] = [];
  for (let round = 0; response.sw1 === 0x61 || response.sw1 === 0x6c; round++) {
    if (round >= maxRounds) {
      throw new ProtocolError(
        "PROTO_ERR_GET_RESPONSE_LOOP",
        `card still answered ${formatSw(response.sw)} after ${maxRounds} follow-up exchanges`,
        { details: { sw: formatSw(response.sw), maxRounds, ins: command.ins } },
      );
    }
    const ne = response.sw2 === 0 ? 256 : response.sw2;
    if (response.sw1 === 0x61) {
      chunks.push(response.data);
      current = getResponseCommand(ne);
    } else {
      current = commandApdu({ ...current, ne });
    }
    response = await exchange(transport, current);
  }
  if (chunks.length === 0) return response;
  return decodeResponse(concat(...chunks, response.data, Uint8Array.of(response.sw1, response.sw2)));
}
