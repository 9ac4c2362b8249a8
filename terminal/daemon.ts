/**
 * `posd run`: the daemon. The composition root of the long-running process:
 *
 *   config → openTerminal (key, certificates, the SQLite stores)
 *          → card source: PcscService + PcscCardSource (a reader), or VirtualCardSource (--virtual)
 *          → PaymentManager (pay = runPayment with the offline risk check), the one card slot
 *          → StoredValueManager (load, reverse, balance inquiry; load and reverse when online)
 *          → buildEcrApp().listen(ecr.host, ecr.port)            the cash register's API
 *          → upload and hotlist sync every schedule.*IntervalSec when acquirer.url is set
 *
 * Stopping (Daemon.stop, on SIGTERM / SIGINT / SIGHUP through runDaemon): the HTTP server stops
 * accepting, a payment still waiting for a card is aborted and one in progress finishes (its APDUs
 * are bounded by the per-APDU timeout), the schedules stop, PC/SC and the database are closed.
 * A transmit that hung on a mute card may still hold a threadpool thread afterwards: the CLI then
 * ends the process with SIGTERM to itself (terminal/adapters/pcsc/process-exit.ts).
 *
 * Everything the daemon does is logged with pino: the listening address, the reader found or lost,
 * PC/SC context re-creation (PcscService logs it through this logger), each payment's outcome,
 * uploads and hotlist syncs. Secrets are never logged.
 */
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import type { Logger } from "../protocol/logger.js";
import { buildEcrApp, ecrAccess } from "./adapters/ecr/ecr-server.js";
import type { AcquirerClient } from "./adapters/http/acquirer-client.js";
import type { PcscService, PcscServiceOptions } from "./adapters/pcsc/service.js";
import type { PcscCardSource } from "./adapters/reader/pcsc-card-source.js";
import { type CardSource, PaymentManager } from "./application/payment-manager.js";
import { hotlistFreshness } from "./application/risk.js";
import { recoverPending, runPayment } from "./application/run-payment.js";
import { StoredValueManager } from "./application/stored-value-manager.js";
import type { UploadSummary } from "./application/upload.js";
import { withCardTransport } from "./composition/card-transport.js";
import { type OnlineTerminal, openPlatform } from "./composition/platform.js";
import { openTerminal, paymentDeps, type TerminalContext } from "./composition/root.js";
import { type Config, passphraseWarning } from "./config.js";
import { type EcrState, FINAL_ECR_STATES } from "./domain/ecr-payment.js";
import { FINAL_STORED_VALUE_STATES, type StoredValueState } from "./domain/ecr-stored-value.js";
import { TerminalError } from "./errors.js";

export interface DaemonOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Virtual-card mode: the software wallet's state file; every payment finds it in the field. */
  readonly virtualCard?: string;
  /** PC/SC reader: exact name or unique substring; default reader.name from the configuration. */
  readonly reader?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long a stop waits for an upload or sync in flight before closing the database; default 5 s. */
  readonly jobGraceMs?: number;
  /** Test seam: PcscService options (fake nfc-pcsc module, socket path, poll intervals). */
  readonly pcsc?: Omit<PcscServiceOptions, "logger" | "transport">;
}

export interface HotlistSyncResult {
  readonly changed: boolean;
  readonly version: number | undefined;
  readonly wallets: number;
  readonly serials: number;
}

export interface DaemonEvents {
  /** A scheduled upload ended (its summary, or the error it failed with). */
  upload: [result: UploadSummary | TerminalError];
  /** A scheduled hotlist sync ended. */
  sync: [result: HotlistSyncResult | TerminalError];
  /** A payment reached a final state. */
  payment: [serviceId: string, state: EcrState];
  /** A stored-value operation (load, reverse, balance inquiry) reached a final state. */
  storedValue: [serviceId: string, state: StoredValueState];
}

type EcrApp = ReturnType<typeof buildEcrApp>;

interface PcscParts {
  readonly service: PcscService;
  readonly reader: PcscCardSource;
}

