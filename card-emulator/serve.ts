/**
 * `card-emulator serve`: the wallet applet on its state file, inserted into a vpcd reader of a real
 * pcscd (VpcdLink reconnects whenever vpcd goes away), with the faults wired to the link and a
 * small control interface so that a test can take the card out of the field and put it back:
 *
 * - signals: SIGUSR1 removes the card, SIGUSR2 inserts it (installed by the CLI);
 * - `--control <port>`: a loopback TCP line protocol — `remove`, `insert`, `status` — each answered
 *   with one line (`ok removed`, `ok inserted`, or the status as one JSON object; `error …` otherwise).
 *
 * Faults: the applet is served behind a FaultyApplet; its tear (TearError → the link drops the
 * connection instead of answering) and silence (the answer never comes until the card leaves the
 * field) become link behaviour here, and the delay is the link's (it answers late).
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../protocol/logger.js";
import { type VirtualCard, VpcdLink } from "./adapters/vpcd.js";
import type { CryptoChoice } from "./applet/card-crypto.js";
import { FaultyApplet } from "./applet/faulty.js";
import { FileCardStateStore } from "./applet/state.js";
import { CardError } from "./errors.js";
import { type Faults, SilentError, TearError } from "./faults.js";

export interface ServeOptions {
  statePath: string;
  vpcd: { host: string; port: number };
  atr?: Uint8Array;
  crypto?: CryptoChoice;
  faults?: Faults;
  /** Loopback TCP port of the control interface (0: any free port); none when undefined. */
  controlPort?: number;
  passphrase?: string;
  logger: Logger;
  /** vpcd reconnect delay, ms (default the link's). */
  reconnectMs?: number;
}

export interface CardStatus {
  walletId: string;
  /** In the field (the control interface has not removed it). */
  present: boolean;
  /** Connected to vpcd. */
  connected: boolean;
  authenticated: boolean;
  balance: number;
  currency: number;
  counter: number;
  blocked: boolean;
}

const SILENCE: Promise<Uint8Array> = new Promise(() => {});

export class CardServer {
  /** The card: the wallet applet behind its faults. */
  readonly applet: FaultyApplet;
  readonly link: VpcdLink;
  readonly #logger: Logger;
  #present = true;
  #control: Server | undefined;
  readonly #clients = new Set<Socket>();

  private constructor(applet: FaultyApplet, link: VpcdLink, logger: Logger) {
    this.applet = applet;
    this.link = link;
    this.#logger = logger;
  }

  /** Open the state (CARD_ERR_STATE / CARD_ERR_KEY), start the link and the control interface. */
  static async start(options: ServeOptions): Promise<CardServer> {
    const logger = options.logger;
    const faults = options.faults ?? {};
    const applet = new FaultyApplet(new FileCardStateStore(options.statePath), {
      faults,
      logger: logger.child({ component: "applet" }),
      ...(options.crypto ? { crypto: options.crypto } : {}),
      ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    });
    let tornAnswer = false;
    const card: VirtualCard = {
      process(apdu) {
        try {
          return applet.process(apdu);
        } catch (e) {
          if (e instanceof TearError) {
            logger.info("fault: DEBIT committed, the card leaves the field before answering");
            tornAnswer = true;
            return Uint8Array.of(0x6f, 0x00); // never sent: the link drops the connection first
          }
          if (e instanceof SilentError) return SILENCE;
          throw e;
        }
      },
      powerOff: () => applet.powerOff(),
      reset: () => applet.reset(),
    };
    const link = new VpcdLink(card, {
      host: options.vpcd.host,
      port: options.vpcd.port,
      logger,
      ...(options.atr ? { atr: options.atr } : {}),
      ...(options.reconnectMs !== undefined ? { reconnectMs: options.reconnectMs } : {}),
    });
    link.faults = {
      ...(faults.delayMs ? { delayMs: faults.delayMs } : {}),
      dropBeforeAnswer: () => {
        const drop = tornAnswer;
        tornAnswer = false;
        return drop;
      },
    };
    // Out of the field (vpcd gone, a tear, remove): the card loses its session like a real one.
    link.on("disconnected", () => applet.powerOff());
    link.on("error", (e) => logger.warn({ code: e.code }, e.message));
    const server = new CardServer(applet, link, logger);
    if (options.controlPort !== undefined) await server.#listen(options.controlPort);
    link.start();
    return server;
  }

  /** The loopback port of the control interface, when there is one. */
  get controlPort(): number | undefined {
    const address = this.#control?.address();
    return typeof address === "object" && address ? address.port : undefined;
  }

  status(): CardStatus {
    const s = this.applet.state;
    return {
      walletId: s.walletId,
      present: this.#present,
      connected: this.link.connected,
      authenticated: this.applet.authenticated,
      balance: s.balance,
      currency: s.currency,
      counter: s.counter,
      blocked: s.blocked,
    };
  }

  /** Take the card out of the field (until insert()). */
  async remove(): Promise<void> {
    this.#present = false;
    await this.link.remove();
    this.applet.powerOff();
    this.#logger.info("card removed from the field");
  }

  /** Put the card back into the field. */
  insert(): void {
    this.#present = true;
    this.link.insert();
    this.#logger.info("card inserted into the field");
  }

  async stop(): Promise<void> {
    for (const c of this.#clients) c.destroy();
    await new Promise<void>((resolve) => (this.#control ? this.#control.close(() => resolve()) : resolve()));
    await this.link.stop();
    this.applet.powerOff();
  }

  async #listen(port: number): Promise<void> {
    const server = createServer((socket) => this.#serveControl(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) =>
        reject(new CardError("CARD_ERR_USAGE", `cannot listen on control port ${port}: ${e.message}`)),
      );
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.#control = server;
  }

  #serveControl(socket: Socket): void {
    this.#clients.add(socket);
    socket.setEncoding("utf8");
    let buffer = "";
    let queue = Promise.resolve();
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      if (buffer.length > 4096) {
        socket.end("error line too long\n");
        return;
      }
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        queue = queue.then(async () => {
          const answer = await this.#command(line);
          if (!socket.destroyed) socket.write(`${answer}\n`);
        });
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#clients.delete(socket));
  }

  async #command(line: string): Promise<string> {
    switch (line) {
      case "remove":
        await this.remove();
        return "ok removed";
      case "insert":
        this.insert();
        return "ok inserted";
      case "status":
        return JSON.stringify(this.status());
      default:
        return `error unknown command ${JSON.stringify(line.slice(0, 40))} (remove, insert, status)`;
    }
  }
}
