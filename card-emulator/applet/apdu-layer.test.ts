/**
 * The APDU layer's modules on their own, without an applet: response chunking and GET RESPONSE,
 * command chaining, the class and instruction checks, secure-messaging unwrap and wrap. The applet's
 * composition of them is applet.test.ts ("APDU layer", "secure messaging") and the fuzz test.
 */
import { describe, expect, it } from "vitest";
import { type CommandApdu, commandApdu } from "../../protocol/apdu.js";
import { hex } from "../../protocol/bytes.js";
import { SW } from "../../protocol/sw.js";
import { CLA, INS } from "../../protocol/wallet/constants.js";
import { SecureChannel } from "../../protocol/wallet/secure-channel.js";
import { CommandChain, isChained, MAX_CHAINED_DATA } from "./chaining.js";
import { COMMANDS, classKind, commandFor } from "./commands.js";
import type { CommandSpec, Session } from "./context.js";
import { isGetResponse, MAX_RESPONSE_CHUNK, ResponseBuffer, sw } from "./response.js";
import { isSecure, unwrapCommand, wrapResponse } from "./secure-messaging.js";

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);
const getResponse = (ne?: number, p1 = 0, p2 = 0) =>
  commandApdu({ cla: 0, ins: INS.GET_RESPONSE, p1, p2, ...(ne === undefined ? {} : { ne }) });
const statusOf = (r: Uint8Array) => hex(r.subarray(-2));

describe("response › chunking and GET RESPONSE", () => {
  for (const n of [0, 1, 254, 255, 256, 510, 511, 1000]) {
    it(`hands out ${n} bytes in pieces of at most 255, then 9000`, () => {
      const buffer = new ResponseBuffer();
      const data = bytes(n);
      const pieces: Uint8Array[] = [];
      let r = buffer.answer(data, SW.OK);
      for (let rounds = 0; rounds < 10; rounds++) {
        pieces.push(r.subarray(0, -2));
        if (r[r.length - 2] !== 0x61) break;
        const left = n - pieces.reduce((k, p) => k + p.length, 0);
        expect(r[r.length - 1]).toBe(Math.min(left, 0xff));
        r = buffer.next(getResponse(256));
      }
      expect(statusOf(r)).toBe("9000");
      expect(pieces.every((p) => p.length <= MAX_RESPONSE_CHUNK)).toBe(true);
      expect(hex(Uint8Array.from(pieces.flatMap((p) => [...p])))).toBe(hex(data));
      expect(buffer.pending).toBe(false);
    });
  }

  it("keeps a short answer's status word and holds nothing back", () => {
    const buffer = new ResponseBuffer();
    expect(hex(buffer.answer(bytes(3), 0x6a83))).toBe("0001026a83");
    expect(buffer.pending).toBe(false);
  });

  it("serves min(Le, 255) bytes per GET RESPONSE", () => {
    const buffer = new ResponseBuffer();
    buffer.answer(bytes(600), SW.OK);
    expect(buffer.next(getResponse(16)).length).toBe(18);
    expect(statusOf(buffer.next(getResponse(256)))).toBe("614a"); // 600 − 255 − 16 − 255 = 74 left
  });

  it("answers 6700 to a GET RESPONSE without Le or with command data (forgetting what was pending)", () => {
    for (const bad of [
      getResponse(),
      commandApdu({ cla: 0, ins: INS.GET_RESPONSE, p1: 0, p2: 0, data: bytes(1), ne: 256 }),
      commandApdu({ cla: 0, ins: INS.GET_RESPONSE, p1: 0, p2: 0, data: bytes(1) }),
    ]) {
      const buffer = new ResponseBuffer();
      buffer.answer(bytes(300), SW.OK);
      expect(hex(buffer.next(bad))).toBe("6700");
      expect(buffer.pending).toBe(false);
    }
  });

  it("answers 6985 with nothing pending and 6A86 to other P1/P2 (forgetting what was pending)", () => {
    const buffer = new ResponseBuffer();
    expect(hex(buffer.next(getResponse(256)))).toBe("6985");
    buffer.answer(bytes(300), SW.OK);
    expect(hex(buffer.next(getResponse(256, 1, 0)))).toBe("6a86");
    expect(hex(buffer.next(getResponse(256)))).toBe("6985");
  });

  it("knows GET RESPONSE by 00 C0 only", () => {
    expect(isGetResponse(getResponse())).toBe(true);
    expect(isGetResponse(commandApdu({ cla: 0x80, ins: INS.GET_RESPONSE, p1: 0, p2: 0 }))).toBe(false);
    expect(hex(sw(0x6f00))).toBe("6f00");
  });
});