function asTerminalError(e: unknown, fallback: string): TerminalError {
  if (e instanceof TerminalError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new TerminalError("TERM_ERR_INTERNAL", `${fallback}: ${message}`, { cause: e });
}

/** A reader name matches the query as PcscService.findReader would take it (exact, or substring). */
function nameMatches(query: string, name: string): boolean {
  return name === query || name.toLowerCase().includes(query.toLowerCase());
}

export class Daemon extends EventEmitter<DaemonEvents> {
  readonly #ctx: TerminalContext;
  readonly #log: Logger;
  readonly #manager: PaymentManager;
  readonly #storedValue: StoredValueManager;
  readonly #app: EcrApp;
  /** The reader path; undefined in virtual-card mode. */
  readonly #pcsc: PcscParts | undefined;
  readonly #jobGraceMs: number;
  readonly #startedAt = Date.now();
  readonly #timers = new Set<NodeJS.Timeout>();
  #client: AcquirerClient | undefined;
  /** The wallet platform, when acquirer.url is set: a payment under the card's threshold auto-loads. */
  readonly #online: OnlineTerminal | undefined;
  /** Uploads and syncs run one after the other on this chain: they never overlap. */
  #jobs: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | undefined;
  #url = "";

  /** Open everything and listen. Failures close what was opened and throw a TerminalError. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const { config } = options;
    const log = options.logger;
    const ctx = openTerminal(config, log, options.env);
    const passphraseNote = passphraseWarning(config, options.env ?? process.env);
    if (passphraseNote) log.warn(passphraseNote);
    let service: PcscService | undefined;
    try {
      let source: CardSource;
      let pcsc: PcscParts | undefined;
      if (options.virtualCard !== undefined) {
        const { openVirtualCard } = await import("./composition/virtual-card.js");
        const { VirtualCardSource } = await import("./adapters/virtual/virtual-card-source.js");
        source = new VirtualCardSource(await openVirtualCard({ statePath: options.virtualCard }));
      } else {
        const query = options.reader ?? config.reader.name;
        if (!query) {
          throw new TerminalError(
            "TERM_ERR_USAGE",
            "no reader given: pass --reader NAME (see `posd readers`), set reader.name in posd.json " +
              "(or TAPWALLET_READER), or use --virtual --card FILE",
          );
        }
        const { PcscService } = await import("./adapters/pcsc/service.js");
        const { PcscCardSource } = await import("./adapters/reader/pcsc-card-source.js");
        service = await PcscService.open({ ...options.pcsc, logger: log });
        const reader = new PcscCardSource(service, query, log, {
          newTapPerPayment: config.reader.newTapPerPayment,
        });
        source = reader;
        pcsc = { service, reader };
      }
      const daemon = new Daemon(ctx, log, source, pcsc, options.jobGraceMs ?? 5_000);
      if (pcsc) daemon.#logReaders(pcsc);
      await daemon.#listen();
      if (pcsc) await daemon.#awaitReader(pcsc);
      daemon.#schedule();
      return daemon;
    } catch (e) {
      await service?.close().catch(() => undefined);
      ctx.close();
      throw e;
    }
  }

  private constructor(
    ctx: TerminalContext,
    log: Logger,
    source: CardSource,
    pcsc: PcscParts | undefined,
    jobGraceMs: number,
  ) {
    super();
    this.#ctx = ctx;
    this.#log = log;
    this.#pcsc = pcsc;
    this.#jobGraceMs = jobGraceMs;
    this.#online = ctx.config.acquirer.url ? openPlatform(ctx, undefined) : undefined;
    const deps = this.#online ? { ...paymentDeps(ctx), online: this.#online.deps } : paymentDeps(ctx);
    // One card source (one transport stack per connection) for payments and stored value.
    const cardSource = withCardTransport(source, ctx.cardTransport);
    this.#manager = new PaymentManager({
      payments: ctx.ecrPayments,
      records: ctx.store,
      cardSource,
      pay: (transport, request) => runPayment(transport, deps, request),
      recover: (transport) => recoverPending(transport, deps),
      cardWaitMs: ctx.config.reader.cardWaitMs,
      logger: ctx.logger,
    });
    this.#manager.on("change", (serviceId: string, state: EcrState) => this.#onChange(serviceId, state));
    this.#storedValue = new StoredValueManager({
      operations: ctx.ecrStoredValues,
      slot: this.#manager,
      cardSource,
      card: { identity: ctx.identity, trust: ctx.trust, logger: ctx.logger },
      online: this.#online?.deps,
      loads: ctx.loads,
      cardWaitMs: ctx.config.reader.cardWaitMs,
      logger: ctx.logger,
    });
    this.#storedValue.on("change", (serviceId: string, state: StoredValueState) => {
      if (FINAL_STORED_VALUE_STATES.has(state)) this.emit("storedValue", serviceId, state);
    });
    this.#app = this.#buildApp();
  }

  /** The ECR API's base URL, e.g. http://127.0.0.1:8765. */
  get url(): string {
    return this.#url;
  }

  get manager(): PaymentManager {
    return this.#manager;
  }

  get storedValue(): StoredValueManager {
    return this.#storedValue;
  }

  /**
   * Stop: no new requests or payments, abort a payment waiting for a card, let one in progress
   * finish, stop the schedules, close PC/SC and the database. Idempotent.
   */
  stop(reason = "stop requested"): Promise<void> {
    this.#stopping ??= this.#doStop(reason);
    return this.#stopping;
  }

  // ---- composition ----------------------------------------------------------------------------

  #buildApp(): EcrApp {
    return buildEcrApp({
      manager: this.#manager,
      stores: this.#ctx,
      // Fastify logs every request at info: that belongs at debug for a daemon.
      logger: this.#log.isLevelEnabled("debug") ? this.#log : this.#log.child({}, { level: "warn" }),
      status: () => this.#status(),
      access: ecrAccess(this.#ctx.config.ecr),
      refunds: {
        refunds: this.#ctx.refunds,
        identity: this.#ctx.identity,
        terminalId: this.#ctx.terminalId,
        logger: this.#log,
      },
      storedValue: this.#storedValue,
    });
  }

  async #listen(): Promise<void> {
    const { host, port } = this.#ctx.config.ecr;
    try {
      await this.#app.listen({ host, port });
    } catch (cause) {
      await this.#app.close().catch(() => undefined);
      throw new TerminalError(
        "TERM_ERR_ECR_LISTEN",
        `the cash-register API cannot listen on ${host}:${port}: ${(cause as Error).message}`,
        { cause, details: { host, port } },
      );
    }
    const address = this.#app.server.address() as AddressInfo;
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.#url = `http://${shown}:${address.port}`;
    this.#log.info(
      { url: this.#url, terminalId: this.#ctx.terminalId, mode: this.#pcsc ? "pcsc" : "virtual" },
      "ECR API listening",
    );
  }

  /** Log the reader coming and going (also one PC/SC listed before this was called). */
  #logReaders({ service, reader }: PcscParts): void {
    const query = reader.query;
    const known = new Set<string>();
    const found = (name: string) => {
      if (!nameMatches(query, name)) this.#log.debug({ reader: name }, "another reader");
      else if (!known.has(name)) {
        known.add(name);
        this.#log.info({ reader: name }, "reader found");
      }
    };
    service.on("reader", found);
    service.on("reader.end", (name) => {
      if (known.delete(name)) this.#log.info({ reader: name }, "reader lost");
    });
    service.on("error", (e) => this.#log.warn({ code: e.code }, `PC/SC: ${e.message}`));
    // "PC/SC context re-created" is logged by the service itself, through this same logger.
    for (const r of service.readers()) found(r.name);
  }

  /** Wait a moment for the reader; an ambiguous name is a configuration error, a missing one is not. */
  async #awaitReader({ service, reader }: PcscParts): Promise<void> {
    const query = reader.query;
    try {
      await service.waitForReader(query, 2_000);
    } catch (e) {
      if ((e as TerminalError).code === "TERM_ERR_READER_AMBIGUOUS") throw e;
      this.#log.warn(
        { reader: query, readers: service.readers().map((r) => r.name) },
        `no reader matches "${query}" yet; payments wait for it`,
      );
    }
  }

  #onChange(serviceId: string, state: EcrState): void {
    if (!FINAL_ECR_STATES.has(state)) return;
    const p = this.#manager.get(serviceId);
    const outcome = p?.outcome ?? null;
    const code = outcome && typeof outcome.code === "string" ? outcome.code : undefined;
    this.#log.info(
      {
        serviceId,
        state,
        seq: p?.seq ?? null,
        amount: p?.amount,
        currency: p?.currency,
        ...(code ? { code } : {}),
      },
      state === "torn"
        ? "payment torn (pending until the wallet is presented again)"
        : `payment ${state.replace("_", " ")}`,
    );
    this.emit("payment", serviceId, state);
  }

  #status(): Record<string, unknown> {
    const pcsc = this.#pcsc;
    const name = pcsc?.reader.reader;
    const reader = pcsc
      ? {
          query: pcsc.reader.query,
          name: name ?? null,
          connected: name !== undefined,
          cardPresent: pcsc.reader.cardPresent,
          hungTransmits: pcsc.service.hungTransmits(),
        }
      : { virtual: true };
    return {
      terminalId: this.#ctx.terminalId,
      merchantId: this.#ctx.merchantId,
      certificateNotAfter: this.#ctx.identity.certificate.notAfter.toISOString(),
      mode: this.#pcsc ? "pcsc" : "virtual",
      reader,
      acquirer: this.#ctx.config.acquirer.url ?? null,
      lastUpload: this.#ctx.store.getMeta("last_upload_at") ?? null,
      pending: this.#ctx.store.pendingIntents().length,
      hotlist: hotlistFreshness(this.#ctx.hotlist, this.#ctx.hotlistPolicy, this.#ctx.clock.now()),
      uptimeSec: Math.round((Date.now() - this.#startedAt) / 1000),
    };
  }

  // ---- schedules --------------------------------------------------------------------------------

  /** Upload and sync at once, then every interval (0: never); never two jobs at the same time. */
  #schedule(): void {
    const { url, timeoutMs, retries } = this.#ctx.config.acquirer;
    const { uploadIntervalSec, syncIntervalSec } = this.#ctx.config.schedule;
    if (!url) {
      this.#log.info("no acquirer.url: no scheduled upload or hotlist sync");
      return;
    }
    const every = (name: "upload" | "sync", intervalSec: number, job: () => Promise<void>) => {
      if (intervalSec <= 0) return;
      const tick = () => {
        this.#jobs = this.#jobs.then(job).finally(() => {
          if (!this.#stopping) arm(intervalSec * 1000);
        });
      };
      const arm = (ms: number) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          tick();
        }, ms);
        this.#timers.add(timer);
      };
      this.#log.info({ intervalSec, acquirer: url }, `scheduled ${name} every ${intervalSec} s`);
      arm(0);
    };
    const client = async (): Promise<AcquirerClient> => {
      if (this.#client) return this.#client;
      const { AcquirerClient } = await import("./adapters/http/acquirer-client.js");
      this.#client = new AcquirerClient({ baseUrl: url, timeoutMs, retries, logger: this.#ctx.logger });
      return this.#client;
    };
    every("sync", syncIntervalSec, () => this.#sync(client));
    every("upload", uploadIntervalSec, () => this.#upload(client));
  }

  async #upload(client: () => Promise<AcquirerClient>): Promise<void> {
    if (this.#stopping) return;
    try {
      const { uploadBatches } = await import("./application/upload.js");
      const summary = await uploadBatches(this.#ctx, await client(), {
        maxRecords: this.#ctx.config.acquirer.batchMaxRecords,
      });
      if (summary.batches > 0) {
        this.#log.info(
          {
            batches: summary.batches,
            records: summary.records,
            accepted: summary.accepted,
            rejected: summary.rejected,
          },
          "uploaded",
        );
      } else this.#log.debug("nothing to upload");
      this.emit("upload", summary);
    } catch (e) {
      const err = asTerminalError(e, "upload failed");
      this.#log.warn({ code: err.code }, `upload failed (tried again at the next interval): ${err.message}`);
      this.emit("upload", err);
    }
  }

  async #sync(client: () => Promise<AcquirerClient>): Promise<void> {
    if (this.#stopping) return;
    try {
      const acquirerCa = this.#ctx.identity.chain[0];
      if (!acquirerCa)
        throw new TerminalError("TERM_ERR_CONFIG", "terminal.chainFiles must hold the acquirer CA");
      const [{ syncHotlist }, { verifyFetchedHotlist }] = await Promise.all([
        import("./application/upload.js"),
        import("./adapters/http/acquirer-client.js"),
      ]);
      const result = await syncHotlist(this.#ctx, await client(), (wire) =>
        verifyFetchedHotlist(wire, acquirerCa),
      );
      // syncHotlist logs "hotlist updated" itself.
      this.#log.debug(result, "hotlist sync done");
      await this.#syncAttention();
      this.emit("sync", result);
    } catch (e) {
      const err = asTerminalError(e, "hotlist sync failed");
      this.#log.warn(
        { code: err.code },
        `hotlist sync failed (tried again at the next interval): ${err.message}`,
      );
      this.emit("sync", err);
    }
  }

  /** The platform's attention list, with the hotlist: a failure is logged and leaves the stored list. */
  async #syncAttention(): Promise<void> {
    if (!this.#online || this.#stopping) return;
    try {
      const { syncAttention } = await import("./application/attention-sync.js");
      await syncAttention(this.#ctx.attention, this.#online.deps, this.#log);
    } catch (e) {
      const err = asTerminalError(e, "attention list sync failed");
      this.#log.warn(
        { code: err.code },
        `attention list not updated (tried again at the next interval): ${err.message}`,
      );
    }
  }

  // ---- stopping ---------------------------------------------------------------------------------

  async #doStop(reason: string): Promise<void> {
    const current = this.#manager.current();
    this.#log.info(
      { reason, payment: current ? { serviceId: current.serviceId, state: current.state } : null },
      "stopping",
    );
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    // No new connections; requests on open ones get 503. Long-polls end once their payment is final.
    const closing = this.#app.close();
    await this.#manager.shutdown();
    await bounded(closing, 5_000, () => {
      this.#log.warn("HTTP requests still open after 5 s; closing their connections");
      this.#app.server.closeAllConnections();
    });
    await bounded(this.#jobs, this.#jobGraceMs, () =>
      this.#log.warn("an upload or sync is still running; it is resent under the same batch id next time"),
    );
    this.#client?.close();
    this.#online?.close();
    if (this.#pcsc) {
      await this.#pcsc.service.close();
      const { hungTransmitCount } = await import("./adapters/pcsc/transport.js");
      const hung = hungTransmitCount();
      if (hung > 0) {
        this.#log.warn(
          { hung },
          "a transmit to a mute card is still pending: the process ends itself with SIGTERM",
        );
      }
    }
    this.#ctx.close();
    this.#log.info("stopped; database closed");
  }
}

