/**
 * FaultyApplet: the wallet applet with fault injection in front of it (card-emulator/faults.ts
 * lists the faults). It is the card that `serve`, the test fixtures and the demo hand to a
 * transport: a VirtualCard forwarding to its WalletApplet, which itself knows nothing of faults.
 *
 * - At the APDU: once silent (from INITIATE AUTHENTICATE on), `process` throws SilentError until
 *   power-off or reset; a DEBIT that committed under the tear fault throws TearError instead of its
 *   answer. The transports turn both into a card that does not answer.
 * - Inside the card, through the applet's two seams (AppletOptions `commands` and `identity`): the
 *   INS table's DEBIT, INITIATE AUTHENTICATE and online commands are wrapped (replay, tear, silence,
 *   a corrupted signature in the plain answer, before it is sealed), and SELECT presents the
 *   certificate fault's fixture identity.
 * - delayMs belongs to the transport: InProcessTransport reads this object's `faults.delayMs`, serve
 *   hands it to the vpcd link.
 *
 * The faults are read on every command: a test may change them between commands.
 */
import { type RandomSource, systemRandom } from "../../protocol/crypto.js";
import { loadFixturePki } from "../../protocol/pki-fixtures.js";
import { INS, RECORD_TYPE } from "../../protocol/wallet/constants.js";
import type { VirtualCard } from "../adapters/vpcd.js";
import {
  CERTIFICATE_FAULT_FIXTURES,
  type CertificateFault,
  corrupt,
  corruptsAuthSignature,
  corruptsRecordSignature,
  type Faults,
  SilentError,
  TearError,
} from "../faults.js";
import { type AppletOptions, WalletApplet } from "./applet.js";
import { type CryptoChoice, createCardCrypto, DEFAULT_CRYPTO } from "./card-crypto.js";
import { COMMANDS, type CommandTable } from "./commands.js";
import { type AppletAnswer, type CardIdentity, type CommandSpec, type Handler, OK } from "./context.js";
import { beginAuthentication } from "./handlers/auth.js";
import { checkDebit, commitDebit } from "./handlers/debit.js";
import { entryAnswer } from "./records.js";
import type { CardState, CardStateStore } from "./state.js";

export interface FaultyAppletOptions extends Omit<AppletOptions, "commands" | "identity"> {
  faults?: Faults;
}

/** The online commands whose answer is a fresh signed record. */
const RECORD_COMMANDS = [INS.LOAD, INS.LOAD_REVERSAL, INS.UPDATE_PARAMETERS, INS.BLOCK, INS.UNBLOCK];

/** The answer with the low bit of its last byte flipped: the signature every signed answer ends with. */
function corrupted(answer: AppletAnswer): AppletAnswer {
  return { ...answer, data: corrupt(answer.data) };
}

export class FaultyApplet implements VirtualCard {
  /** May be changed between commands; a certificate fault applies from the next SELECT. */
  faults: Faults;
  readonly applet: WalletApplet;
  readonly #identities = new Map<CertificateFault, CardIdentity>();
  #silent = false;
  #torn = false;

  constructor(store: CardStateStore, options: FaultyAppletOptions = {}) {
    const { faults, ...rest } = options;
    this.faults = faults ?? {};
    const crypto = options.crypto ?? DEFAULT_CRYPTO;
    const random = options.random ?? systemRandom;
    this.applet = new WalletApplet(store, {
      ...rest,
      crypto,
      random,
      commands: this.#wrap(COMMANDS),
      identity: (own) => this.#identity(own, crypto, random),
    });
  }

  /** The committed state (see WalletApplet). */
  get state(): Readonly<CardState> {
    return this.applet.state;
  }

  get authenticated(): boolean {
    return this.applet.authenticated;
  }

  /** The applet's answer, or TearError / SilentError where a fault says the card does not answer. */
  process(apdu: Uint8Array): Uint8Array {
    if (this.#silent) throw new SilentError();
    const response = this.applet.process(apdu);
    if (this.#torn) {
      this.#torn = false;
      throw new TearError();
    }
    if (this.#silent) throw new SilentError();
    return response;
  }

  powerOff(): void {
    this.#silent = false;
    this.applet.powerOff();
  }

  reset(): void {
    this.#silent = false;
    this.applet.reset();
  }

  /** The INS table with the faulty handlers; built once, the faults read when a command runs. */
  #wrap(commands: CommandTable): CommandTable {
    const table = new Map(commands);
    const wrap = (ins: number, handler: (inner: CommandSpec) => Handler) => {
      const inner = table.get(ins)!;
      table.set(ins, { ...inner, handler: handler(inner) });
    };
    wrap(INS.INITIATE_AUTH, (inner) => (ctx, c) => {
      if (this.faults.silentAfterInitiate) {
        beginAuthentication(ctx, c);
        this.#silent = true; // this answer and every later one are never sent
        return OK;
      }
      const answer = inner.handler(ctx, c);
      return corruptsAuthSignature(this.faults) ? corrupted(answer) : answer;
    });
    wrap(INS.DEBIT, () => (ctx, c) => {
      const debit = checkDebit(ctx, c);
      if (this.faults.replayDebitAnswer) {
        // A card that would rather not pay answers its previous debit record (nothing commits).
        const previous = ctx.state.log.findLast((e) => e.type === RECORD_TYPE.DEBIT);
        if (previous) return { data: entryAnswer(previous) };
      }
      const answer = commitDebit(ctx, debit);
      // Committed: under the tear fault the card leaves the field before this answer goes out.
      this.#torn = this.faults.tearAfterDebitCommit === true;
      return corruptsRecordSignature(this.faults) ? corrupted(answer) : answer;
    });
    for (const ins of RECORD_COMMANDS)
      wrap(ins, (inner) => (ctx, c) => {
        const answer = inner.handler(ctx, c);
        // Committed (a refusal throws before): under the tear fault the answer never goes out.
        this.#torn = this.faults.tearAfterOnlineCommit === true;
        return corruptsRecordSignature(this.faults) ? corrupted(answer) : answer;
      });
    return table;
  }

  /** What SELECT presents: the certificate fault's fixture (certificate, key, wallet id), else `own`. */
  #identity(own: CardIdentity, crypto: CryptoChoice, random: RandomSource): CardIdentity {
    const fault = this.faults.certificate;
    if (!fault) return own;
    let identity = this.#identities.get(fault);
    if (!identity) {
      const pki = loadFixturePki();
      const name = CERTIFICATE_FAULT_FIXTURES[fault];
      const certificate = pki.cert(name);
      identity = {
        walletId: certificate.attributes.walletId ?? own.walletId,
        certificate,
        crypto: createCardCrypto(crypto, pki.key(name), random),
      };
      this.#identities.set(fault, identity);
    }
    return identity;
  }
}