describe("chaining › parts, limits and refusals", () => {
  const chainable = { chainable: true } as CommandSpec;
  const part = (data: Uint8Array, more: boolean, header: Partial<CommandApdu> = {}) =>
    commandApdu({ cla: more ? 0x90 : 0x80, ins: INS.INITIATE_AUTH, p1: 0, p2: 0, data, ...header });

  it("joins the parts, answering 9000 to each but the last", () => {
    const chain = new CommandChain();
    expect(hex(chain.take(part(bytes(3), true)) as Uint8Array)).toBe("000102");
    expect(chain.begin(chainable, part(bytes(3), true))).toBe(SW.OK);
    expect(chain.take(part(bytes(2), true))).toBe(SW.OK);
    expect(hex(chain.take(part(bytes(1), false)) as Uint8Array)).toBe("000102000100");
    expect(chain.open).toBe(false);
  });

  it("refuses chaining on a command that does not take it (6884) and an empty first part (6700)", () => {
    const chain = new CommandChain();
    expect(chain.begin({ chainable: false } as CommandSpec, part(bytes(1), true))).toBe(0x6884);
    expect(chain.begin(chainable, part(new Uint8Array(0), true))).toBe(SW.WRONG_LENGTH);
    expect(chain.open).toBe(false);
  });

  it("refuses a first part with a P1/P2 the command does not take at once (6A86), not after the last part", () => {
    const spec = { chainable: true, p1p2: [0, 0] } as unknown as CommandSpec;
    for (const header of [{ p1: 1 }, { p2: 0x80 }]) {
      const chain = new CommandChain();
      expect(chain.begin(spec, part(bytes(4), true, header))).toBe(SW.INCORRECT_P1P2);
      expect(chain.open).toBe(false);
    }
    expect(new CommandChain().begin(spec, part(bytes(4), true))).toBe(SW.OK);
  });

  for (const [what, header] of [
    ["CLA", { cla: 0x84 }],
    ["INS", { ins: INS.EXTERNAL_AUTH }],
    ["P1", { p1: 1 }],
    ["P2", { p2: 1 }],
  ] as const) {
    it(`drops the chain with 6883 on a part with another ${what}`, () => {
      const chain = new CommandChain();
      chain.begin(chainable, part(bytes(4), true));
      expect(chain.take(part(bytes(4), false, header))).toBe(SW.LAST_COMMAND_EXPECTED);
      expect(chain.open).toBe(false);
    });
  }

  it(`takes ${MAX_CHAINED_DATA} bytes in all, and answers 6700 to one more`, () => {
    for (const extra of [0, 1]) {
      const chain = new CommandChain();
      chain.begin(chainable, part(bytes(255), true));
      let left = MAX_CHAINED_DATA - 255 + extra;
      let last: Uint8Array | number = SW.OK;
      while (left > 0) {
        const n = Math.min(255, left);
        left -= n;
        last = chain.take(part(bytes(n), left > 0));
      }
      if (extra === 0) expect((last as Uint8Array).length).toBe(MAX_CHAINED_DATA);
      else expect(last).toBe(SW.WRONG_LENGTH);
      expect(chain.open).toBe(false);
    }
  });

  it("copies the parts (the caller may reuse its buffer)", () => {
    const chain = new CommandChain();
    const data = bytes(2);
    chain.begin(chainable, part(data, true));
    data.fill(0xee);
    expect(hex(chain.take(part(bytes(1), false)) as Uint8Array)).toBe("000100");
    expect(isChained(0x90)).toBe(true);
    expect(isChained(0x80)).toBe(false);
  });
});

describe("commands › class and instruction", () => {
  it("knows 00, 80 and 84, with or without the chain bit, and no other class", () => {
    expect([0x00, 0x10, 0x80, 0x90, 0x84, 0x94].map(classKind)).toEqual([
      "iso",
      "iso",
      "proprietary",
      "proprietary",
      "secure",
      "secure",
    ]);
    for (const cla of [0x01, 0x04, 0x0c, 0x40, 0x88, 0xa0, 0xff])
      expect(classKind(cla), hex(Uint8Array.of(cla))).toBe(undefined);
  });

  it("answers 6D00 to an unknown INS and 6E00 to a class the command does not take", () => {
    expect(commandFor(COMMANDS, 0xee, "proprietary")).toBe(SW.INS_NOT_SUPPORTED);
    expect(commandFor(COMMANDS, INS.SELECT, "proprietary")).toBe(SW.CLA_NOT_SUPPORTED);
    expect(commandFor(COMMANDS, INS.DEBIT, "iso")).toBe(SW.CLA_NOT_SUPPORTED);
    expect((commandFor(COMMANDS, INS.DEBIT, "secure") as CommandSpec).name).toBe("DEBIT");
  });
});

describe("secure messaging › unwrap and wrap", () => {
  const keys = () => ({ command: new Uint8Array(16).fill(1), response: new Uint8Array(16).fill(2) });
  const pair = () => {
    const terminal = new SecureChannel(keys());
    const session = { channel: new SecureChannel(keys()) } as Session;
    return { terminal, session };
  };
  const header = { cla: CLA.SECURE, ins: INS.READ_BALANCE, p1: 0, p2: 0 };

  it("opens what the terminal sealed and seals the answer with its status word inside", () => {
    const { terminal, session } = pair();
    const sealed = terminal.sealCommand(header, Uint8Array.of(7));
    expect(hex(unwrapCommand(session, header, sealed)!)).toBe("07");
    const answer = wrapResponse(session, header.ins, { data: Uint8Array.of(9), sw: 0x6a83 })!;
    expect(terminal.openResponse(header.ins, answer)).toEqual({ data: Uint8Array.of(9), sw: 0x6a83 });
  });

  it("gives undefined for a command that does not authenticate, and closes the channel", () => {
    const { terminal, session } = pair();
    const sealed = terminal.sealCommand(header, Uint8Array.of(7));
    expect(unwrapCommand(session, { ...header, p2: 1 }, sealed)).toBe(undefined);
    expect(session.channel.open).toBe(false);
    expect(wrapResponse(session, header.ins, { data: new Uint8Array(0) })).toBe(undefined);
  });

  it("tells a secure class by CLA bit 0x04", () => {
    expect([0x00, 0x80, 0x84, 0x94].map(isSecure)).toEqual([false, false, true, true]);
  });
});