/** Wait for `p`, at most `ms`; call `onTimeout` if it took longer. Never rejects. */
async function bounded(p: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  const result = await Promise.race([
    p.then(
      () => "done" as const,
      () => "done" as const,
    ),
    timedOut,
  ]);
  clearTimeout(timer);
  if (result === "timeout") onTimeout();
}

/**
 * Run the daemon until SIGTERM, SIGINT or SIGHUP, then stop it gracefully. Resolves with the exit
 * code (0 after a clean stop). A second signal more than a second after the first calls
 * `forceExit(1)` at once (Ctrl-C reaches both this process and the ensureThreadpool() parent, which
 * forwards it: two SIGINTs within a moment are one request).
 */
export async function runDaemon(
  options: DaemonOptions & { forceExit: (code: number) => void },
): Promise<number> {
  const daemon = await Daemon.start(options);
  const log = options.logger;
  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
  return new Promise<number>((resolve) => {
    let first = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      const now = Date.now();
      if (first === 0) {
        first = now;
        daemon.stop(signal).then(
          () => resolve(0),
          (e: unknown) => {
            log.error({ err: e }, "stopping failed");
            resolve(1);
          },
        );
        return;
      }
      if (now - first < 1_000) return;
      log.warn({ signal }, "second signal: exiting without finishing the shutdown");
      options.forceExit(1);
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
