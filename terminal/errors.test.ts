import { afterEach, describe, expect, it } from "vitest";
import { ProtocolError } from "../protocol/errors.js";
import { WALLET_SW } from "../protocol/wallet/constants.js";
import { fixtureCard } from "../test-support/card-fixture.js";
import { type TestTerminal, testTerminal } from "../test-support/terminal-fixture.js";
import { runPayment } from "./application/run-payment.js";
import { toTerminalError } from "./card-session/failures.js";
import { DEBIT_SW, statusWordError } from "./card-session/status-words.js";
import {
  asTerminalError,
  CardRefusal,
  EXIT_CODES,
  errorClass,
  exitCode,
  exitCodeForError,
  httpStatus,
  TERMINAL_ERRORS,
  TerminalError,
} from "./errors.js";

describe("the terminal's error catalog", () => {
  it("gives every code a class, an HTTP status and a meaning; the exit code follows the class", () => {
    for (const [code, spec] of Object.entries(TERMINAL_ERRORS)) {
      expect(["decline", "error", "usage"], code).toContain(spec.class);
      expect(spec.http, code).toBeGreaterThanOrEqual(200);
      expect(spec.http, code).toBeLessThan(600);
      expect(spec.meaning.length, code).toBeGreaterThan(10);
    }
    expect(exitCode("TERM_ERR_INSUFFICIENT_FUNDS")).toBe(EXIT_CODES.decline);
    expect(exitCode("TERM_ERR_USAGE")).toBe(EXIT_CODES.usage);
    expect(exitCode("TERM_ERR_READER")).toBe(EXIT_CODES.error);
  });

  it("answers the cash register's refused requests with their own HTTP status", () => {
    expect(httpStatus("TERM_ERR_ECR_BUSY")).toBe(409);
    expect(httpStatus("TERM_ERR_ECR_CONFLICT")).toBe(409);
    expect(httpStatus("TERM_ERR_ECR_NOT_ABORTABLE")).toBe(409);
    expect(httpStatus("TERM_ERR_ECR_NOT_FOUND")).toBe(404);
    expect(httpStatus("TERM_ERR_ECR_BAD_REQUEST")).toBe(400);
    expect(httpStatus("TERM_ERR_INTERNAL")).toBe(500);
  });

  it("turns a bug into TERM_ERR_INTERNAL, never into the card's protocol violation", () => {
    const bug = asTerminalError(new TypeError("cannot read properties of undefined"));
    expect(bug.code).toBe("TERM_ERR_INTERNAL");
    expect(bug.cause).toBeInstanceOf(TypeError);
    expect(toTerminalError(new RangeError("oops"), "DEBIT").code).toBe("TERM_ERR_INTERNAL");
    const known = new TerminalError("TERM_ERR_STORE", "disk full");
    expect(asTerminalError(known)).toBe(known);
  });

  it("maps the CLI's typed amount and currency errors to the usage exit code", () => {
    expect(exitCodeForError(new ProtocolError("PROTO_ERR_AMOUNT", "x"))).toBe(EXIT_CODES.usage);
    expect(exitCodeForError(new ProtocolError("PROTO_ERR_CERT_PARSE", "x"))).toBe(EXIT_CODES.error);
    expect(exitCodeForError(new TerminalError("TERM_ERR_CARD_BLOCKED", "x"))).toBe(EXIT_CODES.decline);
  });
});

describe("status words and transport failures, as the cashier is told", () => {
  it("a DEBIT refusal is a typed CardRefusal; 930C (already debited) is not, and must never be voided", () => {
    const refusal = statusWordError(DEBIT_SW, WALLET_SW.INSUFFICIENT_FUNDS);
    expect(refusal).toBeInstanceOf(CardRefusal);
    expect(refusal).toMatchObject({ code: "TERM_ERR_INSUFFICIENT_FUNDS", details: { sw: "9305" } });
    expect(errorClass(refusal.code)).toBe("decline");
    const duplicate = statusWordError(DEBIT_SW, WALLET_SW.DUPLICATE_TERMINAL_SEQ);
    expect(duplicate).not.toBeInstanceOf(CardRefusal);
    expect(duplicate.code).toBe("TERM_ERR_PROTOCOL");
    const unknown = statusWordError(DEBIT_SW, 0x6f00);
    expect(unknown).toBeInstanceOf(CardRefusal);
    expect(unknown.message).toBe("DEBIT: unexpected status word 6F00 no precise diagnosis");
  });

  it("every medium's 'closed' and 'timeout' become the same codes", () => {
    const closed = (reason?: string) =>
      new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "gone", reason ? { details: { reason } } : {});
    expect(toTerminalError(closed(), "DEBIT").code).toBe("TERM_ERR_CARD_REMOVED");
    expect(toTerminalError(closed("card-removed"), "DEBIT").code).toBe("TERM_ERR_CARD_REMOVED");
    expect(toTerminalError(closed("reader-failed"), "DEBIT").code).toBe("TERM_ERR_READER");
    const timeout = new ProtocolError("PROTO_ERR_TRANSPORT_TIMEOUT", "the card did not answer within 5 ms");
    expect(toTerminalError(timeout, "DEBIT")).toMatchObject({ code: "TERM_ERR_TIMEOUT" });
  });
});

describe("a bug during a tap", () => {
  let t: TestTerminal;
  afterEach(() => t.cleanup());

  it("ends the tap as TERM_ERR_INTERNAL (not TERM_ERR_PROTOCOL), and leaves the intent pending", async () => {
    t = testTerminal({ store: "memory" });
    const card = fixtureCard();
    const store = t.deps.store;
    const broken = new Proxy(store, {
      get(target, key, receiver) {
        if (key === "complete") {
          return () => {
            throw new TypeError("cannot read properties of undefined (reading 'counter')");
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const outcome = await runPayment(
      card.transport,
      { ...t.deps, store: broken },
      { amount: 450, currency: 978 },
    );
    expect(outcome).toMatchObject({ status: "torn", code: "TERM_ERR_INTERNAL" });
    expect(store.pendingIntents("W-ALICE-0001")).toHaveLength(1);
  });
});
