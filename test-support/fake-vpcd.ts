/**
 * A tiny stand-in for vsmartcard's vpcd (the reader side): a TCP server speaking vpcd's framing
 * (2-byte big-endian length, then the payload; 1-byte payloads are control codes), so the card
 * side (VpcdLink, `card-emulator serve`) can be tested without pcscd. `transport()` is a Transport
 * over the connected card, as pcscd would drive it.
 */
import { createServer, type Server, type Socket } from "node:net";
import { ProtocolError } from "../protocol/errors.js";
import type { Transport } from "../protocol/transport.js";

export const CTRL = { POWER_OFF: 0x00, POWER_ON: 0x01, RESET: 0x02, GET_ATR: 0x04 } as const;

export class FakeVpcd {
  readonly #server: Server;
  #socket: Socket | undefined;
  #buffer = Buffer.alloc(0);
  #waiting: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  #connectWaiters: (() => void)[] = [];
  /** Connections accepted so far. */
  connections = 0;

  private constructor(server: Server) {
    this.#server = server;
    server.on("connection", (socket) => this.#accept(socket));
  }

  static async listen(): Promise<FakeVpcd> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return new FakeVpcd(server);
  }

  get port(): number {
    const a = this.#server.address();
    if (typeof a !== "object" || !a) throw new Error("not listening");
    return a.port;
  }

  get connected(): boolean {
    return this.#socket !== undefined && !this.#socket.destroyed;
  }

  /** Resolves when a card is connected. */
  waitForCard(timeoutMs = 5_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no card connected to the fake vpcd")), timeoutMs);
      this.#connectWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    this.#socket?.destroy();
    this.#socket = socket;
    this.#buffer = Buffer.alloc(0);
    this.connections++;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 2) {
        const length = this.#buffer.readUInt16BE(0);
        if (this.#buffer.length < 2 + length) break;
        const payload = new Uint8Array(this.#buffer.subarray(2, 2 + length));
        this.#buffer = this.#buffer.subarray(2 + length);
        const w = this.#waiting;
        this.#waiting = undefined;
        w?.resolve(payload);
      }
    });
    const gone = () => {
      if (this.#socket === socket) this.#socket = undefined;
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.reject(new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "the card left the field"));
    };
    socket.on("close", gone);
    socket.on("error", gone);
    for (const w of this.#connectWaiters.splice(0)) w();
  }

  #send(payload: Uint8Array): void {
    const socket = this.#socket;
    if (!socket) throw new ProtocolError("PROTO_ERR_TRANSPORT_CLOSED", "no card in the field");
    const frame = Buffer.alloc(2 + payload.length);
    frame.writeUInt16BE(payload.length, 0);
    frame.set(payload, 2);
    socket.write(frame);
  }

  /** A control code without an answer (power off, power on, reset). */
  control(code: number): void {
    this.#send(Uint8Array.of(code));
  }

  /** Send a payload and wait for the card's answer (an APDU, or GET ATR). */
  request(payload: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      try {
        this.#waiting = { resolve, reject };
        this.#send(payload);
      } catch (e) {
        this.#waiting = undefined;
        reject(e);
      }
    });
  }

  transport(): Transport {
    return { exchange: (command) => this.request(command) };
  }

  /** Drop the card's connection (vpcd going away). */
  dropCard(): void {
    this.#socket?.destroy();
  }

  async close(): Promise<void> {
    this.#socket?.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
